/** The real entry points as a user runs them: `npm start` (src/main.ts) and `npm run worker`. */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findExecutable, startRedisServer } from '../../src/engine/redis-bootstrap.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { cleanupTestPrefix, engineTestOptions, onCluster, redisEnv } from '../helpers/harness.ts';
import { freePort, uniquePrefix } from '../helpers/redis.ts';

const prefixes: string[] = [];
const children: ChildProcess[] = [];

/** A user-run entry point under its own prefix; start-up on a busy machine can take a while, so waits default to 40 s. */
function run(entry: string, args: string[], env: Record<string, string | undefined>): Proc {
  const prefix = uniquePrefix('proc');
  prefixes.push(prefix);
  const p = spawnTs(entry, args, {
    ...redisEnv(engineTestOptions(prefix)),
    STAGEFLOW_PREFIX: prefix,
    PORT: '0',
    LOG_LEVEL: 'info',
    STAGEFLOW_API_KEYS: '',
    ...env,
  });
  children.push(p.child);
  return { ...p, waitForLine: (pred, ms = 40_000) => p.waitForLine(pred, ms) };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const p of prefixes) await cleanupTestPrefix(p);
});

describe('npm start', () => {
  it('runs in dev mode without keys: logs one generated admin key, loads the examples, runs them, and drains on SIGTERM', async () => {
    const app = run('src/main.ts', [], { LOG_LEVEL: 'debug' });
    const dev = await app.waitForLine((l) => typeof l.adminKey === 'string');
    expect(dev.level).toBe(40); // warn
    const listening = await app.waitForLine((l) => typeof l.port === 'number' && l.role === 'all');
    const base = `http://127.0.0.1:${listening.port}`;
    const auth = { authorization: `Bearer ${dev.adminKey}` };

    const list = await (await fetch(`${base}/api/workflows`, { headers: auth })).json();
    expect(list.items.map((w: any) => w.name)).toEqual(expect.arrayContaining(['order-triage', 'purchase-approval']));
    const flows = await (await fetch(`${base}/api/dataflows`, { headers: auth })).json();
    expect(flows.items.map((d: any) => d.name)).toEqual(expect.arrayContaining(['echo', 'create-order']));
    const started = await fetch(`${base}/api/workflows/order-triage/runs?wait=10000`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: { amount: 2500, priority: 'urgent' } }),
    });
    const runBody = await started.json();
    expect(runBody).toMatchObject({ status: 'completed', outcome: 'triaged', model: { review: true, lane: 'fast', status: 'triaged' } });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // every step line carries its run, step, seq and attempt; run-level lines their run and seq.
    // The log is written asynchronously, so on a busy machine the answer can arrive before the
    // lines of the last steps: wait for the last step's line first.
    await app.waitForLine((l) => l.msg === 'step committed' && l.runId === runBody.id && l.next === 'completed');
    const stepLines = app.lines.filter((l) => l.msg === 'step committed');
    expect(stepLines.length).toBeGreaterThanOrEqual(5);
    for (const l of stepLines)
      expect(l).toMatchObject({ runId: runBody.id, stepId: expect.any(String), seq: expect.any(Number), attempt: 1 });
    expect(app.lines.find((l) => l.msg === 'run started')).toMatchObject({ runId: runBody.id, seq: 0, stepId: 'mark-received' });
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.lines.filter((l) => typeof l.adminKey === 'string')).toHaveLength(1);
    expect(app.lines.some((l) => /stopped/.test(l.msg))).toBe(true);
  }, 90_000);

  it('keeps configured keys out of the logs', async () => {
    const key = 'configured-secret-key-abcdef';
    const app = run('src/main.ts', ['--role=api'], { STAGEFLOW_API_KEYS: JSON.stringify([{ id: 'ops', key, roles: ['admin'] }]) });
    const listening = await app.waitForLine((l) => typeof l.port === 'number');
    const res = await fetch(`http://127.0.0.1:${listening.port}/api/workflows`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(app.lines.some((l) => 'adminKey' in l)).toBe(false);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.text()).not.toContain(key);
  }, 60_000);

  it('refuses to start in production without keys, and on bad config names the variable', async () => {
    const prod = run('src/main.ts', [], { NODE_ENV: 'production' });
    expect(await prod.exited).toBe(1);
    expect(prod.text()).toMatch(/no API keys configured/);
    const bad = run('src/main.ts', [], { WORKER_CONCURRENCY: 'lots' });
    expect(await bad.exited).toBe(1);
    expect(bad.text()).toMatch(/WORKER_CONCURRENCY/);
  }, 60_000);
});

describe('npm run worker', () => {
  it('starts a worker that stops within its shutdown bound on SIGTERM', async () => {
    const w = run('workers/worker.ts', [], { SHUTDOWN_TIMEOUT_MS: '2000' });
    await w.waitForLine((l) => l.msg === 'step worker started');
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 60_000);
});

/** pids of redis-server processes whose command line names `port`. */
function redisServersOn(port: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /redis-server/.test(l) && new RegExp(`(:|--port )${port}\\b`).test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

// A single REDIS_URL that does not answer, and the embedded redis-server never started for it:
// single-Redis behaviour (REDIS_CLUSTER_NODES would override the URL), run by `npm test`.
describe.skipIf(onCluster)('Redis that does not answer at start', () => {
  const keys = JSON.stringify([{ id: 'ops', key: 'ops-key-0123456789abcdef', roles: ['admin'] }]);

  it('npm run api, npm run worker and production npm start wait for it (one log line), never start one, and go on once it answers', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sf-nospawn-'));
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, STAGEFLOW_DATA_DIR: path.join(dataDir, 'data'), STAGEFLOW_API_KEYS: keys };
    const procs = [
      run('workers/worker.ts', [], env),
      run('src/main.ts', ['--role=api'], env),
      run('src/main.ts', [], { ...env, NODE_ENV: 'production' }),
    ];
    let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      for (const p of procs) await p.waitForLine((l) => /redis does not answer; waiting/.test(l.msg ?? ''));
      await new Promise((r) => setTimeout(r, 1500));
      // nobody started a redis-server on that port, nor wrote the embedded one's data directory
      expect(redisServersOn(port)).toEqual([]);
      expect(existsSync(path.join(dataDir, 'data'))).toBe(false);
      // bounded logging: the first failure at once, then at most one line per 10 s (with a count)
      for (const p of procs) {
        const waits = p.lines.filter((l) => /redis does not answer|still waiting/.test(l.msg ?? ''));
        expect(waits.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - Date.parse(waits[0].time)) / 10_000));
        expect(waits.every((l) => typeof l.tries === 'number')).toBe(true);
      }

      server = await startRedisServer({
        bin: findExecutable('redis-server')!,
        port,
        dir: path.join(dataDir, 'redis'),
        logFile: path.join(dataDir, 'redis.log'),
        extraArgs: ['--appendonly', 'no'],
        detached: false,
      });
      await procs[0]!.waitForLine((l) => l.msg === 'step worker started');
      await procs[1]!.waitForLine((l) => typeof l.port === 'number' && l.role === 'api');
      await procs[2]!.waitForLine((l) => typeof l.port === 'number' && l.role === 'all');
      expect(redisServersOn(port)).toEqual([server.pid]);
    } finally {
      for (const p of procs) p.child.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.exited));
      await server?.stop();
      // a regression would leave a detached server behind: end it, it is ours
      for (const pid of redisServersOn(port)) if (pid !== server?.pid) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 150_000);

  it('a process stopped while it waits for Redis exits at once with 0', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sf-nospawn-'));
    const w = run('workers/worker.ts', [], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      STAGEFLOW_API_KEYS: keys,
      STAGEFLOW_DATA_DIR: dataDir,
    });
    try {
      await w.waitForLine((l) => /redis does not answer; waiting/.test(l.msg ?? ''));
      const t0 = Date.now();
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      for (const pid of redisServersOn(port)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
