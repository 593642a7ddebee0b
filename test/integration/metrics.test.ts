/**
 * /metrics of the API and of a worker process (WORKER_HTTP_PORT): promtool finds nothing to
 * complain about, the series the README documents are there, and a scrape still answers within
 * 2 s, with process metrics and stageflow_redis_up 0, when Redis is down.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearWorkflow, onCluster, startHarness, type Harness, confirmationWorkflow } from '../helpers/harness.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { spawnRedisServer, type TestRedisServer } from '../helpers/redis-server.ts';
import { QUEUE_STATES } from '../../src/observability/metrics.ts';

const PROMTOOL = '/usr/bin/promtool';

/** promtool's verdict on a scrape: its exit code and everything it printed (warnings included). */
function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const procs: Proc[] = [];
const servers: TestRedisServer[] = [];
afterAll(async () => {
  for (const p of procs) p.kill();
  for (const s of servers) await s.stop();
});

describe('the API /metrics', () => {
  let h: Harness;
  let receiver: Server;
  let hookUrl = '';
  beforeAll(async () => {
    receiver = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const a = receiver.address();
    hookUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/done`;
    h = await startHarness();
    await h.saveWorkflow(linearWorkflow('scraped', 2));
  });
  afterAll(async () => {
    await h.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('passes promtool check metrics with no warning and holds the documented series', async () => {
    const run = await h.start('scraped', { callbackUrl: hookUrl }, '?wait=5000');
    expect(run.status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1500)); // the callback goes out through the event queue
    const text = await (await fetch(`${h.base}/metrics`)).text();
    const verdict = promtool(text);
    process.stdout.write(`[figure] promtool check metrics (API): exit ${verdict.status}, output: ${JSON.stringify(verdict.output)}\n`);
    expect(verdict).toEqual({ status: 0, output: '' });

    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toMatch(/stageflow_process_|stageflow_stageflow_/);
    expect(text).toMatch(/^stageflow_redis_up 1$/m);
    for (const queue of ['steps', 'events']) {
      for (const state of QUEUE_STATES) expect(text).toContain(`stageflow_queue_jobs{queue="${queue}",state="${state}"}`);
    }
    expect(text).toMatch(/^stageflow_runs_finished_total\{status="completed"\} [1-9]/m);
    expect(text).toMatch(/^stageflow_run_duration_seconds_count\{status="completed"\} [1-9]/m);
    expect(text).toMatch(/^stageflow_step_duration_seconds_bucket\{le="0.0005",type="updateModelField"\} \d/m);
    expect(text).toMatch(/^stageflow_queue_wait_seconds_count\{queue="steps"\} [1-9]/m);
    expect(text).toMatch(/^stageflow_callbacks_total\{result="delivered"\} 1$/m);
    expect(text).toMatch(/^stageflow_steps_total\{type="updateModelField",result="completed"\} [2-9]/m);
    for (const name of ['stageflow_reconciler_repairs_total', 'stageflow_stalled_jobs_total'])
      expect(text).toContain(`# TYPE ${name} counter`);
  });

  it('counts a run end once, in the process that committed it', async () => {
    const before = await (await fetch(`${h.base}/metrics`)).text();
    const n = (t: string) => Number(/^stageflow_runs_finished_total\{status="cancelled"\} (\d+)/m.exec(t)?.[1] ?? 0);
    await h.saveWorkflow(
      confirmationWorkflow('held', {
        confirmationField: 'd',
        options: ['yes', 'no'],
        routing: ['role:manager'],
        userInfoField: 'who',
      }),
    );
    const run = await h.start('held', { model: { who: ['ann'] } });
    await h.waitFor(run.id, (r) => r.status === 'waiting');
    expect((await h.api('POST', `/api/runs/${run.id}/cancel`)).status).toBeLessThan(300);
    expect((await h.api('POST', `/api/runs/${run.id}/cancel`)).status).toBeGreaterThanOrEqual(400);
    const after = await (await fetch(`${h.base}/metrics`)).text();
    expect(n(after) - n(before)).toBe(1);
  });
});

// This and the next block stop a redis-server of their own mid-test (the shared cluster cannot be):
// single-Redis runs, `npm test` has them.
describe.skipIf(onCluster)('a worker process with WORKER_HTTP_PORT=0', () => {
  let redis: TestRedisServer;
  let w: Proc;
  let base = '';
  beforeAll(async () => {
    redis = await spawnRedisServer(['--maxmemory-policy', 'noeviction']);
    servers.push(redis);
    w = spawnTs('workers/worker.ts', [], {
      REDIS_URL: redis.url,
      STAGEFLOW_PREFIX: 'wm',
      LOG_LEVEL: 'info',
      STAGEFLOW_API_KEYS: '',
      WORKER_HTTP_PORT: '0',
    });
    procs.push(w);
    const line = await w.waitForLine((l) => typeof l.workerHttpPort === 'number');
    expect(line.workerHttpPort).toBeGreaterThan(0);
    base = `http://127.0.0.1:${line.workerHttpPort}`;
    await w.waitForLine((l) => l.msg === 'step worker started');
  });

  it('serves /healthz, /readyz and a /metrics that passes promtool with no warning', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', redis: true, worker: true });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const text = await (await fetch(`${base}/metrics`)).text();
    const verdict = promtool(text);
    process.stdout.write(`[figure] promtool check metrics (worker): exit ${verdict.status}, output: ${JSON.stringify(verdict.output)}\n`);
    expect(verdict).toEqual({ status: 0, output: '' });
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^stageflow_redis_up 1$/m);
    expect(text).toContain('# TYPE stageflow_steps_total counter');
    // Deployment-wide gauges come from the API, not N times from N workers.
    expect(text).not.toMatch(/^stageflow_queue_jobs\{/m);
  });

  it('answers within 2 s with process metrics and redis_up 0 when Redis is gone, and readyz says so', async () => {
    await redis.stop();
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const res = await fetch(`${base}/metrics`);
      const text = await res.text();
      const ms = Date.now() - t0;
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(2_000);
      expect(text).toMatch(/^stageflow_redis_up 0$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(promtool(text).status).toBe(0);
    }
    const t0 = Date.now();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(2_000);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  }, 30_000);
});

describe.skipIf(onCluster)('the API /metrics with Redis down', () => {
  it('answers within 2 s with process metrics and redis_up 0', async () => {
    const redis = await spawnRedisServer(['--maxmemory-policy', 'noeviction']);
    servers.push(redis);
    const h = await startHarness({ worker: false, engine: { redisUrl: redis.url } });
    try {
      expect(await (await fetch(`${h.base}/metrics`)).text()).toMatch(/^stageflow_redis_up 1$/m);
      await redis.stop();
      const t0 = Date.now();
      const res = await fetch(`${h.base}/metrics`);
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(text).toMatch(/^stageflow_redis_up 0$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      // no stale depths that would read as a queue that stopped moving
      expect(text).not.toMatch(/^stageflow_queue_jobs\{/m);
    } finally {
      await h.close().catch(() => undefined);
    }
  });
});

describe('the alert rules and sample scrape config', () => {
  it('pass promtool check rules and check config', () => {
    const rules = execFileSync(PROMTOOL, ['check', 'rules', 'deploy/prometheus/alerts.yml'], { encoding: 'utf8' });
    expect(rules).toMatch(/SUCCESS: 4 rules found/);
    const config = execFileSync(PROMTOOL, ['check', 'config', 'deploy/prometheus/prometheus.yml'], { encoding: 'utf8' });
    expect(config).toMatch(/is valid prometheus config file syntax/);
  });
});
