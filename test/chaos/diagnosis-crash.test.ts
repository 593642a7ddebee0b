/**
 * The diagnosis of a run whose worker process was SIGKILLed mid-step: first active on that
 * worker with a lock that expires, then (lock gone, no live worker) stalled, then back in the
 * queue and taken by the next worker process, and completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DataflowRegistry } from '../../src/dataflows/registry.ts';
import { WorkerPool } from '../helpers/worker-pool.ts';
import { cleanupTestPrefix, engineTestOptions, redisEnv } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const prefix = uniquePrefix('diagcrash');
const options = engineTestOptions(prefix);
let engine: Engine;
const pool = new WorkerPool({
  ...redisEnv(options),
  STAGEFLOW_PREFIX: prefix,
  WORKER_CONCURRENCY: '2',
  WORKER_LOCK_DURATION_MS: '1500',
  WORKER_STALLED_INTERVAL_MS: '500',
  WORKER_MAX_STALLED_COUNT: '5',
  RECONCILE_INTERVAL_MS: '60000',
  LOG_LEVEL: 'info',
});

beforeAll(async () => {
  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  await new DataflowRegistry(engine.redis, prefix).put({ name: 'sleep', kind: 'module', module: 'sleep' });
  await engine.saveWorkflow('slow', {
    name: 'slow',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [{ id: 'nap', name: 'Long nap', type: 'executeDataflow', dataflow: 'sleep', input: 'pause', resultField: 'slept' }],
      },
    ],
  });
});

afterAll(async () => {
  pool.killAll();
  await engine.close();
  await cleanupTestPrefix(prefix, options);
});

describe('diagnosis of a killed worker', () => {
  it('active on W with a lock → stalled after SIGKILL → taken by the next worker → completed', async () => {
    const victim = pool.spawn();
    const { run } = await engine.startRun('slow', { model: { pause: { ms: 4000 } } });
    const active = await pool.until(
      'the step to be active',
      async () => {
        const d = await engine.diagnose(run.id);
        return d.state === 'active' && d;
      },
      20_000,
    );
    const victimId = active.job!.worker!;
    expect(victimId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(active.job!.lockExpiresAt!)).toBeGreaterThan(Date.now() - 100);
    expect(active.summary).toContain(victimId);

    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const stalled = await pool.until(
      'the lock to lapse',
      async () => {
        const d = await engine.diagnose(run.id);
        return d.state === 'stalled' && d;
      },
      10_000,
    );
    expect(stalled.job).toMatchObject({ state: 'active', worker: victimId });
    expect(stalled.summary).toMatch(/lock has expired/);
    expect(stalled.repairable).toBe(false);

    pool.spawn();
    const handedOver = await pool.until(
      'another worker to take it',
      async () => {
        const d = await engine.diagnose(run.id);
        return d.state === 'active' && d.job!.worker !== victimId && d;
      },
      30_000,
    );
    expect(handedOver.job!.attemptsStarted).toBeGreaterThanOrEqual(2);
    const done = await pool.until(
      'the run to complete',
      async () => {
        const d = await engine.diagnose(run.id);
        return d.status === 'completed' && d;
      },
      30_000,
    );
    expect(done.state).toBe('finished');
  }, 90_000);
});
