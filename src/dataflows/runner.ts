/**
 * The Dataflows service step handlers call (ctx.services.dataflows): looks the dataflow up in the
 * registry and runs it by kind. The `workflow` kind is delegated to the engine's `startChild`.
 */
import type { Logger } from 'pino';
import type { DataflowOutcome, Dataflows, EffectContext } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { callHttpDataflow, type HttpCallOptions } from './http.ts';
import { callModuleDataflow, ModuleLoader } from './module.ts';
import { StoredDataflowInvalidError, type DataflowDefinition, type DataflowRegistry } from './registry.ts';

export type DataflowRunContext = EffectContext & { timeoutMs?: number };

/** What `startChild` receives: the parent step's effect context (its effectKey makes the start idempotent). */
export type ChildStartContext = DataflowRunContext & { dataflow: string };

/**
 * Starts a child run of `workflow` with `input` as its model, idempotently on `ctx.effectKey`
 * (a retried or redelivered parent step must get the same child back).
 */
export type StartChild = (workflow: string, input: unknown, ctx: ChildStartContext) => Promise<{ childRunId: string }>;

export interface DataflowsOptions {
  registry: DataflowRegistry;
  /** Absent: `workflow` dataflows fail the step with a message saying so. */
  startChild?: StartChild;
  log: Logger;
  /** Where `module` dataflows live; workers/dataflows/ by default. */
  moduleDir?: URL;
  http?: Omit<HttpCallOptions, 'log'>;
}

export function createDataflows({ registry, startChild, log, moduleDir, http }: DataflowsOptions): Dataflows {
  const modules = new ModuleLoader(moduleDir);

  async function runByKind(def: DataflowDefinition, input: unknown, ctx: DataflowRunContext, dlog: Logger): Promise<DataflowOutcome> {
    switch (def.kind) {
      case 'http':
        return { kind: 'result', value: await callHttpDataflow(def, input, ctx, { ...http, log: dlog }) };
      case 'module':
        return { kind: 'result', value: await callModuleDataflow(def, input, ctx, modules) };
      case 'workflow': {
        if (!startChild)
          throw new NonRetryableError(`dataflow "${def.name}" starts a child workflow, which is not configured in this process`);
        const timeoutMs = ctx.timeoutMs ?? def.timeoutMs;
        const { childRunId } = await startChild(def.workflow, input, {
          ...ctx,
          dataflow: def.name,
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        });
        return { kind: 'child', childRunId };
      }
    }
  }

  return {
    async run(name: string, input: unknown, ctx: DataflowRunContext): Promise<DataflowOutcome> {
      let def: DataflowDefinition | null;
      try {
        def = await registry.get(name);
      } catch (err) {
        // A stored definition that no longer validates will not fix itself on retry; Redis trouble might.
        throw err instanceof StoredDataflowInvalidError ? new NonRetryableError(err.message) : err;
      }
      if (!def)
        throw new NonRetryableError(
          `dataflow "${name}" is not registered (PUT /api/dataflows/${name} or add config/dataflows/${name}.json)`,
        );
      const dlog = log.child({ dataflow: name, kind: def.kind, runId: ctx.runId, stepId: ctx.stepId, seq: ctx.seq, attempt: ctx.attempt });
      const started = Date.now();
      try {
        const outcome = await runByKind(def, input, ctx, dlog);
        dlog.debug({ durationMs: Date.now() - started, outcome: outcome.kind }, 'dataflow done');
        return outcome;
      } catch (err) {
        dlog.info({ err: err instanceof Error ? err.message : String(err), durationMs: Date.now() - started }, 'dataflow failed');
        throw err;
      }
    },
  };
}
