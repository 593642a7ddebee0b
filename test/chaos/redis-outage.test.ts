/**
 * A Redis outage under load with a worker restarted during it (issue 9, defect 1): Redis (AOF)
 * on its own loopback port, `--role=api` and 3 workers as separate processes; 100 runs started
 * over HTTP; Redis and one worker SIGKILLed; the worker restarted within 1.5 s, while Redis is
 * still down; Redis restarted on its port with its directory. Nobody may start a redis-server of
 * their own in the gap (it would take the port and hide the real data): every run completes,
 * each step committed once, and the port belongs to the test's Redis.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable, startRedisServer, type RedisServerProcess } from '../../src/engine/redis-bootstrap.ts';
import { freePort } from '../helpers/redis.ts';

const RUNS = 100;
const KEY = 'outage-admin-key-0123456789abcdef';
const STEPS = ['f1', 'nap2', 'f3', 'nap4', 'f5', 'nap6'];
let port = 0;
let apiPort = 0;
let dir = '';
let redis: RedisServerProcess | undefined;
const children: ChildProcess[] = [];
const outputs = new Map<ChildProcess, string>();

function startRedis(): Promise<RedisServerProcess> {
  // appendfsync always: what a SIGKILL may lose must not be the test's doing.
  return startRedisServer({
    bin: findExecutable('redis-server')!,
    port,
    dir: path.join(dir, 'redis'),
    logFile: path.join(dir, 'redis.log'),
    detached: false,
    extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
  });
}

function spawnProcess(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: {
      ...process.env,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      PORT: String(apiPort),
      STAGEFLOW_PREFIX: 'outage',
      STAGEFLOW_API_KEYS: JSON.stringify([{ id: 'admin', key: KEY, roles: ['admin'] }]),
      // where an embedded Redis would keep its data: nobody may create it
      STAGEFLOW_DATA_DIR: path.join(dir, 'embedded'),
      RATE_LIMIT_PER_MINUTE: '0',
      WORKER_CONCURRENCY: '4',
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '300',
      WORKER_MAX_STALLED_COUNT: '10',
      RECONCILE_INTERVAL_MS: '1000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  outputs.set(child, '');
  const keep = (d: Buffer) => outputs.set(child, outputs.get(child)! + String(d));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  children.push(child);
  return child;
}

const allOutput = () =>
  children
    .map((c) => `[pid ${c.pid} exit ${c.exitCode} ${c.signalCode}] ${c.spawnargs.slice(-2).join(' ')}\n${outputs.get(c)!.slice(-1500)}`)
    .join('\n---\n');

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${allOutput()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function api(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: 0, body: undefined };
  }
}

/** pids of redis-server processes whose command line names the test port. */
function redisServersOnPort(): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /redis-server/.test(l) && new RegExp(`(:|--port )${port}\\b`).test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

const completedCount = async () => {
  const res = await api('GET', '/api/runs?workflow=outage&status=completed&limit=100');
  return res.status === 200 ? (res.body.items as unknown[]).length : -1;
};

beforeAll(async () => {
  port = await freePort();
  apiPort = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'sf-outage-'));
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
  // a regression would leave a detached server of its own on the port: end it, it is ours
  for (const pid of redisServersOnPort()) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis SIGKILLed under load, a worker restarted during the outage', () => {
  it(`${RUNS} runs all complete, each step committed once, and no other redis-server took the port`, async () => {
    spawnProcess(['src/main.ts', '--role=api']);
    const workers = [0, 1, 2].map(() => spawnProcess(['workers/worker.ts']));
    // start-up is the slow part on a busy machine; the outage itself is bounded below
    await until('the API', async () => (await api('GET', '/api/me')).status === 200, 60_000, 250);
    expect((await api('PUT', '/api/dataflows/nap', { name: 'nap', kind: 'module', module: 'sleep' })).status).toBeLessThan(300);
    const saved = await api('PUT', '/api/workflows/outage', {
      name: 'outage',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: STEPS.map((id) =>
            id.startsWith('f')
              ? { id, type: 'updateModelField', field: id, value: true }
              : { id, type: 'executeDataflow', dataflow: 'nap', input: 'pause', resultField: id },
          ),
        },
      ],
    });
    expect(saved.status).toBe(201);
    await until('3 workers', () => workers.every((w) => /step worker started/.test(outputs.get(w)!)), 60_000);

    const ids: string[] = [];
    for (let batch = 0; batch < RUNS / 20; batch++) {
      const res = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api('POST', '/api/workflows/outage/runs', { model: { i: batch * 20 + i, pause: { ms: 300 } } }),
        ),
      );
      for (const r of res) {
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
    }
    // the outage lands mid-flight: some runs done, most not
    await until('some runs to complete', async () => (await completedCount()) >= 5, 20_000, 50);

    process.kill(redis!.pid, 'SIGKILL');
    const victim = workers[0]!;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const killedAt = Date.now();
    const outageStart = killedAt;
    const replacement = spawnProcess(['workers/worker.ts']);
    expect(Date.now() - killedAt).toBeLessThan(1500);
    expect(await completedCount()).toBe(-1); // the API cannot read a dead Redis (503)

    // the restarted worker waits for Redis instead of starting its own
    const waiting = () => /redis does not answer; waiting/.test(outputs.get(replacement)!);
    await until('the new worker to wait for Redis (or to start one)', () => waiting() || redisServersOnPort().length > 0, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(redisServersOnPort(), 'a redis-server started during the outage').toEqual([]);
    expect(waiting()).toBe(true);

    redis = await startRedis();
    await until('the new worker to start', () => /step worker started/.test(outputs.get(replacement)!), 30_000);
    await until('every run to complete', async () => (await completedCount()) === RUNS, 40_000, 250);

    for (const id of ids) {
      const history = (await api('GET', `/api/runs/${id}/history`)).body.items as Array<{ type: string; stepId?: string }>;
      const commits = history.filter((e) => e.type === 'step.completed').map((e) => e.stepId);
      expect(commits, `run ${id}`).toEqual(STEPS);
      expect(history.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
    // the port is the test's Redis, and it is the only redis-server on it
    const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await probe.connect();
    const info = await probe.info('server');
    probe.disconnect();
    expect(Number(/process_id:(\d+)/.exec(info)?.[1])).toBe(redis.pid);
    expect(redisServersOnPort()).toEqual([redis.pid]);
    // from the kill to the last run done, and its checks: bounded
    expect(Date.now() - outageStart).toBeLessThan(60_000);
  }, 180_000);
});
