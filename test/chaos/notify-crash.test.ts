/**
 * A worker SIGKILLed while runs send inbox notifications: the redelivered steps must not put a
 * second copy of any message in the inbox (the inbox write is keyed by runId/stepId/seq).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { Inbox } from '../../src/notify/inbox.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { WorkerPool } from '../helpers/worker-pool.ts';
import { cleanupTestPrefix, engineTestOptions, redisEnv } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { jobCounts, jobsIn } from '../helpers/queues.ts';

const RUNS = 40;
const NOTES = 5;
/** Runs the test may start in all (the inbox page below lists up to 1,000 messages). */
const MAX_RUNS = 200;
const prefix = uniquePrefix('ncrash');
const options = engineTestOptions(prefix);
const keys = JSON.stringify([{ id: 'ann', key: 'key-ann-0123456789', roles: ['manager'] }]);
let engine: Engine;
const pool = new WorkerPool({
  ...redisEnv(options),
  STAGEFLOW_PREFIX: prefix,
  STAGEFLOW_API_KEYS: keys,
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
  await engine.saveWorkflow('notes', {
    name: 'notes',
    stages: [
      {
        id: 'tell',
        name: 'Tell',
        steps: Array.from({ length: NOTES }, (_, k) => ({
          id: `note${k}`,
          type: 'sendNotification',
          channel: 'inbox',
          users: ['ann'],
          subject: `note ${k}`,
          message: `run {{i}} note ${k}`,
        })),
      },
    ],
  });
});

afterAll(async () => {
  pool.killAll();
  await engine.close();
  await cleanupTestPrefix(prefix, options);
});

describe('SIGKILL during notification steps', () => {
  it('delivers every inbox message exactly once', async () => {
    for (let i = 0; i < 3; i++) pool.spawn();
    // starting 3 tsx processes takes over 20 s on a busy 2-core machine
    await pool.until('3 live workers', async () => (await engine.liveWorkers(10_000)) >= 3, 60_000);
    let started = 0;
    const startBatch = async () => {
      for (let i = 0; i < RUNS; i++) await engine.startRun('notes', { model: { i: started++ } });
    };
    await startBatch();
    await pool.until(
      'a third of the steps',
      async () => ((await jobCounts(engine.queue, 'completed')).completed ?? 0) >= (RUNS * NOTES) / 3,
      30_000,
    );
    // kill while the victim holds a notification step (its jobs record the worker's id)
    const victimId = pool.workerIdOf(0);
    expect(victimId).toBeDefined();
    // Should every step end before the victim is seen holding one (the workers outran the polls
    // on CI), more runs keep them busy; at most MAX_RUNS, all checked below.
    await pool.until(
      'the victim to hold a job',
      async () => {
        const active = await jobsIn(engine.queue, (q) => q.getActive());
        if (active.some((j) => j.processedBy === victimId)) return true;
        if (active.length === 0 && started < MAX_RUNS) await startBatch();
        return false;
      },
      60_000,
    );
    const total = started * NOTES;
    pool.children[0]!.kill('SIGKILL');
    await new Promise((r) => pool.children[0]!.once('exit', r));
    pool.spawn();
    await pool.until(
      'every run to finish',
      async () => (await engine.listRuns({ workflow: 'notes', status: 'completed', limit: started })).items.length === started,
      60_000,
    );

    const inbox = new Inbox(engine.redis, engine.keys);
    const { items } = await inbox.list('ann', { limit: 1000 });
    const bodies = items.map((it) => it.body);
    expect(bodies).toHaveLength(total);
    expect(new Set(bodies).size).toBe(total);
    for (let i = 0; i < started; i++) for (let k = 0; k < NOTES; k++) expect(bodies).toContain(`run ${i} note ${k}`);
  }, 120_000);
});
