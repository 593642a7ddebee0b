/**
 * The `webhook` channel: the message as a JSON POST, signed the Standard Webhooks way
 * (signing.ts). The `webhook-id` (also sent as `Idempotency-Key`) is derived from the effect key
 * and the recipient, so it is the same on every attempt and every redelivery: the receiver's
 * dedupe key. A few retries happen within the call (5xx, 408, 429, network errors, timeouts;
 * `Retry-After` honoured up to a bound); when they run out the error is thrown for the step's own
 * retry policy. Any other 4xx, or a redirect, is a NonRetryableError.
 */
import type { Logger } from 'pino';
import type { EffectContext, OutgoingMessage, Recipient } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { deliveryDigest } from './ledger.ts';
import { sign } from './signing.ts';
import { parseRetryAfter } from '../http/retry-after.ts';
import { egressFetch, egressRefusal } from '../http/egress.ts';

export interface WebhookChannelOptions {
  /** Signing secret (`whsec_<base64>` or plain text). */
  secret: string;
  /** Where recipients that are not URLs themselves are posted (NOTIFY_WEBHOOK_URL). */
  defaultUrl?: string;
  log: Logger;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Retries after the first request, within one call. Default 3. */
  retries?: number;
  /** First backoff; doubles per retry. Default 500 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A longer Retry-After ends the in-call retries (the step's retry takes over). Default 10 s. */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
}

export interface WebhookPayload {
  type: 'notification';
  subject?: string;
  body: string;
  format: 'text' | 'html';
  recipient: { id: string; name?: string; email?: string };
  data: Record<string, unknown>;
  /** Documents sent with the message: a signed download URL each, valid until expiresAt. */
  attachments?: Array<{ n: number; fileName: string; contentType: string; size: number; url: string; expiresAt: string }>;
}

export function webhookId(effectKey: string, recipientId: string): string {
  return `msg_${deliveryDigest('webhook', effectKey, recipientId)}`;
}

class RetryableResponse extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class WebhookChannel {
  private readonly doFetch: typeof fetch;

  constructor(private readonly opts: WebhookChannelOptions) {
    this.doFetch = opts.fetch ?? egressFetch;
  }

  /** The URL a recipient's webhook goes to, if any. */
  urlFor(recipient: Recipient): string | undefined {
    return recipient.webhookUrl ?? this.opts.defaultUrl;
  }

  async send(recipient: Recipient, message: OutgoingMessage, ctx: EffectContext): Promise<{ id: string; attempts: number }> {
    const url = this.urlFor(recipient);
    if (!url) throw new NonRetryableError(`no webhook URL for ${recipient.id} (set NOTIFY_WEBHOOK_URL or give a URL as recipient)`);
    const id = webhookId(ctx.effectKey, recipient.id);
    const payload: WebhookPayload = {
      type: 'notification',
      ...(message.subject !== undefined ? { subject: message.subject } : {}),
      body: message.body,
      format: message.format,
      recipient: {
        id: recipient.id,
        ...(recipient.name ? { name: recipient.name } : {}),
        ...(recipient.email ? { email: recipient.email } : {}),
      },
      data: message.data ?? {},
      ...(message.attachments?.length
        ? {
            attachments: message.attachments.map(({ n, fileName, contentType, size, url, expiresAt }) => ({
              n,
              fileName,
              contentType,
              size,
              url,
              expiresAt,
            })),
          }
        : {}),
    };
    const body = JSON.stringify(payload);
    const retries = this.opts.retries ?? 3;
    const base = this.opts.backoffMs ?? 500;
    const maxBackoff = this.opts.maxBackoffMs ?? 5_000;
    const maxRetryAfter = this.opts.maxRetryAfterMs ?? 10_000;

    for (let attempt = 1; ; attempt++) {
      try {
        await this.post(url, id, body, ctx);
        this.opts.log.debug(
          { effectKey: ctx.effectKey, recipient: recipient.id, webhookId: id, attempt },
          'notification webhook delivered',
        );
        return { id, attempts: attempt };
      } catch (err) {
        if (err instanceof NonRetryableError || ctx.signal.aborted || attempt > retries) throw err;
        const backoff = Math.min(maxBackoff, base * 2 ** (attempt - 1));
        const wanted = err instanceof RetryableResponse ? err.retryAfterMs : undefined;
        // A receiver asking for a longer pause than we hold a worker for gets the step's retry.
        if (wanted !== undefined && wanted > maxRetryAfter) throw err;
        const delay = Math.max(backoff, wanted ?? 0);
        this.opts.log.debug({ err, url, attempt, delay }, 'notification webhook failed; retrying');
        await sleep(delay, ctx.signal);
      }
    }
  }

  private async post(url: string, id: string, body: string, ctx: EffectContext): Promise<void> {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.opts.timeoutMs ?? 10_000)]);
    let res: Response;
    try {
      res = await this.doFetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'stageflow',
          'idempotency-key': id,
          'x-stageflow-effect-key': ctx.effectKey,
          ...sign(this.opts.secret, id, Math.floor(Date.now() / 1000), body),
        },
        body,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const refused = egressRefusal(err);
      if (refused) throw new NonRetryableError(`webhook POST ${url} not sent: ${refused.message}`);
      const reason =
        err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : `failed: ${(err as Error).cause ?? (err as Error).message}`;
      throw new RetryableResponse(`webhook POST ${url} ${reason}`);
    }
    // The body is of no use to us; reading it frees the connection for reuse.
    const text = await res.text().catch(() => '');
    if (res.ok) return;
    const detail = `webhook POST ${url} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new RetryableResponse(detail, parseRetryAfter(res.headers.get('retry-after')));
    }
    throw new NonRetryableError(detail);
  }
}
