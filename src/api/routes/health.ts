/** Liveness and readiness. Ready means Redis answers and at least one worker is alive. */
import { Router } from 'express';
import type { HealthService } from '../ports.ts';

const WORKER_FRESH_MS = 20_000;

export function healthRoutes(engine: HealthService): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const redis = await engine.ping();
    const workers = redis ? await engine.liveWorkers(WORKER_FRESH_MS).catch(() => 0) : 0;
    const ready = redis && workers > 0;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', redis, workers });
  });
  return r;
}
