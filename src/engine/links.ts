/**
 * Signed, expiring, single-use confirmation links. A token names the run, the step, the seq the
 * run waits at, who answers and with which option; it is HMAC-signed with the server secret
 * (LINK_SECRET, else one generated once and shared through Redis by every process).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient as Redis } from './redis.ts';
import type { Keyspace } from './keyspace.ts';

export interface LinkClaims {
  runId: string;
  stepId: string;
  seq: number;
  principalId: string;
  option: string;
  /** Expiry, ms since the epoch. */
  exp: number;
  /** Unique per link, the key of its single use. */
  nonce: string;
}

export type LinkCheck =
  | { ok: true; claims: LinkClaims }
  /** An expired link is still genuine (its signature holds), so its claims are given: its page can say what became of the request. */
  | { ok: false; reason: 'expired'; claims: LinkClaims }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'used' };

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class Links {
  private secret?: Promise<Buffer>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly configured: string | undefined,
    private readonly publicUrl: (path: string) => string,
  ) {}

  private key(): Promise<Buffer> {
    this.secret ??= (async () => {
      if (this.configured) return Buffer.from(this.configured, 'utf8');
      await this.redis.set(this.keys.linkSecret, randomBytes(32).toString('base64'), 'NX');
      return Buffer.from((await this.redis.get(this.keys.linkSecret))!, 'base64');
    })();
    return this.secret;
  }

  /** The secret as text, for signing callbacks when no WEBHOOK_SECRET is configured. */
  async secretText(): Promise<string> {
    return (await this.key()).toString('base64');
  }

  async sign(claims: Omit<LinkClaims, 'nonce'>): Promise<string> {
    const payload = b64(JSON.stringify({ ...claims, nonce: randomBytes(12).toString('base64url') }));
    const mac = createHmac('sha256', await this.key())
      .update(payload)
      .digest();
    return `${payload}.${b64(mac)}`;
  }

  async url(claims: Omit<LinkClaims, 'nonce'>): Promise<string> {
    return this.publicUrl(`/confirm/${await this.sign(claims)}`);
  }

  /** Checks signature and expiry; with `consume`, also marks the link used (first caller wins). */
  async check(token: string, consume: boolean, now = Date.now()): Promise<LinkCheck> {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) return { ok: false, reason: 'malformed' };
    const expected = createHmac('sha256', await this.key())
      .update(payload)
      .digest();
    // Compared as text: base64url's last character has spare bits, so decoding first would
    // accept several spellings of one signature (a changed last letter could still verify).
    const got = Buffer.from(mac);
    const want = Buffer.from(b64(expected));
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'bad_signature' };
    let claims: LinkClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LinkClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (!(claims.exp > now)) return { ok: false, reason: 'expired', claims };
    const usedKey = this.keys.usedLink(claims.nonce);
    if (consume) {
      const first = await this.redis.set(usedKey, '1', 'PX', Math.max(1000, claims.exp - now), 'NX');
      if (!first) return { ok: false, reason: 'used' };
    } else if (await this.redis.exists(usedKey)) {
      return { ok: false, reason: 'used' };
    }
    return { ok: true, claims };
  }
}
