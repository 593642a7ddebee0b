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
    expect(await h.engine.queue.getJobState(jobId)).toBe('waiting');
    await h.engine.queue.remove(jobId);
    expect(await h.engine.queue.getJobState(jobId)).toBe('unknown');

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
    expect(await h.engine.queue.getJobState(stepJobId(run.id, 0))).toBe('waiting');
  });
});
