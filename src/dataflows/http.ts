/**
 * The `http` dataflow kind: POST the input as JSON, read a JSON result. The classification of an
 * answer decides retries (DESIGN §3): 2xx → result; 408, 429, 5xx, network errors and timeouts →
 * retryable; any other status → fails the step at once. Every attempt of one step sends the same
 * `Idempotency-Key` (the effect key), so the receiver can make repeats harmless.
 */
import type { Logger } from 'pino';
import type { EffectContext } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { DataflowError, DataflowRejectedError, RetryAfterError } from './errors.ts';
import { DEFAULT_HTTP_TIMEOUT_MS, type HttpDataflowDefinition } from './registry.ts';
import { parseRetryAfter } from '../http/retry-after.ts';
import { egressFetch, egressRefusal } from '../http/egress.ts';

export { DataflowError, DataflowRejectedError, RetryAfterError } from './errors.ts';

export interface HttpCallOptions {
  /** Replaceable for tests; fetch through the egress policy (src/http/egress.ts) otherwise. */
  fetch?: typeof fetch;
  /** A larger 2xx body fails the step (the model has its own, smaller budget). */
  maxResponseBytes?: number;
  log?: Logger;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const EXCERPT_BYTES = 4096;
const EXCERPT_CHARS = 200;

export async function callHttpDataflow(
  def: HttpDataflowDefinition,
  input: unknown,
  ctx: EffectContext & { timeoutMs?: number },
  opts: HttpCallOptions = {},
): Promise<unknown> {
  const timeoutMs = ctx.timeoutMs ?? def.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const where = safeUrl(def.url);
  const headers = new Headers({ accept: 'application/json' });
  for (const [name, value] of Object.entries(def.headers ?? {})) headers.set(name, value);
  headers.set('content-type', 'application/json');
  headers.set('idempotency-key', ctx.effectKey);
  headers.set('x-stageflow-run', ctx.runId);
  headers.set('x-stageflow-step', ctx.stepId);
  headers.set('x-stageflow-attempt', String(ctx.attempt));

  const started = Date.now();
  try {
    const res = await (opts.fetch ?? egressFetch)(def.url, {
      method: def.method ?? 'POST',
      headers,
      body: JSON.stringify(input === undefined ? null : input),
      signal,
      // A redirect could point anywhere (an internal host); the registered URL must be the final one.
      redirect: 'manual',
    });
    opts.log?.debug({ dataflow: def.name, url: where, status: res.status, durationMs: Date.now() - started }, 'dataflow answered');
    return await interpret(def.name, def.url, res, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
  } catch (err) {
    if (err instanceof NonRetryableError || err instanceof DataflowError) throw err;
    const refused = egressRefusal(err);
    if (refused) throw new NonRetryableError(`dataflow ${def.name} not called (${where}): ${refused.message}`);
    if (timeout.aborted) throw new DataflowError(`dataflow ${def.name} timed out after ${timeoutMs} ms (${where})`);
    if (ctx.signal.aborted) {
      const reason: unknown = ctx.signal.reason;
      throw reason instanceof Error ? reason : new DataflowError(`dataflow ${def.name} was aborted`);
    }
    throw new DataflowError(`dataflow ${def.name} could not be reached (${where}): ${networkReason(err)}`, undefined, { cause: err });
  }
}

async function interpret(name: string, url: string, res: Response, maxBytes: number): Promise<unknown> {
  const label = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (res.status >= 200 && res.status < 300) {
    const body = await readBody(res, maxBytes);
    if (body.truncated)
      throw new DataflowRejectedError(`dataflow ${name} answered ${label} with a body larger than ${maxBytes} bytes`, res.status);
    if (body.text.trim() === '') return null;
    try {
      return JSON.parse(body.text) as unknown;
    } catch {
      const type = res.headers.get('content-type') ?? 'no content-type';
      throw new DataflowRejectedError(
        `dataflow ${name} answered ${label} with a body that is not JSON (${type}): ${excerpt(body.text)}`,
        res.status,
      );
    }
  }
  const { text } = await readBody(res, EXCERPT_BYTES);
  const said = text.trim() ? `: ${excerpt(text)}` : '';
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    throw new DataflowRejectedError(
      `dataflow ${name} answered ${label}${location ? ` (to ${safeUrl(location, url)})` : ''}; redirects are not followed, register the final URL`,
      res.status,
    );
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
    const message = `dataflow ${name} answered ${label}${said}`;
    if (retryAfterMs !== undefined) throw new RetryAfterError(`${message} (retry after ${retryAfterMs} ms)`, retryAfterMs, res.status);
    throw new DataflowError(message, res.status);
  }
  throw new DataflowRejectedError(`dataflow ${name} answered ${label}${said}`, res.status);
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
function safeUrl(url: string, base?: string): string {
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
