/**
 * GET /openapi.json: an OpenAPI 3.1 description of the HTTP API (DESIGN §6), with request bodies,
 * query and path parameters generated from the same zod schemas the routes validate with.
 * Responses without a zod schema (RunView, history, list pages…) are small hand-written JSON
 * Schemas mirroring the TypeScript types they come from. Built once, on first use.
 *
 * zod puts shared and recursive parts (the step union, JSON values) under `$defs` with
 * `#/$defs/…` references; in an OpenAPI document those would resolve against the document root,
 * so they are hoisted into `components.schemas` as `<Component>_<def>` and the references rewritten.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataflowDefinition } from '../dataflows/registry.ts';
import { WorkflowDefinition } from '../definition/schema.ts';
import { RUN_STATUSES } from '../engine/types.ts';
import { TemplateInput, TemplateName } from '../notify/templates.ts';
import { NotificationsQuery } from './routes/me.ts';
import {
  ConfirmBody, EmptyBody, EntryId, HistoryQuery, IdempotencyKey, LinkToken, ListRunsQuery, Model, Name, RetryBody, RunId, StartBody,
  StartQuery, SubmitBody, TasksQuery, VersionQuery,
} from './schemas.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (items: Json): Json => ({ type: 'array', items });
const obj = (properties: Record<string, Json>, required: string[] = Object.keys(properties), extra: Json = {}): Json => ({
  type: 'object', properties, required, ...extra,
});
const str: Json = { type: 'string' };
const int: Json = { type: 'integer' };
const dateTime: Json = { type: 'string', format: 'date-time' };

/** JSON Schema (2020-12, as OpenAPI 3.1 uses it) of what a zod schema accepts; `$defs` go to `defs` under `prefix_`. */
function fromZod(schema: z.ZodType, prefix: string, defs: Record<string, Json>): Json {
  const defName = (name: string) => `${prefix}_${name.replace(/^_+/, '')}`; // zod's __schema0 → Prefix_schema0
  const raw = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      // A model is checked as unknown first (for __proto__), then piped into a record: as input it
      // would render as {}, though only a JSON object passes.
      if (ctx.zodSchema === Model) Object.assign(ctx.jsonSchema, { type: 'object', description: 'a JSON object' });
    },
  }) as Json;
  const { $schema: _s, $defs, ...rest } = raw;
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (!isObject(node)) return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/')) out[k] = `#/components/schemas/${defName(v.slice(8))}`;
      else if (k === '$ref' && v === '#') out[k] = `#/components/schemas/${prefix}`; // recursion to the root
      else out[k] = rewrite(v);
    }
    return out;
  };
  if (isObject($defs)) for (const [name, def] of Object.entries($defs)) defs[defName(name)] = rewrite(def) as Json;
  return rewrite(rest) as Json;
}

/** The body may leave `name` out: the URL names the resource (a different one is a 400). */
function nameFromUrl(schema: Json): Json {
  const drop = (s: Json): Json => (Array.isArray(s.required) ? { ...s, required: s.required.filter((r) => r !== 'name') } : s);
  return Array.isArray(schema.oneOf) ? { ...schema, oneOf: schema.oneOf.map((s) => (isObject(s) ? drop(s) : s)) } : drop(schema);
}

function build(): Json {
  const defs: Record<string, Json> = {};
  const zod = (schema: z.ZodType, name: string) => fromZod(schema, name, defs);

  const queryParams = (schema: z.ZodType, name: string): Json[] => {
    const s = zod(schema, name);
    const required = Array.isArray(s.required) ? s.required : [];
    return Object.entries(isObject(s.properties) ? s.properties : {}).map(([key, value]) => ({
      name: key, in: 'query', required: required.includes(key), schema: value,
    }));
  };
  const pathParam = (name: string, schema: Json, description?: string): Json => ({
    name, in: 'path', required: true, schema, ...(description ? { description } : {}),
  });

  const workflowDefinition = zod(WorkflowDefinition, 'WorkflowDefinition');
  const dataflowDefinition = zod(DataflowDefinition, 'DataflowDefinition');

  const schemas: Record<string, Json> = {
    FieldProblem: obj({ path: { type: 'string', description: 'JSON path of the bad field ($.stages[0].id), or a header name' }, message: str }),
    Problem: obj(
      {
        type: { type: 'string', default: 'about:blank' },
        status: int,
        title: str,
        detail: str,
        errors: arrayOf(ref('FieldProblem')),
      },
      ['status', 'title'],
      { description: 'RFC 9457 problem details' },
    ),
    RunStatus: { type: 'string', enum: [...RUN_STATUSES] },
    WorkflowDefinition: workflowDefinition,
    WorkflowDefinitionBody: nameFromUrl(workflowDefinition),
    DataflowDefinition: dataflowDefinition,
    DataflowDefinitionBody: nameFromUrl(dataflowDefinition),
    TemplateInput: zod(TemplateInput, 'TemplateInput'),
    StartBody: zod(StartBody, 'StartBody'),
    RetryBody: zod(RetryBody, 'RetryBody'),
    SubmitBody: zod(SubmitBody, 'SubmitBody'),
    ConfirmBody: zod(ConfirmBody, 'ConfirmBody'),
    EmptyBody: zod(EmptyBody, 'EmptyBody'),

    // Hand-written: these mirror TypeScript types (src/engine/run-view.ts, types.ts, waits.ts…).
    RunError: obj({ message: str, stepId: str, attempt: int, code: str }, ['message']),
    RunView: obj(
      {
        id: str,
        workflow: str,
        version: int,
        status: ref('RunStatus'),
        seq: int,
        stage: { oneOf: [obj({ id: str, name: str, index: int, count: int }), { type: 'null' }] },
        step: { oneOf: [obj({ id: str, type: str, name: str }), { type: 'null' }] },
        model: { type: 'object' },
        entry: obj({ id: str, version: int }),
        error: ref('RunError'),
        confirmation: obj(
          { stepId: str, options: arrayOf(str), policy: ref('ConfirmationPolicy'), routing: arrayOf(str), recipients: arrayOf(str), timeoutAt: dateTime },
          ['stepId', 'options', 'policy', 'routing', 'recipients'],
        ),
        outcome: str,
        startedBy: str,
        createdAt: dateTime,
        updatedAt: dateTime,
      },
      ['id', 'workflow', 'version', 'status', 'seq', 'stage', 'step', 'model', 'entry', 'createdAt', 'updatedAt'],
    ),
    ConfirmationPolicy: { oneOf: [{ type: 'string', enum: ['any', 'all'] }, obj({ quorum: int })] },
    RunPage: obj({ items: arrayOf(ref('RunView')), nextCursor: { type: 'string', description: 'pass as `cursor` for the next page' } }, ['items']),
    HistoryEvent: obj({ seq: int, at: dateTime, type: str, stepId: str, attempt: int, durationMs: int, by: str, detail: {} }, ['seq', 'at', 'type']),
    ConfirmResult: obj({ resolved: { type: 'boolean' }, run: ref('RunView') }),
    TaskView: obj(
      { runId: str, workflow: str, version: int, stepId: str, stepName: str, seq: int, options: arrayOf(str), policy: ref('ConfirmationPolicy'), timeoutAt: dateTime, createdAt: dateTime, model: { type: 'object' } },
      ['runId', 'workflow', 'version', 'stepId', 'stepName', 'seq', 'options', 'policy', 'createdAt', 'model'],
    ),
    Entry: obj({ id: str, version: int, model: { type: 'object' }, updatedAt: dateTime, workflow: str }, ['id', 'version', 'model', 'updatedAt']),
    Issue: obj({ path: str, message: str }),
    ValidationResult: obj({ valid: { type: 'boolean' }, errors: arrayOf(ref('Issue')), warnings: arrayOf(ref('Issue')) }),
    SavedWorkflow: obj({ name: str, version: int, warnings: arrayOf(ref('Issue')) }),
    StoredWorkflow: obj({ name: str, version: int, latest: int, savedAt: dateTime, definition: ref('WorkflowDefinition') }),
    WorkflowSummary: obj({ name: str, title: str, latest: int, updatedAt: dateTime }, ['name', 'latest', 'updatedAt']),
    WorkflowVersion: obj({ version: int, savedAt: dateTime }),
    SavedDataflow: obj({ name: str, created: { type: 'boolean' }, changed: { type: 'boolean' }, definition: ref('DataflowDefinition') }),
    TemplateSummary: obj({ name: str, subject: str, renderType: { type: 'string', enum: ['text', 'html'] }, createdAt: dateTime, updatedAt: dateTime }, ['name', 'renderType', 'createdAt', 'updatedAt']),
    StoredTemplate: obj(
      { name: str, subject: str, body: str, renderType: { type: 'string', enum: ['text', 'html'] }, createdAt: dateTime, updatedAt: dateTime },
      ['name', 'body', 'renderType', 'createdAt', 'updatedAt'],
    ),
    InboxItem: obj(
      { id: str, at: dateTime, subject: str, body: str, format: { type: 'string', enum: ['text', 'html'] }, read: { type: 'boolean' }, data: { type: 'object' } },
      ['id', 'at', 'body', 'format', 'read', 'data'],
    ),
    InboxPage: obj({ items: arrayOf(ref('InboxItem')), unreadCount: int }),
    Me: obj({ id: str, roles: arrayOf(str), name: str, designer: { type: 'boolean', description: 'may save workflows, dataflows and templates' } }, ['id', 'roles', 'designer']),
    StepTypeInfo: obj({
      type: str,
      group: str,
      description: str,
      schema: { type: 'object', description: "JSON Schema of the step's parameters; branch lists are {type: array, x-steps: true}" },
      common: { type: 'object', description: 'JSON Schema of the common step fields this type does not redefine' },
    }),
    Readiness: obj({ status: { type: 'string', enum: ['ready', 'not ready'] }, redis: { type: 'boolean' }, workers: int }),
  };

  const problemStatuses = {
    BadRequest: [400, 'invalid input; `errors` names each bad field'],
    Unauthorized: [401, 'no or an unknown bearer key'],
    Forbidden: [403, 'the caller may not do this'],
    NotFound: [404, 'no such resource (or one the caller may not read)'],
    Conflict: [409, 'the resource is not in a state that allows this'],
    ContentTooLarge: [413, 'the body is larger than the limit'],
    UnsupportedMediaType: [415, 'unsupported body encoding or charset'],
    TooManyRequests: [429, 'the per-principal rate limit is exceeded'],
    InternalServerError: [500, 'an unexpected error (the server log has the details); safe to retry idempotent calls'],
    ServiceUnavailable: [503, 'the store (Redis) or the stream is unavailable; see Retry-After'],
  } as const;
  const responses: Record<string, Json> = Object.fromEntries(
    Object.entries(problemStatuses).map(([name, [, description]]) => [name, { description, content: { 'application/problem+json': { schema: ref('Problem') } } }]),
  );
  const byStatus = Object.fromEntries(Object.entries(problemStatuses).map(([name, [status]]) => [status, { $ref: `#/components/responses/${name}` }]));

  const json = (schema: Json, description = 'OK'): Json => ({ description, content: { 'application/json': { schema } } });
  const html = (description: string): Json => ({ description, content: { 'text/html': { schema: str } } });
  const body = (schema: Json, required = true): Json => ({ required, content: { 'application/json': { schema } } });
  const problems = (...statuses: number[]): Record<string, Json> => Object.fromEntries(statuses.map((s) => [String(s), byStatus[s]!]));

  type Op = { summary: string; tags: string[]; parameters?: Json[]; requestBody?: Json; responses: Record<string, Json>; security?: Json[]; description?: string };
  /** An /api operation: bearer auth (global), rate limit, and the body errors when it takes one. */
  const api = (op: Op, ...statuses: number[]): Op => ({
    ...op,
    responses: { ...op.responses, ...problems(...statuses, ...(op.requestBody ? [400, 413, 415] : []), 401, 429) },
  });
  const open = (op: Op): Op => ({ ...op, security: [] });

  const wfName = pathParam('name', zod(Name, 'Name'), 'the workflow name');
  const runId = pathParam('id', zod(RunId, 'RunId'), 'the run id');
  const runOp = (summary: string, requestBody: Json, response: Json, description?: string): Op =>
    api({ summary, tags: ['runs'], parameters: [runId], requestBody, responses: { 200: response }, ...(description ? { description } : {}) }, 403, 404, 409);

  const paths: Record<string, Record<string, Op>> = {
    '/api/workflows': {
      get: api({ summary: 'List workflows the caller may read', tags: ['workflows'], responses: { 200: json(obj({ items: arrayOf(ref('WorkflowSummary')) })) } }),
    },
    '/api/workflows/validate': {
      post: api({
        summary: 'Validate a workflow definition without saving it',
        description: 'Answers 200 with the errors and warnings for any JSON body; only a body that is not JSON is a 400.',
        tags: ['workflows'],
        requestBody: body(ref('WorkflowDefinition')),
        responses: { 200: json(ref('ValidationResult')) },
      }),
    },
    '/api/workflows/{name}': {
      put: api(
        {
          summary: 'Save a workflow definition as a new version',
          tags: ['workflows'],
          parameters: [wfName],
          requestBody: body(ref('WorkflowDefinitionBody')),
          responses: { 200: json(ref('SavedWorkflow'), 'unchanged: the same version'), 201: json(ref('SavedWorkflow'), 'saved as a new version') },
        },
        403,
      ),
      get: api(
        {
          summary: 'Read a workflow (its latest version by default)',
          tags: ['workflows'],
          parameters: [wfName, ...queryParams(VersionQuery, 'VersionQuery')],
          responses: { 200: json(ref('StoredWorkflow')) },
        },
        400, 404,
      ),
    },
    '/api/workflows/{name}/versions': {
      get: api({ summary: "List a workflow's versions", tags: ['workflows'], parameters: [wfName], responses: { 200: json(obj({ items: arrayOf(ref('WorkflowVersion')) })) } }, 400, 404),
    },
    '/api/workflows/{name}/runs': {
      post: api(
        {
          summary: 'Start a run',
          description: 'The same Idempotency-Key answers the same run (200) for 24 h; the same key with a different body is a 409.',
          tags: ['runs'],
          parameters: [
            wfName,
            ...queryParams(StartQuery, 'StartQuery'),
            { name: 'Idempotency-Key', in: 'header', required: false, schema: zod(IdempotencyKey, 'IdempotencyKey') },
          ],
          requestBody: body(ref('StartBody'), false),
          responses: { 200: json(ref('RunView'), 'the run this Idempotency-Key started'), 201: json(ref('RunView'), 'started (settled when `wait` was given and it settled in time)') },
        },
        403, 404, 409,
      ),
    },
    '/api/runs': {
      get: api({ summary: 'List runs, newest first', tags: ['runs'], parameters: queryParams(ListRunsQuery, 'ListRunsQuery'), responses: { 200: json(ref('RunPage')) } }, 400),
    },
    '/api/runs/{id}': {
      get: api({ summary: 'Read a run', tags: ['runs'], parameters: [runId], responses: { 200: json(ref('RunView')) } }, 400, 404),
    },
    '/api/runs/{id}/history': {
      get: api({ summary: "A run's ordered history (from event `from` on)", tags: ['runs'], parameters: [runId, ...queryParams(HistoryQuery, 'HistoryQuery')], responses: { 200: json(obj({ items: arrayOf(ref('HistoryEvent')) })) } }, 400, 404),
    },
    '/api/runs/{id}/cancel': { post: runOp('Cancel a run', body(ref('EmptyBody'), false), json(ref('RunView'))) },
    '/api/runs/{id}/retry': { post: runOp('Retry a failed run', body(ref('RetryBody'), false), json(ref('RunView'))) },
    '/api/runs/{id}/submit': {
      post: runOp('Resubmit a draft run', body(ref('SubmitBody'), false), json(ref('RunView')), 'Whoever started the run may resubmit its draft; others need to operate it.'),
    },
    '/api/runs/{id}/confirm': {
      post: runOp('Answer a confirmation', body(ref('ConfirmBody')), json(ref('ConfirmResult')), '400: unknown option; 403: not routed to the caller; 409: nothing (left) to answer.'),
    },
    '/api/tasks': {
      get: api({ summary: 'Confirmations waiting for the caller', tags: ['runs'], parameters: queryParams(TasksQuery, 'TasksQuery'), responses: { 200: json(obj({ items: arrayOf(ref('TaskView')) })) } }, 400),
    },
    '/api/entries/{entryId}': {
      get: api({ summary: 'The saved model and its version', tags: ['runs'], parameters: [pathParam('entryId', zod(EntryId, 'EntryId'))], responses: { 200: json(ref('Entry')) } }, 400, 404),
    },
    '/api/dataflows': {
      get: api({ summary: 'List dataflows (admin, designer)', tags: ['dataflows'], responses: { 200: json(obj({ items: arrayOf(ref('DataflowDefinition')) })) } }, 403),
    },
    '/api/dataflows/{name}': {
      put: api(
        {
          summary: 'Register or replace a dataflow (admin, designer)',
          tags: ['dataflows'],
          parameters: [pathParam('name', zod(Name, 'Name'))],
          requestBody: body(ref('DataflowDefinitionBody')),
          responses: { 200: json(ref('SavedDataflow'), 'replaced or unchanged'), 201: json(ref('SavedDataflow'), 'created') },
        },
        403,
      ),
      get: api({ summary: 'Read a dataflow (admin, designer)', tags: ['dataflows'], parameters: [pathParam('name', zod(Name, 'Name'))], responses: { 200: json(ref('DataflowDefinition')) } }, 400, 403, 404),
    },
    '/api/templates': {
      get: api({ summary: 'List notification templates', tags: ['templates'], responses: { 200: json(obj({ items: arrayOf(ref('TemplateSummary')) })) } }),
    },
    '/api/templates/{name}': {
      put: api(
        {
          summary: 'Save a notification template (admin, designer)',
          tags: ['templates'],
          parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))],
          requestBody: body(ref('TemplateInput')),
          responses: { 200: json(ref('StoredTemplate'), 'replaced or unchanged'), 201: json(ref('StoredTemplate'), 'created') },
        },
        403,
      ),
      get: api({ summary: 'Read a notification template', tags: ['templates'], parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))], responses: { 200: json(ref('StoredTemplate')) } }, 400, 404),
    },
    '/api/me': {
      get: api({ summary: 'Who the key belongs to', tags: ['me'], responses: { 200: json(ref('Me')) } }),
    },
    '/api/me/notifications': {
      get: api(
        {
          summary: "The caller's inbox, newest first",
          tags: ['me'],
          parameters: queryParams(NotificationsQuery, 'NotificationsQuery'),
          responses: { 200: json(ref('InboxPage')) },
        },
        400,
      ),
    },
    '/api/me/notifications/stream': {
      get: api(
        {
          summary: "Live feed of the caller's inbox (Server-Sent Events)",
          description: 'Each new item arrives as `event: notification` with the item as JSON data and its id as the event id.',
          tags: ['me'],
          parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, description: 'replay the items after this one first' }],
          responses: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: str } } } },
        },
        503,
      ),
    },
    '/api/me/notifications/{id}/read': {
      post: api(
        {
          summary: 'Mark a notification read',
          tags: ['me'],
          parameters: [pathParam('id', { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' })],
          requestBody: body(ref('EmptyBody'), false),
          responses: { 200: json(obj({ id: str, read: { type: 'boolean', const: true } })) },
        },
        404,
      ),
    },
    '/api/step-types': {
      get: api({ summary: 'Step types with their parameters as JSON Schema', tags: ['workflows'], responses: { 200: json(arrayOf(ref('StepTypeInfo'))) } }),
    },
    '/confirm/{token}': {
      get: open({
        summary: 'Show what a signed answer link will do (never answers)',
        tags: ['links'],
        parameters: [pathParam('token', zod(LinkToken, 'LinkToken'))],
        responses: { 200: html('a page with the answer form'), 400: byStatus[400]!, 403: html('the link is not valid or expired'), 409: html('the link is already used') },
      }),
      post: open({
        summary: 'Answer once through a signed link, as the principal it names',
        tags: ['links'],
        parameters: [pathParam('token', zod(LinkToken, 'LinkToken'))],
        requestBody: {
          required: false,
          content: { 'application/x-www-form-urlencoded': { schema: obj({ comment: { type: 'string', maxLength: 4000 } }, []) } },
        },
        responses: {
          200: { description: 'answered (JSON when asked for, else a page)', content: { 'application/json': { schema: ref('ConfirmResult') }, 'text/html': { schema: str } } },
          ...problems(400, 403, 404, 409),
        },
      }),
    },
    '/healthz': {
      get: open({ summary: 'Liveness', tags: ['operations'], responses: { 200: json(obj({ status: { type: 'string', const: 'ok' } })) } }),
    },
    '/readyz': {
      get: open({
        summary: 'Readiness: Redis answers and a worker heartbeat is fresh',
        tags: ['operations'],
        responses: {
          200: json(ref('Readiness'), 'ready'),
          503: json(ref('Readiness'), 'not ready'),
        },
      }),
    },
    '/metrics': {
      get: open({
        summary: 'Prometheus metrics',
        description: 'When METRICS_TOKEN is configured, send it as `Authorization: Bearer <METRICS_TOKEN>` (not an API key).',
        tags: ['operations'],
        responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: str } } }, 401: byStatus[401]! },
      }),
    },
    '/openapi.json': {
      get: open({ summary: 'This document', tags: ['operations'], responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } }),
    },
    '/admin/login': {
      get: open({ summary: 'Admin sign-in page', tags: ['admin'], responses: { 200: html('the sign-in form') } }),
      post: open({
        summary: 'Sign in with an admin key (sets a session cookie)',
        tags: ['admin'],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: obj({ key: str }) } } },
        responses: { 303: { description: 'signed in: on to /admin/queues' }, 401: html('the key is not valid'), 403: html('the key is not an admin key') },
      }),
    },
    '/admin/queues': {
      get: {
        summary: 'Bull Board (admin only)',
        tags: ['admin'],
        security: [{ bearer: [] }, { adminSession: [] }],
        responses: { 200: html('the board'), 303: { description: 'a browser without a session: on to /admin/login' }, ...problems(401, 403) },
      },
    },
    ...Object.fromEntries(
      ['/builder', '/runs', '/tasks'].map((p) => [
        p,
        { get: open({ summary: `The ${p.slice(1)} web page`, description: 'Static shell; its data comes from /api with the signed-in key.', tags: ['web'], responses: { 200: html('the page') } }) },
      ]),
    ),
  };
  // zod's hoisted $defs, collected while the schemas and parameters above were generated.
  Object.assign(schemas, defs);
  // Any operation can fail unexpectedly (500), and every one that needs Redis answers 503 while
  // it is down: /api through the rate limiter at least.
  for (const [path, item] of Object.entries(paths)) {
    for (const op of Object.values(item)) {
      op.responses['500'] ??= byStatus[500]!;
      if (!NEVER_503.has(path)) op.responses['503'] ??= byStatus[503]!;
    }
  }

  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string; description?: string };
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: { title: 'stageflow', version: pkg.version ?? '0.0.0', ...(pkg.description ? { description: pkg.description } : {}) },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      responses,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key from STAGEFLOW_API_KEYS' },
        adminSession: { type: 'apiKey', in: 'cookie', name: 'sf_admin', description: 'the session /admin/login sets' },
      },
    },
  };
}

/**
 * Paths that never answer 503: those that do not touch Redis (static pages, the admin sign-in
 * cookie, liveness, this document) and /metrics, which reports Redis down as stageflow_redis_up 0.
 */
export const NEVER_503: ReadonlySet<string> = new Set(['/healthz', '/openapi.json', '/admin/login', '/builder', '/runs', '/tasks', '/metrics']);

let cached: Json | undefined;

/** The OpenAPI 3.1 document, built on first use. */
export function openApiDocument(): object {
  cached ??= build();
  return cached;
}
