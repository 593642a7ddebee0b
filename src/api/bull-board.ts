/** Bull Board at /admin/queues: the operators' view of the step queue. */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type RequestHandler } from 'express';

export const BOARD_PATH = '/admin/queues';

/**
 * The board's own page is allowed its inline styles and JSON config, but nothing off the host:
 * its UI links web fonts from a public CDN, which we drop (the board falls back to system fonts).
 */
export const BOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
const FONT_LINK = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^>]*>\s*/g;

const localOnly: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', BOARD_CSP);
  const render = res.render.bind(res);
  res.render = ((view: string, options?: object) => {
    render(view, options ?? {}, (err: Error | null, html: string) => {
      if (err) return next(err);
      res.type('html').send(html.replace(FONT_LINK, ''));
    });
  }) as typeof res.render;
  next();
};

/** The partition tag in a queue's prefix (`sf:{p3.x}` → `p3.x`), to tell partitions' queues of one name apart. */
const tagOf = (q: Queue) => /\{([^}]*)\}$/.exec(q.opts.prefix ?? '')?.[1];

/** Each entry a queue, or every partition's queue of one kind. */
export function bullBoard(queues: (Queue | readonly Queue[])[]): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: queues.flat().map((q) => new BullMQAdapter(q, tagOf(q) ? { prefix: `${tagOf(q)}/` } : {})),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'stageflow queues', favIcon: { default: '/favicon.svg', alternative: '/favicon.svg' } } },
  });
  const r = Router();
  r.use(localOnly, serverAdapter.getRouter() as Router);
  return r;
}
