/**
 * executeDataflow end to end: a local HTTP server plays the dataflow receiver, runs go through the
 * API and a real worker (real Redis), and the registry is driven through its routes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireKey } from '../../src/api/auth.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { errorHandler, sendProblem } from '../../src/api/problem.ts';
import { dataflowRoutes } from '../../src/api/routes/dataflows.ts';
import {
  callHttpDataflow,
  createDataflowServices,
  createDataflows,
  DataflowRegistry,
  parseRetryAfter,
  RetryAfterError,
  type HttpDataflowDefinition,
} from '../../src/dataflows/index.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { executeDataflowStep } from '../../src/steps/execute-dataflow.ts';
import type { StepServices } from '../../src/steps/services.ts';
import { NonRetryableError } from '../../src/steps/types.ts';
import { ADMIN_KEY, startHarness, USER_KEY, type Harness } from '../helpers/harness.ts';

// ---- the dataflow receiver ----

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, call: { n: number; body: string }) => void;

class Receiver {
  readonly received: Received[] = [];
  private readonly handlers = new Map<string, Handler>();
  private server!: Server;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body });
        const handler = this.handlers.get(path);
        if (!handler) return void res.writeHead(404).end('no handler');
        handler(req, res, { n: this.hits(path).length, body });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const address = this.server.address();
    this.base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Registers a handler and returns the URL that reaches it. */
  on(path: string, handler: Handler): string {
    this.handlers.set(path, handler);
    return this.base + path;
  }

  hits(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

// ---- helpers ----

const RETRY = { attempts: 3, backoff: { type: 'fixed', delayMs: 50 } };

function workflow(name: string, step: Record<string, unknown>) {
  return {
    name,
    stages: [
      {
        id: 'main',
        name: 'Main',
        steps: [
          { id: 'call', type: 'executeDataflow', retry: RETRY, ...step },
          { id: 'after', type: 'updateModelField', field: 'after', value: true },
        ],
      },
    ],
  };
}

const servicesWith = (moduleDir?: URL) => (engine: { redis: any; keys: { prefix: string }; log: any }) => ({
  ...unconfiguredServices(),
  dataflows: createDataflowServices({
    redis: engine.redis,
    prefix: engine.keys.prefix,
    log: engine.log,
    ...(moduleDir ? { moduleDir } : {}),
  }).dataflows,
});

/** An app with only the dataflow routes (the real app mounts them under /api/dataflows the same way). */
async function dataflowApi(registry: DataflowRegistry) {
  const principals = PrincipalRegistry.fromJson(
    [
      { id: 'admin', key: ADMIN_KEY, roles: ['admin'] },
      { id: 'user-1', key: USER_KEY, roles: ['operator'] },
    ],
    'test',
  );
  const app = express();
  app.use('/api', requireKey(principals), express.json({ strict: false }));
  // Only the registry routes are exercised here; the test route (engine, authz) has its own suite.
  app.use('/api/dataflows', dataflowRoutes.router({ registry, engine: {} as never, authz: {} as never }));
  app.use((req, res) => sendProblem(res, 404, `no route ${req.method} ${req.path}`));
  app.use(errorHandler(createLogger({ level: 'silent' })));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const call = async (method: string, p: string, body?: unknown, key = ADMIN_KEY) => {
    const res = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      location: res.headers.get('location'),
      body: text ? JSON.parse(text) : undefined,
    };
  };
  return { call, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function historyOf(h: Harness, runId: string): Promise<any[]> {
  return (await h.api('GET', `/api/runs/${runId}/history`)).body.items;
}
const ofType = (history: any[], type: string) => history.filter((e) => e.type === type);

// ---- end to end through the engine ----

describe('executeDataflow with http dataflows, end to end', () => {
  const receiver = new Receiver();
  let h: Harness;
  let registry: DataflowRegistry;
  let api: Awaited<ReturnType<typeof dataflowApi>>;

  const putDataflow = async (def: Record<string, unknown> & { name: string }) => {
    const res = await api.call('PUT', `/api/dataflows/${def.name}`, def);
    expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  };

  beforeAll(async () => {
    await receiver.start();
    h = await startHarness({ engine: { services: servicesWith() } });
    registry = new DataflowRegistry(h.engine.redis, h.prefix);
    api = await dataflowApi(registry);
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
    await receiver.stop();
  });

  it('puts the JSON result in resultField and sends the input, idempotency key and run headers', async () => {
    const url = receiver.on('/orders', (_req, res, { body }) => json(res, 200, { orderId: 'o-1', got: JSON.parse(body) }));
    await putDataflow({ name: 'create-order', kind: 'http', url, headers: { 'X-Api-Token': 'tok-123' } });
    await h.saveWorkflow(workflow('order', { dataflow: 'create-order', input: 'order', resultField: 'result.order' }));

    const run = await h.start('order', { model: { order: { sku: 'a-1', qty: 2 }, keep: 1 } }, '?wait=5000');
    expect(run.status).toBe('completed');
    expect(run.model).toEqual({
      order: { sku: 'a-1', qty: 2 },
      keep: 1,
      result: { order: { orderId: 'o-1', got: { sku: 'a-1', qty: 2 } } },
      after: true,
    });

    const [req, ...more] = receiver.hits('/orders');
    expect(more).toHaveLength(0);
    expect(req!.headers['idempotency-key']).toBe(`${run.id}/call/0`);
    expect(req!.headers['x-stageflow-run']).toBe(run.id);
    expect(req!.headers['x-stageflow-step']).toBe('call');
    expect(req!.headers['x-api-token']).toBe('tok-123');
    expect(req!.headers['content-type']).toBe('application/json');
    const history = await historyOf(h, run.id);
    expect(ofType(history, 'step.completed').find((e) => e.stepId === 'call')).toMatchObject({
      attempt: 1,
      detail: { dataflow: 'create-order' },
    });
  });

  it('merges an object result into the model when resultField is absent (the whole model is the input)', async () => {
    const url = receiver.on('/score', (_req, res, { body }) =>
      json(res, 200, { decision: 'approve', score: 7, seen: Object.keys(JSON.parse(body)).sort() }),
    );
    await putDataflow({ name: 'score', kind: 'http', url });
    await h.saveWorkflow(workflow('scoring', { dataflow: 'score' }));

    const run = await h.start('scoring', { model: { amount: 50, decision: 'pending' } }, '?wait=5000');
    expect(run.status).toBe('completed');
    expect(run.model).toEqual({ amount: 50, decision: 'approve', score: 7, seen: ['amount', 'decision'], after: true });
  });

  it('fails at once when a result that is not an object would be merged, saying resultField is needed', async () => {
    const url = receiver.on('/list', (_req, res) => json(res, 200, [1, 2, 3]));
    await putDataflow({ name: 'list', kind: 'http', url });
    await h.saveWorkflow(workflow('listing', { dataflow: 'list' }));

    const run = await h.start('listing', { model: {} }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'call', attempt: 1, code: 'NON_RETRYABLE' });
    expect(run.error.message).toMatch(/array.*resultField/);
    expect(receiver.hits('/list')).toHaveLength(1);
  });

  it('stores null for a 2xx with an empty body, and fails at once on a 2xx that is not JSON', async () => {
    await putDataflow({ name: 'empty', kind: 'http', url: receiver.on('/empty', (_req, res) => res.writeHead(204).end()) });
    await putDataflow({
      name: 'html',
      kind: 'http',
      url: receiver.on('/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hello</h1>')),
    });
    await h.saveWorkflow(workflow('empty-wf', { dataflow: 'empty', resultField: 'out' }));
    await h.saveWorkflow(workflow('html-wf', { dataflow: 'html', resultField: 'out' }));

    const empty = await h.start('empty-wf', { model: {} }, '?wait=5000');
    expect(empty).toMatchObject({ status: 'completed', model: { out: null, after: true } });

    const html = await h.start('html-wf', { model: {} }, '?wait=5000');
    expect(html.status).toBe('failed');
    expect(html.error).toMatchObject({ attempt: 1, code: 'NON_RETRYABLE' });
    expect(html.error.message).toContain('not JSON');
    expect(html.error.message).toContain('<h1>hello</h1>');
    expect(receiver.hits('/html')).toHaveLength(1);
  });

  it('retries on 503 and succeeds, sending the same Idempotency-Key on every attempt', async () => {
    const url = receiver.on('/flaky', (_req, res, { n }) => (n < 3 ? json(res, 503, { error: 'busy' }) : json(res, 200, { ok: true, n })));
    await putDataflow({ name: 'flaky-http', kind: 'http', url });
    await h.saveWorkflow(workflow('retrying', { dataflow: 'flaky-http', resultField: 'answer' }));

    const run = await h.start('retrying', { model: {} }, '?wait=10000');
    expect(run.status).toBe('completed');
    expect(run.model).toEqual({ answer: { ok: true, n: 3 }, after: true });

    const hits = receiver.hits('/flaky');
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`${run.id}/call/0`]));
    expect(hits.map((r) => r.headers['x-stageflow-attempt'])).toEqual(['1', '2', '3']);

    const history = await historyOf(h, run.id);
    const retrying = ofType(history, 'step.retrying');
    expect(retrying.map((e) => e.attempt)).toEqual([1, 2]);
    expect(retrying[0].detail.error.message).toContain('503');
    expect(ofType(history, 'step.completed').find((e) => e.stepId === 'call')).toMatchObject({ attempt: 3 });
    expect(ofType(history, 'step.failed')).toHaveLength(0);
  });

  it('retries a 429 that carries Retry-After', async () => {
    const url = receiver.on('/limited', (_req, res, { n }) =>
      n === 1 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '0' }) : json(res, 200, { ok: true }),
    );
    await putDataflow({ name: 'limited', kind: 'http', url });
    await h.saveWorkflow(workflow('limited-wf', { dataflow: 'limited', resultField: 'answer' }));

    const run = await h.start('limited-wf', { model: {} }, '?wait=10000');
    expect(run).toMatchObject({ status: 'completed', model: { answer: { ok: true } } });
    const retrying = ofType(await historyOf(h, run.id), 'step.retrying');
    expect(retrying).toHaveLength(1);
    expect(retrying[0].detail.error.message).toMatch(/429.*retry after 0 ms/);
  });

  it('fails at once on a 400, after one attempt, with the status and body in the error', async () => {
    const url = receiver.on('/reject', (_req, res) => json(res, 400, { error: 'sku unknown' }));
    await putDataflow({ name: 'reject', kind: 'http', url });
    await h.saveWorkflow(workflow('rejected', { dataflow: 'reject', resultField: 'answer' }));

    const run = await h.start('rejected', { model: {} }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'call', attempt: 1, code: 'NON_RETRYABLE' });
    expect(run.error.message).toContain('400');
    expect(run.error.message).toContain('sku unknown');
    expect(receiver.hits('/reject')).toHaveLength(1);

    const history = await historyOf(h, run.id);
    expect(ofType(history, 'step.retrying')).toHaveLength(0);
    expect(ofType(history, 'step.failed')).toEqual([expect.objectContaining({ stepId: 'call', attempt: 1 })]);
    expect(ofType(history, 'run.failed')[0].detail.error).toMatchObject({ attempt: 1, code: 'NON_RETRYABLE' });
  });

  it('retries a receiver that never answers within timeoutMs, then fails with the timeout in the error', async () => {
    const url = receiver.on('/hang', () => {
      /* never answers */
    });
    await putDataflow({ name: 'hang', kind: 'http', url, timeoutMs: 200 });
    await h.saveWorkflow(workflow('hanging', { dataflow: 'hang', resultField: 'answer' }));

    const run = await h.start('hanging', { model: {} }, '?wait=10000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'call', attempt: 3 });
    expect(run.error.message).toContain('timed out after 200 ms');

    const hits = receiver.hits('/hang');
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((r) => r.headers['idempotency-key'])).size).toBe(1);

    const history = await historyOf(h, run.id);
    expect(ofType(history, 'step.retrying').map((e) => e.attempt)).toEqual([1, 2]);
    expect(ofType(history, 'step.failed')).toEqual([expect.objectContaining({ stepId: 'call', attempt: 3 })]);
    const failed = ofType(history, 'run.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].detail.error).toMatchObject({ attempt: 3, stepId: 'call' });
    expect(failed[0].detail.error.message).toContain('timed out after 200 ms');
  });

  it('the step timeoutMs replaces the dataflow timeout', async () => {
    const url = receiver.on('/slow', (_req, res) => void setTimeout(() => json(res, 200, { late: true }), 300));
    await putDataflow({ name: 'slow', kind: 'http', url, timeoutMs: 100 });
    await h.saveWorkflow(workflow('patient', { dataflow: 'slow', resultField: 'answer', timeoutMs: 2000 }));

    const run = await h.start('patient', { model: {} }, '?wait=5000');
    expect(run).toMatchObject({ status: 'completed', model: { answer: { late: true } } });
    expect(receiver.hits('/slow')).toHaveLength(1);
  });

  it('retries network errors, then fails saying the receiver could not be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await putDataflow({ name: 'nobody', kind: 'http', url: `http://127.0.0.1:${port}/x?token=secret` });
    await h.saveWorkflow(workflow('unreachable', { dataflow: 'nobody' }));

    const run = await h.start('unreachable', { model: {} }, '?wait=10000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ attempt: 3, code: 'STEP_ERROR' });
    expect(run.error.message).toMatch(/could not be reached .*ECONNREFUSED/);
    expect(run.error.message).not.toContain('secret');
    expect(ofType(await historyOf(h, run.id), 'step.retrying')).toHaveLength(2);
  });

  it('fails at once, naming it, when the dataflow is not registered', async () => {
    await h.saveWorkflow(workflow('dangling', { dataflow: 'no-such-flow' }));
    const run = await h.start('dangling', { model: {} }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'call', attempt: 1, code: 'NON_RETRYABLE' });
    expect(run.error.message).toContain('dataflow "no-such-flow" is not registered');
    const history = await historyOf(h, run.id);
    expect(ofType(history, 'step.retrying')).toHaveLength(0);
  });

  it('runs module dataflows from workers/dataflows (echo, sleep) and fails at once on a missing module', async () => {
    await putDataflow({ name: 'echo', kind: 'module', module: 'echo' });
    await putDataflow({ name: 'nap', kind: 'module', module: 'sleep' });
    await putDataflow({ name: 'short-nap', kind: 'module', module: 'sleep', timeoutMs: 100 });
    await putDataflow({ name: 'ghost', kind: 'module', module: 'does-not-exist' });
    await h.saveWorkflow(workflow('echoing', { dataflow: 'echo', input: 'payload', resultField: 'copy' }));
    await h.saveWorkflow(workflow('napping', { dataflow: 'nap', input: 'sleep' }));
    await h.saveWorkflow(workflow('oversleeping', { dataflow: 'short-nap', input: 'sleep', resultField: 'r' }));
    await h.saveWorkflow(workflow('haunted', { dataflow: 'ghost' }));

    const echoed = await h.start('echoing', { model: { payload: { a: [1, 'two', { three: 3 }] } } }, '?wait=5000');
    expect(echoed).toMatchObject({ status: 'completed', model: { copy: { a: [1, 'two', { three: 3 }] }, after: true } });

    const napped = await h.start('napping', { model: { sleep: { ms: 20 } } }, '?wait=5000');
    expect(napped).toMatchObject({ status: 'completed', model: { slept: 20, after: true } });

    const overslept = await h.start('oversleeping', { model: { sleep: { ms: 5000 } } }, '?wait=10000');
    expect(overslept.status).toBe('failed');
    expect(overslept.error).toMatchObject({ attempt: 3 });
    expect(overslept.error.message).toContain('timed out after 100 ms');

    const haunted = await h.start('haunted', { model: {} }, '?wait=5000');
    expect(haunted.status).toBe('failed');
    expect(haunted.error).toMatchObject({ attempt: 1, code: 'NON_RETRYABLE' });
    expect(haunted.error.message).toContain('workers/dataflows/does-not-exist.ts does not exist');
  });
});

describe('module dataflows from another directory', () => {
  let h: Harness;
  let registry: DataflowRegistry;

  beforeAll(async () => {
    h = await startHarness({ engine: { services: servicesWith(new URL('../fixtures/dataflows/', import.meta.url)) } });
    registry = new DataflowRegistry(h.engine.redis, h.prefix);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a module that fails its first 2 calls completes on attempt 3 with 2 step.retrying events', async () => {
    await registry.put({ name: 'flaky', kind: 'module', module: 'flaky' });
    await h.saveWorkflow(workflow('flaky-module', { dataflow: 'flaky', input: 'x', resultField: 'r' }));

    const run = await h.start('flaky-module', { model: { x: 5 } }, '?wait=10000');
    expect(run.status).toBe('completed');
    expect(run.model.r).toEqual({ calls: 3, attempts: [1, 2, 3], effectKey: `${run.id}/call/0`, input: 5 });
    const history = await historyOf(h, run.id);
    const retrying = ofType(history, 'step.retrying');
    expect(retrying.map((e) => e.attempt)).toEqual([1, 2]);
    expect(retrying[1].detail.error.message).toContain('call 2');
    expect(ofType(history, 'step.completed').find((e) => e.stepId === 'call')).toMatchObject({ attempt: 3 });
  });

  it('a module without a default export function fails at once', async () => {
    await registry.put({ name: 'nofn', kind: 'module', module: 'not-a-function' });
    await h.saveWorkflow(workflow('nofn-wf', { dataflow: 'nofn' }));
    const run = await h.start('nofn-wf', { model: {} }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ attempt: 1, code: 'NON_RETRYABLE' });
    expect(run.error.message).toContain('has no default export function');
  });
});

// ---- registry and API ----

describe('dataflow registry and /api/dataflows', () => {
  let h: Harness;
  let registry: DataflowRegistry;
  let api: Awaited<ReturnType<typeof dataflowApi>>;

  beforeAll(async () => {
    h = await startHarness({ worker: false });
    registry = new DataflowRegistry(h.engine.redis, h.prefix);
    api = await dataflowApi(registry);
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  it('PUT creates (201), repeats unchanged (200), replaces (200 changed); GET reads one and lists all', async () => {
    const def = { kind: 'http', url: 'https://example.test/hook', headers: { 'X-Tenant': 'a' } };
    const created = await api.call('PUT', '/api/dataflows/create-order', def);
    expect(created.status).toBe(201);
    expect(created.location).toBe('/api/dataflows/create-order');
    expect(created.body).toMatchObject({ name: 'create-order', created: true, changed: true });
    expect(created.body.definition).toEqual({
      name: 'create-order',
      kind: 'http',
      url: 'https://example.test/hook',
      method: 'POST',
      headers: { 'X-Tenant': 'a' },
      timeoutMs: 10_000,
    });

    const same = await api.call('PUT', '/api/dataflows/create-order', { ...def, name: 'create-order' });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ created: false, changed: false });

    const changed = await api.call('PUT', '/api/dataflows/create-order', { ...def, timeoutMs: 2000 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ created: false, changed: true });

    await api.call('PUT', '/api/dataflows/child', { kind: 'workflow', workflow: 'fulfil', timeoutMs: 86_400_000 });
    await api.call('PUT', '/api/dataflows/echo', { kind: 'module', module: 'echo' });

    const one = await api.call('GET', '/api/dataflows/create-order');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'create-order', kind: 'http', timeoutMs: 2000 });

    const list = await api.call('GET', '/api/dataflows');
    expect(list.body.items.map((d: any) => d.name)).toEqual(['child', 'create-order', 'echo']);
    expect(await registry.exists('echo')).toBe(true);
    expect(await registry.exists('nope')).toBe(false);
  });

  it('GET of an unknown dataflow is a 404 problem', async () => {
    const res = await api.call('GET', '/api/dataflows/missing');
    expect(res.status).toBe(404);
    expect(res.type).toContain('application/problem+json');
    expect(res.body.detail).toContain('missing');
  });

  it.each([
    ['no kind', { url: 'https://x.test' }, '$.kind', /kind must be one of/],
    ['an unknown kind', { kind: 'ftp' }, '$.kind', /kind must be one of/],
    ['an http dataflow without url', { kind: 'http' }, '$.url', /http\(s\) URL/],
    ['a non-http url', { kind: 'http', url: 'file:///etc/passwd' }, '$.url', /http\(s\) URL/],
    ['a method other than POST', { kind: 'http', url: 'https://x.test', method: 'GET' }, '$.method', /POST/],
    [
      'a reserved header',
      { kind: 'http', url: 'https://x.test', headers: { 'Idempotency-Key': 'mine' } },
      '$.headers["Idempotency-Key"]',
      /set by stageflow/,
    ],
    [
      'a header value with a newline',
      { kind: 'http', url: 'https://x.test', headers: { 'X-A': 'a\r\nInjected: 1' } },
      '$.headers["X-A"]',
      /CR, LF/,
    ],
    ['a zero timeout', { kind: 'http', url: 'https://x.test', timeoutMs: 0 }, '$.timeoutMs', /./],
    ['a module path with separators', { kind: 'module', module: '../../etc/evil' }, '$.module', /path separators/],
    ['a workflow dataflow without workflow', { kind: 'workflow' }, '$.workflow', /./],
    ['an unknown field', { kind: 'module', module: 'echo', moduel: 'x' }, '$.moduel', /unknown field/],
    ['another name in the body', { name: 'other', kind: 'module', module: 'echo' }, '$.name', /must be "bad-body"/],
  ])('PUT with %s is a 400 naming the field', async (_label, body, path, message) => {
    const res = await api.call('PUT', '/api/dataflows/bad-body', body);
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/problem+json');
    const problem = res.body.errors.find((e: any) => e.path === path);
    expect(problem, JSON.stringify(res.body.errors)).toBeDefined();
    expect(problem.message).toMatch(message);
    expect((await api.call('GET', '/api/dataflows/bad-body')).status).toBe(404);
  });

  it('PUT with a bad name in the URL or a body that is not an object is a 400', async () => {
    const badName = await api.call('PUT', '/api/dataflows/bad.name', { kind: 'module', module: 'echo' });
    expect(badName.status).toBe(400);
    expect(badName.body.errors[0].path).toBe('path.name');
    const array = await api.call('PUT', '/api/dataflows/arr', [1, 2]);
    expect(array.status).toBe(400);
    expect(array.body.errors[0].path).toBe('$');
  });

  it('only admins and designers may manage dataflows', async () => {
    const put = await api.call('PUT', '/api/dataflows/sneaky', { kind: 'http', url: 'http://169.254.169.254/' }, USER_KEY);
    expect(put.status).toBe(403);
    expect((await api.call('GET', '/api/dataflows', undefined, USER_KEY)).status).toBe(403);
    expect(await registry.exists('sneaky')).toBe(false);
  });

  it('loadDir saves every *.json of a directory and reports bad files without stopping', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sf-dataflows-'));
    try {
      writeFileSync(path.join(dir, 'from-file.json'), JSON.stringify({ kind: 'module', module: 'echo' }));
      writeFileSync(path.join(dir, 'named.json'), JSON.stringify({ name: 'named-flow', kind: 'http', url: 'https://x.test/a' }));
      writeFileSync(path.join(dir, 'invalid.json'), JSON.stringify({ kind: 'http', url: 'nope' }));
      writeFileSync(path.join(dir, 'broken.json'), '{ not json');
      writeFileSync(path.join(dir, 'readme.txt'), 'ignored');
      const result = await registry.loadDir(dir);
      expect(result.loaded.map((l) => l.name).sort()).toEqual(['from-file', 'named-flow']);
      expect(result.failed.map((f) => f.file).sort()).toEqual(['broken.json', 'invalid.json']);
      expect(result.failed.find((f) => f.file === 'invalid.json')!.error).toContain('$.url');
      expect(await registry.get('from-file')).toEqual({ name: 'from-file', kind: 'module', module: 'echo' });
      // Loading again changes nothing.
      const again = await registry.loadDir(dir);
      expect(again.loaded.every((l) => !l.changed)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await registry.loadDir(path.join(dir, 'gone'))).toEqual({ loaded: [], failed: [] });
  });

  it('the shipped config/dataflows examples are valid', async () => {
    const result = await registry.loadDir('config/dataflows');
    expect(result.failed).toEqual([]);
    expect(result.loaded.length).toBeGreaterThan(0);
  });
});

// ---- the pieces on their own ----

describe('dataflow runner and http kind details', () => {
  let h: Harness;
  let registry: DataflowRegistry;
  const receiver = new Receiver();
  const log = createLogger({ level: 'silent' });
  const ctx = (over: Partial<{ signal: AbortSignal; attempt: number }> = {}) => ({
    effectKey: 'run-1/step-1/4',
    runId: 'run-1',
    stepId: 'step-1',
    seq: 4,
    attempt: 1,
    signal: new AbortController().signal,
    ...over,
  });

  beforeAll(async () => {
    await receiver.start();
    h = await startHarness({ worker: false });
    registry = new DataflowRegistry(h.engine.redis, h.prefix);
  });
  afterAll(async () => {
    await h?.close();
    await receiver.stop();
  });

  it('a workflow dataflow is delegated to startChild with the effect context and parks as a child', async () => {
    await registry.put({ name: 'sub', kind: 'workflow', workflow: 'fulfil', timeoutMs: 60_000 });
    const calls: unknown[] = [];
    const dataflows = createDataflows({
      registry,
      log,
      startChild: async (workflow, input, c) => {
        calls.push({ workflow, input, effectKey: c.effectKey, dataflow: c.dataflow, timeoutMs: c.timeoutMs });
        return { childRunId: 'child-1' };
      },
    });
    expect(await dataflows.run('sub', { a: 1 }, ctx())).toEqual({ kind: 'child', childRunId: 'child-1' });
    expect(calls).toEqual([{ workflow: 'fulfil', input: { a: 1 }, effectKey: 'run-1/step-1/4', dataflow: 'sub', timeoutMs: 60_000 }]);

    const without = createDataflows({ registry, log });
    await expect(without.run('sub', {}, ctx())).rejects.toThrow(NonRetryableError);
  });

  it('executeDataflow turns a child outcome into a wait, and refuses to merge keys that are not plain fields', async () => {
    const services = (outcome: any): StepServices =>
      ({ ...unconfiguredServices(), dataflows: { run: async () => outcome } }) as unknown as StepServices;
    const stepCtx = (outcome: any, params: any) => ({
      ...ctx(),
      workflow: 'w',
      version: 1,
      params,
      model: { a: { b: 1 } },
      log,
      services: services(outcome),
    });
    const waited = await executeDataflowStep.execute(stepCtx({ kind: 'child', childRunId: 'c-9' }, { dataflow: 'sub' }));
    expect(waited.outcome).toEqual({ kind: 'wait', reason: 'child', detail: { childRunId: 'c-9' } });
    expect(waited.writes).toBeUndefined();

    await expect(
      Promise.resolve().then(() => executeDataflowStep.execute(stepCtx({ kind: 'result', value: { 'x.y': 1 } }, { dataflow: 'f' }))),
    ).rejects.toThrow(/"x\.y".*resultField/);
    await expect(
      Promise.resolve().then(() =>
        executeDataflowStep.execute(stepCtx({ kind: 'result', value: JSON.parse('{"__proto__": {"polluted": true}}') }, { dataflow: 'f' })),
      ),
    ).rejects.toThrow(NonRetryableError);
    await expect(
      Promise.resolve().then(() => executeDataflowStep.execute(stepCtx({ kind: 'result', value: 'text' }, { dataflow: 'f' }))),
    ).rejects.toThrow(/a string.*resultField/);
    const merged = await executeDataflowStep.execute(stepCtx({ kind: 'result', value: { x: 1, y: { z: 2 } } }, { dataflow: 'f' }));
    expect(merged.writes).toEqual([
      { path: 'x', value: 1 },
      { path: 'y', value: { z: 2 } },
    ]);
  });

  it('429 and 503 with Retry-After throw a RetryAfterError carrying retryAfterMs; other statuses are classified', async () => {
    const def = (p: string, handler: Handler): HttpDataflowDefinition => ({
      name: 'd',
      kind: 'http',
      method: 'POST',
      timeoutMs: 2000,
      url: receiver.on(p, handler),
    });
    const limited = callHttpDataflow(
      def('/r429', (_q, res) => json(res, 429, {}, { 'retry-after': '2' })),
      {},
      ctx(),
    );
    await expect(limited).rejects.toBeInstanceOf(RetryAfterError);
    await expect(limited).rejects.toMatchObject({ retryAfterMs: 2000, status: 429 });
    const when = new Date(Date.now() + 60_000).toUTCString();
    const unavailable = callHttpDataflow(
      def('/r503', (_q, res) => json(res, 503, {}, { 'retry-after': when })),
      {},
      ctx(),
    );
    await expect(unavailable).rejects.toBeInstanceOf(RetryAfterError);
    const err = (await unavailable.catch((e: unknown) => e)) as RetryAfterError;
    expect(err.retryAfterMs).toBeGreaterThan(55_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);

    const plain503 = await callHttpDataflow(
      def('/p503', (_q, res) => json(res, 503, {})),
      {},
      ctx(),
    ).catch((e: unknown) => e);
    expect(plain503).not.toBeInstanceOf(RetryAfterError);
    expect(plain503).not.toBeInstanceOf(NonRetryableError);
    const timeout408 = await callHttpDataflow(
      def('/r408', (_q, res) => json(res, 408, {})),
      {},
      ctx(),
    ).catch((e: unknown) => e);
    expect(timeout408).not.toBeInstanceOf(NonRetryableError);
    const notFound = await callHttpDataflow(
      def('/r404', (_q, res) => json(res, 404, { e: 'gone' })),
      {},
      ctx(),
    ).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NonRetryableError);
    expect((notFound as Error).message).toMatch(/404.*gone/);
    const redirect = await callHttpDataflow(
      def('/r302', (_q, res) => res.writeHead(302, { location: '/elsewhere' }).end()),
      {},
      ctx(),
    ).catch((e: unknown) => e);
    expect(redirect).toBeInstanceOf(NonRetryableError);
    expect(receiver.hits('/elsewhere')).toHaveLength(0);

    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(0).toUTCString())).toBe(0);
  });

  it('an abort of the step signal stops the call with the abort reason', async () => {
    const controller = new AbortController();
    const def: HttpDataflowDefinition = { name: 'd', kind: 'http', method: 'POST', timeoutMs: 5000, url: receiver.on('/never', () => {}) };
    const call = callHttpDataflow(def, {}, ctx({ signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('step timed out')), 50);
    await expect(call).rejects.toThrow('step timed out');
  });
});
