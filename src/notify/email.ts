/**
 * The `email` channel: one message per recipient over SMTP (nodemailer), from MAIL_FROM. Each
 * message carries a Message-ID derived from the effect key and recipient, so a copy sent again in
 * the ledger's at-least-once window (ledger.ts) is recognisably the same message.
 */
import nodemailer, { type NodemailerError, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { EffectContext, OutgoingMessage, Recipient } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { deliveryDigest } from './ledger.ts';

export interface EmailChannelOptions {
  /** `smtp://[user:pass@]host:port` or `smtps://…`. */
  smtpUrl: string;
  /** `address` or `Name <address>`. */
  from: string;
  log: Logger;
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** Keep up to this many SMTP connections open and reuse them. Default 5. */
  maxConnections?: number;
}

const DEFAULT_SUBJECT = 'Notification from stageflow';

/** The domain of the sender address, for Message-IDs. */
function senderDomain(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  return address.split('@')[1]?.trim() || 'localhost';
}

export function emailMessageId(effectKey: string, recipientId: string, from: string): string {
  return `<sf.${deliveryDigest('email', effectKey, recipientId)}@${senderDomain(from)}>`;
}

export class EmailChannel {
  private readonly transport: Transporter;

  constructor(private readonly opts: EmailChannelOptions) {
    this.transport = nodemailer.createTransport(
      {
        url: opts.smtpUrl,
        pool: true,
        maxConnections: opts.maxConnections ?? 5,
        connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
        greetingTimeout: opts.connectionTimeoutMs ?? 10_000,
        socketTimeout: opts.socketTimeoutMs ?? 30_000,
      },
      { from: opts.from },
    );
  }

  /**
   * Sends one message to one recipient (who must have an address). A permanent SMTP rejection
   * (5xx) is a NonRetryableError; anything else (connection, timeout, 4xx) throws for a retry.
   */
  async send(recipient: Recipient & { email: string }, message: OutgoingMessage, ctx: EffectContext): Promise<{ messageId: string }> {
    const messageId = emailMessageId(ctx.effectKey, recipient.id, this.opts.from);
    try {
      await this.transport.sendMail({
        to: recipient.name ? { name: recipient.name, address: recipient.email } : recipient.email,
        subject: message.subject ?? DEFAULT_SUBJECT,
        ...(message.format === 'html' ? { html: message.body } : { text: message.body }),
        messageId,
        ...(message.attachments?.length
          ? { attachments: message.attachments.map((a) => ({ filename: a.fileName, content: a.content, contentType: a.contentType })) }
          : {}),
        headers: {
          'X-Stageflow-Effect-Key': ctx.effectKey,
          // RFC 3834: machine-generated, so auto-responders stay quiet.
          'Auto-Submitted': 'auto-generated',
        },
        signal: ctx.signal,
      });
    } catch (err) {
      const e = err as NodemailerError;
      if (e.permanent === true)
        throw new NonRetryableError(`the mail server refused the message to ${recipient.email}: ${e.response ?? e.message}`);
      throw err;
    }
    this.opts.log.debug({ effectKey: ctx.effectKey, recipient: recipient.id, messageId }, 'notification e-mail sent');
    return { messageId };
  }

  close(): void {
    this.transport.close();
  }
}
