import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ worker: false });
});
afterAll(() => h.close());

const isProblem = (res: { status: number; body: any; headers: Headers }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, title: expect.any(String) });
};

describe('workflow definitions', () => {
  it('saves versions: new content is N+1, unchanged content keeps its version', async () => {
    const def = linearWorkflow('versions', 2);
    const first = await h.api('PUT', '/api/workflows/versions', def);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ name: 'versions', version: 1, warnings: [] });
    const same = await h.api('PUT', '/api/workflows/versions', def);
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(1);
    const changed = await h.api('PUT', '/api/workflows/versions', { ...def, title: 'Now with a title' });
    expect(changed.status).toBe(201);
    expect(changed.body.version).toBe(2);
    expect((await h.api('GET', '/api/workflows/versions')).body).toMatchObject({
      version: 2,
      latest: 2,
      definition: { title: 'Now with a title' },
    });
    expect((await h.api('GET', '/api/workflows/versions?version=1')).body.definition.title).toBeUndefined();
    expect((await h.api('GET', '/api/workflows/versions/versions')).body.items.map((v: any) => v.version)).toEqual([1, 2]);
    const list = (await h.api('GET', '/api/workflows')).body.items;
    expect(list).toEqual([expect.objectContaining({ name: 'versions', latest: 2, title: 'Now with a title' })]);
    isProblem(await h.api('GET', '/api/workflows/versions?version=3'), 404);
    isProblem(await h.api('GET', '/api/workflows/nothing-here'), 404);
  });

  it('returns warnings beside a successful save', async () => {
    const res = await h.api('PUT', '/api/workflows/warned', {
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'sw', type: 'switchCase', sourceField: 'k', cases: [{ value: 1, steps: [] }] }] }],
    });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([expect.objectContaining({ path: expect.stringContaining('$.stages[0].steps[0]') })]);
  });

  it('validate checks without saving', async () => {
    const res = await h.api('POST', '/api/workflows/validate', {
      name: 'v',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'x', type: 'updateModelField', field: 'f' }] }],
    });
    expect(res.status).toBe(200);
    expect(res.body.valid).toBe(false);
    expect(res.body.errors[0].path).toMatch(/^\$\.stages\[0\]\.steps\[0\]/);
    isProblem(await h.api('GET', '/api/workflows/v'), 404);
  });

  it('rejects bad definitions with 400 problem+json naming every field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ stages: [] }, '$.stages'],
      [{ stages: [{ id: 'a', name: 'A', steps: [{ id: 'x', type: 'teleport' }] }] }, '$.stages[0].steps[0].type'],
      [{ stages: [{ id: 'a b', name: 'A', steps: [] }] }, '$.stages[0].id'],
      [
        { stages: [{ id: 'a', name: 'A', steps: [{ id: 'x', type: 'updateModelField', field: '__proto__.polluted', value: 1 }] }] },
        '$.stages[0].steps[0].field',
      ],
      [
        {
          stages: [
            { id: 'a', name: 'A', steps: [{ id: 'x', type: 'ifCondition', field: 'f', operator: 'equal', value: 1, thenGoto: 'nowhere' }] },
          ],
        },
        '$.stages[0].steps[0].thenGoto',
      ],
      [
        {
          stages: [
            {
              id: 'a',
              name: 'A',
              steps: [
                { id: 'x', type: 'finish' },
                { id: 'x', type: 'finish' },
              ],
            },
          ],
        },
        '$.stages[0].steps[1].id',
      ],
      [{ name: 'other-name', stages: [{ id: 'a', name: 'A', steps: [] }] }, '$.name'],
    ];
    for (const [body, path] of cases) {
      const res = await h.api('PUT', '/api/workflows/bad-one', body);
      isProblem(res, 400);
      expect(
        res.body.errors.map((e: any) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    isProblem(await h.api('GET', '/api/workflows/bad-one'), 404);
  });

  it('rejects bad names, broken JSON and non-object bodies', async () => {
    isProblem(await h.api('PUT', '/api/workflows/has%20space', linearWorkflow('x', 1)), 400);
    const broken = await h.api('PUT', '/api/workflows/broken', '{"stages": [');
    isProblem(broken, 400);
    expect(broken.body.errors[0].path).toBe('$');
    isProblem(await h.api('PUT', '/api/workflows/arr', [1, 2]), 400);
    isProblem(await h.api('PUT', '/api/workflows/str', '"hello"'), 400);
  });
});

describe('runs API input', () => {
  beforeAll(async () => {
    await h.saveWorkflow(linearWorkflow('inputs', 1));
  });

  it('refuses bad start bodies and query parameters, naming the field', async () => {
    const cases: Array<[string, unknown, string, Record<string, string>?]> = [
      ['', { model: [1, 2] }, '$.model'],
      ['', { model: 'text' }, '$.model'],
      ['', { entryId: 'bad id!' }, '$.entryId'],
      ['', { callbackUrl: 'ftp://x' }, '$.callbackUrl'],
      ['', { surprise: 1 }, '$.surprise'],
      ['?wait=-1', {}, 'query.wait'],
      ['?wait=abc', {}, 'query.wait'],
      ['?wait=999999999', {}, 'query.wait'],
      ['', {}, 'header.Idempotency-Key', { 'idempotency-key': 'has space' }],
    ];
    for (const [query, body, path, headers] of cases) {
      const res = await h.api('POST', `/api/workflows/inputs/runs${query}`, body, headers);
      isProblem(res, 400);
      expect(
        res.body.errors.map((e: any) => e.path),
        `${query} ${JSON.stringify(body)}`,
      ).toContain(path);
    }
    const runs = (await h.api('GET', '/api/runs?workflow=inputs')).body.items;
    expect(runs).toEqual([]);
  });

  it('404s for unknown workflows, runs and entries; 400 for malformed ids and list filters', async () => {
    isProblem(await h.api('POST', '/api/workflows/ghost/runs', {}), 404);
    isProblem(await h.api('GET', '/api/runs/0190c4a2-0000-7000-8000-000000000000'), 404);
    isProblem(await h.api('GET', '/api/runs/not-a-run-id'), 400);
    isProblem(await h.api('GET', '/api/entries/nope'), 404);
    isProblem(await h.api('GET', '/api/runs?status=exploded'), 400);
    isProblem(await h.api('GET', '/api/runs?limit=0'), 400);
    isProblem(await h.api('GET', '/api/runs?bogus=1'), 400);
    isProblem(await h.api('POST', '/api/runs/0190c4a2-0000-7000-8000-000000000000/retry', { modelPatch: 5 }), 400);
    isProblem(await h.api('GET', '/api/nothing'), 404);
  });

  it('needs a valid bearer key on /api and /admin', async () => {
    const none = await fetch(`${h.base}/api/workflows`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    const wrong = await fetch(`${h.base}/api/workflows`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const board = await fetch(`${h.base}/admin/queues`);
    expect(board.status).toBe(401);
    const boardOk = await fetch(`${h.base}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(boardOk.status).toBe(200);
    expect(await boardOk.text()).toMatch(/<html/i);
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
  });

  it('readyz says not ready without a live worker', async () => {
    const res = await fetch(`${h.base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ redis: true, workers: 0 });
  });
});
