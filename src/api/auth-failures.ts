/**
 * Failed authentications per client address (AUTH_FAILURES_PER_MINUTE), counted in a shared
 * store (Redis, built by the wiring) so every API process shares one budget. An address over it
 * is refused (429 with Retry-After) before the key it presents is hashed, so a flood of guessed
 * keys costs a store read each and cannot probe the key set; valid keys are never counted, and
 * other addresses are unaffected.
 */
import type { Request } from 'express';
import type { CounterStore } from './ports.ts';

const WINDOW_MS = 60_000;

export interface AuthFailureLimiter {
  /** Seconds until `req`'s address may try again, or 0 when it is within its budget. */
  blockedFor(req: Request): Promise<number>;
  /** Counts one failed authentication; answers like blockedFor after counting it. */
  failed(req: Request): Promise<number>;
}

/** No limit (AUTH_FAILURES_PER_MINUTE=0, or a caller that wires none). */
export const noAuthFailureLimit: AuthFailureLimiter = { blockedFor: async () => 0, failed: async () => 0 };

export function authFailureLimiter(store: CounterStore, perMinute: number): AuthFailureLimiter {
  if (perMinute <= 0) return noAuthFailureLimit;
  const key = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const seconds = (ttlMs: number) => Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : WINDOW_MS) / 1000));
  return {
    async blockedFor(req) {
      try {
        const { count, ttlMs } = await store.read(key(req));
        return count >= perMinute ? seconds(ttlMs) : 0;
      } catch {
        // A store hiccup must not lock everyone out; the key check itself still applies.
        return 0;
      }
    },
    async failed(req) {
      try {
        const { count, ttlMs } = await store.hit(key(req), WINDOW_MS);
        return count > perMinute ? seconds(ttlMs) : 0;
      } catch {
        return 0;
      }
    },
  };
}
