/**
 * /api/me: the caller's own things. The inbox (`GET /notifications`, mark read) and its live
 * Server-Sent Events stream: every new item arrives as `event: notification` with the item as
 * JSON data and its id as the event id; a client reconnecting with `Last-Event-ID` first gets
 * the items it missed. A comment line every `heartbeatMs` keeps proxies from closing the stream.
 */
import { EngineError } from '../../engine/errors.ts';
import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { InboxFeed } from '../../notify/feed.ts';
import type { DocumentStore } from '../../notify/documents.ts';
import type { Inbox, InboxItem } from '../../notify/inbox.ts';
import { principalOf } from '../auth.ts';
import { bodyOf } from '../body.ts';
import { parseInput } from '../problem.ts';
import { EmptyBody } from '../schemas.ts';

export interface MeRoutesOptions {
  inbox: Inbox;
  feed: InboxFeed;
  log: Logger;
  /** Serves documents attached to inbox items; without it attachments are 404. */
  documents?: DocumentStore;
  /** Default 15 s. */
  heartbeatMs?: number;
}

const ItemId = /^[A-Za-z0-9_-]{1,64}$/;

export const NotificationsQuery = z
  .object({
    unread: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  })
  .strict();

function writeItem(res: Response, item: InboxItem): void {
  res.write(`id: ${item.id}\nevent: notification\ndata: ${JSON.stringify(item)}\n\n`);
}

export function meRoutes({ inbox, feed, log, documents, heartbeatMs = 15_000 }: MeRoutesOptions): Router {
  const r = Router();

  r.get('/notifications', async (req, res) => {
    const q = parseInput(NotificationsQuery, req.query, 'query');
    res.json(await inbox.list(principalOf(res).id, { unread: q.unread === 'true', limit: q.limit }));
  });

  r.post('/notifications/:id/read', async (req, res) => {
    const id = req.params.id;
    parseInput(EmptyBody, bodyOf(req.body));
    if (!ItemId.test(id) || !(await inbox.markRead(principalOf(res).id, id))) {
      throw new EngineError('not_found', 'no such notification');
    }
    res.json({ id, read: true });
  });

  // Only the recipient finds the item (inboxes are per user), so anyone else gets the same 404.
  r.get('/notifications/:id/attachments/:n', async (req, res) => {
    const { id, n } = req.params;
    const item = ItemId.test(id) && /^[1-9][0-9]{0,2}$/.test(n) ? await inbox.get(principalOf(res).id, id) : undefined;
    const attachment = item?.attachments?.find((a) => a.n === Number(n));
    if (!attachment) throw new EngineError('not_found', 'no such attachment');
    const doc = documents ? await documents.get(attachment.document) : undefined;
    if (!doc) throw new EngineError('gone', 'the document has expired with its run');
    res.status(200).attachment(attachment.fileName).type(attachment.contentType).set('Cache-Control', 'private, no-store').send(doc.bytes);
  });

  r.get('/notifications/stream', async (req, res) => {
    const user = principalOf(res).id;
    let open = false;
    let closed = false;
    const early: InboxItem[] = [];
    const seen = new Set<string>();
    const send = (item: InboxItem) => {
      if (seen.has(item.id)) return;
      seen.add(item.id);
      writeItem(res, item);
    };
    res.on('close', () => {
      closed = true;
    });

    let unsubscribe: () => void;
    try {
      // Subscribe first, so nothing published after the replay below is missed.
      unsubscribe = await feed.subscribe(
        user,
        (item) => (open ? send(item) : early.push(item)),
        // the process is shutting down: end the stream so the server can close
        () => res.end(),
      );
    } catch (err) {
      log.warn({ err, user }, 'notification stream unavailable');
      res.setHeader('Retry-After', '5');
      throw new EngineError('unavailable', 'the notification stream is unavailable; try again shortly');
    }
    if (closed) return unsubscribe();

    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx would otherwise buffer the stream
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write(`retry: 3000\n: connected\n\n`);

    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });

    const lastId = req.get('last-event-id');
    if (lastId && ItemId.test(lastId)) {
      try {
        // Oldest first, as they happened.
        for (const item of (await inbox.since(user, lastId)).reverse()) if (!closed) send(item);
      } catch (err) {
        log.warn({ err, user }, 'notification replay failed');
      }
    }
    open = true;
    if (!closed) for (const item of early.splice(0)) send(item);
  });

  return r;
}
