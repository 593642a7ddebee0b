/**
 * POST /api/runs/bulk and GET /api/operations/{id}: dry runs, a background cancel of 50 waiting
 * runs, the single calls' access rules per run, re-posts, and a redelivered page.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
const ask = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  ...extra,
  stages: [
    {
      id: 'a',
      name: 'A',
      steps: [{ id: 'q', type: 'getUserConfirmation', confirmationField: 'ok', options: ['yes', 'no'], routing: ['role:manager'] }],
    },
  ],
});
const history = async (id: string) => (await h.api('GET', `/api/runs/${id}/history`)).body.items as any[];

async function startWaiting(workflow: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await h.start(workflow, { model: { i } })).id);
  for (const id of ids) await h.waitFor(id, (r) => r.status === 'waiting');
  return ids;
}

async function finished(opId: string, who = 'admin'): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const op = (await h.api('GET', `/api/operations/${opId}`, undefined, as(who))).body;
    if (op.status === 'done') return op;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`operation ${opId} did not finish`);
}

beforeAll(async () => {
  h = await startHarness();
  await h.saveWorkflow(ask('bulk-open'));
  await h.saveWorkflow(ask('bulk-restricted', { restrictAccess: true, access: { read: ['role:auditor'] } }));
});
afterAll(() => h.close());

describe('bulk operations', () => {
  it('dry run counts and samples without acting; then 50 waiting runs are cancelled in the background', async () => {
    const ids = await startWaiting('bulk-open', 50);
    const dry = await h.api('POST', '/api/runs/bulk', {
      action: 'cancel',
      filter: { workflow: 'bulk-open', status: 'waiting' },
      dryRun: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body.count).toBe(50);
    expect(dry.body.sample).toHaveLength(10);
    expect(ids).toContain(dry.body.sample[0].id);
    expect((await h.api('GET', `/api/runs/${ids[0]}`)).body.status).toBe('waiting');

    const res = await h.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { workflow: 'bulk-open', status: 'waiting' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/api/operations/${res.body.operationId}`);
    const op = await finished(res.body.operationId);
    expect(op).toMatchObject({ action: 'cancel', status: 'done', total: 50, done: 50, failed: 0, skipped: 0, errors: [] });
    for (const id of ids) {
      expect((await h.api('GET', `/api/runs/${id}`)).body.status).toBe('cancelled');
      expect((await history(id)).filter((e) => e.type === 'run.cancelled')).toHaveLength(1);
    }
    // someone else's operation is not found
    expect((await h.api('GET', `/api/operations/${res.body.operationId}`, undefined, as('user-1'))).status).toBe(404);
  });

  it('re-posting the same operation answers the same id (Idempotency-Key, or the same body within the window)', async () => {
    await startWaiting('bulk-open', 2);
    const body = { action: 'cancel', filter: { workflow: 'bulk-open', status: 'waiting', stepId: 'q' } };
    const [a, b] = await Promise.all([h.api('POST', '/api/runs/bulk', body), h.api('POST', '/api/runs/bulk', body)]);
    expect(a.body.operationId).toBe(b.body.operationId);
    expect([a.body.created, b.body.created].sort()).toEqual([false, true]);
    const keyed = { 'idempotency-key': 'nightly-cleanup-1' };
    const k1 = await h.api('POST', '/api/runs/bulk', { ...body, filter: { ...body.filter, status: 'draft' } }, keyed);
    const k2 = await h.api('POST', '/api/runs/bulk', { ...body, filter: { ...body.filter, status: 'draft' } }, keyed);
    expect(k2.body.operationId).toBe(k1.body.operationId);
    const reused = await h.api('POST', '/api/runs/bulk', { ...body, filter: { ...body.filter, status: 'failed' } }, keyed);
    expect(reused.status).toBe(409);
    expect(reused.body.errors).toEqual([expect.objectContaining({ path: 'header.Idempotency-Key' })]);
    const op = await finished(a.body.operationId);
    expect(op.done).toBe(2);
    // the same body again after it finished, within the window: still the same operation, nothing applied again
    const again = await h.api('POST', '/api/runs/bulk', body);
    expect(again.body).toMatchObject({ operationId: a.body.operationId, created: false });
  });

  it('access: no read → 404 and nothing acted on; read but not operate → every run skipped', async () => {
    const restricted = await startWaiting('bulk-restricted', 3);
    const open = await startWaiting('bulk-open', 3);
    // user-1 is an operator who may not read the restricted workflow
    const hidden = await h.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { workflow: 'bulk-restricted' } }, as('user-1'));
    expect(hidden.status).toBe(404);
    expect(
      (await h.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { workflow: 'bulk-restricted' }, dryRun: true }, as('user-1')))
        .status,
    ).toBe(404);
    // ann may read the open workflow but not operate it
    const dry = (
      await h.api(
        'POST',
        '/api/runs/bulk',
        { action: 'cancel', filter: { workflow: 'bulk-open', status: 'waiting' }, dryRun: true },
        as('ann'),
      )
    ).body;
    expect(dry).toMatchObject({ count: 0, skipped: 3 });
    const res = await h.api(
      'POST',
      '/api/runs/bulk',
      { action: 'cancel', filter: { workflow: 'bulk-open', status: 'waiting' } },
      as('ann'),
    );
    expect(res.status).toBe(202);
    const op = await finished(res.body.operationId, 'ann');
    expect(op).toMatchObject({ total: 3, done: 0, skipped: 3 });
    for (const id of [...restricted, ...open]) expect((await h.api('GET', `/api/runs/${id}`)).body.status).toBe('waiting');
    // opal (operator + auditor) may read, hence operate, the restricted runs
    const opal = await h.api(
      'POST',
      '/api/runs/bulk',
      { action: 'cancel', filter: { workflow: 'bulk-restricted', status: 'waiting' } },
      as('opal'),
    );
    expect((await finished(opal.body.operationId, 'opal')).done).toBe(3);
  });

  it('retry and submit: failed runs retried, drafts submitted; a starter submits its own drafts without operate rights', async () => {
    await h.saveWorkflow({
      name: 'bulk-fail',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
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
    await h.saveWorkflow({
      name: 'bulk-draft',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'gate', type: 'ifCondition', field: 'ready', operator: 'exists', then: [{ id: 'ok', type: 'finish', outcome: 'ready' }] },
            { id: 'back', type: 'resetToDraft' },
          ],
        },
      ],
    });
    const failed: string[] = [];
    for (let i = 0; i < 3; i++) failed.push((await h.start('bulk-fail', { model: { kind: 'bad' } }, '?wait=5000')).id);
    // the rerun fails the same way (nothing patched): the bulk retry applies once per run
    const retry = await h.api('POST', '/api/runs/bulk', { action: 'retry', filter: { workflow: 'bulk-fail' } });
    expect((await finished(retry.body.operationId)).done).toBe(3);
    for (const id of failed) {
      const items = await history(id);
      expect(items.filter((e) => e.type === 'run.retried')).toHaveLength(1);
    }
    const mine: string[] = [];
    for (let i = 0; i < 2; i++)
      mine.push((await h.api('POST', '/api/workflows/bulk-draft/runs?wait=5000', { model: {} }, as('ann'))).body.id);
    const theirs = (await h.api('POST', '/api/workflows/bulk-draft/runs?wait=5000', { model: {} }, as('bob'))).body.id;
    for (const id of [...mine, theirs]) await h.waitFor(id, (r) => r.status === 'draft');
    const submit = await h.api('POST', '/api/runs/bulk', { action: 'submit', filter: { workflow: 'bulk-draft' } }, as('ann'));
    const op = await finished(submit.body.operationId, 'ann');
    expect(op).toMatchObject({ total: 3, done: 2, skipped: 1 });
    for (const id of mine) expect((await history(id)).filter((e) => e.type === 'run.submitted')).toHaveLength(1);
    expect((await history(theirs)).filter((e) => e.type === 'run.submitted')).toHaveLength(0);
  });

  it('bad input names the field; an action and status that do not go together are a 400', async () => {
    const bad = await h.api('POST', '/api/runs/bulk', { action: 'explode', filter: { workflow: 'bulk-open' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('action');
    const mismatch = await h.api('POST', '/api/runs/bulk', { action: 'retry', filter: { workflow: 'bulk-open', status: 'waiting' } });
    expect(mismatch.status).toBe(400);
    expect(JSON.stringify(mismatch.body.errors)).toContain('$.filter.status');
    expect(
      (await h.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { workflow: 'bulk-open', createdBefore: 'yesterday' } })).status,
    ).toBe(400);
    expect((await h.api('POST', '/api/runs/bulk', { action: 'cancel', filter: { workflow: 'nope' } })).status).toBe(404);
    expect((await h.api('GET', '/api/operations/not-an-id')).status).toBe(400);
    expect((await h.api('GET', '/api/operations/00000000-0000-7000-8000-000000000000')).status).toBe(404);
  });

  it('a page delivered twice (a worker crash) acts on each run once', async () => {
    await h.worker!.close();
    try {
      const ids = await (async () => {
        const out: string[] = [];
        for (let i = 0; i < 5; i++) out.push((await h.start('bulk-open', { model: {} })).id);
        return out;
      })();
      // no worker: the runs stay running at their first step, which is what the filter picks
      const { id } = await h.engine.startBulk('cancel', { workflow: 'bulk-open', status: 'running' }, { id: 'admin', roles: ['admin'] });
      const job = (name: string, offset?: number, attemptsMade = 0) =>
        ({ name, attemptsMade, data: { operationId: id, ...(offset !== undefined ? { offset } : {}) } }) as Job<{
          operationId: string;
          offset?: number;
        }>;
      await h.engine.operations.handle(job('plan'));
      // a delivery that crashed right after claiming the first run, before acting on it
      await h.engine.redis.hset(h.engine.keys.operation(id).results, ids[0]!, 'claimed');
      await Promise.all([h.engine.operations.handle(job('page', 0)), h.engine.operations.handle(job('page', 0))]);
      expect((await h.api('GET', `/api/runs/${ids[0]}`)).body.status).toBe('running');
      expect(await h.engine.getOperation(id)).toMatchObject({ done: 4, status: 'running' });
      // its redelivery takes the claim over and acts (the run is still at its snapshot seq)
      await h.engine.operations.handle(job('page', 0, 1));
      await h.engine.operations.handle(job('page', 0, 2));
      const op = await h.engine.getOperation(id);
      expect(op).toMatchObject({ total: 5, done: 5, failed: 0, status: 'done' });
      for (const run of ids) expect((await history(run)).filter((e) => e.type === 'run.cancelled')).toHaveLength(1);
    } finally {
      h.worker = (await import('../../src/engine/engine.ts')).Engine.open(h.options, h.engine.log, { failFast: false });
      h.worker.startWorker();
    }
  });
});
