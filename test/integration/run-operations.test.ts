import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

const history = async (h: Harness, id: string) => (await h.api('GET', `/api/runs/${id}/history`)).body.items as any[];
const completed = (items: any[]) => items.filter((e) => e.type === 'step.completed').map((e) => e.stepId);

describe('run operations (with a worker)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.saveWorkflow(linearWorkflow('ops-linear', 4));
    await h.saveWorkflow({
      name: 'ops-switch',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'prep', type: 'updateModelField', field: 'prepared', value: true },
            {
              id: 'route',
              type: 'switchCase',
              sourceField: 'kind',
              cases: [{ value: 'ok', steps: [{ id: 'fine', type: 'updateModelField', field: 'done', value: true }] }],
            },
          ],
        },
      ],
    });
  });
  afterAll(() => h.close());

  it('history from event N on returns only the newer events; a bad from is a 400 naming it', async () => {
    await h.saveWorkflow(linearWorkflow('ops-history', 3));
    const run = await h.start('ops-history', { model: {} }, '?wait=5000');
    const all = await history(h, run.id);
    expect(all.length).toBeGreaterThan(4);
    const tail = (await h.api('GET', `/api/runs/${run.id}/history?from=3`)).body.items;
    expect(tail).toEqual(all.slice(3));
    expect((await h.api('GET', `/api/runs/${run.id}/history?from=${all.length}`)).body.items).toEqual([]);
    const bad = await h.api('GET', `/api/runs/${run.id}/history?from=-1`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('from');
    expect((await h.api('GET', '/api/runs/00000000-0000-7000-8000-000000000000/history')).status).toBe(404);
  });

  it('the same Idempotency-Key returns the same run; 50 concurrent identical starts create one run', async () => {
    const headers = { 'idempotency-key': 'order-7-start' };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.api('POST', '/api/workflows/ops-linear/runs', { model: { a: 1 } }, headers)),
    );
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(49);
    const list = (await h.api('GET', '/api/runs?workflow=ops-linear&limit=100')).body.items;
    expect(list.filter((r: any) => r.id === [...ids][0])).toHaveLength(1);
    expect(list).toHaveLength(1);
    const [id] = [...ids];
    await h.waitFor(id!, (r) => r.status === 'completed');
    expect(completed(await history(h, id!))).toEqual(['s1', 's2', 's3', 's4']);
    // same key, different request: refused rather than silently returning the other run
    const clash = await h.api('POST', '/api/workflows/ops-linear/runs', { model: { a: 2 } }, headers);
    expect(clash.status).toBe(409);
    expect(clash.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('the same Idempotency-Key with the same request in another key order is the same request (200, same run)', async () => {
    const headers = { 'idempotency-key': 'order-8-start' };
    const first = await h.api(
      'POST',
      '/api/workflows/ops-linear/runs',
      '{"model":{"a":1,"b":{"x":1,"y":[1,2]}},"entryId":"order-8"}',
      headers,
    );
    expect(first.status).toBe(201);
    const reordered = await h.api(
      'POST',
      '/api/workflows/ops-linear/runs',
      '{"entryId":"order-8","model":{"b":{"y":[1,2],"x":1},"a":1}}',
      headers,
    );
    expect(reordered.status).toBe(200);
    expect(reordered.body.id).toBe(first.body.id);
    // a really different body is still refused: array order and values count
    const different = await h.api(
      'POST',
      '/api/workflows/ops-linear/runs',
      '{"entryId":"order-8","model":{"b":{"y":[2,1],"x":1},"a":1}}',
      headers,
    );
    expect(different.status).toBe(409);
    expect(different.body.errors).toEqual([expect.objectContaining({ path: 'header.Idempotency-Key' })]);
  });

  it('?wait answers with the settled run', async () => {
    const res = await h.api('POST', '/api/workflows/ops-linear/runs?wait=5000', { model: {} });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('completed');
    expect(res.headers.get('location')).toBe(`/api/runs/${res.body.id}`);
  });

  it('a failed step is retried after a modelPatch and the run completes', async () => {
    const run = await h.start('ops-switch', { model: { kind: 'bad' } }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error.stepId).toBe('route');
    const retried = await h.api('POST', `/api/runs/${run.id}/retry`, { modelPatch: { kind: 'ok' } });
    expect(retried.status).toBe(200);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.model).toEqual({ kind: 'ok', prepared: true, done: true });
    expect(done.error).toBeUndefined();
    const items = await history(h, run.id);
    expect(items.map((e) => e.type)).toContain('run.retried');
    expect(completed(items)).toEqual(['prep', 'route', 'fine']);
  });

  it('fromStepId redrives from an earlier step', async () => {
    const run = await h.start('ops-switch', { model: { kind: 'bad' } }, '?wait=5000');
    expect(run.status).toBe('failed');
    await h.api('POST', `/api/runs/${run.id}/retry`, { fromStepId: 'prep', modelPatch: { kind: 'ok', prepared: null } });
    await h.waitFor(run.id, (r) => r.status === 'completed');
    const items = await history(h, run.id);
    expect(completed(items)).toEqual(['prep', 'prep', 'route', 'fine']);
    const retried = items.find((e) => e.type === 'run.retried');
    expect(retried).toMatchObject({ stepId: 'prep', by: 'admin', detail: { fromStepId: 'prep', modelPatched: true } });
  });

  it('operations that the run status does not allow answer 409, unknown steps 400', async () => {
    const run = await h.start('ops-linear', {}, '?wait=5000');
    expect(run.status).toBe('completed');
    for (const op of ['retry', 'submit', 'cancel']) {
      const res = await h.api('POST', `/api/runs/${run.id}/${op}`, {});
      expect(res.status, op).toBe(409);
      expect(res.body.title).toBe('Conflict');
    }
    const failed = await h.start('ops-switch', { model: {} }, '?wait=5000');
    const bad = await h.api('POST', `/api/runs/${failed.id}/retry`, { fromStepId: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: '$.fromStepId' })]);
    expect((await h.api('GET', `/api/runs/${failed.id}`)).body.status).toBe('failed');
  });

  it('resetToDraft reverts the model to the saved entry; submit runs it again from the start', async () => {
    await h.saveWorkflow({
      name: 'ops-draft',
      stages: [
        {
          id: 'edit',
          name: 'Edit',
          steps: [
            { id: 'stamp', type: 'updateModelField', field: 'stamped', value: true },
            { id: 'save', type: 'updateModel' },
            { id: 'scribble', type: 'updateModelField', field: 'scratch', value: 'temporary' },
          ],
        },
        {
          id: 'check',
          name: 'Check',
          steps: [
            {
              id: 'ok',
              type: 'ifCondition',
              field: 'approved',
              operator: 'equal',
              value: true,
              then: [{ id: 'fin', type: 'finish', outcome: 'approved' }],
              else: [{ id: 'back', type: 'resetToDraft' }],
            },
          ],
        },
      ],
    });
    const run = await h.start('ops-draft', { entryId: 'draft-entry-1', model: { title: 'x' } }, '?wait=5000');
    expect(run.status).toBe('draft');
    expect(run.model).toEqual({ title: 'x', stamped: true });
    expect(run.model.scratch).toBeUndefined();
    const entry = (await h.api('GET', '/api/entries/draft-entry-1')).body;
    expect(run.model).toEqual(entry.model);
    const submitted = await h.api('POST', `/api/runs/${run.id}/submit`, { modelPatch: { approved: true } });
    expect(submitted.status).toBe(200);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.outcome).toBe('approved');
    const items = await history(h, run.id);
    expect(items.map((e) => e.type)).toEqual(expect.arrayContaining(['run.reset', 'run.submitted', 'run.completed']));
    expect(completed(items).filter((s) => s === 'stamp')).toHaveLength(2);
  });

  it('lists runs newest first with cursor pagination, filtered by workflow and status', async () => {
    await h.saveWorkflow(linearWorkflow('ops-page', 1));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await h.start('ops-page', {}, '?wait=5000')).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await h.api('GET', `/api/runs?workflow=ops-page&status=completed&limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.items.map((r: any) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const running = (await h.api('GET', '/api/runs?workflow=ops-page&status=running')).body.items;
    expect(running).toEqual([]);
  });
});

describe('run operations (worker started later)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
  });
  afterAll(() => h.close());

  const startWorker = () => {
    const w = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
    w.startWorker();
    return w;
  };

  it('?wait gives up after MS and answers with the run still running', async () => {
    await h.saveWorkflow(linearWorkflow('idle', 2));
    const t0 = Date.now();
    const res = await h.api('POST', '/api/workflows/idle/runs?wait=300', {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(res.body.status).toBe('running');
    expect(res.body.step).toMatchObject({ id: 's1' });
  });

  it('cancel stops further steps: the queued step never commits', async () => {
    await h.saveWorkflow(linearWorkflow('to-cancel', 3));
    const run = await h.start('to-cancel', { model: {} });
    const res = await h.api('POST', `/api/runs/${run.id}/cancel`, {});
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    const w = startWorker();
    try {
      // give the worker time to pick up anything that was left
      await new Promise((r) => setTimeout(r, 500));
      const after = (await h.api('GET', `/api/runs/${run.id}`)).body;
      expect(after.status).toBe('cancelled');
      expect(after.model).toEqual({});
      const items = await history(h, run.id);
      expect(items.map((e) => e.type)).toEqual(['run.started', 'run.cancelled']);
    } finally {
      await w.close();
    }
  });

  it('a run pinned to v1 keeps running v1 after v2 is saved', async () => {
    await h.saveWorkflow({
      name: 'pinned',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'v', type: 'updateModelField', field: 'ver', value: 1 }] }],
    });
    const r1 = await h.start('pinned', {});
    const v2 = await h.saveWorkflow({
      name: 'pinned',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'v', type: 'updateModelField', field: 'ver', value: 2 }] }],
    });
    expect(v2).toBe(2);
    const r2 = await h.start('pinned', {});
    const w = startWorker();
    try {
      const d1 = await h.waitFor(r1.id, (r) => r.status === 'completed');
      const d2 = await h.waitFor(r2.id, (r) => r.status === 'completed');
      expect(d1).toMatchObject({ version: 1, model: { ver: 1 } });
      expect(d2).toMatchObject({ version: 2, model: { ver: 2 } });
    } finally {
      await w.close();
    }
  });
});
