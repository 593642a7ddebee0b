/**
 * Failed authentications per client address (AUTH_FAILURES_PER_MINUTE), counted in Redis so
 * every API process shares one budget. An address over it is refused (429 with Retry-After)
 * before the key it presents is hashed, so a flood of guessed keys costs a Redis GET each and
 * cannot probe the key set; valid keys are never counted, and other addresses are unaffected.
 */
import type { Request } from 'express';
import type { RedisClient as Redis } from '../engine/redis.ts';
import { createKeyspace } from '../engine/keyspace.ts';

const WINDOW_MS = 60_000;

export interface AuthFailureLimiter {
  /** Seconds until `req`'s address may try again, or 0 when it is within its budget. */
  blockedFor(req: Request): Promise<number>;
  /** Counts one failed authentication; answers like blockedFor after counting it. */
  failed(req: Request): Promise<number>;
}

/** No limit (AUTH_FAILURES_PER_MINUTE=0, or a caller that wires none). */
export const noAuthFailureLimit: AuthFailureLimiter = { blockedFor: async () => 0, failed: async () => 0 };

export function authFailureLimiter(redis: Redis, prefix: string, perMinute: number): AuthFailureLimiter {
  if (perMinute <= 0) return noAuthFailureLimit;
  const keys = createKeyspace(prefix);
  const key = (req: Request) => keys.authFailures(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  const seconds = (ttlMs: number) => Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : WINDOW_MS) / 1000));
  return {
    async blockedFor(req) {
      try {
        const res = await redis.multi().get(key(req)).pttl(key(req)).exec();
        const count = Number(res?.[0]?.[1] ?? 0);
        return count >= perMinute ? seconds(Number(res?.[1]?.[1] ?? -1)) : 0;
      } catch {
        // A Redis hiccup must not lock everyone out; the key check itself still applies.
        return 0;
      }
    },
    async failed(req) {
      try {
        // A fixed window from the first failure; NX keeps later failures from extending it.
        const res = await redis.multi().incr(key(req)).pexpire(key(req), WINDOW_MS, 'NX').pttl(key(req)).exec();
        const count = Number(res?.[0]?.[1] ?? 0);
        return count > perMinute ? seconds(Number(res?.[2]?.[1] ?? -1)) : 0;
      } catch {
        return 0;
      }
    },
  };
}
