/**
 * What callers see of runs (DESIGN §6): zod schemas of the run view and the other read models the
 * API answers with, and `view()`, which derives a RunView from run state and its plan. The
 * TypeScript types are `z.infer` of these schemas, and the OpenAPI document renders the same
 * schemas (src/api/openapi.ts), so the document cannot drift from what the engine returns.
 */
import { z } from 'zod';
import type { Plan } from '../definition/plan.ts';
import { getWaitKind, waitKinds } from '../steps/registry.ts';
import { RUN_STATUSES, type RunState, type Wait } from './types.ts';

const IsoTime = z.string().meta({ format: 'date-time' });
const ModelObject = z.record(z.string(), z.unknown()).meta({ description: 'a JSON object' });

export const RunStatusSchema = z.enum(RUN_STATUSES as unknown as ['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft']);

export const RunErrorView = z.object({
  message: z.string(),
  stepId: z.string().optional(),
  attempt: z.int().optional(),
  code: z.string().optional(),
});

export const ConfirmationPolicy = z.union([z.enum(['any', 'all']), z.object({ quorum: z.int() })]);

const RunViewBase = z.object({
  id: z.string(),
  workflow: z.string(),
  version: z.int(),
  status: RunStatusSchema,
  seq: z.int(),
  stage: z.object({ id: z.string(), name: z.string(), index: z.int(), count: z.int() }).nullable(),
  step: z.object({ id: z.string(), type: z.string(), name: z.string() }).nullable(),
  model: ModelObject,
  entry: z.object({ id: z.string(), version: z.int() }),
  error: RunErrorView.optional(),
  outcome: z.string().optional(),
  startedBy: z.string().optional(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});

/** Each wait kind's run-view field (WaitKind.view, e.g. `confirmation`), present while a run waits on it. */
const waitViewFields = Object.fromEntries(
  Object.values(waitKinds).flatMap((k) => (k.view ? [[k.view.field, k.view.schema.optional()] as const] : [])),
);

export const RunView = RunViewBase.extend(waitViewFields).meta({ id: 'RunView' });
export type RunView = z.infer<typeof RunViewBase> & { [waitField: string]: unknown };

export const RunPage = z
  .object({ items: z.array(RunView), nextCursor: z.string().optional().meta({ description: 'pass as `cursor` for the next page' }) })
  .meta({ id: 'RunPage' });
export type RunPage = z.infer<typeof RunPage>;

export const HistoryEvent = z
  .object({
    seq: z.int(),
    at: IsoTime,
    type: z.string(),
    stepId: z.string().optional(),
    attempt: z.int().optional(),
    durationMs: z.number().optional(),
    by: z.string().optional(),
    detail: z.unknown().optional(),
  })
  .meta({ id: 'HistoryEvent' });
export type HistoryEvent = z.infer<typeof HistoryEvent>;

export const TaskView = z
  .object({
    runId: z.string(),
    workflow: z.string(),
    version: z.int(),
    stepId: z.string(),
    stepName: z.string(),
    seq: z.int(),
    options: z.array(z.string()),
    policy: ConfirmationPolicy,
    timeoutAt: IsoTime.optional(),
    createdAt: IsoTime,
    model: ModelObject,
  })
  .meta({ id: 'TaskView' });
export type TaskView = z.infer<typeof TaskView>;

export const EntryView = z
  .object({ id: z.string(), version: z.int(), model: ModelObject, updatedAt: IsoTime, workflow: z.string().optional() })
  .meta({ id: 'Entry' });
export type EntryView = z.infer<typeof EntryView>;

export const ConfirmResult = z.object({ resolved: z.boolean(), run: RunView }).meta({ id: 'ConfirmResult' });

/** `waiting-<kind>` for each wait kind (src/engine/diagnose.ts), then the states of the engine's own. */
const DIAGNOSIS_STATES: [string, ...string[]] = [
  'resuming',
  ...Object.keys(waitKinds).map((kind) => `waiting-${kind}`),
  'retry-delayed',
  'active',
  'stalled',
  'queued',
  'no-job',
  'job-failed',
  'finished',
];

export const DiagnosisView: z.ZodType = z
  .object({
    runId: z.string(),
    status: RunStatusSchema,
    state: z.enum(DIAGNOSIS_STATES),
    summary: z.string().meta({ description: 'what the run waits for and what happens next, in plain words' }),
    details: z.array(z.string()),
    since: IsoTime.optional(),
    until: IsoTime.optional(),
    job: z
      .object({
        id: z.string(),
        state: z.string(),
        attemptsMade: z.int(),
        attemptsStarted: z.int(),
        delayUntil: IsoTime.optional(),
        lastError: z.string().optional(),
        worker: z.string().optional(),
        lockExpiresAt: IsoTime.optional(),
        queuePosition: z.int().optional(),
      })
      .optional(),
    repairable: z.boolean().meta({ description: 'POST /api/runs/{id}/repair would re-add a missing job' }),
    repairAt: IsoTime.optional().meta({ description: 'about when the reconciler repairs it by itself' }),
    get child() {
      return z.union([DiagnosisView, z.object({ runId: z.string(), missing: z.literal(true) })]).optional();
    },
    callback: z.object({ pending: z.boolean(), attempts: z.int().optional(), lastError: z.string().optional() }).optional(),
  })
  .meta({ id: 'Diagnosis' });

export const OperationView = z
  .object({
    id: z.string(),
    action: z.enum(['cancel', 'retry', 'submit']),
    filter: z.record(z.string(), z.unknown()),
    by: z.string(),
    status: z.enum(['running', 'done']),
    total: z.int(),
    done: z.int(),
    failed: z.int(),
    skipped: z.int(),
    errors: z.array(z.object({ runId: z.string(), message: z.string() })),
    createdAt: IsoTime,
    finishedAt: IsoTime.optional(),
  })
  .meta({ id: 'Operation' });

export function view(run: RunState, plan: Plan | null): RunView {
  const step = run.stepId ? plan?.steps[run.stepId] : undefined;
  const stage = step && plan ? plan.stages[step.stageIndex] : undefined;
  return {
    id: run.id,
    workflow: run.workflow,
    version: run.version,
    status: run.status,
    seq: run.seq,
    stage: stage && plan ? { id: stage.id, name: stage.name, index: stage.index, count: plan.stages.length } : null,
    step: step ? { id: step.id, type: step.type, name: step.name } : null,
    model: run.model,
    entry: { id: run.entryId, version: run.entryVersion },
    ...(run.error ? { error: run.error } : {}),
    ...(run.status === 'waiting' && run.wait ? waitView(run.wait) : {}),
    ...(run.outcome ? { outcome: run.outcome } : {}),
    ...(run.startedBy ? { startedBy: run.startedBy } : {}),
    createdAt: new Date(run.createdAt).toISOString(),
    updatedAt: new Date(run.updatedAt).toISOString(),
  };
}

/** The run-view field the wait's kind shows (WaitKind.view), if any. */
function waitView(wait: Wait): Record<string, unknown> {
  const v = getWaitKind(wait.kind)?.view;
  return v ? { [v.field]: v.of(wait) } : {};
}
