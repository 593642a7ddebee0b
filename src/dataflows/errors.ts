/**
 * Errors dataflows throw. DataflowError and RetryAfterError are retryable: the step processor
 * treats them like any other Error and BullMQ retries the step. DataflowRejectedError is a
 * NonRetryableError: the step fails at once. The http kind maps the outbound client's
 * RetryableHttpError / PermanentHttpError (src/http/client.ts) onto these, keeping it as `cause`.
 */
import { NonRetryableError } from '../steps/types.ts';

/** A dataflow call that failed in a way a later attempt may fix (5xx, 408, 425, 429, network, timeout). */
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
    options?: { cause?: unknown },
  ) {
    super(message, status, options);
  }
}

/**
 * The call cannot succeed on a retry: the receiver refused it (a 4xx other than 408/425/429, a
 * redirect, a non-JSON or oversized 2xx) or the egress policy did.
 */
export class DataflowRejectedError extends NonRetryableError {
  override name = 'DataflowRejectedError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
