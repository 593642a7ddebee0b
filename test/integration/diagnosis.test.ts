/**
 * GET /api/runs/{id}/diagnosis and POST /api/runs/{id}/repair, each case produced for real: a
 * deleted job, a delayed retry after a failing receiver, a waiting approval, a child run, a
 * callback whose receiver is down, a queued job. (The killed worker is in test/chaos/diagnosis-crash.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepJobId } from '../../src/engine/scheduler.ts';
import { freePort } from '../helpers/redis.ts';
import { keyOf, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let receiver: Server;
let receiverUrl = '';
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
const diagnosis = async (id: string, who?: string) => h.api('GET', `/api/runs/${id}/diagnosis`, undefined, who ? as(who) : {});

beforeAll(async () => {
  h = await startHarness();
  receiver = createServer((_req, res) => res.writeHead(503).end('down for maintenance'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await h.saveWorkflow(linearWorkflow('diag-linear', 2));
  await h.api('PUT', '/api/dataflows/diag-flaky', { kind: 'http', url: `${receiverUrl}/flow` });
  await h.saveWorkflow({
    name: 'diag-retry',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          {
            id: 'call',
            name: 'Call the receiver',
            type: 'executeDataflow',
            dataflow: 'diag-flaky',
            resultField: 'r',
            retry: { attempts: 5, backoff: { type: 'fixed', delayMs: 60_000 } },
          },
        ],
      },
    ],
  });
  await h.saveWorkflow({
    name: 'diag-approval',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          {
            id: 'ask',
            name: 'Manager approval',
            type: 'getUserConfirmation',
            confirmationField: 'ok',
            options: ['yes', 'no'],
            routing: ['role:manager'],
            users: ['ann', 'bob'],
            policy: 'all',
            timeoutMs: 3_600_000,
          },
        ],
      },
    ],
  });
  await h.api('PUT', '/api/dataflows/diag-child', { kind: 'workflow', workflow: 'diag-approval' });
  await h.saveWorkflow({
    name: 'diag-parent',
    stages: [{ id: 'p', name: 'P', steps: [{ id: 'call', type: 'executeDataflow', dataflow: 'diag-child', resultField: 'child' }] }],
  });
});
afterAll(async () => {
  await h.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

describe('diagnosis', () => {
  it('a deleted job: no-job, repairable; repair re-adds it once and the run completes; a second repair is a 409', async () => {
    await h.worker!.close();
    try {
      const run = await h.start('diag-linear', { model: {} });
      await h.engine.queues.stepsOf(run.id).remove(stepJobId(run.id, 0));
      const d = await diagnosis(run.id);
      expect(d.status).toBe(200);
      expect(d.body).toMatchObject({ runId: run.id, status: 'running', state: 'no-job', repairable: true });
      expect(d.body.summary).toMatch(/no job/);
      expect(Date.parse(d.body.repairAt)).toBeGreaterThan(Date.now());
      // operators only: an answerer-only caller (read access) gets 403
      expect((await h.api('POST', `/api/runs/${run.id}/repair`, {}, as('ann'))).status).toBe(403);
      const [a, b] = await Promise.all([h.api('POST', `/api/runs/${run.id}/repair`, {}), h.api('POST', `/api/runs/${run.id}/repair`, {})]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const ok = a.status === 200 ? a : b;
      expect(ok.body).toMatchObject({ state: 'queued', repairable: false, job: { id: stepJobId(run.id, 1), state: 'waiting' } });
      expect((await h.api('POST', `/api/runs/${run.id}/repair`, {})).status).toBe(409);
      const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items;
      expect(history.filter((e: any) => e.type === 'run.repaired')).toHaveLength(1);
    } finally {
      h.worker = (await import('../../src/engine/engine.ts')).Engine.open(h.options, h.engine.log, { failFast: false });
      h.worker.startWorker();
    }
    const runs = (await h.api('GET', '/api/runs?workflow=diag-linear')).body.items;
    await h.waitFor(runs[0].id, (r) => r.status === 'completed');
  });

  it('a queued job: its place in the queue', async () => {
    await h.worker!.close();
    let second: any;
    try {
      // A queue is per partition: runs on one entry share its partition, so one queue.
      const entryId = `diag-queue-${Date.now()}`;
      const first = await h.start('diag-linear', { model: {}, entryId });
      second = await h.start('diag-linear', { model: {}, entryId });
      const d1 = (await diagnosis(first.id)).body;
      const d2 = (await diagnosis(second.id)).body;
      expect(d2.job.queuePosition).toBe(d1.job.queuePosition + 1);
      expect(d1).toMatchObject({ state: 'queued', job: { state: 'waiting' } });
      expect(d2.summary).toMatch(new RegExp(`behind ${d1.job.queuePosition} job`));
    } finally {
      h.worker = (await import('../../src/engine/engine.ts')).Engine.open(h.options, h.engine.log, { failFast: false });
      h.worker.startWorker();
    }
    await h.waitFor(second.id, (r) => r.status === 'completed');
  });

  it('a failing receiver: retry-delayed until T with the error', async () => {
    const run = await h.start('diag-retry', { model: {} });
    let d: any;
    for (let i = 0; i < 200; i++) {
      d = (await diagnosis(run.id)).body;
      if (d.state === 'retry-delayed') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(d).toMatchObject({ status: 'running', state: 'retry-delayed', job: { state: 'delayed', attemptsMade: 1 } });
    expect(d.job.lastError).toMatch(/503/);
    expect(d.summary).toMatch(/503/);
    const until = Date.parse(d.until);
    expect(until).toBeGreaterThan(Date.now() + 50_000);
    expect(until).toBeLessThan(Date.now() + 61_000);
    await h.api('POST', `/api/runs/${run.id}/cancel`, {});
  });

  it('a waiting approval: whose answers are missing, since and until', async () => {
    const run = await h.start('diag-approval', { model: {} }, '?wait=5000');
    expect(run.status).toBe('waiting');
    await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'yes' }, as('ann'));
    const d = (await diagnosis(run.id, 'ann')).body;
    expect(d).toMatchObject({ status: 'waiting', state: 'waiting-confirmation', repairable: false });
    expect(d.summary).toContain('bob');
    expect(d.summary).not.toContain('ann');
    expect(d.details.join(' ')).toContain('ann (yes)');
    expect(Date.parse(d.until) - Date.parse(d.since)).toBeGreaterThan(3_500_000);
    // not readable → 404, as for the run itself
    expect((await h.api('GET', '/api/runs/00000000-0000-7000-8000-000000000000/diagnosis')).status).toBe(404);
  });

  it("a child run: the parent's diagnosis holds the child's", async () => {
    const parent = await h.start('diag-parent', { model: {} });
    const waiting = await h.waitFor(parent.id, (r) => r.status === 'waiting');
    // The child may still be on its way to its approval (queued, active); never "no job" on the way.
    const seen = new Set<string>();
    let d: any;
    for (let i = 0; i < 200; i++) {
      d = (await diagnosis(waiting.id)).body;
      seen.add(d.child?.state);
      if (d.child?.status === 'waiting') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).not.toContain('no-job');
    expect(d.state).toBe('waiting-child');
    expect(d.child).toMatchObject({ status: 'waiting', state: 'waiting-confirmation' });
    expect(d.summary).toContain(d.child.runId);
    expect(d.summary).toContain('ann');
  });

  it('a callback not yet delivered (receiver down), then delivered once it is up', async () => {
    let up = false;
    const hits: number[] = [];
    const port = await freePort();
    const cb = createServer((_req, res) => {
      hits.push(Date.now());
      res.writeHead(up ? 204 : 503).end();
    });
    await new Promise<void>((r) => cb.listen(port, '127.0.0.1', r));
    try {
      const run = await h.start('diag-linear', { model: {}, callbackUrl: `http://127.0.0.1:${port}/done` }, '?wait=5000');
      expect(run.status).toBe('completed');
      let d: any;
      for (let i = 0; i < 200; i++) {
        d = (await diagnosis(run.id)).body;
        if (d.callback?.attempts >= 1) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(d).toMatchObject({ state: 'finished', callback: { pending: true } });
      expect(d.callback.lastError).toMatch(/503/);
      expect(d.summary).toMatch(/callback is not delivered yet/);
      up = true;
      for (let i = 0; i < 200; i++) {
        d = (await diagnosis(run.id)).body;
        if (!d.callback.pending) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(d.callback.pending).toBe(false);
      expect(d.details.join(' ')).toMatch(/delivered/);
    } finally {
      await new Promise<void>((r) => cb.close(() => r()));
    }
  });
});
