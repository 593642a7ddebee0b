/** GET /metrics for Prometheus; behind METRICS_TOKEN when one is configured. */
import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Engine } from '../../engine/engine.ts';
import { RUN_STATUSES } from '../../engine/types.ts';
import { queueDepth, registry, runsByStatus } from '../../observability/metrics.ts';
import { bearerToken } from '../auth.ts';
import { sha256 } from '../principals.ts';
import { sendProblem } from '../problem.ts';

export function metricsRoutes(engine: Engine, token: string | undefined): Router {
  const r = Router();
  const expected = token ? sha256(token) : undefined;
  r.get('/metrics', async (req, res) => {
    if (expected) {
      const presented = bearerToken(req);
      if (!presented || !timingSafeEqual(sha256(presented), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        return sendProblem(res, 401, 'send Authorization: Bearer <METRICS_TOKEN>');
      }
    }
    const counts = await engine.runCounts();
    for (const status of RUN_STATUSES) runsByStatus.set({ status }, counts[status] ?? 0);
    for (const q of [engine.queue, engine.eventQueue]) {
      const jobs = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, n] of Object.entries(jobs)) queueDepth.set({ queue: q.name, state }, n ?? 0);
    }
    res.type(registry.contentType).send(await registry.metrics());
  });
  return r;
}
