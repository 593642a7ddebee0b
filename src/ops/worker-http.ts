/**
 * A worker process's own HTTP listener (WORKER_HTTP_PORT): /healthz for liveness, /readyz
 * (Redis answers and the step worker is taking jobs) for orchestrators, and /metrics, so the
 * step counters and durations that live in worker processes can be scraped. Plain node:http:
 * the engine side of stageflow does not load express.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { scrapeMetrics } from '../observability/scrape.ts';

export interface WorkerHttpOptions {
  port: number;
  host?: string;
  /** Redis answers (bounded: a stalled Redis must not stall the probe). */
  ping: () => Promise<boolean>;
  /** The step worker is running and not shutting down. */
  taking: () => boolean;
  metricsToken?: string;
  log: Logger;
}

export interface WorkerHttp {
  server: Server;
  port: number;
  close(): Promise<void>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const PROBE_TIMEOUT_MS = 1_500;

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function bounded(p: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), PROBE_TIMEOUT_MS)))]).finally(
    () => clearTimeout(timer),
  );
}

export async function startWorkerHttp(opts: WorkerHttpOptions): Promise<WorkerHttp> {
  const expected = opts.metricsToken ? sha256(opts.metricsToken) : undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(
        res,
        405,
        { type: 'about:blank', title: 'Method Not Allowed', status: 405, detail: 'use GET' },
        'application/problem+json',
      );
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const redis = await bounded(opts.ping());
        const worker = opts.taking();
        const ready = redis && worker;
        return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', redis, worker });
      }
      case '/metrics': {
        if (expected) {
          const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
          if (!presented || !timingSafeEqual(sha256(presented), expected)) {
            res.setHeader('www-authenticate', 'Bearer realm="metrics"');
            return json(
              res,
              401,
              { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'send Authorization: Bearer <METRICS_TOKEN>' },
              'application/problem+json',
            );
          }
        }
        const { contentType, body } = await scrapeMetrics({ ping: opts.ping });
        res.writeHead(200, { 'content-type': contentType });
        return res.end(body);
      }
      default:
        return json(
          res,
          404,
          { type: 'about:blank', title: 'Not Found', status: 404, detail: 'this listener serves /healthz, /readyz and /metrics' },
          'application/problem+json',
        );
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error({ err }, 'worker http request failed');
      if (!res.headersSent)
        json(res, 500, { type: 'about:blank', title: 'Internal Server Error', status: 500 }, 'application/problem+json');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log.info({ workerHttpPort: port }, `worker health and metrics on http://localhost:${port} (/healthz, /readyz, /metrics)`);
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
