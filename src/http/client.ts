/**
 * The one outbound HTTP client: http dataflows, the webhook notification channel and completion
 * callbacks all call through it, so they share one egress policy (egress.ts), one timeout and
 * abort handling, one refusal of redirects, one bound on what is read, and one classification
 * of what went wrong:
 *
 * - RetryableHttpError: network errors, timeouts, 408, 425, 429 and 5xx, with the wait the server
 *   asked for (`Retry-After`) as `retryAfterMs` when it said one;
 * - PermanentHttpError: any other 4xx, a redirect, a 2xx body over the limit, a bad URL, a
 *   connection the egress policy refused.
 *
 * A call makes exactly one request. Retrying is the caller's job, done once, by its job's
 * retry policy: a step's attempts (BullMQ backoff, which believes Retry-After) or a callback
 * event job's attempts. A retry loop in here would multiply with those.
 */
import { egressFetch, egressRefusal } from './egress.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface HttpRequest {
  url: string;
  /** Default POST. */
  method?: string;
  headers?: Record<string, string> | Headers;
  body?: string;
  /** Per request. */
  timeoutMs: number;
  /** The caller's own cancellation (a step's signal); its reason is thrown as is. */
  signal?: AbortSignal;
  /**
   * Read a 2xx body of at most this many bytes (a longer one is a PermanentHttpError, and the
   * rest is not downloaded). Absent: the 2xx body is not wanted and is discarded.
   */
  maxResponseBytes?: number;
  /** What is being called, for messages: `dataflow create-order`, `webhook`, `callback`. */
  label: string;
  /** Replaceable for tests; fetch through the process's egress policy otherwise. */
  fetch?: typeof fetch;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: Headers;
  /** The 2xx body when `maxResponseBytes` was given, else ''. */
  text: string;
  durationMs: number;
}

export type RetryableReason = 'network' | 'timeout' | 'status' | 'aborted';
export type PermanentReason = 'status' | 'redirect' | 'too-large' | 'egress' | 'url';

/** A call that failed; `retryable` says whether a later attempt may succeed. */
export abstract class HttpCallError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    /** Origin and path of the URL (no credentials, no query string). */
    readonly url: string,
    /** The answer's status, when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RetryableHttpError extends HttpCallError {
  override name = 'RetryableHttpError';
  readonly retryable = true;
  constructor(
    message: string,
    url: string,
    readonly reason: RetryableReason,
    status?: number,
    /** The server's `Retry-After`, in ms from when it answered; read by the step's backoff (retryAfterMsOf). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, url, status, options);
  }
}

export class PermanentHttpError extends HttpCallError {
  override name = 'PermanentHttpError';
  readonly retryable = false;
  constructor(
    message: string,
    url: string,
    readonly reason: PermanentReason,
    status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, url, status, options);
  }
}

/** Statuses a later attempt may get past: the server is busy, down or asks to be called later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

const EXCERPT_BYTES = 4096;
const EXCERPT_CHARS = 200;

/**
 * Makes one request. Resolves with a 2xx answer; throws RetryableHttpError or
 * PermanentHttpError otherwise, or the caller's abort reason when `signal` was aborted.
 */
export async function httpCall(req: HttpRequest): Promise<HttpResponse> {
  const where = safeUrl(req.url);
  const { label } = req;
  try {
    const u = new URL(req.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new PermanentHttpError(`${label} not sent: ${where} is not an http(s) URL`, where, 'url');
  }
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const started = Date.now();
  let res: Response;
  try {
    res = await (req.fetch ?? egressFetch)(req.url, {
      method: req.method ?? 'POST',
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal,
      // A redirect could point anywhere (an internal host); the URL given must be the final one.
      redirect: 'manual',
    });
  } catch (err) {
    throw failedRequest(err, req, where, timeout);
  }
  const status = res.status;
  const statusLabel = `${status}${res.statusText ? ` ${res.statusText}` : ''}`;
  try {
    if (status >= 200 && status < 300) {
      if (req.maxResponseBytes === undefined) {
        // Not wanted; reading a small body frees the connection for reuse, a large one is cut off.
        await readBody(res, EXCERPT_BYTES);
        return { status, statusText: res.statusText, headers: res.headers, text: '', durationMs: Date.now() - started };
      }
      const body = await readBody(res, req.maxResponseBytes);
      if (body.truncated)
        throw new PermanentHttpError(
          `${label} answered ${statusLabel} (${where}) with a body larger than ${req.maxResponseBytes} bytes`,
          where,
          'too-large',
          status,
        );
      return { status, statusText: res.statusText, headers: res.headers, text: body.text, durationMs: Date.now() - started };
    }
    const { text } = await readBody(res, EXCERPT_BYTES);
    const said = text.trim() ? `: ${excerpt(text)}` : '';
    if (status >= 300 && status < 400) {
      const location = res.headers.get('location');
      throw new PermanentHttpError(
        `${label} answered ${statusLabel} (${where})${location ? ` to ${safeUrl(location, req.url)}` : ''}; redirects are not followed, give the final URL`,
        where,
        'redirect',
        status,
      );
    }
    if (isRetryableStatus(status)) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      const wait = retryAfterMs !== undefined ? ` (retry after ${retryAfterMs} ms)` : '';
      throw new RetryableHttpError(`${label} answered ${statusLabel} (${where})${said}${wait}`, where, 'status', status, retryAfterMs);
    }
    throw new PermanentHttpError(`${label} answered ${statusLabel} (${where})${said}`, where, 'status', status);
  } catch (err) {
    if (err instanceof HttpCallError) throw err;
    // The body broke off or timed out after the status line.
    throw failedRequest(err, req, where, timeout);
  }
}

function failedRequest(err: unknown, req: HttpRequest, where: string, timeout: AbortSignal): Error {
  const refused = egressRefusal(err);
  // A retry would be refused the same way.
  if (refused)
    return new PermanentHttpError(`${req.label} not sent (${where}): ${refused.message}`, where, 'egress', undefined, { cause: err });
  if (req.signal?.aborted) {
    const reason: unknown = req.signal.reason;
    return reason instanceof Error ? reason : new RetryableHttpError(`${req.label} was aborted (${where})`, where, 'aborted');
  }
  if (timeout.aborted) return new RetryableHttpError(`${req.label} timed out after ${req.timeoutMs} ms (${where})`, where, 'timeout');
  return new RetryableHttpError(
    `${req.label} could not be reached (${where}): ${networkReason(err)}`,
    where,
    'network',
    undefined,
    undefined,
    {
      cause: err,
    },
  );
}

/** Reads at most `limit` bytes of the body; a longer body is cut off (and the rest not downloaded). */
async function readBody(res: Response, limit: number): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      chunks.push(value.subarray(0, limit - size));
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/** Origin and path only: credentials and query strings (often tokens) stay out of errors and logs. */
export function safeUrl(url: string, base?: string): string {
  try {
    const u = new URL(url, base);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
