/**
 * POST /api/dataflows/{name}/test {input}: runs a registered dataflow once, outside any run, so a
 * designer can see what it answers before a workflow depends on it. Each test gets a fresh effect
 * key (a test is never a repeat of another). A `workflow` dataflow starts a run of its target
 * workflow (as the caller, who must be allowed to start it) and waits briefly for it to settle.
 */
import { randomUUID } from 'node:crypto';
import { EngineError } from '../../engine/errors.ts';
import { Router } from 'express';
import { z } from 'zod';
import type { DataflowRegistryPort, RunService } from '../ports.ts';
import { designs } from '../../definition/access.ts';
import { callHttpDataflow } from '../../dataflows/http.ts';
import { callModuleDataflow, ModuleLoader } from '../../dataflows/module.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import { bodyOf } from '../body.ts';
import { parseInput } from '../problem.ts';
import { Name } from '../schemas.ts';

export const DataflowTestBody = z.strictObject({ input: z.unknown().optional() });
/** How long a `workflow` test waits for the child run to settle before answering with its id only. */
const WORKFLOW_WAIT_MS = 3000;

export function dataflowTestRoutes(registry: DataflowRegistryPort, engine: RunService, authz: Authz, moduleDir?: URL): Router {
  const r = Router();
  const modules = new ModuleLoader(moduleDir);

  r.post('/:name/test', async (req, res) => {
    if (!designs(principalOf(res))) throw new EngineError('forbidden', 'managing dataflows needs the designer or admin role');
    const name = parseInput(Name, req.params.name, 'path.name');
    const { input } = parseInput(DataflowTestBody, bodyOf(req.body ?? {}));
    const def = await registry.get(name);
    if (!def) throw new EngineError('not_found', `no dataflow named ${name}`);
    if (def.kind === 'workflow') {
      await authz.workflow(principalOf(res), def.workflow, 'start');
      const model = input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : { input };
      const { run } = await engine.startRun(def.workflow, { model }, { by: principalOf(res).id });
      const settled = await engine.waitForSettle(run.id, WORKFLOW_WAIT_MS);
      return res.json({
        kind: 'workflow',
        runId: run.id,
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
    try {
      const result =
        def.kind === 'http' ? await callHttpDataflow(def, input ?? null, ctx) : await callModuleDataflow(def, input ?? null, ctx, modules);
      res.json({ kind: def.kind, result, durationMs: Date.now() - started });
    } catch (err) {
      // The dataflow's own failure is the answer to the test, not a server error.
      throw new EngineError('upstream', `dataflow ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return r;
}
