/**
 * The naive reference the HTTP modes compare stageflow against, as small as issue 13 describes it:
 * express takes the start, BullMQ adds the first job, each job's processor adds the next; no state.
 * `?wait=MS` holds the response until the chain's last step ran (an in-memory map, since there is
 * no run state to read), so the same HTTP client can drive both sides the same way.
 *
 *   node --import tsx bench/reference-server.ts   (env: PORT, REDIS_URL, REF_PREFIX, REF_WORKER=0|1, REF_CONCURRENCY, REF_STEPS)
 *
 * Job options (attempts, backoff, retention, lock settings) are stageflow's defaults, as in bench/sides.ts.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Queue, Worker, type Job } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import { DEFAULT_RETRY } from '../src/definition/compile.ts';
import { STEP_JOB_RETENTION } from '../src/engine/scheduler.ts';

const env = process.env;
const port = Number(env.PORT ?? 0);
const prefix = `${env.REF_PREFIX ?? 'ref'}:{bull}`;
const steps = Number(env.REF_STEPS ?? 10);
const withWorker = env.REF_WORKER !== '0';
const connection = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue('chain', { connection, prefix });
const jobOpts = {
  attempts: DEFAULT_RETRY.attempts,
  backoff: { type: 'exponential', delay: DEFAULT_RETRY.backoff.delayMs },
  removeOnComplete: STEP_JOB_RETENTION.keepCompleted,
  removeOnFail: STEP_JOB_RETENTION.keepFailed,
};
const waiting = new Map<string, { res: ServerResponse; timer: NodeJS.Timeout }>();

const answer = (id: string, status: string) => {
  const w = waiting.get(id);
  if (!w) return;
  waiting.delete(id);
  clearTimeout(w.timer);
  w.res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, status }));
};

let worker: Worker | undefined;
if (withWorker) {
  // stageflow's defaults: WORKER_CONCURRENCY 20, 30 s lock and stalled interval.
  worker = new Worker(
    'chain',
    async (job: Job<{ id: string; i: number; model: unknown }>) => {
      const { id, i, model } = job.data;
      if (i < steps) await queue.add('step', { id, i: i + 1, model }, jobOpts);
      else answer(id, 'completed');
      return null;
    },
    { connection: connection.duplicate({ maxRetriesPerRequest: null }), prefix, concurrency: Number(env.REF_CONCURRENCY ?? 20) },
  );
  worker.on('error', () => undefined);
}

const app = express();
app.use(express.json());
app.get('/healthz', (_req, res) => void res.json({ ok: true }));
app.post('/runs', async (req, res) => {
  const id = randomUUID();
  const wait = Number(req.query.wait ?? 0);
  if (wait > 0) waiting.set(id, { res, timer: setTimeout(() => answer(id, 'running'), wait) });
  await queue.add('step', { id, i: 1, model: req.body?.model ?? {} }, jobOpts);
  if (!(wait > 0)) res.status(201).json({ id, status: 'running' });
});

const server = app.listen(port, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'reference listening', port: typeof a === 'object' && a ? a.port : port })}\n`);
});
const stop = async () => {
  server.close();
  await worker?.close();
  await queue.close();
  connection.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
