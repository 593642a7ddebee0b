import { readFileSync } from 'node:fs';
import express, { Router } from 'express';
import { MemoryStore } from 'express-rate-limit';
import { describe, expect, it } from 'vitest';
import { declaredRoutes, NEVER_503, openApiDocument } from '../../src/api/openapi.ts';
import { operationOf, undocumented } from '../helpers/openapi-check.ts';
import { createApp } from '../../src/api/app.ts';
import { BOARD_PATH } from '../../src/api/bull-board.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { TEST_PRINCIPALS } from '../helpers/harness.ts';

const doc = openApiDocument() as any;

/** Every path and method of the README's "HTTP API" table. */
const README_TABLE: Record<string, string[]> = {
  '/api/workflows': ['get'],
  '/api/dataflows/{name}/test': ['post'],
  '/api/principals': ['get'],
  '/api/workflows/validate': ['post'],
  '/api/workflows/{name}': ['put', 'get'],
  '/api/workflows/{name}/versions': ['get'],
  '/api/workflows/{name}/runs': ['post'],
  '/api/workflows/{name}/runs/batch': ['post'],
  '/api/runs': ['get'],
  '/api/runs/{id}': ['get'],
  '/api/runs/{id}/history': ['get'],
  '/api/runs/{id}/cancel': ['post'],
  '/api/runs/{id}/retry': ['post'],
  '/api/runs/{id}/submit': ['post'],
  '/api/runs/{id}/confirm': ['post'],
  '/api/runs/{id}/diagnosis': ['get'],
  '/api/runs/{id}/repair': ['post'],
  '/api/runs/bulk': ['post'],
  '/api/operations/{id}': ['get'],
  '/api/workflows/{name}/migrations': ['post'],
  '/api/workflows/{name}/simulate': ['post'],
  '/api/tasks': ['get'],
  '/api/entries/{entryId}': ['get'],
  '/api/dataflows': ['get'],
  '/api/dataflows/{name}': ['put', 'get'],
  '/api/templates': ['get'],
  '/api/templates/{name}': ['put', 'get'],
  '/api/templates/{name}/file': ['get'],
  '/api/templates/{name}/preview': ['post'],
  '/api/me/notifications/{id}/attachments/{n}': ['get'],
  '/documents/{token}': ['get'],
  '/api/me/notifications': ['get'],
  '/api/me/notifications/stream': ['get'],
  '/api/me/notifications/{id}/read': ['post'],
  '/api/me': ['get'],
  '/api/step-types': ['get'],
  '/confirm/{token}': ['get', 'post'],
  '/healthz': ['get'],
  '/readyz': ['get'],
  '/metrics': ['get'],
  '/openapi.json': ['get'],
  '/admin/queues': ['get'],
  '/admin/login': ['get', 'post'],
  '/admin/logout': ['post'],
  '/builder': ['get'],
  '/runs': ['get'],
  '/tasks': ['get'],
  '/templates': ['get'],
};

const PUBLIC = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/confirm/{token}', '/documents/{token}'];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Resolves a local JSON pointer ("#/components/schemas/X") in the document. */
function resolve(pointer: string): unknown {
  if (!pointer.startsWith('#/')) return undefined;
  return pointer
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, key) => (node && typeof node === 'object' ? node[key] : undefined), doc);
}

function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refsIn(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

const schemaOf = (s: any) => (s?.$ref ? resolve(s.$ref) : s) as any;

describe('openApiDocument', () => {
  it('is OpenAPI 3.1 with info from package.json and a global bearer scheme', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'stageflow', version: pkg.version });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('is built once and is JSON-serialisable', () => {
    expect(openApiDocument()).toBe(doc);
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it('has every path and method of the README table, and no others', () => {
    for (const [path, methods] of Object.entries(README_TABLE)) {
      expect(doc.paths[path], path).toBeDefined();
      expect(
        Object.keys(doc.paths[path])
          .filter((k) => METHODS.includes(k))
          .sort(),
        path,
      ).toEqual([...methods].sort());
    }
    expect(Object.keys(doc.paths).sort()).toEqual(Object.keys(README_TABLE).sort());
  });

  it('needs the bearer key everywhere but the public endpoints', () => {
    for (const path of PUBLIC) for (const op of Object.values<any>(doc.paths[path])) expect(op.security, path).toEqual([]);
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries<any>(item)) {
        expect(op.security, `${method} ${path}`).toBeUndefined();
        expect(op.responses['401'], `${method} ${path}`).toEqual({ $ref: '#/components/responses/Unauthorized' });
      }
    }
  });

  it('describes the start request from StartBody, StartQuery and the Idempotency-Key header', () => {
    const op = doc.paths['/api/workflows/{name}/runs'].post;
    const body = schemaOf(op.requestBody.content['application/json'].schema);
    expect(body.type).toBe('object');
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.model.type).toBe('object');
    expect(body.properties.callbackUrl).toMatchObject({ type: 'string', maxLength: 2048 });
    expect(body.properties.entryId.pattern).toBeTypeOf('string');
    expect(body.required ?? []).toEqual([]);
    const params = Object.fromEntries(op.parameters.map((p: any) => [`${p.in}:${p.name}`, p]));
    expect(params['path:name']).toMatchObject({ required: true, schema: { type: 'string' } });
    expect(params['query:wait']).toMatchObject({ required: false, schema: { type: 'integer', minimum: 0, maximum: 60000 } });
    expect(params['header:Idempotency-Key']).toMatchObject({ required: false, schema: { type: 'string' } });
    expect(Object.keys(op.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '403', '404', '409', '413', '415', '429']),
    );
  });

  it('takes list query parameters from ListRunsQuery', () => {
    const params = Object.fromEntries(doc.paths['/api/runs'].get.parameters.map((p: any) => [p.name, p]));
    expect(Object.keys(params).sort()).toEqual(['cursor', 'entryId', 'limit', 'stageId', 'status', 'stepId', 'workflow']);
    expect(params.status.schema.enum).toEqual(['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft']);
    expect(params.limit.schema).toMatchObject({ type: 'integer', default: 50, maximum: 500 });
  });

  it('describes workflow definitions from the zod schema, with the step union hoisted into components', () => {
    const wf = schemaOf({ $ref: '#/components/schemas/WorkflowDefinition' });
    expect(wf).toMatchObject({ type: 'object', additionalProperties: false, required: ['name', 'stages'] });
    const stepRef = wf.properties.stages.items.properties.steps.items.$ref;
    expect(stepRef).toMatch(/^#\/components\/schemas\/WorkflowDefinition_/);
    const steps = schemaOf({ $ref: stepRef });
    const types = (steps.oneOf ?? steps.anyOf).map((s: any) => s.properties.type.const);
    expect(types).toEqual(expect.arrayContaining(['sendNotification', 'updateModelField']));
    // PUT takes the name from the URL.
    const put = schemaOf(doc.paths['/api/workflows/{name}'].put.requestBody.content['application/json'].schema);
    expect(put.required).toEqual(['stages']);
    const df = schemaOf(doc.paths['/api/dataflows/{name}'].put.requestBody.content['application/json'].schema);
    for (const branch of df.oneOf) expect(branch.required).not.toContain('name');
  });

  it('answers errors with the shared Problem schema', () => {
    const problem = doc.components.schemas.Problem;
    expect(Object.keys(problem.properties).sort()).toEqual(['detail', 'errors', 'status', 'title', 'type']);
    expect(schemaOf(problem.properties.errors.items).required).toEqual(['path', 'message']);
    const used = new Set<string>();
    for (const item of Object.values<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) {
        for (const [status, resp] of Object.entries<any>(op.responses)) {
          if (!resp.$ref?.startsWith('#/components/responses/')) continue;
          expect((resolve(resp.$ref) as any).content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
          used.add(status);
        }
      }
    }
    expect([...used]).toEqual(expect.arrayContaining(['400', '401', '403', '404', '409', '413', '415', '429']));
  });

  it('is structurally sound: refs resolve, path templates have path parameters, no zod leftovers', () => {
    for (const r of refsIn(doc)) expect(resolve(r), r).toBeDefined();
    const text = JSON.stringify(doc);
    expect(text).not.toContain('#/$defs/');
    expect(text).not.toContain('"$schema"');
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries<any>(item)) {
        expect(op.summary, `${method} ${path}`).toBeTypeOf('string');
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual([...names].sort());
        for (const p of op.parameters ?? []) expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
      }
    }
  });
});

describe('documented failure modes', () => {
  const ops = Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    Object.entries<any>(item).map(([method, op]) => ({ path, method, op })),
  );

  it('every operation lists 500, and 503 unless it never needs Redis; both as problem+json', () => {
    expect(ops.length).toBeGreaterThan(30);
    for (const { path, method, op } of ops) {
      expect(op.responses['500'], `${method} ${path}`).toEqual({ $ref: '#/components/responses/InternalServerError' });
      if (NEVER_503.has(path)) continue;
      const r503 = op.responses['503'];
      expect(r503, `${method} ${path}`).toBeDefined();
      if (path !== '/readyz') expect(r503, `${method} ${path}`).toEqual({ $ref: '#/components/responses/ServiceUnavailable' });
    }
    expect((resolve('#/components/responses/InternalServerError') as any).content['application/problem+json']).toBeDefined();
    expect([...NEVER_503].sort()).toEqual(['/admin/login', '/builder', '/healthz', '/metrics', '/openapi.json', '/runs', '/tasks']);
  });

  it('every rate-limited (/api) operation lists 429', () => {
    for (const { path, method, op } of ops.filter((o) => o.path.startsWith('/api/'))) {
      expect(op.responses['429'], `${method} ${path}`).toEqual({ $ref: '#/components/responses/TooManyRequests' });
    }
  });

  it('the suite-wide response check matches concrete paths to their operation', () => {
    expect(operationOf('POST', '/api/workflows/validate')?.template).toBe('/api/workflows/validate');
    expect(operationOf('GET', '/api/workflows/validate')?.template).toBe('/api/workflows/{name}');
    expect(operationOf('POST', '/api/runs/0190-abc/cancel?x=1')?.template).toBe('/api/runs/{id}/cancel');
    expect(operationOf('GET', '/nowhere')).toBeUndefined();
    expect(undocumented('GET', '/api/runs/abc', 404)).toBeUndefined();
    expect(undocumented('GET', '/api/runs/abc', 418)).toMatch(/answered 418, which get \/api\/runs\/\{id\} does not document/);
    expect(undocumented('DELETE', '/api/runs/abc', 405)).toBeUndefined(); // no such operation: not the document's concern
  });
});

describe('every served route is declared', () => {
  /** method + path of every express route of `app`, with mount prefixes (Bull Board's own routes excluded). */
  function served(app: any): string[] {
    const out: string[] = [];
    const walk = (stack: any[], prefix: string) => {
      for (const layer of stack) {
        const paths: string[] = [layer.route?.path ?? layer.rawPath ?? ''].flat();
        for (const p of paths) {
          const full = prefix + (p === '/' ? '' : p);
          if (layer.route) {
            for (const m of Object.keys(layer.route.methods)) out.push(`${m} ${(full || '/').replace(/:(\w+)/g, '{$1}')}`);
          } else if (layer.handle?.stack && full !== BOARD_PATH) walk(layer.handle.stack, full);
        }
      }
    };
    walk(app.router.stack, '');
    return [...new Set(out)];
  }

  function stageflowApp() {
    const noop = new Proxy({}, { get: () => () => undefined });
    return createApp({
      engine: noop as never,
      principals: PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test'),
      log: createLogger({ level: 'silent' }),
      dataflows: noop as never,
      infra: {
        rateLimitStore: () => new MemoryStore(),
        authFailures: { read: async () => ({ count: 0, ttlMs: 0 }), hit: async () => ({ count: 0, ttlMs: 0 }) },
        board: (_req, _res, next) => next(),
        linkSecret: async () => 'secret',
        metrics: { scrape: async () => ({ contentType: 'text/plain', body: '' }) },
      },
      // Mounts the template, inbox and document routes; nothing is called while listing them.
      notify: { templates: { maxBytes: 1024 }, inbox: noop, feed: noop, documents: noop, documentLinks: noop } as never,
    });
  }

  // Declared routes, with those served but deliberately left out of the document (the web pages' other shells, the icon).
  const declared = new Set(declaredRoutes().map((r) => `${r.method} ${r.path}`));
  const documented = new Set(Object.entries<any>(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`)));
  const undeclared = (routes: string[]) => routes.filter((r) => !declared.has(r));

  it('documents every declared route but the hidden ones', () => {
    for (const r of declaredRoutes()) expect(documented.has(`${r.method} ${r.path}`), `${r.method} ${r.path}`).toBe(!r.hidden);
  });

  it('finds the app routes, and every one is in the document', () => {
    const routes = served(stageflowApp());
    expect(routes).toEqual(
      expect.arrayContaining([
        'get /api/runs/{id}',
        'post /confirm/{token}',
        'get /healthz',
        'post /admin/login',
        'get /api/me/notifications',
      ]),
    );
    expect(undeclared(routes)).toEqual([]);
  });

  it('a route registered on express without a declaration fails the check', () => {
    const app = express();
    const api = Router();
    api.get('/runs/:id', () => undefined);
    api.get('/runs/:id/forgotten', () => undefined);
    app.use('/api', api);
    expect(undeclared(served(app))).toEqual(['get /api/runs/{id}/forgotten']);
  });
});
