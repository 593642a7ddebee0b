/**
 * /api/me: the caller's own things. The inbox (`GET /notifications`, mark read) and its live
 * Server-Sent Events stream: every new item arrives as `event: notification` with the item as
 * JSON data and its id as the event id; a client reconnecting with `Last-Event-ID` first gets
 * the items it missed. A comment line every `heartbeatMs` keeps proxies from closing the stream.
 */
import { EngineError } from '../../engine/errors.ts';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { InboxFeed } from '../../notify/feed.ts';
import type { DocumentStore } from '../../notify/documents.ts';
import type { Inbox, InboxItem } from '../../notify/inbox.ts';
import { principalOf } from '../auth.ts';
import { EmptyBody } from '../schemas.ts';
import { file, InboxPage, MarkedRead, text } from '../responses.ts';
import { Routes } from '../route.ts';

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

const ItemIdParam = z.string().meta({ pattern: ItemId.source });
const tags = ['me'];

export const meRoutes = new Routes<MeRoutesOptions>('/api/me')
  .add(
    {
      method: 'get',
      path: '/api/me/notifications',
      summary: "The caller's inbox, newest first",
      tags,
      query: NotificationsQuery,
      responses: { 200: InboxPage },
      problems: [400],
    },
    ({ inbox }) =>
      async ({ query }, _req, res) => {
        res.json(await inbox.list(principalOf(res).id, { unread: query.unread === 'true', limit: query.limit }));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/me/notifications/{id}/read',
      summary: 'Mark a notification read',
      tags,
      // A malformed id is as unknown as a missing one: 404, not 400.
      params: z.object({ id: ItemIdParam }),
      body: EmptyBody,
      responses: { 200: MarkedRead },
      problems: [404],
    },
    ({ inbox }) =>
      async ({ params: { id } }, _req, res) => {
        if (!ItemId.test(id) || !(await inbox.markRead(principalOf(res).id, id))) {
          throw new EngineError('not_found', 'no such notification');
        }
        res.json({ id, read: true });
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/me/notifications/{id}/attachments/{n}',
      summary: "Download a document attached to one of the caller's notifications",
      description: 'Only the recipient finds the item: anyone else gets 404. 410 once the document expired with its run.',
      tags,
      params: z.object({ id: ItemIdParam, n: z.string().meta({ type: 'integer', minimum: 1 }) }),
      responses: { 200: file('the document'), 410: { description: 'the document has expired' } },
      problems: [404],
    },
    ({ inbox, documents }) =>
      // Only the recipient finds the item (inboxes are per user), so anyone else gets the same 404.
      async ({ params: { id, n } }, _req, res) => {
        const item = ItemId.test(id) && /^[1-9][0-9]{0,2}$/.test(n) ? await inbox.get(principalOf(res).id, id) : undefined;
        const attachment = item?.attachments?.find((a) => a.n === Number(n));
        if (!attachment) throw new EngineError('not_found', 'no such attachment');
        const doc = documents ? await documents.get(attachment.document) : undefined;
        if (!doc) throw new EngineError('gone', 'the document has expired with its run');
        res
          .status(200)
          .attachment(attachment.fileName)
          .type(attachment.contentType)
          .set('Cache-Control', 'private, no-store')
          .send(doc.bytes);
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/me/notifications/stream',
      summary: "Live feed of the caller's inbox (Server-Sent Events)",
      description: 'Each new item arrives as `event: notification` with the item as JSON data and its id as the event id.',
      tags,
      headers: z.object({
        'Last-Event-ID': z.string().optional().meta({ pattern: ItemId.source, description: 'replay the items after this one first' }),
      }),
      responses: { 200: text('an event stream', 'text/event-stream') },
      problems: [503],
    },
    ({ inbox, feed, log, heartbeatMs = 15_000 }) =>
      async (_input, req, res) => {
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
      },
  );
