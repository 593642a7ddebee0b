/**
 * A worker SIGKILLed while runs send inbox notifications: the redelivered steps must not put a
 * second copy of any message in the inbox (the inbox write is keyed by runId/stepId/seq).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { Inbox } from '../../src/notify/inbox.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { engineTestOptions } from '../helpers/harness.ts';
import { cleanupPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

const RUNS = 40;
const NOTES = 5;
const prefix = uniquePrefix('ncrash');
const options = engineTestOptions(prefix);
const keys = JSON.stringify([{ id: 'ann', key: 'key-ann-0123456789', roles: ['manager'] }]);
let engine: Engine;
const workers: ChildProcess[] = [];
const output: string[] = [];
const outputs: string[] = [];

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
    env: {
      ...process.env, REDIS_URL: testRedisUrl(), STAGEFLOW_PREFIX: prefix, STAGEFLOW_API_KEYS: keys,
      WORKER_CONCURRENCY: '4', WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '300',
      WORKER_MAX_STALLED_COUNT: '10', RECONCILE_INTERVAL_MS: '1000', LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const index = workers.length;
  outputs[index] = '';
  const keep = (d: Buffer) => {
    output.push(String(d));
    outputs[index] += String(d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  workers.push(child);
  return child;
}

async function until(what: string, fn: () => Promise<boolean>, ms: number) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output.join('').slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  await engine.saveWorkflow('notes', {
    name: 'notes',
    stages: [{ id: 'tell', name: 'Tell', steps: Array.from({ length: NOTES }, (_, k) => ({
      id: `note${k}`, type: 'sendNotification', channel: 'inbox', users: ['ann'], subject: `note ${k}`, message: `run {{i}} note ${k}`,
    })) }],
  });
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await engine.close();
  await cleanupPrefix(options.redisUrl, prefix);
});

describe('SIGKILL during notification steps', () => {
  it('delivers every inbox message exactly once', async () => {
    for (let i = 0; i < 3; i++) spawnWorker();
    // starting 3 tsx processes takes over 20 s on a busy 2-core machine
    await until('3 live workers', async () => (await engine.liveWorkers(10_000)) >= 3, 60_000);
    for (let i = 0; i < RUNS; i++) await engine.startRun('notes', { model: { i } });
    const total = RUNS * NOTES;
    await until('a third of the steps', async () => ((await engine.queue.getJobCounts('completed')).completed ?? 0) >= total / 3, 30_000);
    // kill while the victim holds a notification step (its jobs record the worker's id)
    const victimId = /"workerId":"([0-9a-f-]{36})"[^\n]*"step worker started"/.exec(outputs[0] ?? '')?.[1];
    expect(victimId).toBeDefined();
    await until('the victim to hold a job', async () => (await engine.queue.getActive()).some((j) => j.processedBy === victimId), 30_000);
    workers[0]!.kill('SIGKILL');
    await new Promise((r) => workers[0]!.once('exit', r));
    spawnWorker();
    await until('every run to finish', async () => (await engine.listRuns({ workflow: 'notes', status: 'completed', limit: RUNS })).items.length === RUNS, 60_000);

    const inbox = new Inbox(engine.redis, engine.keys);
    const { items } = await inbox.list('ann', { limit: 1000 });
    const bodies = items.map((it) => it.body);
    expect(bodies).toHaveLength(total);
    expect(new Set(bodies).size).toBe(total);
    for (let i = 0; i < RUNS; i++) for (let k = 0; k < NOTES; k++) expect(bodies).toContain(`run ${i} note ${k}`);
  }, 120_000);
});
