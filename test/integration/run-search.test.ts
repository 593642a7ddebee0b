/**
 * GET /api/runs?workflow=&status=&stageId=&stepId=&entryId=: where runs are, from the position
 * and entry indexes the Lua transitions keep; newest first with cursors, access-filtered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
const ids = async (query: string, who = 'admin') => {
  const res = await h.api('GET', `/api/runs?${query}`, undefined, as(who));
  expect(res.status).toBe(200);
  return (res.body.items as any[]).map((r) => r.id);
};

const def = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  ...extra,
  stages: [
    {
      id: 'intake',
      name: 'Intake',
      steps: [
        { id: 'stamp', type: 'updateModelField', field: 'stamped', value: true },
        { id: 'route', type: 'switchCase', sourceField: 'kind', cases: [{ value: 'ask', steps: [] }] },
      ],
    },
    {
      id: 'review',
      name: 'Review',
      steps: [{ id: 'q', type: 'getUserConfirmation', confirmationField: 'ok', options: ['yes', 'no'], routing: ['role:manager'] }],
    },
  ],
});

const waiting: string[] = [];
const failed: string[] = [];
beforeAll(async () => {
  h = await startHarness();
  await h.saveWorkflow(def('search'));
  await h.saveWorkflow(def('search-hidden', { restrictAccess: true, access: { read: ['role:auditor'] } }));
  for (let i = 0; i < 4; i++)
    waiting.push((await h.start('search', { model: { kind: 'ask' }, entryId: i === 0 ? 'order-77' : undefined }, '?wait=5000')).id);
  for (let i = 0; i < 3; i++) failed.push((await h.start('search', { model: { kind: 'other' } }, '?wait=5000')).id);
  await h.start('search-hidden', { model: { kind: 'ask' } }, '?wait=5000');
});
afterAll(() => h.close());

const newestFirst = (xs: string[]) => [...xs].sort().reverse();

describe('run search by position', () => {
  it('by step, by stage, by step and status, newest first', async () => {
    expect(await ids('workflow=search&stepId=q')).toEqual(newestFirst(waiting));
    expect(await ids('workflow=search&stageId=review')).toEqual(newestFirst(waiting));
    expect(await ids('workflow=search&stageId=intake')).toEqual(newestFirst(failed));
    expect(await ids('workflow=search&stepId=route&status=failed')).toEqual(newestFirst(failed));
    expect(await ids('workflow=search&stepId=route&status=waiting')).toEqual([]);
    expect(await ids('workflow=search&stageId=review&stepId=route')).toEqual([]);
    expect(await ids('workflow=search&stageId=nowhere')).toEqual([]);
  });

  it('pages with cursors', async () => {
    const first = (await h.api('GET', '/api/runs?workflow=search&stepId=q&limit=3')).body;
    expect(first.items).toHaveLength(3);
    const second = (await h.api('GET', `/api/runs?workflow=search&stepId=q&limit=3&cursor=${first.nextCursor}`)).body;
    expect([...first.items, ...second.items].map((r: any) => r.id)).toEqual(newestFirst(waiting));
    expect(second.nextCursor).toBeUndefined();
  });

  it('by entry id; a run that moves on leaves its step', async () => {
    expect(await ids('entryId=order-77')).toEqual([waiting[0]]);
    await h.api('POST', `/api/runs/${waiting[0]}/confirm`, { option: 'yes' }, as('ann'));
    await h.waitFor(waiting[0]!, (r) => r.status === 'completed');
    expect(await ids('workflow=search&stepId=q')).toEqual(newestFirst(waiting.slice(1)));
    expect(await ids('entryId=order-77')).toEqual([waiting[0]]);
  });

  it('access-filtered as lists are; a step filter without a workflow is a 400', async () => {
    expect(await ids('workflow=search-hidden&stepId=q', 'user-1')).toEqual([]);
    expect(await ids('workflow=search-hidden&stepId=q', 'opal')).toHaveLength(1);
    const bad = await h.api('GET', '/api/runs?stepId=q');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('stepId');
  });

  it('the position index matches every run exactly after racing cancels and step commits', async () => {
    await h.saveWorkflow({
      name: 'search-race',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: Array.from({ length: 8 }, (_, i) => ({ id: `s${i}`, type: 'updateModelField', field: `f${i}`, value: i })),
        },
      ],
    });
    const runs: string[] = [];
    for (let i = 0; i < 20; i++) runs.push((await h.start('search-race', { model: {} })).id);
    await Promise.all(runs.filter((_, i) => i % 2).map((id) => h.api('POST', `/api/runs/${id}/cancel`, {})));
    for (const id of runs) await h.waitFor(id, (r) => r.status !== 'running');
    const k = h.engine.keys;
    const members = (
      await Promise.all(
        Array.from({ length: k.partitions }, (_, p) => h.engine.redis.zrange(k.partition(p).positionIndex('search-race'), 0, -1)),
      )
    ).flat();
    const expected: string[] = [];
    for (const id of runs) {
      const state = await h.engine.runs.get(id);
      if (state?.stepId) expected.push(`${state.stepId} ${id}`);
    }
    expect(members.sort()).toEqual(expected.sort());
    // completed runs are at no step; cancelled ones where they were stopped
    expect(expected.length).toBeLessThanOrEqual(10);
  });
});
