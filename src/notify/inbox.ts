/**
 * The in-app inbox ("the bell"): per-user notifications in Redis, newest first, with an unread
 * flag, bounded in size. Adding is idempotent on the effect key (a redelivered step adds nothing)
 * and announces the item on the user's pub/sub channel for the SSE stream (see feed.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Keyspace } from '../engine/keyspace.ts';

export interface InboxItem {
  id: string;
  /** ISO time the item was added. */
  at: string;
  subject?: string;
  body: string;
  format: 'text' | 'html';
  read: boolean;
  data: Record<string, unknown>;
  /** Documents sent with the item, downloadable by its recipient at /api/me/notifications/{id}/attachments/{n}. */
  attachments?: InboxAttachment[];
}

export interface InboxAttachment {
  n: number;
  fileName: string;
  contentType: string;
  size: number;
  /** The stored document (src/notify/documents.ts). */
  document: string;
}

export type NewInboxItem = Pick<InboxItem, 'subject' | 'body' | 'format' | 'attachments'> & { data?: Record<string, unknown> };

export interface InboxOptions {
  /** Items kept per user; older ones are dropped. Default 1000. */
  maxItems?: number;
  /** How long an effect key is remembered after its item was added. Default 30 days. */
  ledgerTtlSec?: number;
}

export interface ListOptions {
  unread?: boolean;
  limit?: number;
}

const ADD_SCRIPT = readFileSync(new URL('./lua/add-inbox-item.lua', import.meta.url), 'utf8');
const COMMAND = 'sfAddInboxItem';

/** The item id of an effect key: stable, so the same delivery always lands on the same item. */
export function inboxItemId(effectKey: string): string {
  return createHash('sha256').update(effectKey).digest('base64url').slice(0, 22);
}

type StoredItem = Omit<InboxItem, 'read'>;

export class Inbox {
  readonly maxItems: number;
  private readonly ledgerTtlSec: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    opts: InboxOptions = {},
  ) {
    this.maxItems = opts.maxItems ?? 1000;
    this.ledgerTtlSec = opts.ledgerTtlSec ?? 30 * 86_400;
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 4, lua: ADD_SCRIPT });
  }

  /** The pub/sub channel new items of `userId` are published on. */
  channel(userId: string): string {
    return this.keys.inbox(userId).live;
  }

  /** Adds the item unless this effect key already reached the user; `added` tells which. */
  async add(userId: string, item: NewInboxItem, effectKey: string, now = new Date()): Promise<{ added: boolean; id: string }> {
    const id = inboxItemId(effectKey);
    const k = this.keys.inbox(userId);
    const stored: StoredItem = {
      id,
      at: now.toISOString(),
      ...(item.subject !== undefined ? { subject: item.subject } : {}),
      body: item.body,
      format: item.format,
      data: item.data ?? {},
      ...(item.attachments?.length ? { attachments: item.attachments } : {}),
    };
    const run = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<number>>)[COMMAND]!;
    const added = await run.call(
      this.redis,
      k.list,
      k.items,
      k.unread,
      k.added(id),
      id,
      JSON.stringify(stored),
      this.maxItems,
      this.ledgerTtlSec,
      k.live,
    );
    return { added: added === 1, id };
  }

  /** Newest first; `unread` keeps only unread items. Also returns how many are unread in all. */
  async list(userId: string, opts: ListOptions = {}): Promise<{ items: InboxItem[]; unreadCount: number }> {
    const k = this.keys.inbox(userId);
    const limit = Math.max(1, Math.min(opts.limit ?? 50, this.maxItems));
    const res = await this.redis.multi().lrange(k.list, 0, -1).smembers(k.unread).exec();
    const ids = (res?.[0]?.[1] as string[] | undefined) ?? [];
    const unread = new Set((res?.[1]?.[1] as string[] | undefined) ?? []);
    const wanted = (opts.unread ? ids.filter((id) => unread.has(id)) : ids).slice(0, limit);
    if (wanted.length === 0) return { items: [], unreadCount: unread.size };
    const raw = await this.redis.hmget(k.items, ...wanted);
    const items: InboxItem[] = [];
    raw.forEach((json, i) => {
      // An item trimmed between the two reads is simply gone.
      if (json === null) return;
      const stored = JSON.parse(json) as StoredItem;
      items.push({ ...stored, read: !unread.has(wanted[i]!) });
    });
    return { items, unreadCount: unread.size };
  }

  /** Items newer than `afterId` (newest first), for an SSE client reconnecting with Last-Event-ID. */
  async since(userId: string, afterId: string): Promise<InboxItem[]> {
    const k = this.keys.inbox(userId);
    const ids = await this.redis.lrange(k.list, 0, -1);
    const at = ids.indexOf(afterId);
    // An id we no longer hold (trimmed, or foreign): replay nothing rather than the whole inbox.
    if (at <= 0) return [];
    const newer = ids.slice(0, at);
    const [raw, unread] = await Promise.all([this.redis.hmget(k.items, ...newer), this.redis.smembers(k.unread)]);
    const unreadSet = new Set(unread);
    return raw.flatMap((json, i) => (json === null ? [] : [{ ...(JSON.parse(json) as StoredItem), read: !unreadSet.has(newer[i]!) }]));
  }

  /** One of the user's own items (undefined for an id the user has not got). */
  async get(userId: string, id: string): Promise<InboxItem | undefined> {
    const k = this.keys.inbox(userId);
    const res = await this.redis.multi().hget(k.items, id).sismember(k.unread, id).exec();
    const json = res?.[0]?.[1] as string | null | undefined;
    if (!json) return undefined;
    return { ...(JSON.parse(json) as StoredItem), read: res?.[1]?.[1] !== 1 };
  }

  /** False when the user has no such item. */
  async markRead(userId: string, id: string): Promise<boolean> {
    const k = this.keys.inbox(userId);
    const res = await this.redis.multi().hexists(k.items, id).srem(k.unread, id).exec();
    return res?.[0]?.[1] === 1;
  }
}
