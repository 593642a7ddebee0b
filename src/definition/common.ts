/**
 * Fields every step shares (and the retry policy the workflow defaults reuse). A leaf module so
 * the step registry can build the step schema without importing schema.ts.
 */
import { z } from 'zod';
import { Identifier } from './ids.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

export const Backoff = z
  .strictObject({
    type: z.enum(['fixed', 'exponential']),
    delayMs: z.int().min(0).max(DAY_MS),
    maxDelayMs: z.int().min(0).max(DAY_MS).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .refine((b) => b.maxDelayMs === undefined || b.maxDelayMs >= b.delayMs, {
    message: 'maxDelayMs must not be smaller than delayMs',
    path: ['maxDelayMs'],
  });

export const RetryPolicy = z.strictObject({ attempts: z.int().min(1).max(100), backoff: Backoff });
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/** Budget of one handler attempt. */
export const TimeoutMs = z.int().min(1).max(DAY_MS);

export const commonStepShape = {
  id: Identifier,
  /** Display name; defaults to the id. */
  name: z.string().min(1).max(200).optional(),
  retry: RetryPolicy.optional(),
  timeoutMs: TimeoutMs.optional(),
};

export interface CommonStepFields {
  id: string;
  name?: string;
  retry?: RetryPolicy;
  timeoutMs?: number;
}
