/**
 * GET /openapi.json: an OpenAPI 3.1 description of the HTTP API (DESIGN §6), generated from the
 * route declarations (src/api/route.ts): their request schemas, their response schemas per status
 * and the problems they answer. Built once, on first use.
 *
 * Schemas render with zod's own z.toJSONSchema. Named components (RunView, Problem, the
 * definitions…) are referenced wherever they occur; zod puts other shared and recursive parts
 * (the step union, JSON values) under `$defs` with `#/$defs/…` references, which in an OpenAPI
 * document would resolve against the document root, so they are hoisted into
 * `components.schemas` as `<Component>_<def>` and the references rewritten.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataflowDefinition } from '../dataflows/registry.ts';
import { WorkflowDefinition } from '../definition/schema.ts';
import {
  ConfirmResult,
  DiagnosisView,
  EntryView,
  HistoryEvent,
  OperationView,
  RunErrorView,
  RunPage,
  RunStatusSchema,
  RunView,
  TaskView,
} from '../engine/run-view.ts';
import { TemplateInput, TemplateMeta } from '../notify/templates.ts';
import { webPageRoutes } from '../web/routes.ts';
import { adminRoutes } from './admin-session.ts';
import * as R from './responses.ts';
import { Routes, type ResponseSpec, type RouteSpec } from './route.ts';
import { DataflowDefinitionBody, dataflowRoutes } from './routes/dataflows.ts';
import { documentRoutes } from './routes/documents.ts';
import { healthRoutes } from './routes/health.ts';
import { linkRoutes } from './routes/links.ts';
import { meRoutes } from './routes/me.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { principalRoutes, whoamiRoutes } from './routes/principals.ts';
import { entryRoutes, operationRoutes, runRoutes, taskRoutes } from './routes/runs.ts';
import { stepTypeRoutes } from './routes/step-types.ts';
import { PreviewInput, templateRoutes } from './routes/templates.ts';
import { StoredWorkflow, WorkflowDefinitionBody, workflowRoutes } from './routes/workflows.ts';
import {
  BatchStartBody,
  BatchStartItem,
  BulkBody,
  ConfirmBody,
  EmptyBody,
  MigrationBody,
  Model,
  RetryBody,
  SimulateBody,
  StartBody,
  SubmitBody,
} from './schemas.ts';

type Json = Record<string, unknown>;

/** Schemas that become named components; any occurrence of one is a `$ref` to it. */
const COMPONENTS: Record<string, z.ZodType> = {
  Problem: R.Problem,
  FieldProblem: R.FieldProblem,
  RunStatus: RunStatusSchema,
  RunError: RunErrorView,
  RunView,
  RunPage,
  HistoryEvent,
  TaskView,
  Entry: EntryView,
  ConfirmResult,
  Diagnosis: DiagnosisView,
  Operation: OperationView,
  WorkflowDefinition,
  WorkflowDefinitionBody,
  DataflowDefinition,
  DataflowDefinitionBody,
  StoredWorkflow,
  TemplateInput,
  TemplateMeta,
  PreviewInput,
  StartBody,
  BatchStartBody,
  BatchStartItem,
  BatchStartResult: R.BatchStartResult,
  RetryBody,
  SubmitBody,
  ConfirmBody,
  EmptyBody,
  BulkBody,
  MigrationBody,
  SimulateBody,
  ValidationResult: R.ValidationResult,
  SavedWorkflow: R.SavedWorkflow,
  WorkflowSummary: R.WorkflowSummary,
  WorkflowVersion: R.WorkflowVersion,
  BulkDryRun: R.BulkDryRun,
  BulkAccepted: R.BulkAccepted,
  MigrationReport: R.MigrationReport,
  SimulationResult: R.SimulationResult,
  TemplateSummary: R.TemplateSummary,
  StoredTemplate: R.StoredTemplate,
  InboxItem: R.InboxItem,
  InboxPage: R.InboxPage,
  Me: R.Me,
  StepTypeInfo: R.StepTypeInfo,
  Readiness: R.Readiness,
};
const componentName = new Map<z.ZodType, string>(Object.entries(COMPONENTS).map(([name, schema]) => [schema, name]));
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every route group the app mounts; a group served but missing here fails test/unit/openapi.test.ts. */
export const ROUTE_GROUPS: Routes<never>[] = [
  healthRoutes,
  metricsRoutes,
  linkRoutes,
  documentRoutes,
  whoamiRoutes,
  stepTypeRoutes,
  workflowRoutes,
  runRoutes,
  operationRoutes,
  entryRoutes,
  taskRoutes,
  dataflowRoutes,
  principalRoutes,
  templateRoutes,
  meRoutes,
  adminRoutes,
  webPageRoutes,
] as unknown as Routes<never>[];

/** GET /openapi.json itself. */
export const openApiRoutes = new Routes('').add(
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tags: ['operations'],
    access: 'open',
    responses: { 200: OpenApiDoc() },
  },
  () => (_input, _req, res) => {
    res.json(openApiDocument());
  },
);
function OpenApiDoc() {
  return z.record(z.string(), z.unknown()).meta({ description: 'OpenAPI 3.1' });
}

/** Bull Board is a mounted app with its own routes (src/api/bull-board.ts): documented as its entry page. */
const BOARD: RouteSpec[] = [
  {
    method: 'get',
    path: '/admin/queues',
    summary: 'Bull Board (admin only)',
    tags: ['admin'],
    access: 'admin',
    responses: { 200: R.text('the board'), 303: R.empty('a browser without a session: on to /admin/login') },
    problems: [401, 403, 429],
  },
];

/** Every declared route, documented or not. */
export function declaredRoutes(): RouteSpec[] {
  return [...ROUTE_GROUPS.flatMap((g) => g.specs), ...openApiRoutes.specs, ...BOARD];
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

const PROBLEMS: Record<number, [string, string]> = {
  400: ['BadRequest', 'invalid input; `errors` names each bad field'],
  401: ['Unauthorized', 'no or an unknown bearer key'],
  403: ['Forbidden', 'the caller may not do this'],
  404: ['NotFound', 'no such resource (or one the caller may not read)'],
  409: ['Conflict', 'the resource is not in a state that allows this'],
  410: ['Gone', 'the link or the document has expired'],
  413: ['ContentTooLarge', 'the body is larger than the limit'],
  415: ['UnsupportedMediaType', 'unsupported body encoding or charset'],
  429: [
    'TooManyRequests',
    'the per-principal rate limit, or the per-address limit of failed authentications, is exceeded; see Retry-After',
  ],
  500: ['InternalServerError', 'an unexpected error (the server log has the details); safe to retry idempotent calls'],
  502: ['BadGateway', 'the dataflow under test failed; `detail` says how'],
  503: ['ServiceUnavailable', 'the store (Redis) or the stream is unavailable; see Retry-After'],
};
const problemRef = (status: number): Json => ({ $ref: `#/components/responses/${PROBLEMS[status]![0]}` });

function build(): Json {
  const schemas: Record<string, Json> = {};

  /** JSON Schema (2020-12, as OpenAPI 3.1 uses it) of what a zod schema accepts; `$defs` are hoisted under `prefix_`. */
  const render = (schema: z.ZodType, prefix: string): Json => {
    const own = componentName.get(schema);
    if (own && own !== prefix) return ensure(own);
    const defName = (name: string) => `${prefix}_${name.replace(/^_+/, '')}`; // zod's __schema0 → Prefix_schema0
    const raw = z.toJSONSchema(schema, {
      io: 'input',
      unrepresentable: 'any',
      override: (ctx) => {
        const named = componentName.get(ctx.zodSchema as unknown as z.ZodType);
        if (named && (ctx.zodSchema as unknown) !== schema) {
          ensure(named);
          for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Json)[key];
          Object.assign(ctx.jsonSchema, ref(named));
        }
        // A model is checked as unknown first (for __proto__), then piped into a record: as input it
        // would render as {}, though only a JSON object passes.
        if ((ctx.zodSchema as unknown) === Model) Object.assign(ctx.jsonSchema, { type: 'object', description: 'a JSON object' });
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
    if (isObject($defs)) for (const [name, def] of Object.entries($defs)) schemas[defName(name)] = rewrite(def) as Json;
    return rewrite(rest) as Json;
  };
  const ensure = (name: string): Json => {
    if (!schemas[name]) {
      schemas[name] = {}; // reserved first: a recursive schema refers back to itself
      let out = render(COMPONENTS[name]!, name);
      if (name === 'WorkflowDefinitionBody' || name === 'DataflowDefinitionBody') out = nameFromUrl(out);
      schemas[name] = out;
    }
    return ref(name);
  };
  const content = (c: Record<string, z.ZodType | Json | null>, prefix: string): Json =>
    Object.fromEntries(
      Object.entries(c).map(([media, s]) => [media, s === null ? {} : { schema: s instanceof z.ZodType ? render(s, prefix) : s }]),
    );

  const paths: Record<string, Record<string, Json>> = {};
  for (const spec of declaredRoutes()) {
    if (spec.hidden) continue;
    const id = operationId(spec);
    const parameters: Json[] = [];
    const addParams = (schema: z.ZodObject | undefined, where: 'path' | 'query' | 'header') => {
      if (!schema) return;
      const rendered = render(schema, `${id}_${where}`);
      const props = isObject(rendered.properties) ? rendered.properties : {};
      const required = Array.isArray(rendered.required) ? rendered.required : [];
      for (const [name, value] of Object.entries(props)) {
        const { description, ...s } = value as Json;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || required.includes(name),
          schema: s,
          ...(description ? { description } : {}),
        });
      }
    };
    addParams(spec.params, 'path');
    addParams(spec.query, 'query');
    addParams(spec.headers, 'header');

    const body =
      spec.bodyDoc ??
      (spec.body
        ? {
            required: spec.bodyRequired ?? !(spec.body as z.ZodType).safeParse({}).success,
            content: { 'application/json': spec.body as z.ZodType },
          }
        : undefined);
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(spec.responses)) responses[status] = response(r as ResponseSpec, `${id}_${status}`);
    const access = spec.access ?? 'api';
    const problems = [
      ...(spec.problems ?? []),
      ...(body && access === 'api' ? [400, 413, 415] : []),
      ...(access === 'api' ? [401, 429] : []),
      500,
      ...(NEVER_503.has(spec.path) ? [] : [503]),
    ];
    for (const status of problems) responses[String(status)] ??= problemRef(status);
    const op: Json = {
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: spec.tags,
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: { required: body.required, content: content(body.content, `${id}_body`) } } : {}),
      responses,
      ...(access === 'open' ? { security: [] } : access === 'admin' ? { security: [{ bearer: [] }, { adminSession: [] }] } : {}),
    };
    (paths[spec.path] ??= {})[spec.method] = op;
  }

  function response(r: ResponseSpec, prefix: string): Json {
    if (r instanceof z.ZodType) return { description: 'OK', content: { 'application/json': { schema: render(r, prefix) } } };
    return { description: r.description, ...(r.content ? { content: content(r.content, prefix) } : {}) };
  }

  ensure('Problem');
  const responses = Object.fromEntries(
    Object.values(PROBLEMS).map(([name, description]) => [
      name,
      { description, content: { 'application/problem+json': { schema: ref('Problem') } } },
    ]),
  );
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

/** post /api/runs/{id}/cancel → post_api_runs_id_cancel (prefixes of inline schemas). */
function operationId(spec: RouteSpec): string {
  return `${spec.method}${spec.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+/g, '_')}`.replace(/_+$/, '');
}

/** The body may leave `name` out: the URL names the resource (a different one is a 400). */
function nameFromUrl(schema: Json): Json {
  const drop = (s: Json): Json => (Array.isArray(s.required) ? { ...s, required: s.required.filter((r) => r !== 'name') } : s);
  return Array.isArray(schema.oneOf) ? { ...schema, oneOf: schema.oneOf.map((s) => (isObject(s) ? drop(s) : s)) } : drop(schema);
}

let cached: Json | undefined;

/** The OpenAPI 3.1 document, built on first use. */
export function openApiDocument(): object {
  cached ??= build();
  return cached;
}
