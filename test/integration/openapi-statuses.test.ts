/**
 * Real failure responses against the OpenAPI document: 429 from the rate limit, 503 with Redis
 * down, and the usual 4xx, each answered by a real route and found in its operation's responses.
 * (Every harness api() call of the suite is checked the same way: test/helpers/openapi-check.ts.)
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ADMIN_KEY, engineTestOptions, linearWorkflow, startHarness, TEST_PRINCIPALS, type Harness } from '../helpers/harness.ts';
import { undocumented } from '../helpers/openapi-check.ts';
import { apiWiring, createServices } from '../../src/services.ts';

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
  let engine: Engine;
  let services: ReturnType<typeof createServices>;
  let server: Server;
  let base = '';
  beforeAll(async () => {
    const log = createLogger({ level: 'silent' });
    const principals = PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test');
    services = createServices(
      {
        notify: { smtpUrl: undefined, mailFrom: 'x@example.test', webhookSecret: undefined, webhookUrl: undefined },
        publicUrl: 'http://stageflow.test',
      },
      principals,
      log,
    );
    engine = Engine.open({ ...engineTestOptions('docs-down'), redisUrl: 'redis://127.0.0.1:1', services: services.factory }, log, {
      failFast: true,
    });
    const { notify, dataflowRegistry } = services.get();
    // The rate limiter lets requests through when its store is down; off here to keep its warnings out.
    const app = createApp({ engine, principals, log, notify, ...apiWiring(engine), dataflows: dataflowRegistry, rateLimitPerMinute: 0 });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await engine.close().catch(() => undefined);
    await services.close().catch(() => undefined);
  });

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
