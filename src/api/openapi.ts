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
import { RENDER_TYPES, TemplateInput, TemplateMeta, TemplateName } from '../notify/templates.ts';
import { PreviewInput } from './routes/templates.ts';
import { NotificationsQuery } from './routes/me.ts';
import {
  BulkBody,
  ConfirmBody,
  EmptyBody,
  EntryId,
  HistoryQuery,
  IdempotencyKey,
  LinkToken,
  ListRunsQuery,
  MigrationBody,
  Model,
  Name,
  OperationId,
  RetryBody,
  RunId,
  SimulateBody,
  StartBody,
  StartQuery,
  SubmitBody,
  TasksQuery,
  VersionQuery,
} from './schemas.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (items: Json): Json => ({ type: 'array', items });
const obj = (properties: Record<string, Json>, required: string[] = Object.keys(properties), extra: Json = {}): Json => ({
  type: 'object',
  properties,
  required,
  ...extra,
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
      else if (k === '$ref' && v === '#')
        out[k] = `#/components/schemas/${prefix}`; // recursion to the root
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
      name: key,
      in: 'query',
      required: required.includes(key),
      schema: value,
    }));
  };
  const pathParam = (name: string, schema: Json, description?: string): Json => ({
    name,
    in: 'path',
    required: true,
    schema,
    ...(description ? { description } : {}),
  });

  const workflowDefinition = zod(WorkflowDefinition, 'WorkflowDefinition');
  const dataflowDefinition = zod(DataflowDefinition, 'DataflowDefinition');

  const schemas: Record<string, Json> = {
    FieldProblem: obj({
      path: { type: 'string', description: 'JSON path of the bad field ($.stages[0].id), or a header name' },
      message: str,
    }),
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
    TemplateMeta: zod(TemplateMeta, 'TemplateMeta'),
    PreviewInput: zod(PreviewInput, 'PreviewInput'),
    StartBody: zod(StartBody, 'StartBody'),
    RetryBody: zod(RetryBody, 'RetryBody'),
    SubmitBody: zod(SubmitBody, 'SubmitBody'),
    ConfirmBody: zod(ConfirmBody, 'ConfirmBody'),
    EmptyBody: zod(EmptyBody, 'EmptyBody'),
    BulkBody: zod(BulkBody, 'BulkBody'),
    MigrationBody: zod(MigrationBody, 'MigrationBody'),
    SimulateBody: zod(SimulateBody, 'SimulateBody'),

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
          {
            stepId: str,
            options: arrayOf(str),
            policy: ref('ConfirmationPolicy'),
            routing: arrayOf(str),
            recipients: arrayOf(str),
            timeoutAt: dateTime,
          },
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
    RunPage: obj({ items: arrayOf(ref('RunView')), nextCursor: { type: 'string', description: 'pass as `cursor` for the next page' } }, [
      'items',
    ]),
    HistoryEvent: obj({ seq: int, at: dateTime, type: str, stepId: str, attempt: int, durationMs: int, by: str, detail: {} }, [
      'seq',
      'at',
      'type',
    ]),
    ConfirmResult: obj({ resolved: { type: 'boolean' }, run: ref('RunView') }),
    TaskView: obj(
      {
        runId: str,
        workflow: str,
        version: int,
        stepId: str,
        stepName: str,
        seq: int,
        options: arrayOf(str),
        policy: ref('ConfirmationPolicy'),
        timeoutAt: dateTime,
        createdAt: dateTime,
        model: { type: 'object' },
      },
      ['runId', 'workflow', 'version', 'stepId', 'stepName', 'seq', 'options', 'policy', 'createdAt', 'model'],
    ),
    Entry: obj({ id: str, version: int, model: { type: 'object' }, updatedAt: dateTime, workflow: str }, [
      'id',
      'version',
      'model',
      'updatedAt',
    ]),
    Issue: obj({ path: str, message: str }),
    ValidationResult: obj({ valid: { type: 'boolean' }, errors: arrayOf(ref('Issue')), warnings: arrayOf(ref('Issue')) }),
    SavedWorkflow: obj({ name: str, version: int, warnings: arrayOf(ref('Issue')) }),
    StoredWorkflow: obj({ name: str, version: int, latest: int, savedAt: dateTime, definition: ref('WorkflowDefinition') }),
    WorkflowSummary: obj({ name: str, title: str, latest: int, updatedAt: dateTime }, ['name', 'latest', 'updatedAt']),
    WorkflowVersion: obj({ version: int, savedAt: dateTime }),
    SavedDataflow: obj({ name: str, created: { type: 'boolean' }, changed: { type: 'boolean' }, definition: ref('DataflowDefinition') }),
    TemplateSummary: obj(
      {
        name: str,
        subject: str,
        renderType: { type: 'string', enum: [...RENDER_TYPES] },
        fileName: str,
        tags: { ...arrayOf(str), description: 'model field paths the tags read (loop children as list.field)' },
        file: obj({ size: int, sha256: str, contentType: str }),
        createdAt: dateTime,
        updatedAt: dateTime,
      },
      ['name', 'renderType', 'tags', 'createdAt', 'updatedAt'],
    ),
    StoredTemplate: obj(
      {
        name: str,
        subject: str,
        body: str,
        renderType: { type: 'string', enum: [...RENDER_TYPES] },
        fileName: str,
        tags: arrayOf(str),
        file: obj({ size: int, sha256: str, contentType: str }),
        createdAt: dateTime,
        updatedAt: dateTime,
      },
      ['name', 'renderType', 'tags', 'createdAt', 'updatedAt'],
    ),
    InboxAttachment: obj({ n: int, fileName: str, contentType: str, size: int, document: str }),
    InboxItem: obj(
      {
        id: str,
        at: dateTime,
        subject: str,
        body: str,
        format: { type: 'string', enum: ['text', 'html'] },
        read: { type: 'boolean' },
        data: { type: 'object' },
        attachments: arrayOf(ref('InboxAttachment')),
      },
      ['id', 'at', 'body', 'format', 'read', 'data'],
    ),
    InboxPage: obj({ items: arrayOf(ref('InboxItem')), unreadCount: int }),
    Me: obj(
      {
        id: str,
        roles: arrayOf(str),
        name: str,
        designer: { type: 'boolean', description: 'may save workflows, dataflows and templates' },
      },
      ['id', 'roles', 'designer'],
    ),
    StepTypeInfo: obj({
      type: str,
      group: str,
      description: str,
      schema: { type: 'object', description: "JSON Schema of the step's parameters; branch lists are {type: array, x-steps: true}" },
      common: { type: 'object', description: 'JSON Schema of the common step fields this type does not redefine' },
    }),
    // Operators' tools (src/engine/diagnose.ts, operations.ts, migrations.ts, simulate.ts).
    Diagnosis: obj(
      {
        runId: str,
        status: ref('RunStatus'),
        state: {
          type: 'string',
          enum: [
            'waiting-confirmation',
            'resuming',
            'waiting-child',
            'retry-delayed',
            'active',
            'stalled',
            'queued',
            'no-job',
            'job-failed',
            'finished',
          ],
        },
        summary: { type: 'string', description: 'what the run waits for and what happens next, in plain words' },
        details: arrayOf(str),
        since: dateTime,
        until: dateTime,
        job: obj(
          {
            id: str,
            state: str,
            attemptsMade: int,
            attemptsStarted: int,
            delayUntil: dateTime,
            lastError: str,
            worker: str,
            lockExpiresAt: dateTime,
            queuePosition: int,
          },
          ['id', 'state', 'attemptsMade', 'attemptsStarted'],
        ),
        repairable: { type: 'boolean', description: 'POST /api/runs/{id}/repair would re-add a missing job' },
        repairAt: { ...dateTime, description: 'about when the reconciler repairs it by itself' },
        child: { $ref: '#/components/schemas/Diagnosis', description: "the child run's own diagnosis" },
        callback: obj({ pending: { type: 'boolean' }, attempts: int, lastError: str }, ['pending']),
      },
      ['runId', 'status', 'state', 'summary', 'details', 'repairable'],
    ),
    BulkDryRun: obj({
      count: int,
      skipped: { ...int, description: 'matching runs the caller may not act on' },
      sample: arrayOf(ref('RunView')),
    }),
    BulkAccepted: obj({ operationId: str, created: { type: 'boolean', description: 'false: this request started the operation before' } }),
    Operation: obj(
      {
        id: str,
        action: { type: 'string', enum: ['cancel', 'retry', 'submit'] },
        filter: { type: 'object' },
        by: str,
        status: { type: 'string', enum: ['running', 'done'] },
        total: int,
        done: int,
        failed: int,
        skipped: int,
        errors: arrayOf(obj({ runId: str, message: str })),
        createdAt: dateTime,
        finishedAt: dateTime,
      },
      ['id', 'action', 'filter', 'by', 'status', 'total', 'done', 'failed', 'skipped', 'errors', 'createdAt'],
    ),
    MigrationReport: obj({
      dryRun: { type: 'boolean' },
      movable: int,
      moved: arrayOf(str),
      blocked: arrayOf(obj({ runId: str, reason: str })),
    }),
    SimulationResult: obj(
      {
        status: { type: 'string', enum: ['completed', 'failed', 'draft'] },
        outcome: str,
        path: arrayOf(obj({ stageId: str, stepId: str, type: str, modelAfter: { type: 'object' } })),
        model: { type: 'object' },
        effects: arrayOf(
          obj({
            stepId: str,
            kind: { type: 'string', enum: ['notification', 'dataflow', 'entrySave', 'confirmation'] },
            detail: { type: 'object' },
          }),
        ),
        notes: arrayOf(str),
        error: ref('RunError'),
      },
      ['status', 'path', 'model', 'effects', 'notes'],
    ),
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
    TooManyRequests: [
      429,
      'the per-principal rate limit, or the per-address limit of failed authentications, is exceeded; see Retry-After',
    ],
    InternalServerError: [500, 'an unexpected error (the server log has the details); safe to retry idempotent calls'],
    BadGateway: [502, 'the dataflow under test failed; `detail` says how'],
    ServiceUnavailable: [503, 'the store (Redis) or the stream is unavailable; see Retry-After'],
  } as const;
  const responses: Record<string, Json> = Object.fromEntries(
    Object.entries(problemStatuses).map(([name, [, description]]) => [
      name,
      { description, content: { 'application/problem+json': { schema: ref('Problem') } } },
    ]),
  );
  const byStatus = Object.fromEntries(
    Object.entries(problemStatuses).map(([name, [status]]) => [status, { $ref: `#/components/responses/${name}` }]),
  );

  const json = (schema: Json, description = 'OK'): Json => ({ description, content: { 'application/json': { schema } } });
  const html = (description: string): Json => ({ description, content: { 'text/html': { schema: str } } });
  const body = (schema: Json, required = true): Json => ({ required, content: { 'application/json': { schema } } });
  const problems = (...statuses: number[]): Record<string, Json> => Object.fromEntries(statuses.map((s) => [String(s), byStatus[s]!]));

  type Op = {
    summary: string;
    tags: string[];
    parameters?: Json[];
    requestBody?: Json;
    responses: Record<string, Json>;
    security?: Json[];
    description?: string;
  };
  /** An /api operation: bearer auth (global), rate limit, and the body errors when it takes one. */
  const api = (op: Op, ...statuses: number[]): Op => ({
    ...op,
    responses: { ...op.responses, ...problems(...statuses, ...(op.requestBody ? [400, 413, 415] : []), 401, 429) },
  });
  const open = (op: Op): Op => ({ ...op, security: [] });

  const wfName = pathParam('name', zod(Name, 'Name'), 'the workflow name');
  const runId = pathParam('id', zod(RunId, 'RunId'), 'the run id');
  const runOp = (summary: string, requestBody: Json, response: Json, description?: string): Op =>
    api(
      { summary, tags: ['runs'], parameters: [runId], requestBody, responses: { 200: response }, ...(description ? { description } : {}) },
      403,
      404,
      409,
    );

  const paths: Record<string, Record<string, Op>> = {
    '/api/workflows': {
      get: api({
        summary: 'List workflows the caller may read',
        tags: ['workflows'],
        responses: { 200: json(obj({ items: arrayOf(ref('WorkflowSummary')) })) },
      }),
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
          responses: {
            200: json(ref('SavedWorkflow'), 'unchanged: the same version'),
            201: json(ref('SavedWorkflow'), 'saved as a new version'),
          },
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
        400,
        404,
      ),
    },
    '/api/workflows/{name}/versions': {
      get: api(
        {
          summary: "List a workflow's versions",
          tags: ['workflows'],
          parameters: [wfName],
          responses: { 200: json(obj({ items: arrayOf(ref('WorkflowVersion')) })) },
        },
        400,
        404,
      ),
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
          responses: {
            200: json(ref('RunView'), 'the run this Idempotency-Key started'),
            201: json(ref('RunView'), 'started (settled when `wait` was given and it settled in time)'),
          },
        },
        403,
        404,
        409,
      ),
    },
    '/api/runs': {
      get: api(
        {
          summary: 'List runs, newest first',
          tags: ['runs'],
          parameters: queryParams(ListRunsQuery, 'ListRunsQuery'),
          responses: { 200: json(ref('RunPage')) },
        },
        400,
      ),
    },
    '/api/runs/{id}': {
      get: api({ summary: 'Read a run', tags: ['runs'], parameters: [runId], responses: { 200: json(ref('RunView')) } }, 400, 404),
    },
    '/api/runs/{id}/history': {
      get: api(
        {
          summary: "A run's ordered history (from event `from` on)",
          tags: ['runs'],
          parameters: [runId, ...queryParams(HistoryQuery, 'HistoryQuery')],
          responses: { 200: json(obj({ items: arrayOf(ref('HistoryEvent')) })) },
        },
        400,
        404,
      ),
    },
    '/api/runs/{id}/cancel': { post: runOp('Cancel a run', body(ref('EmptyBody'), false), json(ref('RunView'))) },
    '/api/runs/{id}/retry': { post: runOp('Retry a failed run', body(ref('RetryBody'), false), json(ref('RunView'))) },
    '/api/runs/{id}/submit': {
      post: runOp(
        'Resubmit a draft run',
        body(ref('SubmitBody'), false),
        json(ref('RunView')),
        'Whoever started the run may resubmit its draft; others need to operate it.',
      ),
    },
    '/api/runs/{id}/confirm': {
      post: runOp(
        'Answer a confirmation',
        body(ref('ConfirmBody')),
        json(ref('ConfirmResult')),
        '400: unknown option; 403: not routed to the caller; 409: nothing (left) to answer.',
      ),
    },
    '/api/runs/{id}/diagnosis': {
      get: api(
        {
          summary: 'Why the run is where it is and what happens next',
          tags: ['runs'],
          parameters: [runId],
          responses: { 200: json(ref('Diagnosis')) },
        },
        400,
        404,
      ),
    },
    '/api/runs/{id}/repair': {
      post: runOp(
        'Re-add the missing job of the current step now',
        body(ref('EmptyBody'), false),
        json(ref('Diagnosis')),
        '409: nothing to repair (the diagnosis says why).',
      ),
    },
    '/api/runs/bulk': {
      post: api(
        {
          summary: 'Cancel, retry or submit every matching run, in the background',
          description:
            'dryRun answers 200 with the count and a sample. Otherwise 202 with the operation id; the same Idempotency-Key (24 h), or the same body from the same caller within 60 s, answers the same operation.',
          tags: ['runs'],
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: zod(IdempotencyKey, 'IdempotencyKey') }],
          requestBody: body(ref('BulkBody')),
          responses: { 200: json(ref('BulkDryRun'), 'the dry run'), 202: json(ref('BulkAccepted'), 'started (or started before)') },
        },
        404,
        409,
      ),
    },
    '/api/operations/{id}': {
      get: api(
        {
          summary: "A bulk operation's progress",
          tags: ['runs'],
          parameters: [pathParam('id', zod(OperationId, 'OperationId'))],
          responses: { 200: json(ref('Operation')) },
        },
        400,
        404,
      ),
    },
    '/api/workflows/{name}/migrations': {
      post: api(
        {
          summary: 'Move parked runs (waiting, draft, failed) to another version',
          tags: ['workflows'],
          parameters: [wfName],
          requestBody: body(ref('MigrationBody')),
          responses: { 200: json(ref('MigrationReport')) },
        },
        403,
        404,
      ),
    },
    '/api/workflows/{name}/simulate': {
      post: api(
        {
          summary: 'Run a version with stubs and no side effects',
          tags: ['workflows'],
          parameters: [wfName],
          requestBody: body(ref('SimulateBody')),
          responses: { 200: json(ref('SimulationResult')) },
        },
        403,
        404,
      ),
    },
    '/api/tasks': {
      get: api(
        {
          summary: 'Confirmations waiting for the caller',
          tags: ['runs'],
          parameters: queryParams(TasksQuery, 'TasksQuery'),
          responses: { 200: json(obj({ items: arrayOf(ref('TaskView')) })) },
        },
        400,
      ),
    },
    '/api/entries/{entryId}': {
      get: api(
        {
          summary: 'The saved model and its version',
          tags: ['runs'],
          parameters: [pathParam('entryId', zod(EntryId, 'EntryId'))],
          responses: { 200: json(ref('Entry')) },
        },
        400,
        404,
      ),
    },
    '/api/dataflows': {
      get: api(
        {
          summary: 'List dataflows (admin, designer)',
          tags: ['dataflows'],
          responses: { 200: json(obj({ items: arrayOf(ref('DataflowDefinition')) })) },
        },
        403,
      ),
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
      get: api(
        {
          summary: 'Read a dataflow (admin, designer)',
          tags: ['dataflows'],
          parameters: [pathParam('name', zod(Name, 'Name'))],
          responses: { 200: json(ref('DataflowDefinition')) },
        },
        400,
        403,
        404,
      ),
    },
    '/api/dataflows/{name}/test': {
      post: api(
        {
          summary: 'Run a dataflow once outside any run (admin, designer)',
          description:
            'http and module dataflows answer {kind, result, durationMs}; a workflow dataflow starts a run of its workflow and answers {kind, runId, status, model} after up to 3 s.',
          tags: ['dataflows'],
          parameters: [pathParam('name', zod(Name, 'Name'))],
          requestBody: body(obj({ input: { description: 'the input the dataflow gets' } }), false),
          responses: {
            200: json(obj({ kind: str, result: {}, durationMs: int, runId: str, status: str, model: { type: 'object' } }, ['kind'])),
          },
        },
        403,
        404,
        502,
      ),
    },
    '/api/principals': {
      get: api(
        {
          summary: 'Principals and roles for pickers (admin, designer); never keys',
          tags: ['principals'],
          responses: {
            200: json(obj({ items: arrayOf(obj({ id: str, name: str, roles: arrayOf(str) }, ['id', 'roles'])), roles: arrayOf(str) })),
          },
        },
        403,
      ),
    },
    '/api/templates': {
      get: api({
        summary: 'List notification templates',
        tags: ['templates'],
        responses: { 200: json(obj({ items: arrayOf(ref('TemplateSummary')) })) },
      }),
    },
    '/api/templates/{name}': {
      put: api(
        {
          summary: 'Save a notification template (admin, designer)',
          tags: ['templates'],
          parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))],
          description:
            'JSON (`content`: a docx/xlsx file as base64, a pdf template as pdfmake JSON) or multipart/form-data with a `template` file part and a `meta` JSON part; files past TEMPLATE_MAX_BYTES are a 413. A template that does not parse is a 400 naming the tag and where.',
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('TemplateInput') },
              'multipart/form-data': {
                schema: obj({ meta: ref('TemplateMeta'), template: { type: 'string', contentMediaType: 'application/octet-stream' } }, [
                  'meta',
                ]),
              },
            },
          },
          responses: { 200: json(ref('StoredTemplate'), 'replaced or unchanged'), 201: json(ref('StoredTemplate'), 'created') },
        },
        403,
      ),
      get: api(
        {
          summary: 'Read a notification template (metadata and tags, not the file)',
          tags: ['templates'],
          parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))],
          responses: { 200: json(ref('StoredTemplate')) },
        },
        400,
        404,
      ),
    },
    '/api/templates/{name}/file': {
      get: api(
        {
          summary: 'Download the file a document template was registered with',
          tags: ['templates'],
          parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))],
          responses: {
            200: {
              description: 'the docx or xlsx file, or the pdf definition as JSON',
              content: { 'application/octet-stream': { schema: str } },
            },
          },
        },
        400,
        404,
      ),
    },
    '/api/templates/{name}/preview': {
      post: api(
        {
          summary: 'Render a template against a sample model (admin, designer)',
          tags: ['templates'],
          parameters: [pathParam('name', zod(TemplateName, 'TemplateName'))],
          requestBody: body(ref('PreviewInput')),
          responses: {
            200: {
              description: 'text/html templates: the subject and body; document templates: the rendered file',
              content: {
                'application/json': { schema: obj({ subject: str, body: str, format: str }, ['body', 'format']) },
                'application/octet-stream': { schema: str },
              },
            },
          },
        },
        403,
        404,
      ),
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
          parameters: [
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
              description: 'replay the items after this one first',
            },
          ],
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
    '/api/me/notifications/{id}/attachments/{n}': {
      get: api(
        {
          summary: "Download a document attached to one of the caller's notifications",
          description: 'Only the recipient finds the item: anyone else gets 404. 410 once the document expired with its run.',
          tags: ['me'],
          parameters: [
            pathParam('id', { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }),
            pathParam('n', { type: 'integer', minimum: 1 }),
          ],
          responses: {
            200: { description: 'the document', content: { 'application/octet-stream': { schema: str } } },
            410: { description: 'the document has expired' },
          },
        },
        404,
      ),
    },
    '/api/step-types': {
      get: api({
        summary: 'Step types with their parameters as JSON Schema',
        tags: ['workflows'],
        responses: { 200: json(arrayOf(ref('StepTypeInfo'))) },
      }),
    },
    '/confirm/{token}': {
      get: open({
        summary: 'Show what a signed answer link will do (never answers)',
        tags: ['links'],
        parameters: [pathParam('token', zod(LinkToken, 'LinkToken'))],
        responses: {
          200: html('a page with the answer form'),
          400: byStatus[400]!,
          403: html('the link is not valid or expired'),
          409: html('the link is already used, or its request is closed (the page says how, without a form)'),
        },
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
          200: {
            description: 'answered (JSON when asked for, else a page)',
            content: { 'application/json': { schema: ref('ConfirmResult') }, 'text/html': { schema: str } },
          },
          ...problems(400, 403, 404, 409),
        },
      }),
    },
    '/documents/{token}': {
      get: open({
        summary: 'Download a rendered document through a signed, expiring link (sent in webhook payloads)',
        tags: ['links'],
        parameters: [pathParam('token', { type: 'string' })],
        responses: {
          200: { description: 'the document', content: { 'application/octet-stream': { schema: str } } },
          403: { description: 'the link is not valid', content: { 'application/problem+json': { schema: ref('Problem') } } },
          410: { description: 'the link or the document has expired', content: { 'application/problem+json': { schema: ref('Problem') } } },
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
        responses: {
          303: { description: 'signed in: on to /admin/queues' },
          401: html('the key is not valid'),
          403: html('the key is not an admin key'),
          429: html('too many failed sign-ins from this address; see Retry-After'),
        },
      }),
    },
    '/admin/queues': {
      get: {
        summary: 'Bull Board (admin only)',
        tags: ['admin'],
        security: [{ bearer: [] }, { adminSession: [] }],
        responses: {
          200: html('the board'),
          303: { description: 'a browser without a session: on to /admin/login' },
          ...problems(401, 403, 429),
        },
      },
    },
    ...Object.fromEntries(
      ['/builder', '/runs', '/tasks', '/templates'].map((p) => [
        p,
        {
          get: open({
            summary: `The ${p.slice(1)} web page`,
            description: 'Static shell; its data comes from /api with the signed-in key.',
            tags: ['web'],
            responses: { 200: html('the page') },
          }),
        },
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

  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
    description?: string;
  };
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
export const NEVER_503: ReadonlySet<string> = new Set([
  '/healthz',
  '/openapi.json',
  '/admin/login',
  '/builder',
  '/runs',
  '/tasks',
  '/metrics',
]);

let cached: Json | undefined;

/** The OpenAPI 3.1 document, built on first use. */
export function openApiDocument(): object {
  cached ??= build();
  return cached;
}
