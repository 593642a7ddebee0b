/**
 * Per-principal rate limit on /api (RATE_LIMIT_PER_MINUTE), counted in Redis so every API
 * process shares one budget per principal. 429 with Retry-After beyond it.
 */
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { RedisClient as Redis } from '../engine/redis.ts';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { principalOf } from './auth.ts';
import { createKeyspace } from '../engine/keyspace.ts';
import { sendProblem } from './problem.ts';

export function principalRateLimit(redis: Redis, prefix: string, perMinute: number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => principalOf(res).id,
    store: new RedisStore({
      prefix: createKeyspace(prefix).rateLimitPrefix,
      sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
    }),
    handler: (_req, res, _next, options) => {
      sendProblem(res, 429, `more than ${options.limit} requests a minute; slow down`);
    },
    // A Redis hiccup must not turn into refusing every request.
    passOnStoreError: true,
  });
}
