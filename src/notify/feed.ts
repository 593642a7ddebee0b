/**
 * Live inbox items for SSE streams. One subscriber connection per process, opened on first use;
 * a user's channel is subscribed while at least one stream of that user is open, and each
 * message is fanned out in memory to that user's listeners.
 */
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Logger } from 'pino';
import type { InboxItem } from './inbox.ts';

export type FeedListener = (item: InboxItem) => void;

interface Entry {
  /** Each listener with what to call when the feed closes (an SSE response ends itself). */
  listeners: Map<FeedListener, (() => void) | undefined>;
  /** Settles when Redis acknowledged the SUBSCRIBE. */
  ready: Promise<unknown>;
}

export interface InboxFeedOptions {
  /** A pub/sub connection to use; default: a duplicate of the command connection, opened lazily. */
  connect: () => Redis;
  /** The channel of a user (Inbox.channel). */
  channelOf: (userId: string) => string;
  log: Logger;
  /** How long subscribe() waits for Redis before failing. Default 5 s. */
  subscribeTimeoutMs?: number;
}

export class InboxFeed {
  private conn?: Redis;
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly opts: InboxFeedOptions) {}

  private connection(): Redis {
    if (this.closed) throw new Error('the inbox feed is closed');
    if (!this.conn) {
      const conn = this.opts.connect();
      conn.on('message', (channel: string, message: string) => this.dispatch(channel, message));
      this.conn = conn;
    }
    return this.conn;
  }

  private dispatch(channel: string, message: string): void {
    const entry = this.entries.get(channel);
    if (!entry) return;
    let item: InboxItem;
    try {
      item = { ...(JSON.parse(message) as Omit<InboxItem, 'read'>), read: false };
    } catch (err) {
      this.opts.log.warn({ err, channel }, 'unreadable inbox message ignored');
      return;
    }
    for (const listener of [...entry.listeners.keys()]) {
      try {
        listener(item);
      } catch (err) {
        this.opts.log.warn({ err, channel }, 'inbox listener failed');
      }
    }
  }

  /**
   * Calls `listener` with every new item of `userId` until the returned function is called.
   * Resolves once the subscription is live, so nothing published afterwards is missed.
   * `onEnd` is called if the feed closes first (process shutdown), so a stream can end itself.
   */
  async subscribe(userId: string, listener: FeedListener, onEnd?: () => void): Promise<() => void> {
    const channel = this.opts.channelOf(userId);
    const conn = this.connection();
    let entry = this.entries.get(channel);
    if (!entry) {
      entry = { listeners: new Map(), ready: conn.subscribe(channel) };
      // Whoever waits on it handles a failure; this only keeps a late one from going unhandled.
      entry.ready.catch(() => {});
      this.entries.set(channel, entry);
    }
    const current = entry;
    current.listeners.set(listener, onEnd);
    const unsubscribe = () => {
      if (!current.listeners.delete(listener)) return;
      if (current.listeners.size > 0 || this.entries.get(channel) !== current) return;
      this.entries.delete(channel);
      // Commands on one connection run in order, so a later SUBSCRIBE of the same channel wins.
      if (!this.closed) conn.unsubscribe(channel).catch((err: unknown) => this.opts.log.warn({ err, channel }, 'unsubscribe failed'));
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        current.ready,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('the notification stream is unavailable (redis did not answer)')),
            this.opts.subscribeTimeoutMs ?? 5000,
          );
        }),
      ]);
    } catch (err) {
      unsubscribe();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return unsubscribe;
  }

  /** Open subscriptions (channels), for tests and metrics. */
  get size(): number {
    return this.entries.size;
  }

  /** Ends every open stream (their onEnd) and closes the subscriber connection. */
  async close(): Promise<void> {
    this.closed = true;
    const ends = [...this.entries.values()].flatMap((e) => [...e.listeners.values()]);
    this.entries.clear();
    for (const end of ends) {
      try {
        end?.();
      } catch (err) {
        this.opts.log.warn({ err }, 'ending a notification stream failed');
      }
    }
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await conn.quit().catch(() => conn.disconnect());
  }
}
