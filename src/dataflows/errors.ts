/**
 * Errors dataflows throw. DataflowError and RetryAfterError are retryable: the step processor
 * treats them like any other Error and BullMQ retries the step. DataflowRejectedError is a
 * NonRetryableError: the step fails at once.
 */
import { NonRetryableError } from '../steps/types.ts';

/** A dataflow call that failed in a way a later attempt may fix (5xx, 408, 429, network, timeout). */
export class DataflowError extends Error {
  override name = 'DataflowError';
  constructor(
    message: string,
    /** HTTP status of the answer, when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The receiver asked for a pause (`Retry-After` on 429/503). The engine's backoff strategy should
 * wait `retryAfterMs` (bounded by its own ceiling) instead of the step's backoff delay.
 */
export class RetryAfterError extends DataflowError {
  override name = 'RetryAfterError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
    status?: number,
  ) {
    super(message, status);
  }
}

/** The receiver refused the call for good (a 4xx other than 408/429, a redirect, a non-JSON 2xx). */
export class DataflowRejectedError extends NonRetryableError {
  override name = 'DataflowRejectedError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}
