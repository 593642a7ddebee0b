/**
 * Completion callbacks: the run summary POSTed to the start request's callbackUrl when the run
 * reaches completed, failed, cancelled or draft, signed Standard Webhooks style, one POST per
 * event job attempt through the outbound client (src/http/client.ts). Retries come from the
 * event job's attempts only: a retryable failure is thrown for them (carrying the receiver's
 * `Retry-After` as `retryAfterMs`, which callbackRetryDelay believes), a permanent one (4xx,
 * redirect, egress refusal, bad URL) is an UnrecoverableError, so the job gives up at once.
 * `webhook-id` is stable so receivers can drop duplicates.
 */
import { UnrecoverableError } from 'bullmq';
import { HttpCallError, httpCall } from '../http/client.ts';
import { retryAfterMsOf } from '../http/retry-after.ts';
import { sign } from '../notify/signing.ts';
import type { RunView } from './run-view.ts';

/** The longest wait between two callback attempts, whatever the receiver asks for. */
export const CALLBACK_MAX_DELAY_MS = 3_600_000;

/**
 * The event job's backoff for callbacks: 1 s doubling to an hour, or the receiver's Retry-After
 * when it asked for longer (within the hour), for BullMQ's `backoffStrategy(attemptsMade, type, err)`.
 */
export function callbackRetryDelay(attemptsMade: number, err?: unknown): number {
  const delay = Math.min(1000 * 2 ** (attemptsMade - 1), CALLBACK_MAX_DELAY_MS);
  const asked = retryAfterMsOf(err);
  return asked !== undefined ? Math.min(Math.max(asked, delay), CALLBACK_MAX_DELAY_MS) : delay;
}

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
  try {
    const res = await httpCall({
      url,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'stageflow', ...headers },
      timeoutMs,
      label: 'callback',
    });
    return res.status;
  } catch (err) {
    // A retry would be answered or refused the same way.
    if (err instanceof HttpCallError && !err.retryable) throw new UnrecoverableError(err.message);
    throw err;
  }
}
