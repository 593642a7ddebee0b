/**
 * Signed, expiring download links for rendered documents (`/documents/<token>`), for receivers
 * that get no API key (webhooks). The token names the document and its expiry and is an
 * HMAC-SHA256 over both with the server secret (the one confirmation links use), so any API
 * process can check it without a lookup. Unlike answer links they may be used any number of times.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface DocumentClaims {
  doc: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

export type DocumentLinkCheck = { ok: true; claims: DocumentClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class DocumentLinks {
  private key?: Promise<Buffer>;

  constructor(
    private readonly secret: () => Promise<string>,
    private readonly publicUrl: (path: string) => string,
  ) {}

  private mac(payload: string): Promise<Buffer> {
    this.key ??= this.secret().then((s) => createHmac('sha256', s).update('stageflow documents').digest());
    return this.key.then((k) => createHmac('sha256', k).update(payload).digest());
  }

  async url(claims: DocumentClaims): Promise<string> {
    const payload = b64(JSON.stringify(claims));
    return this.publicUrl(`/documents/${payload}.${b64(await this.mac(payload))}`);
  }

  async check(token: string, now = Date.now()): Promise<DocumentLinkCheck> {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) return { ok: false, reason: 'malformed' };
    const expected = await this.mac(payload);
    // Compared as text: base64url's last character has spare bits, so decoding first would
    // accept several spellings of one signature (a changed last letter could still verify).
    const got = Buffer.from(mac);
    const want = Buffer.from(b64(expected));
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'bad_signature' };
    let claims: DocumentClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as DocumentClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (typeof claims.doc !== 'string' || !(claims.exp > now)) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }
}
