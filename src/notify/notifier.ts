/**
 * Delivers one message to each of its recipients on one channel, at most once per
 * (effect key, recipient, channel) — the inbox atomically, e-mail and webhooks through the
 * sent-ledger (see ledger.ts for the remaining at-least-once window).
 *
 * Recipients a channel cannot reach (no address, channel not configured, permanently refused)
 * are reported, not retried. When some recipients failed in a way a retry may fix, the call
 * throws after trying all the others, and the retry skips those already reached. When no
 * recipient at all could be reached, the call throws a NonRetryableError saying why.
 */
import type { Logger } from 'pino';
import type { Channel, DeliveryReport, EffectContext, Notifier, OutgoingMessage, Recipient } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { retryAfterMsOf } from '../http/retry-after.ts';
import type { EmailChannel } from './email.ts';
import type { Inbox } from './inbox.ts';
import type { SentLedger } from './ledger.ts';
import type { WebhookChannel } from './webhook.ts';

export interface NotifierDeps {
  inbox: Inbox;
  ledger: SentLedger;
  /** Absent when SMTP_URL is not set. */
  email?: EmailChannel;
  /** Absent when WEBHOOK_SECRET is not set. */
  webhook?: WebhookChannel;
  log: Logger;
  /** Recipients served at once. Default 4. */
  concurrency?: number;
}

type Outcome = 'delivered' | 'alreadySent' | { unreachable: string } | { failed: unknown };

export function createNotifier(deps: NotifierDeps): Notifier {
  const { inbox, ledger, email, webhook, log } = deps;

  /** Runs `send` once per (effect key, channel, recipient) according to the ledger. */
  async function once(channel: Channel, recipient: Recipient, ctx: EffectContext, send: () => Promise<unknown>): Promise<Outcome> {
    if (await ledger.has(channel, ctx.effectKey, recipient.id)) return 'alreadySent';
    await send();
    await ledger.record(channel, ctx.effectKey, recipient.id);
    return 'delivered';
  }

  async function deliverOne(message: OutgoingMessage, recipient: Recipient, ctx: EffectContext): Promise<Outcome> {
    switch (message.channel) {
      case 'inbox': {
        const { added } = await inbox.add(
          recipient.id,
          {
            ...(message.subject !== undefined ? { subject: message.subject } : {}),
            body: message.body,
            format: message.format,
            data: message.data ?? {},
            ...(message.attachments?.length
              ? {
                  attachments: message.attachments.map((a) => ({
                    n: a.n,
                    fileName: a.fileName,
                    contentType: a.contentType,
                    size: a.size,
                    document: a.documentId,
                  })),
                }
              : {}),
          },
          ctx.effectKey,
        );
        return added ? 'delivered' : 'alreadySent';
      }
      case 'email': {
        if (!email) return { unreachable: 'the email channel is not configured (set SMTP_URL)' };
        const address = recipient.email;
        if (!address) return { unreachable: 'no e-mail address is known for this recipient' };
        return once('email', recipient, ctx, () => email.send({ ...recipient, email: address }, message, ctx));
      }
      case 'webhook': {
        if (!webhook) return { unreachable: 'the webhook channel is not configured (set WEBHOOK_SECRET)' };
        if (!webhook.urlFor(recipient)) return { unreachable: 'no webhook URL for this recipient (set NOTIFY_WEBHOOK_URL or give a URL)' };
        return once('webhook', recipient, ctx, () => webhook.send(recipient, message, ctx));
      }
    }
  }

  return {
    async deliver(message, ctx) {
      if (message.recipients.length === 0) throw new NonRetryableError('the notification has no recipients');
      const outcomes = new Array<Outcome>(message.recipients.length);
      let next = 0;
      const worker = async () => {
        while (next < message.recipients.length) {
          const i = next++;
          const recipient = message.recipients[i]!;
          if (ctx.signal.aborted) {
            outcomes[i] = { failed: ctx.signal.reason };
            continue;
          }
          try {
            outcomes[i] = await deliverOne(message, recipient, ctx);
          } catch (err) {
            outcomes[i] = err instanceof NonRetryableError ? { unreachable: err.message } : { failed: err };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 4, message.recipients.length) }, worker));

      const report: DeliveryReport = { delivered: 0, alreadySent: 0, unreachable: [] };
      const failures: Array<{ id: string; err: unknown }> = [];
      outcomes.forEach((o, i) => {
        const id = message.recipients[i]!.id;
        if (o === 'delivered') report.delivered++;
        else if (o === 'alreadySent') report.alreadySent++;
        else if ('unreachable' in o) report.unreachable.push({ id, reason: o.unreachable });
        else failures.push({ id, err: o.failed });
      });
      log[failures.length > 0 ? 'warn' : 'info'](
        { effectKey: ctx.effectKey, channel: message.channel, ...report, failed: failures.length },
        'notification delivery',
      );
      if (failures.length > 0) {
        const first = failures[0]!.err;
        const reason = first instanceof Error ? first.message : String(first);
        const err = new Error(
          `${message.channel} delivery failed for ${failures.length} of ${message.recipients.length} recipient(s) (${failures.map((f) => f.id).join(', ')}): ${reason}; a retry skips those already reached`,
          { cause: first },
        );
        // A receiver that said when to come back (Retry-After) is heard by the step's retry.
        const waits = failures.map((f) => retryAfterMsOf(f.err)).filter((ms): ms is number => ms !== undefined);
        throw waits.length ? Object.assign(err, { retryAfterMs: Math.max(...waits) }) : err;
      }
      if (report.delivered + report.alreadySent === 0) {
        const why = report.unreachable.map((u) => `${u.id}: ${u.reason}`).join('; ');
        throw new NonRetryableError(`no recipient could be reached on the ${message.channel} channel (${why})`);
      }
      return report;
    },
  };
}
