import { z } from 'zod';
import { Identifier } from '../definition/ids.ts';
import { FORBIDDEN_SEGMENTS, getPath } from '../definition/paths.ts';
import { FieldPath, WaitMs } from './params.ts';
import { NonRetryableError, type FieldWrite, type StepType } from './types.ts';

export const ExecuteDataflowParams = z.object({
  dataflow: Identifier,
  /** Field passed as the dataflow input; the whole model when absent. */
  input: FieldPath.optional(),
  /** Where the result goes; merged into the model when absent. */
  resultField: FieldPath.optional(),
  /** Replaces the common step timeout: a child workflow may legitimately run for days. */
  timeoutMs: WaitMs.optional(),
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** A shallow merge as one write per top-level key; keys that are not a single safe path segment are refused. */
function mergeWrites(dataflow: string, result: unknown): FieldWrite[] {
  if (!isPlainObject(result)) {
    throw new NonRetryableError(
      `dataflow ${dataflow} returned ${describe(result)}, which cannot be merged into the model; set resultField to store it in a field`,
    );
  }
  return Object.entries(result).map(([key, value]) => {
    if (key === '' || key.includes('.') || FORBIDDEN_SEGMENTS.has(key)) {
      throw new NonRetryableError(
        `dataflow ${dataflow} returned the key ${JSON.stringify(key)}, which cannot be merged into the model; set resultField to store the result in a field`,
      );
    }
    return { path: key, value };
  });
}

export const executeDataflowStep: StepType<typeof ExecuteDataflowParams> = {
  type: 'executeDataflow',
  group: 'Integrations',
  ownTimeout: true,
  description: 'Runs a registered dataflow and waits for its result.',
  params: ExecuteDataflowParams,
  fieldPaths: (p) => [p.input, p.resultField].filter((path): path is string => path !== undefined),
  references: (p) => [{ kind: 'dataflow', name: p.dataflow, path: 'dataflow' }],
  execute: async (ctx) => {
    const p = ctx.params;
    const input = p.input !== undefined ? getPath(ctx.model, p.input) : ctx.model;
    const outcome = await ctx.services.dataflows.run(p.dataflow, input, {
      effectKey: ctx.effectKey,
      runId: ctx.runId,
      stepId: ctx.stepId,
      seq: ctx.seq,
      attempt: ctx.attempt,
      signal: ctx.signal,
      ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
    });
    if (outcome.kind === 'child') {
      // The step's timeoutMs is the child's deadline: the engine fails the step and cancels the child then.
      const timeoutAt = p.timeoutMs ? Date.now() + p.timeoutMs : undefined;
      return {
        outcome: { kind: 'wait', reason: 'child', detail: { childRunId: outcome.childRunId, ...(timeoutAt ? { timeoutAt } : {}) } },
        detail: { dataflow: p.dataflow, childRunId: outcome.childRunId },
      };
    }
    const writes = p.resultField !== undefined ? [{ path: p.resultField, value: outcome.value }] : mergeWrites(p.dataflow, outcome.value);
    return { writes, outcome: { kind: 'next' }, detail: { dataflow: p.dataflow } };
  },
};
