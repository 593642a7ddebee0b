import { z } from 'zod';
import { Identifier } from '../definition/ids.ts';
import { FORBIDDEN_SEGMENTS, getPath } from '../definition/paths.ts';
import { FieldPath, WaitMs } from './params.ts';
import type { RunError, Wait } from '../engine/types.ts';
import { NonRetryableError, type FieldWrite, type StepType, type WaitKind } from './types.ts';

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

/**
 * A shallow merge as one write per top-level key; keys that are not a single safe path segment are
 * refused. The one guard for every result merged into the model: a dataflow's value, a child run's model.
 */
export function mergeWrites(dataflow: string, result: unknown): FieldWrite[] {
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

/** A parent waiting for its child run (its deadline, if any, is the envelope's timeoutAt). */
export interface ChildWait extends Wait {
  kind: 'child';
  childRunId: string;
}

/**
 * The child-run wait of a `workflow` dataflow: the parent resumes when its child ends, with the
 * child's final model stored in resultField or merged (under the same guard as a dataflow's
 * value), or fails when the child fails or outlives the step's timeoutMs (the child is cancelled then).
 */
export const childRunWait: WaitKind<z.infer<typeof ExecuteDataflowParams>, ChildWait> = {
  kind: 'child',
  label: 'a child run',
  async park(host, { runId, stepId, seq, detail }) {
    const d = (detail ?? {}) as { childRunId?: string; timeoutAt?: number };
    if (!d.childRunId) throw new Error(`step ${stepId} waits for a child run without its id`);
    if (d.timeoutAt) await host.scheduleTimeout(runId, seq, d.timeoutAt);
    return { kind: 'child', stepId, seq, childRunId: d.childRunId, ...(d.timeoutAt ? { timeoutAt: d.timeoutAt } : {}) };
  },
  async expire(host, { run, wait }) {
    const error: RunError = {
      code: 'CHILD_RUN_TIMEOUT',
      stepId: wait.stepId,
      message: `child run ${wait.childRunId} did not end within the step's timeoutMs`,
    };
    const events = [{ type: 'child.timedOut', stepId: wait.stepId, detail: { childRunId: wait.childRunId } }];
    if (await host.resume(run, { error, events })) await host.cancelRun(wait.childRunId);
  },
  async resume(host, { run, wait, params }, cause) {
    if (cause.kind !== 'childEnded') return;
    const child = cause.child;
    const events = [{ type: 'child.ended', stepId: wait.stepId, detail: { childRunId: child.id, status: child.status } }];
    if (child.status !== 'completed') {
      const error: RunError = {
        code: `CHILD_RUN_${child.status.toUpperCase()}`,
        stepId: wait.stepId,
        message: `child run ${child.id} ended ${child.status}${child.error ? `: ${child.error.message}` : ''}`,
      };
      await host.resume(run, { error, events });
      return;
    }
    let writes: FieldWrite[];
    try {
      writes =
        params.resultField !== undefined ? [{ path: params.resultField, value: child.model }] : mergeWrites(params.dataflow, child.model);
    } catch (err) {
      if (!(err instanceof NonRetryableError)) throw err;
      await host.resume(run, { error: { code: 'NON_RETRYABLE', stepId: wait.stepId, message: err.message }, events });
      return;
    }
    await host.resume(run, { writes, events });
  },
  children: (wait) => [wait.childRunId],
  describe({ wait, child, stepName, since, at }) {
    const childWords = !child
      ? ''
      : 'missing' in child
        ? ` The child run ${child.runId} no longer exists; the reconciler resumes the parent.`
        : ` The child: ${child.summary}`;
    return {
      details: [
        `Child run ${wait.childRunId}.`,
        ...(wait.timeoutAt ? [`The step fails and cancels the child at ${at(wait.timeoutAt)} if it has not ended.`] : []),
      ],
      summary: `Waiting since ${at(since)} for child run ${wait.childRunId} at ${stepName}.${childWords}`,
    };
  },
};

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
  wait: childRunWait,
};
