/**
 * Crash safety (DESIGN §5): step workers are separate processes; one is SIGKILLed while the
 * queue is busy and started again. Every run must still complete, each step committed once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { engineTestOptions, linearWorkflow } from '../helpers/harness.ts';
import { cleanupPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

const RUNS = 60;
const STEPS = 10;
const prefix = uniquePrefix('crash');
const options = engineTestOptions(prefix);
let engine: Engine;
const workers: ChildProcess[] = [];
const output: string[] = [];

function spawnWorker(extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
    env: {
      ...process.env,
      REDIS_URL: testRedisUrl(),
      STAGEFLOW_PREFIX: prefix,
      WORKER_CONCURRENCY: '4',
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '300',
      WORKER_MAX_STALLED_COUNT: '10',
      RECONCILE_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  workers.push(child);
  return child;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output.join('').slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  await engine.saveWorkflow('crash', linearWorkflow('crash', STEPS));
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await engine.close();
  await cleanupPrefix(options.redisUrl, prefix);
});

describe('SIGKILL of a worker process mid-run', () => {
  it(`${RUNS} runs of a ${STEPS}-step workflow over 3 worker processes all complete, each step committed exactly once`, async () => {
    // only to prove the kill hit jobs in flight: they must come back as stalled and be redelivered
    const events = new QueueEvents('steps', { connection: new Redis(testRedisUrl(), { maxRetriesPerRequest: null }), prefix: engine.keys.bullPrefix });
    let stalled = 0;
    events.on('stalled', () => stalled++);
    await events.waitUntilReady();
    for (let i = 0; i < 3; i++) spawnWorker();
    await until('3 live workers', async () => (await engine.liveWorkers(10_000)) >= 3, 20_000);

    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) runIds.push((await engine.startRun('crash', { model: { i } })).run.id);

    const total = RUNS * STEPS;
    // kill while the queue is busy: a good part of the steps done, most still to go
    await until('a third of the steps', async () => ((await engine.queue.getJobCounts('completed')).completed ?? 0) >= total / 3, 30_000);
    const victim = workers[0]!;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const atKill = (await engine.queue.getJobCounts('completed')).completed ?? 0;
    expect(atKill).toBeLessThan(total);
    spawnWorker();

    await until('every run to finish', async () => {
      const done = await engine.listRuns({ workflow: 'crash', status: 'completed', limit: RUNS });
      return done.items.length === RUNS;
    }, 60_000);

    for (const id of runIds) {
      const run = await engine.getRun(id);
      expect(run.status).toBe('completed');
      const expectedModel: Record<string, number> = { i: run.model.i as number };
      for (let s = 1; s <= STEPS; s++) expectedModel[`f${s}`] = s;
      expect(run.model).toEqual(expectedModel);
      const history = await engine.history(id);
      const commits = history.filter((e) => e.type === 'step.completed');
      expect(commits.map((e) => e.stepId)).toEqual(Array.from({ length: STEPS }, (_, s) => `s${s + 1}`));
      expect(new Set(commits.map((e) => e.seq)).size).toBe(STEPS);
      expect(history.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
    expect(stalled).toBeGreaterThan(0);
    await events.close();
    const failed = await engine.listRuns({ workflow: 'crash', status: 'failed', limit: 10 });
    expect(failed.items).toEqual([]);
  }, 120_000);
});
