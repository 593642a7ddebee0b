/**
 * Real failure responses against the OpenAPI document: 429 from the rate limit, 503 with Redis
 * down, and the usual 4xx, each answered by a real route and found in its operation's responses.
 * (Every harness api() call of the suite is checked the same way: test/helpers/openapi-check.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startApiWithRedisDown, linearWorkflow, startHarness, TEST_PRINCIPALS, type Harness } from '../helpers/harness.ts';
import { undocumented } from '../helpers/openapi-check.ts';

/** One request per documented operation family, with what it is sent. */
const CALLS: Array<[string, string, unknown?]> = [
  ['GET', '/api/workflows'],
  ['POST', '/api/workflows/validate', { name: 'x' }],
  ['PUT', '/api/workflows/docs-wf', linearWorkflow('docs-wf', 1)],
  ['GET', '/api/workflows/docs-wf'],
  ['GET', '/api/workflows/docs-wf/versions'],
  ['POST', '/api/workflows/docs-wf/runs', {}],
  ['GET', '/api/runs'],
  ['GET', '/api/runs/0190c0de-0000-7000-8000-000000000000'],
  ['GET', '/api/runs/0190c0de-0000-7000-8000-000000000000/history'],
  ['POST', '/api/runs/0190c0de-0000-7000-8000-000000000000/cancel', {}],
  ['POST', '/api/runs/0190c0de-0000-7000-8000-000000000000/retry', {}],
  ['POST', '/api/runs/0190c0de-0000-7000-8000-000000000000/submit', {}],
  ['POST', '/api/runs/0190c0de-0000-7000-8000-000000000000/confirm', { option: 'yes' }],
  ['GET', '/api/tasks'],
  ['GET', '/api/entries/some-entry'],
  ['GET', '/api/dataflows'],
  ['PUT', '/api/dataflows/docs-df', { kind: 'module', module: 'echo' }],
  ['GET', '/api/dataflows/docs-df'],
  ['GET', '/api/templates'],
  ['GET', '/api/templates/docs-tpl'],
  ['GET', '/api/me'],
  ['GET', '/api/me/notifications'],
  ['POST', '/api/me/notifications/abc/read', {}],
  ['GET', '/api/step-types'],
  ['GET', '/readyz'],
  ['GET', '/healthz'],
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
];

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('with Redis up', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false, app: { rateLimitPerMinute: 0 } });
  });
  afterAll(() => h.close());

  it('every answer of a round of calls, and of bad ones, is documented', async () => {
    const seen: string[] = [];
    const bad: string[] = [];
    const check = (method: string, path: string, status: number) => {
      seen.push(`${status}`);
      const problem = undocumented(method, path, status);
      if (problem) bad.push(problem);
    };
    for (const [method, path, body] of CALLS) check(method, path, await call(h.base, method, path, body));

    // the usual client errors
    check('GET', '/api/workflows', await call(h.base, 'GET', '/api/workflows', undefined, { authorization: 'Bearer nope' }));
    check('POST', '/api/workflows/docs-wf/runs', await call(h.base, 'POST', '/api/workflows/docs-wf/runs', '{not json'));
    check(
      'POST',
      '/api/workflows/docs-wf/runs',
      await call(h.base, 'POST', '/api/workflows/docs-wf/runs', { callbackUrl: 'http://169.254.169.254/' }),
    );
    check(
      'POST',
      '/api/workflows/docs-wf/runs',
      await call(h.base, 'POST', '/api/workflows/docs-wf/runs', JSON.stringify({ model: { x: 'y'.repeat(2_000_000) } })),
    );
    check('POST', '/api/workflows/nope/runs', await call(h.base, 'POST', '/api/workflows/nope/runs', {}));
    check('GET', '/api/runs', await call(h.base, 'GET', '/api/runs?limit=100000'));
    check('PUT', '/api/dataflows/docs-df', await call(h.base, 'PUT', '/api/dataflows/docs-df', { kind: 'http', url: 'http://10.0.0.1/' }));
    check('GET', '/api/me', await call(h.base, 'GET', '/api/me', undefined, { authorization: `Bearer ${TEST_PRINCIPALS[1]!.key}` }));
    expect(bad).toEqual([]);
    // 503: /readyz, as no worker runs here
    expect(new Set(seen)).toEqual(new Set(['200', '201', '400', '401', '404', '413', '503']));
  });
});

describe('rate limited', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false, app: { rateLimitPerMinute: 2 } });
  });
  afterAll(() => h.close());

  it('answers 429 with Retry-After, as documented', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await h.api('GET', '/api/workflows')).status); // h.api throws on an undocumented status
    expect(statuses).toEqual([200, 200, 429]);
    expect(undocumented('GET', '/api/runs', 429)).toBeUndefined();
  });
});

describe('with Redis down', () => {
  let api: Awaited<ReturnType<typeof startApiWithRedisDown>>;
  let base = '';
  beforeAll(async () => {
    api = await startApiWithRedisDown('docs-down');
    base = api.base;
  });
  afterAll(() => api.close());

  it('every /api operation that needs Redis answers 503 problem+json, which each documents', async () => {
    const bad: string[] = [];
    const statuses = new Set<number>();
    for (const [method, path, body] of CALLS) {
      const status = await call(base, method, path, body);
      if (path.startsWith('/api/') && !['/api/me', '/api/step-types', '/api/workflows/validate'].includes(path)) statuses.add(status);
      const problem = undocumented(method, path, status);
      if (problem) bad.push(problem);
    }
    expect(bad).toEqual([]);
    expect([...statuses]).toEqual([503]);
  });
});
