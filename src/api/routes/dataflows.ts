/**
 * /api/dataflows: register, read and test dataflows (DESIGN §6). Managing dataflows is for
 * `admin` and `designer` (DESIGN §7): a definition names URLs the workers will call and may hold
 * credentials in its headers, so other principals get 403 on every route here.
 *
 * POST /{name}/test {input} runs a registered dataflow once, outside any run, so a designer can
 * see what it answers before a workflow depends on it. Each test gets a fresh effect key (a test
 * is never a repeat of another). A `workflow` dataflow starts a run of its target workflow (as
 * the caller, who must be allowed to start it) and waits briefly for it to settle.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { callHttpDataflow } from '../../dataflows/http.ts';
import { callModuleDataflow, ModuleLoader } from '../../dataflows/module.ts';
import { DataflowDefinition, HttpDataflow, ModuleDataflow, WorkflowDataflow } from '../../dataflows/registry.ts';
import { designs } from '../../definition/access.ts';
import { EngineError } from '../../engine/errors.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import type { DataflowRegistryPort, RunService } from '../ports.ts';
import { DataflowTestResult, itemsOf, SavedDataflowShape } from '../responses.ts';
import { Routes } from '../route.ts';
import { Name } from '../schemas.ts';

export interface DataflowDeps {
  registry: DataflowRegistryPort;
  engine: Pick<RunService, 'startRun'>;
  authz: Authz;
  moduleDir?: URL;
}

/** PUT takes the name from the URL: the body may leave it out (a different one is a 400). */
export const DataflowDefinitionBody = z.discriminatedUnion('kind', [
  HttpDataflow.partial({ name: true }),
  ModuleDataflow.partial({ name: true }),
  WorkflowDataflow.partial({ name: true }),
]);
/** What the route checks itself: an object; the registry validates the definition (InvalidDataflowError is `invalid`). */
const DataflowBody = z.looseObject({ name: z.unknown().optional() });
export const DataflowTestBody = z.strictObject({ input: z.unknown().optional().meta({ description: 'the input the dataflow gets' }) });
/** How long a `workflow` test waits for the child run to settle before answering with its id only. */
const WORKFLOW_WAIT_MS = 3000;

const ByName = z.object({ name: Name });
const tags = ['dataflows'];
const refuse = () => new EngineError('forbidden', 'managing dataflows needs the designer or admin role');

export const dataflowRoutes = new Routes<DataflowDeps>('/api/dataflows')
  // Reading counts as managing here: definitions may hold credentials.
  .use(() => (_req, res, next) => (designs(principalOf(res)) ? next() : next(refuse())))
  .add(
    {
      method: 'get',
      path: '/api/dataflows',
      summary: 'List dataflows (admin, designer)',
      tags,
      responses: { 200: itemsOf(DataflowDefinition) },
      problems: [403],
    },
    ({ registry }) =>
      async (_input, _req, res) => {
        res.json({ items: await registry.list() });
      },
  )
  .add(
    {
      method: 'put',
      path: '/api/dataflows/{name}',
      summary: 'Register or replace a dataflow (admin, designer)',
      tags,
      params: ByName,
      body: DataflowBody,
      bodyDoc: { required: true, content: { 'application/json': DataflowDefinitionBody } },
      responses: {
        200: {
          description: 'replaced or unchanged',
          content: { 'application/json': z.object({ ...SavedDataflowShape, definition: DataflowDefinition }) },
        },
        201: {
          description: 'created',
          content: { 'application/json': z.object({ ...SavedDataflowShape, definition: DataflowDefinition }) },
        },
      },
      problems: [403],
    },
    ({ registry }) =>
      async ({ params: { name }, body }, _req, res) => {
        if (body.name !== undefined && body.name !== name) {
          throw new EngineError('invalid', 'the body names another dataflow than the URL', [
            { path: '$.name', message: `must be "${name}" (the name in the URL)` },
          ]);
        }
        const saved = await registry.put({ ...body, name });
        const definition = await registry.get(name);
        res.status(saved.created ? 201 : 200).location(`/api/dataflows/${name}`);
        res.json({ name, created: saved.created, changed: saved.changed, definition });
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/dataflows/{name}',
      summary: 'Read a dataflow (admin, designer)',
      tags,
      params: ByName,
      responses: { 200: DataflowDefinition },
      problems: [400, 403, 404],
    },
    ({ registry }) =>
      async ({ params: { name } }, _req, res) => {
        const def = await registry.get(name);
        if (!def) throw new EngineError('not_found', `no dataflow named ${name}`);
        res.json(def);
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/dataflows/{name}/test',
      summary: 'Run a dataflow once outside any run (admin, designer)',
      description:
        'http and module dataflows answer {kind, result, durationMs}; a workflow dataflow starts a run of its workflow and answers {kind, runId, status, model} after up to 3 s.',
      tags,
      params: ByName,
      body: DataflowTestBody,
      bodyRequired: false,
      responses: { 200: DataflowTestResult },
      problems: [403, 404, 502],
    },
    ({ registry, engine, authz, moduleDir }) => {
      const modules = new ModuleLoader(moduleDir);
      return async ({ params: { name }, body: { input } }, _req, res) => {
        const def = await registry.get(name);
        if (!def) throw new EngineError('not_found', `no dataflow named ${name}`);
        if (def.kind === 'workflow') {
          await authz.workflow(principalOf(res), def.workflow, 'start');
          const model =
            input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : { input };
          const { run: settled } = await engine.startRun(def.workflow, { model }, { by: principalOf(res).id, waitMs: WORKFLOW_WAIT_MS });
          return res.json({
            kind: 'workflow',
            runId: settled.id,
            status: settled.status,
            ...(settled.status === 'running' ? {} : { model: settled.model }),
          });
        }
        const ctx = {
          runId: `test-${randomUUID()}`,
          stepId: 'test',
          seq: 0,
          attempt: 1,
          effectKey: `dataflow-test:${randomUUID()}`,
          signal: AbortSignal.timeout(60_000),
        };
        const started = Date.now();
        let result: unknown;
        try {
          result =
            def.kind === 'http'
              ? await callHttpDataflow(def, input ?? null, ctx)
              : await callModuleDataflow(def, input ?? null, ctx, modules);
        } catch (err) {
          // The dataflow's own failure is the answer to the test, not a server error.
          throw new EngineError('upstream', `dataflow ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        res.json({ kind: def.kind, result, durationMs: Date.now() - started });
      };
    },
  );
