import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { createDataflowServices } from '../../src/dataflows/index.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { createDirectory } from '../../src/notify/directory.ts';
import { keyOf, startHarness, TEST_PRINCIPALS, type Harness } from '../helpers/harness.ts';
import { jobCounts } from '../helpers/queues.ts';

let h: Harness;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });

beforeAll(async () => {
  const registry = PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test');
  h = await startHarness({
    engine: {
      services: (engine) => ({
        ...unconfiguredServices(),
        directory: createDirectory(registry),
        dataflows: createDataflowServices({
          redis: engine.redis,
          prefix: engine.keys.prefix,
          log: engine.log,
          startChild: (wf, input, ctx) => engine.startChildRun(wf, input, ctx),
        }).dataflows,
      }),
    },
  });
  for (const [name, workflow] of [
    ['child-ok', 'child'],
    ['child-bad', 'failing-child'],
    ['child-plain', 'plain-child'],
  ] as const) {
    const res = await h.api('PUT', `/api/dataflows/${name}`, { kind: 'workflow', workflow });
    expect(res.status).toBe(201);
  }
  await h.saveWorkflow({
    name: 'child',
    stages: [
      {
        id: 'c',
        name: 'C',
        steps: [
          {
            id: 'ask',
            type: 'getUserConfirmation',
            confirmationField: 'ok',
            options: ['yes', 'no'],
            routing: ['role:manager'],
            timeoutMs: 60_000,
          },
          { id: 'stamp', type: 'updateModelField', field: 'childDone', value: true },
        ],
      },
    ],
  });
  await h.saveWorkflow({
    name: 'failing-child',
    stages: [
      { id: 'c', name: 'C', steps: [{ id: 'boom', type: 'switchCase', sourceField: 'nothing', cases: [{ value: 'x', steps: [] }] }] },
    ],
  });
  await h.saveWorkflow({
    name: 'plain-child',
    stages: [{ id: 'c', name: 'C', steps: [{ id: 'stamp', type: 'updateModelField', field: 'plainDone', value: true }] }],
  });
  await h.saveWorkflow({
    name: 'parent-merge',
    stages: [
      {
        id: 'p',
        name: 'P',
        steps: [
          { id: 'call', type: 'executeDataflow', dataflow: 'child-plain', input: 'order' },
          { id: 'after', type: 'updateModelField', field: 'parentDone', value: true },
        ],
      },
    ],
  });
  await h.saveWorkflow({
    name: 'parent-deadline',
    stages: [
      { id: 'p', name: 'P', steps: [{ id: 'call', type: 'executeDataflow', dataflow: 'child-ok', input: 'order', timeoutMs: 300 }] },
    ],
  });
  for (const [name, dataflow] of [
    ['parent', 'child-ok'],
    ['parent-bad', 'child-bad'],
  ] as const) {
    await h.saveWorkflow({
      name,
      stages: [
        {
          id: 'p',
          name: 'P',
          steps: [
            { id: 'call', type: 'executeDataflow', dataflow, input: 'order', resultField: 'childModel' },
            { id: 'after', type: 'updateModelField', field: 'parentDone', value: true },
          ],
        },
      ],
    });
  }
});
afterAll(() => h.close());

/** The child run of a workflow dataflow, once it waits on its confirmation. */
async function waitingChild(pred: (r: any) => boolean) {
  const end = Date.now() + 5000;
  for (;;) {
    const found = ((await h.api('GET', '/api/runs?workflow=child&status=waiting')).body.items as any[]).find(pred);
    if (found) return found;
    if (Date.now() > end)
      throw new Error(
        'no waiting child run: ' +
          JSON.stringify((await h.api('GET', '/api/runs?limit=5')).body.items.map((r: any) => [r.workflow, r.status, r.model, r.error])),
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('workflow dataflows (child runs)', () => {
  it('the parent waits without a job and resumes with the child model', async () => {
    const parent = await h.start('parent', { model: { order: { id: 7 } } }, '?wait=5000');
    expect(parent).toMatchObject({ status: 'waiting', step: { id: 'call' } });
    const child = await waitingChild((r) => r.model.id === 7);
    expect(child.model).toEqual({ id: 7 });
    const counts = await jobCounts(h.engine.queue, 'active', 'waiting', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + (b ?? 0), 0)).toBe(0);

    expect((await h.api('POST', `/api/runs/${child.id}/confirm`, { option: 'yes' }, as('ann'))).status).toBe(200);
    const done = await h.waitFor(parent.id, (r) => r.status === 'completed');
    expect(done.model).toEqual({ order: { id: 7 }, childModel: { id: 7, ok: 'yes', childDone: true }, parentDone: true });
    const history = (await h.api('GET', `/api/runs/${parent.id}/history`)).body.items as any[];
    expect(history.find((e) => e.type === 'child.ended')).toMatchObject({ detail: { childRunId: child.id, status: 'completed' } });
    expect(history.filter((e) => e.type === 'step.completed' && e.stepId === 'call')).toHaveLength(1);
  });

  it('a failed child fails the parent step', async () => {
    const parent = await h.start('parent-bad', { model: { order: {} } }, '?wait=5000');
    const failed = await h.waitFor(parent.id, (r) => r.status === 'failed');
    expect(failed.error).toMatchObject({ code: 'CHILD_RUN_FAILED', stepId: 'call' });
    expect(failed.error.message).toMatch(/nothing/);
  });

  it('cancelling the parent cancels the child', async () => {
    const parent = await h.start('parent', { model: { order: { id: 8 } } }, '?wait=5000');
    expect(parent.status).toBe('waiting');
    const child = await waitingChild((r) => r.model.id === 8);
    expect((await h.api('POST', `/api/runs/${parent.id}/cancel`, {})).status).toBe(200);
    expect((await h.api('GET', `/api/runs/${child.id}`)).body.status).toBe('cancelled');
    // the child's end does not wake the cancelled parent
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.api('GET', `/api/runs/${parent.id}`)).body.status).toBe('cancelled');
  });

  it('a child that outlives the step timeoutMs fails the parent step and is cancelled', async () => {
    const parent = await h.start('parent-deadline', { model: { order: { id: 9 } } }, '?wait=5000');
    expect(parent.status).toBe('waiting');
    const child = await waitingChild((r) => r.model.id === 9);
    const failed = await h.waitFor(parent.id, (r) => r.status === 'failed');
    expect(failed.error).toMatchObject({ code: 'CHILD_RUN_TIMEOUT', stepId: 'call' });
    await h.waitFor(child.id, (r) => r.status === 'cancelled');
  });

  it('merges a child model without resultField under the guard of a dataflow result: top-level keys, no dotted ones', async () => {
    const ok = await h.start('parent-merge', { model: { order: { id: 10 } } }, '?wait=5000');
    const done = await h.waitFor(ok.id, (r) => r.status === 'completed');
    expect(done.model).toEqual({ order: { id: 10 }, id: 10, plainDone: true, parentDone: true });

    // The case that differed: the resume wrote the key "a.b" as a path (a nested a.b in the parent),
    // where a dataflow returning the same value fails the step. Both now refuse it.
    const bad = await h.start('parent-merge', { model: { order: { 'a.b': 1 } } }, '?wait=5000');
    const failed = await h.waitFor(bad.id, (r) => r.status === 'failed');
    expect(failed.error).toMatchObject({ code: 'NON_RETRYABLE', stepId: 'call' });
    expect(failed.error.message).toContain('"a.b"');
    expect(failed.model).toEqual({ order: { 'a.b': 1 } });
  });
});
