import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { stepJobId } from '../../src/engine/scheduler.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ worker: false, engine: { reconcile: { intervalMs: 60_000, graceMs: 0 } } });
  await h.saveWorkflow(linearWorkflow('recon', 3));
});
afterAll(() => h.close());

describe('reconciler', () => {
  it('finds a running run whose job was deleted behind the engine and resumes it', async () => {
    const run = await h.start('recon', { model: {} });
    const jobId = stepJobId(run.id, 0);
    expect(await h.engine.queues.stepsOf(run.id).getJobState(jobId)).toBe('waiting');
    await h.engine.queues.stepsOf(run.id).remove(jobId);
    expect(await h.engine.queues.stepsOf(run.id).getJobState(jobId)).toBe('unknown');

    const worker = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
    worker.startWorker();
    try {
      // nothing moves: the run has no job
      await new Promise((r) => setTimeout(r, 300));
      expect((await h.api('GET', `/api/runs/${run.id}`)).body).toMatchObject({ status: 'running', seq: 0 });

      const reconciler = worker.startReconciler();
      const report = await reconciler.reconcileOnce();
      expect(report.requeued).toBe(1);
      const done = await h.waitFor(run.id, (r) => r.status === 'completed');
      expect(done.model).toEqual({ f1: 1, f2: 2, f3: 3 });
      const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items;
      expect(history.filter((e: any) => e.type === 'step.completed').map((e: any) => e.stepId)).toEqual(['s1', 's2', 's3']);
      // a second pass finds nothing to do
      expect(await reconciler.reconcileOnce()).toMatchObject({ requeued: 0, failed: 0 });
    } finally {
      await worker.close();
    }
  });

  it('leaves runs alone whose job is still queued', async () => {
    const run = await h.start('recon', { model: {} });
    const report = await h.engine.startReconciler().reconcileOnce();
    expect(report.requeued).toBe(0);
    expect(report.checked).toBeGreaterThanOrEqual(1);
    expect(await h.engine.queues.stepsOf(run.id).getJobState(stepJobId(run.id, 0))).toBe('waiting');
  });
});

describe('reconciler and waiting runs', () => {
  const ask = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          {
            id: 'q',
            type: 'getUserConfirmation',
            confirmationField: 'answer',
            options: ['yes', 'no'],
            routing: ['role:manager'],
            ...extra,
          },
          { id: 'after', type: 'updateModelField', field: 'after', value: true },
        ],
      },
    ],
  });

  it('resumes a confirmation whose answer was recorded but never acted on (a crash between the two)', async () => {
    const worker = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
    worker.startWorker();
    try {
      await h.saveWorkflow(ask('recon-ask', { timeoutMs: 600_000 }));
      const run = await h.start('recon-ask', { model: {} }, '?wait=5000');
      expect(run.status).toBe('waiting');
      // what record-wait-answer.lua leaves behind when the process dies before the resume
      await h.engine.redis.hset(
        h.engine.keys.run(run.id),
        'resolution',
        JSON.stringify({ seq: run.seq, option: 'yes', by: 'ann', at: new Date().toISOString() }),
      );
      const report = await worker.startReconciler().reconcileOnce();
      expect(report.resumed).toBe(1);
      const done = await h.waitFor(run.id, (r) => r.status === 'completed');
      expect(done.model).toEqual({ answer: 'yes', after: true });
    } finally {
      await worker.close();
    }
  });

  it('applies a timeout whose timer job was lost', async () => {
    const worker = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
    worker.startWorker();
    try {
      await h.saveWorkflow(ask('recon-timeout', { timeoutMs: 200, onTimeout: { option: 'no' } }));
      const run = await h.start('recon-timeout', { model: {} }, '?wait=5000');
      expect(run.status).toBe('waiting');
      await h.engine.queues.eventsOf(run.id).remove(`${run.id}-timeout-${run.seq}`);
      await new Promise((r) => setTimeout(r, 400));
      expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('waiting');
      const report = await worker.startReconciler().reconcileOnce();
      expect(report.resumed).toBe(1);
      const done = await h.waitFor(run.id, (r) => r.status === 'completed');
      expect(done.model.answer).toBe('no');
    } finally {
      await worker.close();
    }
  });
});
