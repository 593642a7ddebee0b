/** The real entry points as a user runs them: `npm start` (src/main.ts) and `npm run worker`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

const prefixes: string[] = [];
const children: ChildProcess[] = [];

interface Started {
  child: ChildProcess;
  lines: any[];
  text: () => string;
  waitForLine: (pred: (l: any) => boolean, ms?: number) => Promise<any>;
  exited: Promise<number | null>;
}

function run(entry: string, args: string[], env: Record<string, string>): Started {
  const prefix = uniquePrefix('proc');
  prefixes.push(prefix);
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    env: { ...process.env, REDIS_URL: testRedisUrl(), STAGEFLOW_PREFIX: prefix, PORT: '0', LOG_LEVEL: 'info', STAGEFLOW_API_KEYS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: any[] = [];
  let raw = '';
  const onData = (d: Buffer) => {
    raw += String(d);
    for (const line of String(d).split('\n')) {
      try {
        if (line.trim()) lines.push(JSON.parse(line));
      } catch {
        /* not a log line */
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitForLine = async (pred: (l: any) => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no such log line; output:\n${raw.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, lines, text: () => raw, waitForLine, exited };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const p of prefixes) await cleanupPrefix(testRedisUrl(), p);
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
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: { amount: 2500, priority: 'urgent' } }),
    });
    const runBody = await started.json();
    expect(runBody).toMatchObject({ status: 'completed', outcome: 'triaged', model: { review: true, lane: 'fast', status: 'triaged' } });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // every step line carries its run, step, seq and attempt; run-level lines their run and seq
    const stepLines = app.lines.filter((l) => l.msg === 'step committed');
    expect(stepLines.length).toBeGreaterThanOrEqual(5);
    for (const l of stepLines) expect(l).toMatchObject({ runId: runBody.id, stepId: expect.any(String), seq: expect.any(Number), attempt: 1 });
    expect(app.lines.find((l) => l.msg === 'run started')).toMatchObject({ runId: runBody.id, seq: 0, stepId: 'mark-received' });
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.lines.filter((l) => typeof l.adminKey === 'string')).toHaveLength(1);
    expect(app.lines.some((l) => /stopped/.test(l.msg))).toBe(true);
  });

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
  });

  it('refuses to start in production without keys, and on bad config names the variable', async () => {
    const prod = run('src/main.ts', [], { NODE_ENV: 'production' });
    expect(await prod.exited).toBe(1);
    expect(prod.text()).toMatch(/no API keys configured/);
    const bad = run('src/main.ts', [], { WORKER_CONCURRENCY: 'lots' });
    expect(await bad.exited).toBe(1);
    expect(bad.text()).toMatch(/WORKER_CONCURRENCY/);
  });
});

describe('npm run worker', () => {
  it('starts a worker that stops within its shutdown bound on SIGTERM', async () => {
    const w = run('workers/worker.ts', [], { SHUTDOWN_TIMEOUT_MS: '2000' });
    await w.waitForLine((l) => l.msg === 'step worker started');
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
