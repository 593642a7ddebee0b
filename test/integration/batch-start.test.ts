import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, linearWorkflow, settled, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ engine: { modelMaxBytes: 2048 } });
  await h.saveWorkflow(linearWorkflow('batched', 3));
  await h.saveWorkflow(linearWorkflow('batch-owner', 1));
  await h.saveWorkflow({ ...linearWorkflow('batch-locked', 1), restrictAccess: true, access: { read: ['role:operator'] } });
});
afterAll(() => h.close());

const batch = (name: string, runs: unknown[], headers?: Record<string, string>) =>
  h.api('POST', `/api/workflows/${name}/runs/batch`, { runs }, headers);

describe('POST /api/workflows/{name}/runs/batch', () => {
  it('answers one result per item, in order, and every run runs to completion', async () => {
    const runs = Array.from({ length: 25 }, (_, i) => ({ model: { i } }));
    const res = await batch('batched', runs);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(25);
    for (const [i, item] of res.body.items.entries()) {
      expect(item.status).toBe(201);
      expect(item.run).toMatchObject({ workflow: 'batched', version: 1 });
      expect(item.run.model.i).toBe(i);
    }
    const ids = res.body.items.map((it: any) => it.run.id);
    expect(new Set(ids).size).toBe(25);
    for (const id of ids) {
      const done = await h.waitFor(id, settled);
      expect(done.status).toBe('completed');
    }
  });

  it('keeps mixed results apart: a bad item is a 4xx for that item alone, with its path under $.runs[i]', async () => {
    const first = await h.start('batch-owner', { entryId: 'batch-owned', model: { a: 1 } }, '?wait=5000');
    expect(first.status).toBe('completed');
    const res = await batch('batched', [
      { model: { ok: 0 } },
      { model: { big: 'x'.repeat(4000) } },
      { idempotencyKey: 'mixed-1', model: { ok: 2 } },
      { model: 'not an object' },
      { entryId: 'batch-owned', model: { planted: true } },
      { unknown: 1 },
      { idempotencyKey: 'mixed-1', model: { other: true } },
      { model: { ok: 7 } },
    ]);
    expect(res.status).toBe(200);
    const items = res.body.items;
    expect(items.map((i: any) => i.status)).toEqual([201, 400, 201, 400, 409, 400, expect.any(Number), 201]);
    expect(items[1].problem.errors).toEqual([expect.objectContaining({ path: '$.runs[1].model' })]);
    expect(items[3].problem.errors).toEqual([expect.objectContaining({ path: '$.runs[3].model' })]);
    expect(items[5].problem.errors).toEqual([expect.objectContaining({ path: '$.runs[5].unknown' })]);
    expect(items[4].problem).toMatchObject({ status: 409, title: 'Conflict' });
    // Items 2 and 6 share a key with different bodies: one of them created the run, the other is the 409.
    expect([items[2].status, items[6].status].sort()).toEqual([201, 409].sort());
    const conflict = items[2].status === 409 ? items[2] : items[6];
    expect(conflict.problem.errors).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/^\$\.runs\[[26]\]\.idempotencyKey$/) }),
    ]);
    expect(items[0].run.model).toEqual({ ok: 0 });
    expect(items[7].run.model).toEqual({ ok: 7 });
    // The refused entry was not touched.
    expect((await h.api('GET', '/api/entries/batch-owned')).body.model).toEqual({ a: 1 });
  });

  it('replays a whole batch with idempotency keys as 200s with the same run ids', async () => {
    const runs = Array.from({ length: 10 }, (_, i) => ({ idempotencyKey: `replay-${i}`, model: { i } }));
    const first = await batch('batched', runs);
    expect(first.body.items.map((i: any) => i.status)).toEqual(Array(10).fill(201));
    // Keys in another order in each body: the same request by meaning.
    const again = await batch(
      'batched',
      runs.map(({ idempotencyKey, model }) => ({ model, idempotencyKey })),
    );
    expect(again.status).toBe(200);
    expect(again.body.items.map((i: any) => i.status)).toEqual(Array(10).fill(200));
    expect(again.body.items.map((i: any) => i.run.id)).toEqual(first.body.items.map((i: any) => i.run.id));
  });

  it('a batch item and a single start racing on one idempotency key make one run', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const [b, single] = await Promise.all([
        batch('batched', [{ model: { n: 1 } }, { idempotencyKey: key, model: { r: round } }]),
        h.api('POST', '/api/workflows/batched/runs', { model: { r: round } }, { 'Idempotency-Key': key }),
      ]);
      expect(single.status === 201 || single.status === 200).toBe(true);
      const item = b.body.items[1];
      expect([item.status, single.status].sort()).toEqual([200, 201]);
      expect(item.run.id).toBe(single.body.id);
    }
  });

  it('refuses a batch over the limit as one 400 naming $.runs, and an empty one too', async () => {
    const over = await batch(
      'batched',
      Array.from({ length: 1001 }, () => ({})),
    );
    expect(over.status).toBe(400);
    expect(over.body.errors).toEqual([expect.objectContaining({ path: '$.runs' })]);
    const empty = await batch('batched', []);
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([expect.objectContaining({ path: '$.runs' })]);
    const missing = await h.api('POST', '/api/workflows/batched/runs/batch', {});
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: '$.runs' })]);
  });

  it('checks access once for the batch: 404 for a workflow the caller may not see, 403 without start', async () => {
    expect((await batch('no-such-workflow', [{}])).status).toBe(404);
    const hidden = await batch('batch-locked', [{}], { authorization: `Bearer ${keyOf('eve')}` });
    expect(hidden.status).toBe(404);
    const readOnly = await batch('batch-locked', [{}], { authorization: `Bearer ${keyOf('user-1')}` });
    expect(readOnly.status).toBe(403);
  });

  it('hides the owner of an entry from a caller who may not read it (404 for that item)', async () => {
    await h.api('POST', '/api/workflows/batch-locked/runs?wait=5000', { entryId: 'locked-entry' });
    const res = await batch('batched', [{ entryId: 'locked-entry' }, {}], { authorization: `Bearer ${keyOf('eve')}` });
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: any) => i.status)).toEqual([404, 201]);
    expect(res.body.items[0].problem.errors).toEqual([expect.objectContaining({ path: '$.runs[0].entryId' })]);
  });
});
