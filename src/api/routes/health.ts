/** Liveness and readiness. Ready means Redis answers and at least one worker is alive. */
import type { HealthService } from '../ports.ts';
import { Liveness, Readiness } from '../responses.ts';
import { Routes } from '../route.ts';

const WORKER_FRESH_MS = 20_000;
const tags = ['operations'];

export const healthRoutes = new Routes<HealthService>('')
  .add(
    { method: 'get', path: '/healthz', summary: 'Liveness', tags, access: 'open', responses: { 200: Liveness } },
    () => (_input, _req, res) => {
      res.json({ status: 'ok' });
    },
  )
  .add(
    {
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: Redis answers and a worker heartbeat is fresh',
      tags,
      access: 'open',
      responses: {
        200: { description: 'ready', content: { 'application/json': Readiness } },
        503: { description: 'not ready', content: { 'application/json': Readiness } },
      },
    },
    (engine) => async (_input, _req, res) => {
      const redis = await engine.ping();
      const workers = redis ? await engine.liveWorkers(WORKER_FRESH_MS).catch(() => 0) : 0;
      const ready = redis && workers > 0;
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', redis, workers });
    },
  );
