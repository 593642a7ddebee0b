/**
 * Per-principal rate limit on /api (RATE_LIMIT_PER_MINUTE), counted in a shared store (Redis,
 * built by the wiring) so every API process shares one budget per principal. 429 with
 * Retry-After beyond it.
 */
import type { RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { principalOf } from './auth.ts';
import { sendProblem } from './problem.ts';

export function principalRateLimit(store: () => Store, perMinute: number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => principalOf(res).id,
    store: store(),
    handler: (_req, res, _next, options) => {
      sendProblem(res, 429, `more than ${options.limit} requests a minute; slow down`);
    },
    // A Redis hiccup must not turn into refusing every request.
    passOnStoreError: true,
  });
}
