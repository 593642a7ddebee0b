/**
 * Completion callbacks: the run summary POSTed to the start request's callbackUrl when the run
 * reaches completed, failed, cancelled or draft, signed Standard Webhooks style. Retries come
 * from the event job's attempts; `webhook-id` is stable so receivers can drop duplicates.
 */
import { UnrecoverableError } from 'bullmq';
import { egressFetch, egressRefusal } from '../http/egress.ts';
import { sign } from '../notify/signing.ts';
import type { RunView } from './run-view.ts';

export function callbackBody(run: RunView): string {
  return JSON.stringify({
    type: `run.${run.status}`,
    run: {
      id: run.id,
      workflow: run.workflow,
      version: run.version,
      status: run.status,
      seq: run.seq,
      outcome: run.outcome,
      error: run.error,
      model: run.model,
      entry: run.entry,
      createdAt: run.createdAt,
      updatedAt: run.updatedAt,
    },
  });
}

export async function sendCallback(url: string, run: RunView, secret: string, timeoutMs = 10_000): Promise<number> {
  const body = callbackBody(run);
  const headers = sign(secret, `${run.id}-${run.seq}`, Math.floor(Date.now() / 1000), body);
  let res: Response;
  try {
    res = await egressFetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      headers: { 'content-type': 'application/json', 'user-agent': 'stageflow', ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    // A retry would be refused the same way.
    const refused = egressRefusal(err);
    if (refused) throw new UnrecoverableError(`callback to ${url} not sent: ${refused.message}`);
    throw new Error(`callback to ${url} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  await res.body?.cancel();
  if (res.ok) return res.status;
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  const msg = `callback to ${url} answered ${res.status}`;
  throw retryable ? new Error(msg) : new UnrecoverableError(msg);
}
