/**
 * The `webhook` channel: the message as a JSON POST, signed the Standard Webhooks way
 * (signing.ts). The `webhook-id` (also sent as `Idempotency-Key`) is derived from the effect key
 * and the recipient, so it is the same on every attempt and every redelivery: the receiver's
 * dedupe key. One POST per call through the outbound client (src/http/client.ts): a retryable
 * failure (5xx, 408, 425, 429, network error, timeout) is thrown as is, carrying the receiver's
 * `Retry-After`, for the step's retry policy, the only one; any other 4xx, a redirect or an egress
 * refusal is a NonRetryableError.
 */
import type { Logger } from 'pino';
import type { EffectContext, OutgoingMessage, Recipient } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { deliveryDigest } from './ledger.ts';
import { sign } from './signing.ts';
import { HttpCallError, httpCall } from '../http/client.ts';

export interface WebhookChannelOptions {
  /** Signing secret (`whsec_<base64>` or plain text). */
  secret: string;
  /** Where recipients that are not URLs themselves are posted (NOTIFY_WEBHOOK_URL). */
  defaultUrl?: string;
  log: Logger;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
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

export class WebhookChannel {
  constructor(private readonly opts: WebhookChannelOptions) {}

  /** The URL a recipient's webhook goes to, if any. */
  urlFor(recipient: Recipient): string | undefined {
    return recipient.webhookUrl ?? this.opts.defaultUrl;
  }

  async send(recipient: Recipient, message: OutgoingMessage, ctx: EffectContext): Promise<{ id: string }> {
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
    try {
      await httpCall({
        url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'stageflow',
          'idempotency-key': id,
          'x-stageflow-effect-key': ctx.effectKey,
          // What the README promises receivers: a redelivery or retry is told apart from a first try.
          'x-stageflow-attempt': String(ctx.attempt),
          ...sign(this.opts.secret, id, Math.floor(Date.now() / 1000), body),
        },
        body,
        timeoutMs: this.opts.timeoutMs ?? 10_000,
        signal: ctx.signal,
        label: 'webhook',
        ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
      });
    } catch (err) {
      // Retryable (with its retryAfterMs) goes up to the step's retry as is; the rest is final.
      if (err instanceof HttpCallError && !err.retryable) throw new NonRetryableError(err.message, { cause: err });
      throw err;
    }
    this.opts.log.debug(
      { effectKey: ctx.effectKey, recipient: recipient.id, webhookId: id, attempt: ctx.attempt },
      'notification webhook delivered',
    );
    return { id };
  }
}
