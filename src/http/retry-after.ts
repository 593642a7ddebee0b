/**
 * `Retry-After`: read off answers by the outbound client (client.ts), carried up on its
 * RetryableHttpError as `retryAfterMs`, and believed by the step worker's backoff (within the
 * step's policy) and the callback job's (callbackRetryDelay).
 */

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Reads `retryAfterMs` off any error (the wait a server asked for, carried up to the step's retry). */
export function retryAfterMsOf(err: unknown): number | undefined {
  const ms = (err as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
