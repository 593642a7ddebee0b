/** GET /api/principals (pickers) and POST /api/dataflows/{name}/test against a real stack. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let upstream: Server;
let upstreamUrl = '';
const seenKeys: string[] = [];
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });

beforeAll(async () => {
  h = await startHarness();
  upstream = createServer((req, res) => {
    seenKeys.push(String(req.headers['idempotency-key']));
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const input = JSON.parse(body || 'null');
      if (input?.fail) {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end('{"error":"nope"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ doubled: (input?.n ?? 0) * 2 }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const a = upstream.address();
  upstreamUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/double`;
});
afterAll(async () => {
  await new Promise<void>((r) => upstream?.close(() => r()));
  await h?.close();
});

describe('GET /api/principals', () => {
  it('lists ids, names and roles for designers, never keys or addresses', async () => {
    const res = await h.api('GET', '/api/principals', undefined, as('dana'));
    expect(res.status).toBe(200);
    expect(res.body.items).toContainEqual({ id: 'bob', name: 'Bob', roles: ['manager'] });
    expect(res.body.items).toContainEqual({ id: 'eve', roles: ['clerk'] });
    expect(res.body.roles).toEqual(expect.arrayContaining(['admin', 'manager', 'designer', 'clerk']));
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('key-');
    expect(text).not.toContain('@example.test');
    for (const p of res.body.items) expect(Object.keys(p).sort()).toEqual(expect.arrayContaining(['id', 'roles']));
  });

  it('answers 403 problem+json to others', async () => {
    const res = await h.api('GET', '/api/principals', undefined, as('bob'));
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('POST /api/dataflows/{name}/test', () => {
  it('runs an http dataflow once with a fresh effect key each time and returns its result', async () => {
    expect((await h.api('PUT', '/api/dataflows/double', { kind: 'http', url: upstreamUrl })).status).toBe(201);
    const one = await h.api('POST', '/api/dataflows/double/test', { input: { n: 21 } }, as('dana'));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ kind: 'http', result: { doubled: 42 } });
    await h.api('POST', '/api/dataflows/double/test', { input: { n: 1 } });
    expect(seenKeys).toHaveLength(2);
    expect(seenKeys[0]).not.toBe(seenKeys[1]);
  });

  it('reports the dataflow failing as a 502 problem, not a crash', async () => {
    const res = await h.api('POST', '/api/dataflows/double/test', { input: { fail: true } });
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/dataflow double failed/);
  });

  it('runs a module dataflow', async () => {
    await h.api('PUT', '/api/dataflows/echo-it', { kind: 'module', module: 'echo' });
    const res = await h.api('POST', '/api/dataflows/echo-it/test', { input: { a: [1, 2] } });
    expect(res.status).toBe(200);
    expect(res.body.result).toEqual({ a: [1, 2] });
  });

  it('starts a run of a workflow dataflow and returns its id and final model', async () => {
    await h.saveWorkflow({
      name: 'df-target',
      stages: [{ id: 's', name: 'S', steps: [{ id: 'x', type: 'updateModelField', field: 'seen', value: true }] }],
    });
    await h.api('PUT', '/api/dataflows/child-flow', { kind: 'workflow', workflow: 'df-target' });
    const res = await h.api('POST', '/api/dataflows/child-flow/test', { input: { a: 1 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'workflow', status: 'completed', model: { a: 1, seen: true } });
    expect((await h.api('GET', `/api/runs/${res.body.runId}`)).body.status).toBe('completed');
  });

  it('refuses non-designers, unknown dataflows and bad bodies with problem+json', async () => {
    expect((await h.api('POST', '/api/dataflows/double/test', { input: 1 }, as('bob'))).status).toBe(403);
    expect((await h.api('POST', '/api/dataflows/missing/test', { input: 1 })).status).toBe(404);
    const bad = await h.api('POST', '/api/dataflows/double/test', { inptu: 1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('inptu');
  });
});
