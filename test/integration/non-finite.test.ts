/**
 * JSON.parse turns an out-of-range number such as 1e999 into Infinity, which JSON.stringify then
 * writes as null: a body carrying one must be refused with 400 naming its path, never stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.saveWorkflow({
    name: 'nf',
    // a switch with no matching case fails the run (UNKNOWN_BRANCH), which a retry can then patch
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
    name: 'nf-draft',
    stages: [{ id: 'a', name: 'A', steps: [{ id: 'park', type: 'resetToDraft' }] }],
  });
});
afterAll(() => h.close());

function expectRefused(res: { status: number; body: any; headers: Headers }, path: string) {
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(res.body.errors).toEqual([expect.objectContaining({ path })]);
}

describe('non-finite numbers in a request body', () => {
  it('a start model with 1e999 is 400 naming $.model.a, and no run is created', async () => {
    expectRefused(await h.api('POST', '/api/workflows/nf/runs', '{"model":{"a":1e999}}'), '$.model.a');
    expectRefused(await h.api('POST', '/api/workflows/nf/runs', '{"model":{"list":[1,-1e400]}}'), '$.model.list[1]');
    expect((await h.api('GET', '/api/runs?workflow=nf')).body.items).toEqual([]);
  });

  it('a retry modelPatch with 1e999 is 400 naming $.modelPatch.x, and the run stays failed', async () => {
    const run = await h.start('nf', {}, '?wait=5000');
    expect(run.status).toBe('failed');
    expectRefused(await h.api('POST', `/api/runs/${run.id}/retry`, '{"modelPatch":{"x":1e999}}'), '$.modelPatch.x');
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('failed');
  });

  it('a submit modelPatch with -1e999 is 400 naming $.modelPatch.deep.y, and the draft stays a draft', async () => {
    const run = await h.start('nf-draft', {}, '?wait=5000');
    expect(run.status).toBe('draft');
    expectRefused(await h.api('POST', `/api/runs/${run.id}/submit`, '{"modelPatch":{"deep":{"y":-1e999}}}'), '$.modelPatch.deep.y');
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('draft');
  });

  it('a workflow definition whose step value is 1e999 is 400 on save and on validate; nothing is saved', async () => {
    const def =
      '{"name":"nf-def","stages":[{"id":"a","name":"A","steps":[{"id":"s","type":"updateModelField","field":"f","value":1e999}]}]}';
    expectRefused(await h.api('PUT', '/api/workflows/nf-def', def), '$.stages[0].steps[0].value');
    expectRefused(await h.api('POST', '/api/workflows/validate', def), '$.stages[0].steps[0].value');
    expect((await h.api('GET', '/api/workflows/nf-def')).status).toBe(404);
  });

  it('finite numbers, large and small, still pass', async () => {
    const run = await h.api('POST', '/api/workflows/nf/runs', '{"model":{"a":1e308,"b":-5e-324,"c":0}}');
    expect(run.status).toBe(201);
    expect(run.body.model).toEqual({ a: 1e308, b: -5e-324, c: 0 });
  });
});
