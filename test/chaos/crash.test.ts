/**
 * Crash safety (DESIGN §5): step workers are separate processes; one is SIGKILLed while the
 * queue is busy and started again. Every run must still complete, each step committed once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DataflowRegistry } from '../../src/dataflows/registry.ts';
import { crashWorkflow, WorkerPool } from '../helpers/worker-pool.ts';
import { cleanupTestPrefix, engineTestOptions, redisEnv } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { jobCounts, jobsIn } from '../helpers/queues.ts';

const RUNS = 60;
const STEPS = 10;
const PAUSE_MS = 20;
const prefix = uniquePrefix('crash');
const options = engineTestOptions(prefix);
let engine: Engine;
const pool = new WorkerPool({
  ...redisEnv(options),
  STAGEFLOW_PREFIX: prefix,
  WORKER_CONCURRENCY: '4',
  WORKER_LOCK_DURATION_MS: '1000',
  WORKER_STALLED_INTERVAL_MS: '300',
  WORKER_MAX_STALLED_COUNT: '10',
  RECONCILE_INTERVAL_MS: '1000',
  LOG_LEVEL: 'info',
});

beforeAll(async () => {
  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  await new DataflowRegistry(engine.redis, prefix).put({ name: 'sleep', kind: 'module', module: 'sleep' });
  await engine.saveWorkflow('crash', crashWorkflow('crash', STEPS));
});

afterAll(async () => {
  pool.killAll();
  await engine.close();
  await cleanupTestPrefix(prefix, options);
});

describe('SIGKILL of a worker process mid-run', () => {
  it(`${RUNS} runs of a ${STEPS}-step workflow over 3 worker processes all complete, each step committed exactly once`, async () => {
    for (let i = 0; i < 3; i++) pool.spawn();
    // starting 3 tsx processes takes over 20 s on a busy 2-core machine
    await pool.until('3 live workers', async () => (await engine.liveWorkers(10_000)) >= 3, 60_000);
    const victimId = await pool.until('the victim to log its worker id', async () => pool.workerIdOf(0), 10_000);

    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) runIds.push((await engine.startRun('crash', { model: { i, pause: { ms: PAUSE_MS } } })).run.id);

    const total = RUNS * STEPS;
    // kill while the queue is busy: a good part of the steps done, most still to go
    await pool.until(
      'a third of the steps',
      async () => ((await jobCounts(engine.queue, 'completed')).completed ?? 0) >= total / 3,
      30_000,
    );
    // kill while the victim holds a job, so there is work in flight to hand over
    await pool.until(
      'the victim to hold a job',
      async () => (await jobsIn(engine.queue, (q) => q.getActive())).some((j) => j.processedBy === victimId),
      30_000,
    );
    const victim = pool.children[0]!;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const atKill = (await jobCounts(engine.queue, 'completed')).completed ?? 0;
    expect(atKill).toBeLessThan(total);
    pool.spawn();

    await pool.until(
      'every run to finish',
      async () => {
        const done = await engine.listRuns({ workflow: 'crash', status: 'completed', limit: RUNS });
        return done.items.length === RUNS;
      },
      60_000,
    );

    for (const id of runIds) {
      const run = await engine.getRun(id);
      expect(run.status).toBe('completed');
      const expectedModel: Record<string, unknown> = { i: run.model.i, pause: { ms: PAUSE_MS } };
      for (let s = 1; s <= STEPS; s++) expectedModel[s % 2 ? `f${s}` : `slept${s}`] = s % 2 ? s : { slept: PAUSE_MS };
      expect(run.model).toEqual(expectedModel);
      const history = await engine.history(id);
      const commits = history.filter((e) => e.type === 'step.completed');
      expect(commits.map((e) => e.stepId)).toEqual(Array.from({ length: STEPS }, (_, s) => `s${s + 1}`));
      expect(new Set(commits.map((e) => e.seq)).size).toBe(STEPS);
      expect(history.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
    // the jobs the victim held were handed over after their locks expired (completed jobs are kept)
    const completedJobs = await jobsIn(engine.queue, (q) => q.getCompleted(0, total));
    expect(completedJobs.some((j) => j.stalledCounter > 0)).toBe(true);
    const failed = await engine.listRuns({ workflow: 'crash', status: 'failed', limit: 10 });
    expect(failed.items).toEqual([]);
  }, 120_000);
});
