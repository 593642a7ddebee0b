/**
 * The `http` dataflow kind: POST the input as JSON, read a JSON result, through the one outbound
 * client (src/http/client.ts), whose classification decides retries (DESIGN §3): 2xx → result;
 * 408, 425, 429, 5xx, network errors and timeouts → retryable (DataflowError, RetryAfterError when
 * the receiver said when to come back); any other status, a redirect or an egress refusal → fails
 * the step at once (DataflowRejectedError). Every attempt of one step sends the same
 * `Idempotency-Key` (the effect key), so the receiver can make repeats harmless.
 */
import type { Logger } from 'pino';
import type { EffectContext } from '../steps/services.ts';
import { DataflowError, DataflowRejectedError, RetryAfterError } from './errors.ts';
import { DEFAULT_HTTP_TIMEOUT_MS, type HttpDataflowDefinition } from './registry.ts';
import { HttpCallError, httpCall, RetryableHttpError, safeUrl } from '../http/client.ts';

export interface HttpCallOptions {
  /** Replaceable for tests; fetch through the egress policy (src/http/egress.ts) otherwise. */
  fetch?: typeof fetch;
  /** A larger 2xx body fails the step (the model has its own, smaller budget). */
  maxResponseBytes?: number;
  log?: Logger;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const EXCERPT_CHARS = 200;

export async function callHttpDataflow(
  def: HttpDataflowDefinition,
  input: unknown,
  ctx: EffectContext & { timeoutMs?: number },
  opts: HttpCallOptions = {},
): Promise<unknown> {
  const headers = new Headers({ accept: 'application/json' });
  for (const [name, value] of Object.entries(def.headers ?? {})) headers.set(name, value);
  headers.set('content-type', 'application/json');
  headers.set('idempotency-key', ctx.effectKey);
  headers.set('x-stageflow-run', ctx.runId);
  headers.set('x-stageflow-step', ctx.stepId);
  headers.set('x-stageflow-attempt', String(ctx.attempt));

  let res: Awaited<ReturnType<typeof httpCall>>;
  try {
    res = await httpCall({
      url: def.url,
      method: def.method ?? 'POST',
      headers,
      body: JSON.stringify(input === undefined ? null : input),
      timeoutMs: ctx.timeoutMs ?? def.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
      signal: ctx.signal,
      maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      label: `dataflow ${def.name}`,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  } catch (err) {
    throw asDataflowError(err);
  }
  opts.log?.debug({ dataflow: def.name, url: safeUrl(def.url), status: res.status, durationMs: res.durationMs }, 'dataflow answered');
  if (res.text.trim() === '') return null;
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    const type = res.headers.get('content-type') ?? 'no content-type';
    const label = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    throw new DataflowRejectedError(
      `dataflow ${def.name} answered ${label} with a body that is not JSON (${type}): ${excerpt(res.text)}`,
      res.status,
    );
  }
}

/** The client's classification as the errors steps know: retryable → the step's retry, permanent → fails at once. */
function asDataflowError(err: unknown): unknown {
  if (!(err instanceof HttpCallError)) return err; // the step's own abort reason
  if (!err.retryable) return new DataflowRejectedError(err.message, err.status, { cause: err });
  if (err instanceof RetryableHttpError && err.retryAfterMs !== undefined)
    return new RetryAfterError(err.message, err.retryAfterMs, err.status, { cause: err });
  return new DataflowError(err.message, err.status, { cause: err });
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}
