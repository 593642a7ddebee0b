/**
 * Stopping a worker (docker stop, a scale-down, a redeploy): SIGTERM → it stops taking jobs,
 * waits SHUTDOWN_TIMEOUT_MS for active steps, hands the rest back at once and exits 0. And the
 * image's command line, `tini -- node dist/workers/worker.js`, gets the signal to node.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisEnv, startHarness, type Harness } from '../helpers/harness.ts';
import { spawnProc, spawnTs, type Proc } from '../helpers/proc.ts';
import { jobsIn } from '../helpers/queues.ts';

const procs: Proc[] = [];
afterAll(() => {
  for (const p of procs) p.kill();
});

function workerEnv(h: Harness, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { ...redisEnv(h.options), STAGEFLOW_PREFIX: h.prefix, LOG_LEVEL: 'info', STAGEFLOW_API_KEYS: '', ...extra };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms: number, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

describe('SIGTERM with a 40 s step in flight', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
    expect(
      (await h.api('PUT', '/api/dataflows/nap', { name: 'nap', kind: 'module', module: 'sleep', timeoutMs: 120_000 })).status,
    ).toBeLessThan(300);
    await h.saveWorkflow({
      name: 'long-step',
      stages: [
        {
          id: 'only',
          name: 'Only',
          steps: [
            { id: 'nap', type: 'executeDataflow', dataflow: 'nap', input: 'nap', resultField: 'napped', timeoutMs: 120_000 },
            { id: 'after', type: 'updateModelField', field: 'done', value: true },
          ],
        },
      ],
    });
  });
  afterAll(() => h.close());

  it('exits 0 within SHUTDOWN_TIMEOUT_MS, another worker takes the step at once, and it commits once', async () => {
    const a = spawnTs('workers/worker.ts', [], workerEnv(h, { SHUTDOWN_TIMEOUT_MS: '10000' }));
    procs.push(a);
    const startedA = await a.waitForLine((l) => l.msg === 'step worker started');
    const run = await h.start('long-step', { model: { nap: { ms: 40_000 } } });
    const jobId = await until(
      'the step to be active in worker A',
      async () => {
        const [job] = await jobsIn(h.engine.queue, (q) => q.getJobs(['active']));
        return job && job.processedBy === startedA.workerId ? job.id : undefined;
      },
      15_000,
    );

    // B is up before A stops, as in a rolling deploy; it cannot take A's active job.
    const b = spawnTs('workers/worker.ts', [], workerEnv(h));
    procs.push(b);
    const startedB = await b.waitForLine((l) => l.msg === 'step worker started');

    const t0 = Date.now();
    a.child.kill('SIGTERM');
    const code = await a.exited;
    const exitMs = Date.now() - t0;
    process.stdout.write(
      `[figure] worker with a 40 s step in flight exited ${exitMs} ms after SIGTERM (SHUTDOWN_TIMEOUT_MS 10000), code ${code}\n`,
    );
    expect(code).toBe(0);
    expect(exitMs).toBeGreaterThanOrEqual(9_500);
    expect(exitMs).toBeLessThan(13_000);
    expect(a.lines.find((l) => /handed back/.test(l.msg ?? ''))).toMatchObject({ handedBack: 1, held: 1 });
    expect(a.lines.find((l) => l.msg === 'stageflow stopped')).toBeDefined();

    // Handed back, not left to the 30 s lock expiry: B has it within a few seconds.
    const t1 = Date.now();
    await until(
      'worker B to take the step',
      async () => {
        const job = await h.engine.queues.stepsOf(jobId!.slice(0, 36)).getJob(jobId!);
        return !!job && job.processedBy === startedB.workerId && (await job.getState()) === 'active';
      },
      5_000,
    );
    const takenMs = Date.now() - t1;
    expect(takenMs).toBeLessThan(5_000);
    const job = await h.engine.queues.stepsOf(jobId!.slice(0, 36)).getJob(jobId!);
    expect(job?.attemptsMade).toBe(0); // a hand-back is not a failed attempt

    const done = await h.waitFor(run.id, (r) => r.status !== 'running', 60_000);
    expect(done).toMatchObject({ status: 'completed', model: { napped: { slept: 40_000 }, done: true } });
    const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body;
    const events = (history.items ?? history) as Array<{ type: string; stepId?: string }>;
    expect(events.filter((e) => e.type === 'step.completed' && e.stepId === 'nap')).toHaveLength(1);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 120_000);
});

const hasTini = existsSync('/usr/bin/tini');

describe.runIf(hasTini)("the image's command line: tini -- node dist/workers/worker.js", () => {
  let h: Harness;
  beforeAll(async () => {
    // What the Dockerfile's build stage runs.
    execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
    h = await startHarness({ worker: false });
    await h.api('PUT', '/api/dataflows/echo', { name: 'echo', kind: 'module', module: 'echo' });
    await h.saveWorkflow({
      name: 'built',
      stages: [{ id: 's', name: 'S', steps: [{ id: 'echo', type: 'executeDataflow', dataflow: 'echo', input: 'in', resultField: 'out' }] }],
    });
  }, 240_000);
  afterAll(() => h?.close());

  it('runs steps from the compiled code (module dataflows load .js), and SIGTERM to tini drains node and exits 0', async () => {
    const w = spawnProc(
      '/usr/bin/tini',
      ['--', process.execPath, 'dist/workers/worker.js'],
      workerEnv(h, { NODE_ENV: 'production', STAGEFLOW_API_KEYS: '[{"id":"a","key":"built-worker-key-0123456789","roles":["admin"]}]' }),
    );
    procs.push(w);
    await w.waitForLine((l) => l.msg === 'step worker started');
    const run = await h.start('built', { model: { in: { hello: 'dist' } } });
    const done = await h.waitFor(run.id, (r) => r.status !== 'running', 15_000);
    expect(done).toMatchObject({ status: 'completed' });
    expect(JSON.stringify(done.model.out)).toContain('dist');

    const t0 = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(w.lines.find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
    expect(w.lines.find((l) => l.msg === 'step worker stopped')).toMatchObject({ drained: true });
    expect(w.lines.find((l) => l.msg === 'stageflow stopped')).toBeDefined();
  }, 60_000);
});
