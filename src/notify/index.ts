/**
 * The notification services of one process, built from the configuration: the principal
 * directory, the notifier (inbox, e-mail, webhook), the template store, the inbox and its live
 * feed. The engine's StepServices factory takes directory, notifier, templates and publicUrl from
 * here; the API takes templates, inbox and feed for its routes.
 */
import { duplicateClient, type RedisClient as Redis } from '../engine/redis.ts';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.ts';
import type { PrincipalRegistry } from '../api/principals.ts';
import { createKeyspace, type Keyspace } from '../engine/keyspace.ts';
import type { Directory, Notifier } from '../steps/services.ts';
import { createDirectory } from './directory.ts';
import { EmailChannel, type EmailChannelOptions } from './email.ts';
import { InboxFeed } from './feed.ts';
import { Inbox, type InboxOptions } from './inbox.ts';
import { SentLedger } from './ledger.ts';
import { createNotifier } from './notifier.ts';
import { DocumentLinks } from './document-links.ts';
import { DocumentStore } from './documents.ts';
import { Links } from '../engine/links.ts';
import { TemplateStore } from './templates.ts';
import { WebhookChannel, type WebhookChannelOptions } from './webhook.ts';
import { throttledLog } from '../observability/throttle.ts';

export interface NotifyServicesOptions {
  /** A command connection (the engine's); the live feed opens its own subscriber from it. */
  redis: Redis;
  /** The engine's keys, or the key prefix to build them from. */
  keys: Keyspace | string;
  config: Pick<Config, 'notify' | 'publicUrl'>;
  registry: PrincipalRegistry;
  log: Logger;
  inbox?: InboxOptions;
  /** How long the sent-ledger remembers a delivery. Default 30 days. */
  ledgerTtlSec?: number;
  /** How long rendered documents are kept: the run retention. Default 30 days. */
  documentTtlSec?: number;
  /** Signs document download links; default the shared link secret (LINK_SECRET or the one in Redis). */
  documentSecret?: () => Promise<string>;
  /** Largest template file (TEMPLATE_MAX_BYTES). Default 5 MiB. */
  templateMaxBytes?: number;
  email?: Partial<Pick<EmailChannelOptions, 'connectionTimeoutMs' | 'socketTimeoutMs' | 'maxConnections'>>;
  webhook?: Partial<Pick<WebhookChannelOptions, 'timeoutMs' | 'fetch'>>;
}

export interface NotifyServices {
  directory: Directory;
  notifier: Notifier;
  templates: TemplateStore;
  inbox: Inbox;
  feed: InboxFeed;
  /** Documents rendered by notification steps, and their signed download links. */
  documents: DocumentStore;
  documentLinks: DocumentLinks;
  /** PUBLIC_URL joined with a path: publicUrl('/runs/x') → https://flows.example/runs/x */
  publicUrl(path: string): string;
  /**
   * Closes the SMTP pool and the feed's subscriber connection (not `redis`), and ends open SSE
   * streams — call it before closing the HTTP server, which waits for open responses.
   */
  close(): Promise<void>;
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function createNotifyServices(opts: NotifyServicesOptions): NotifyServices {
  const { redis, config, registry, log } = opts;
  const keys = typeof opts.keys === 'string' ? createKeyspace(opts.keys) : opts.keys;
  const ledgerTtlSec = opts.ledgerTtlSec ?? 30 * 86_400;
  const inbox = new Inbox(redis, keys, { ledgerTtlSec, ...opts.inbox });
  const ledger = new SentLedger(redis, keys, ledgerTtlSec);
  const { smtpUrl, mailFrom, webhookSecret, webhookUrl } = config.notify;
  const email = smtpUrl ? new EmailChannel({ smtpUrl, from: mailFrom, log, ...opts.email }) : undefined;
  const webhook = webhookSecret
    ? new WebhookChannel({ secret: webhookSecret, ...(webhookUrl ? { defaultUrl: webhookUrl } : {}), log, ...opts.webhook })
    : undefined;
  if (!email) log.info('notifications: the email channel is off (SMTP_URL is not set)');
  if (!webhook) log.info('notifications: the webhook channel is off (WEBHOOK_SECRET is not set)');

  const feed = new InboxFeed({
    connect: () => {
      // Subscribers block no one and must outlive Redis restarts: queue while disconnected,
      // never time a command out; ioredis resubscribes after a reconnect.
      const conn = duplicateClient(redis, {
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
        connectionName: 'notify-feed',
      });
      const feedError = throttledLog(log, 'warn', 'notification feed connection error');
      conn.on('error', (err: Error) => feedError(err));
      return conn;
    },
    channelOf: (userId) => inbox.channel(userId),
    log,
  });

  const documents = new DocumentStore(redis, keys, opts.documentTtlSec ?? 30 * 86_400);
  const publicUrl = (path: string) => joinUrl(config.publicUrl, path);
  const documentSecret = opts.documentSecret ?? (() => new Links(redis, keys, undefined, publicUrl).secretText());
  const documentLinks = new DocumentLinks(documentSecret, publicUrl);

  let closed = false;
  return {
    directory: createDirectory(registry),
    notifier: createNotifier({ inbox, ledger, ...(email ? { email } : {}), ...(webhook ? { webhook } : {}), log }),
    templates: new TemplateStore(redis, keys, {
      documents,
      documentLinks,
      ...(opts.templateMaxBytes ? { maxBytes: opts.templateMaxBytes } : {}),
    }),
    inbox,
    feed,
    documents,
    documentLinks,
    publicUrl,
    async close() {
      if (closed) return;
      closed = true;
      email?.close();
      await feed.close();
    },
  };
}
