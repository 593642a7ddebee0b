/** GET /metrics for Prometheus; behind METRICS_TOKEN when one is configured. */
import { timingSafeEqual } from 'node:crypto';
import { EngineError } from '../../engine/errors.ts';
import { Router } from 'express';
import { bearerToken } from '../auth.ts';
import type { MetricsSource } from '../ports.ts';
import { sha256 } from '../principals.ts';

export function metricsRoutes(metrics: MetricsSource, token: string | undefined): Router {
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
    const { contentType, body } = await metrics.scrape();
    res.type(contentType).send(body);
  });
  return r;
}
