/** GET /metrics for Prometheus; behind METRICS_TOKEN when one is configured. */
import { timingSafeEqual, createHash } from 'node:crypto';
import { Router } from 'express';
import type { Engine } from '../../engine/engine.ts';
import { RUN_STATUSES } from '../../engine/types.ts';
import { queueDepth, registry, runsByStatus } from '../../observability/metrics.ts';
import { sendProblem } from '../problem.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function metricsRoutes(engine: Engine, token: string | undefined): Router {
  const r = Router();
  r.get('/metrics', async (req, res) => {
    if (token) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!), digest(token))) {
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
