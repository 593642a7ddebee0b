/** GET /metrics for Prometheus; behind METRICS_TOKEN when one is configured. */
import { timingSafeEqual } from 'node:crypto';
import { EngineError } from '../../engine/errors.ts';
import { Router } from 'express';
import type { Engine } from '../../engine/engine.ts';
import { scrapeMetrics } from '../../observability/scrape.ts';
import { bearerToken } from '../auth.ts';
import { sha256 } from '../principals.ts';

export function metricsRoutes(engine: Engine, token: string | undefined): Router {
  const r = Router();
  const expected = token ? sha256(token) : undefined;
  r.get('/metrics', async (req, res) => {
    if (expected) {
      const presented = bearerToken(req);
      if (!presented || !timingSafeEqual(sha256(presented), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new EngineError('unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>');
      }
    }
    const { contentType, body } = await scrapeMetrics({
      ping: () => engine.ping(),
      runCounts: () => engine.runCounts(),
      queues: [engine.queue, engine.eventQueue],
    });
    res.type(contentType).send(body);
  });
  return r;
}
