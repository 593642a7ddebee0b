/** /api/workflows: save, read, list and validate definitions; start runs. */
import { z } from 'zod';
import { designs } from '../../definition/access.ts';
import { WorkflowDefinition } from '../../definition/schema.ts';
import { EntryOwnedError, type FieldProblem } from '../../engine/errors.ts';
import { RunView } from '../../engine/run-view.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import type { LintOptions } from '../lint-options.ts';
import type { ApiEngine } from '../ports.ts';
import {
  BatchStartAnswer,
  type BatchStartResult,
  itemsOf,
  MigrationReport,
  SavedWorkflow,
  SimulationResult,
  ValidationResult,
  WorkflowSummary,
  WorkflowVersion,
} from '../responses.ts';
import { Routes } from '../route.ts';
import { parseInput, problemOf, TITLES } from '../problem.ts';
import {
  BatchStartBody,
  BatchStartItem,
  batchEnvelope,
  IdempotencyKey,
  MigrationBody,
  Name,
  SimulateBody,
  StartBody,
  StartQuery,
  VersionQuery,
} from '../schemas.ts';
import { fromZodError } from '../../definition/issues.ts';
import { bodyOf } from '../body.ts';

export interface WorkflowDeps {
  engine: ApiEngine;
  authz: Authz;
  lint: LintOptions;
  /** Most runs one batch start may hold (BATCH_START_MAX_RUNS). */
  batchMaxRuns: number;
}

const ByName = z.object({ name: Name.describe('the workflow name') });
const tags = ['workflows'];
/** The engine validates definitions itself (with lint warnings), so the body is documented here, not parsed. */
const definitionBody = (schema: z.ZodType) => ({ required: true, content: { 'application/json': schema } });
/** PUT takes the name from the URL: the body may leave it out. */
export const WorkflowDefinitionBody = WorkflowDefinition.partial({ name: true });

export const StoredWorkflow = z.object({
  name: z.string(),
  version: z.int(),
  latest: z.int(),
  savedAt: z.string().meta({ format: 'date-time' }),
  definition: WorkflowDefinition,
});

export const workflowRoutes = new Routes<WorkflowDeps>('/api/workflows')
  .add(
    {
      method: 'get',
      path: '/api/workflows',
      summary: 'List workflows the caller may read',
      tags,
      responses: { 200: itemsOf(WorkflowSummary) },
    },
    ({ engine, authz }) =>
      async (_input, _req, res) => {
        const caller = principalOf(res);
        const all = await engine.listWorkflows();
        const visible = designs(caller) ? all : await filterAsync(all, (w) => authz.readable(caller)({ workflow: w.name }));
        res.json({ items: visible });
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/workflows/validate',
      summary: 'Validate a workflow definition without saving it',
      description: 'Answers 200 with the errors and warnings for any JSON body; only a body that is not JSON is a 400.',
      tags,
      bodyDoc: definitionBody(WorkflowDefinition),
      responses: { 200: ValidationResult },
    },
    ({ engine, lint }) =>
      async (_input, req, res) => {
        const { valid, errors, warnings } = engine.validateWorkflow(req.body, await lint());
        res.json({ valid, errors, warnings });
      },
  )
  .add(
    {
      method: 'put',
      path: '/api/workflows/{name}',
      summary: 'Save a workflow definition as a new version',
      tags,
      params: ByName,
      bodyDoc: definitionBody(WorkflowDefinitionBody),
      responses: {
        200: { description: 'unchanged: the same version', content: { 'application/json': SavedWorkflow } },
        201: { description: 'saved as a new version', content: { 'application/json': SavedWorkflow } },
      },
      problems: [403],
    },
    ({ engine, authz, lint }) =>
      async ({ params: { name } }, req, res) => {
        authz.design(principalOf(res), 'workflows');
        const saved = await engine.saveWorkflow(name, req.body, await lint());
        res.status(saved.created ? 201 : 200).location(`/api/workflows/${name}?version=${saved.version}`);
        res.json({ name, version: saved.version, warnings: saved.warnings });
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/workflows/{name}',
      summary: 'Read a workflow (its latest version by default)',
      tags,
      params: ByName,
      query: VersionQuery,
      responses: { 200: StoredWorkflow },
      problems: [400, 404],
    },
    ({ engine, authz }) =>
      async ({ params: { name }, query }, _req, res) => {
        await authz.workflow(principalOf(res), name, 'read');
        res.json(await engine.getWorkflow(name, query.version));
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/workflows/{name}/versions',
      summary: "List a workflow's versions",
      tags,
      params: ByName,
      responses: { 200: itemsOf(WorkflowVersion) },
      problems: [400, 404],
    },
    ({ engine, authz }) =>
      async ({ params: { name } }, _req, res) => {
        await authz.workflow(principalOf(res), name, 'read');
        res.json({ items: await engine.workflowVersions(name) });
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/workflows/{name}/runs',
      summary: 'Start a run',
      description: 'The same Idempotency-Key answers the same run (200) for 24 h; the same key with a different body is a 409.',
      tags: ['runs'],
      params: ByName,
      query: StartQuery,
      headers: z.object({ 'Idempotency-Key': IdempotencyKey.optional() }),
      body: StartBody,
      responses: {
        200: { description: 'the run this Idempotency-Key started', content: { 'application/json': RunView } },
        201: { description: 'started (settled when `wait` was given and it settled in time)', content: { 'application/json': RunView } },
      },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params: { name }, query, headers, body }, _req, res) => {
        const caller = principalOf(res);
        await authz.workflow(caller, name, 'start');
        const { run, created } = await engine
          .startRun(name, body, { idempotencyKey: headers['Idempotency-Key'], by: caller.id, waitMs: query.wait })
          .catch(async (err: unknown) => {
            throw err instanceof EntryOwnedError ? await authz.entryRefusal(caller, err) : err;
          });
        res
          .status(created ? 201 : 200)
          .location(`/api/runs/${run.id}`)
          .json(run);
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/workflows/{name}/runs/batch',
      summary: 'Start many runs in one request',
      description:
        "Up to BATCH_START_MAX_RUNS (1000) runs of the workflow's latest version. The answer is 200 with one result per item, in order: " +
        '`201` started, `200` the run its `idempotencyKey` already started, or a 4xx problem for that item alone (its field paths under ' +
        '`$.runs[i]`). Each item is checked and created as a single start; the caller needs `start` on the workflow once.',
      tags: ['runs'],
      params: ByName,
      bodyDoc: { required: true, content: { 'application/json': BatchStartBody } },
      responses: { 200: BatchStartAnswer },
      problems: [400, 403, 404],
    },
    ({ engine, authz, batchMaxRuns }) =>
      async ({ params: { name } }, req, res) => {
        const caller = principalOf(res);
        // Only the envelope can refuse the whole batch; a bad item is that item's 400.
        const { runs } = parseInput(batchEnvelope(batchMaxRuns), bodyOf(req.body));
        await authz.workflow(caller, name, 'start');
        const results: Array<z.infer<typeof BatchStartResult> | undefined> = new Array(runs.length);
        const valid: Array<{ at: number; input: z.infer<typeof BatchStartItem> }> = [];
        runs.forEach((raw, at) => {
          const r = BatchStartItem.safeParse(raw);
          if (r.success) valid.push({ at, input: r.data });
          else results[at] = itemProblem(at, 400, 'the run is invalid', fromZodError(r.error, `$.runs[${at}]`));
        });
        const started = await engine.startRuns(
          name,
          valid.map(({ input: { idempotencyKey, ...input } }) => ({ input, idempotencyKey })),
          { by: caller.id },
        );
        await Promise.all(
          started.map(async (out, i) => {
            const at = valid[i]!.at;
            if (!('error' in out)) {
              results[at] = { status: out.created ? 201 : 200, run: out.run };
              return;
            }
            const err = out.error instanceof EntryOwnedError ? await authz.entryRefusal(caller, out.error) : out.error;
            const p = problemOf(err);
            // A bug or an outage is not one item's answer: the whole request fails as a single start would.
            if (!p || p.status >= 500) throw err;
            results[at] = itemProblem(at, p.status, p.detail, p.errors);
          }),
        );
        res.json({ items: results });
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/workflows/{name}/migrations',
      summary: 'Move parked runs (waiting, draft, failed) to another version',
      tags,
      params: ByName,
      body: MigrationBody,
      responses: { 200: MigrationReport },
      problems: [403, 404],
    },
    ({ engine, authz }) =>
      async ({ params: { name }, body }, _req, res) => {
        await authz.workflow(principalOf(res), name, 'operate');
        res.json(await engine.migrate(name, body, principalOf(res).id));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/workflows/{name}/simulate',
      summary: 'Run a version with stubs and no side effects',
      tags,
      params: ByName,
      body: SimulateBody,
      responses: { 200: SimulationResult },
      problems: [403, 404],
    },
    ({ engine, authz }) =>
      async ({ params: { name }, body }, _req, res) => {
        await authz.workflow(principalOf(res), name, 'start');
        res.json(await engine.simulate(name, body));
      },
  );

/** A refused item: its problem, with the field paths moved under the item ($.model → $.runs[3].model). */
function itemProblem(
  at: number,
  status: number,
  detail: string | undefined,
  errors: FieldProblem[] = [],
): z.infer<typeof BatchStartResult> {
  const under = (path: string) =>
    path === 'header.Idempotency-Key'
      ? `$.runs[${at}].idempotencyKey`
      : path.startsWith(`$.runs[${at}]`)
        ? path
        : path.replace(/^\$/, `$.runs[${at}]`);
  return {
    status,
    problem: {
      type: 'about:blank',
      status,
      title: TITLES[status] ?? 'Error',
      ...(detail ? { detail } : {}),
      errors: errors.map((e) => ({ ...e, path: under(e.path) })),
    },
  };
}

async function filterAsync<T>(items: T[], pred: (t: T) => Promise<boolean>): Promise<T[]> {
  const keep = await Promise.all(items.map(pred));
  return items.filter((_, i) => keep[i]);
}
