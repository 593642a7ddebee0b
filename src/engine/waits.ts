/**
 * Parked runs (DESIGN §5.5): what a waiting run waits for, and every event that resumes it —
 * an answer, a timeout, a child run's end. Each goes through a fenced transition at the seq the
 * run parked at, so racing answers or a redelivered timer resume a run exactly once.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PlanStep } from '../definition/plan.ts';
import { setPath } from '../definition/paths.ts';
import type { StepServices } from '../steps/services.ts';
import type { FieldWrite, Model, StepOutcome } from '../steps/types.ts';
import { EngineError } from './errors.ts';
import type { Keyspace } from './keyspace.ts';
import type { RunStore } from './run-store.ts';
import { modelOverBudget, type RunTransitions } from './run-transitions.ts';
import type { ConfirmationTask, NewHistoryEvent, RunError, RunState, Wait } from './types.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface Answerer {
  id: string;
  roles: readonly string[];
}

export interface TaskView {
  runId: string;
  workflow: string;
  version: number;
  stepId: string;
  stepName: string;
  seq: number;
  options: string[];
  policy: ConfirmationTask['policy'];
  timeoutAt?: string;
  createdAt: string;
  model: Model;
}

export const EVENTS_QUEUE = 'events';

export class Waits {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly runs: RunStore,
    private readonly transitions: RunTransitions,
    private readonly workflows: WorkflowStore,
    private readonly events: Queue,
    private readonly services: () => StepServices,
    private readonly log: Logger,
    private readonly modelMaxBytes: number,
    /** Cancels a child run its parent gave up on. */
    private readonly cancelChild: (childRunId: string) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Called before the step's parking commit: everything here is idempotent (task index entries,
   * timers with deterministic ids), so a commit that never happens leaves only no-ops behind.
   */
  async park(run: RunState, step: PlanStep, waitSeq: number, outcome: Extract<StepOutcome, { kind: 'wait' }>): Promise<Wait> {
    const detail = (outcome.detail ?? {}) as { task?: ConfirmationTask; childRunId?: string; timeoutAt?: number };
    if (outcome.reason === 'child' && detail.childRunId) {
      if (detail.timeoutAt) await this.scheduleTimeout(run.id, waitSeq, detail.timeoutAt);
      return {
        kind: 'child',
        stepId: step.id,
        seq: waitSeq,
        childRunId: detail.childRunId,
        ...(detail.timeoutAt ? { timeoutAt: detail.timeoutAt } : {}),
      };
    }
    if (outcome.reason !== 'confirmation' || !detail.task) throw new Error(`step ${step.id} waits for an unknown reason ${outcome.reason}`);
    const task = detail.task;
    const member = `${run.id} ${waitSeq}`;
    const pipe = this.redis.pipeline();
    for (const ref of new Set([...task.routing, ...task.recipients])) pipe.zadd(this.keys.tasks(ref), Date.now(), member);
    await pipe.exec();
    if (task.timeoutAt) await this.scheduleTimeout(run.id, waitSeq, task.timeoutAt);
    if (task.reminderMs) await this.scheduleReminder(run.id, waitSeq, 1, task.reminderMs);
    return { kind: 'confirmation', stepId: step.id, seq: waitSeq, task };
  }

  private scheduleTimeout(runId: string, seq: number, at: number) {
    return this.events.add(
      'wait-timeout',
      { runId, seq },
      { jobId: timeoutJobId(runId, seq), delay: Math.max(0, at - Date.now()), ...EVENT_JOB },
    );
  }

  private scheduleReminder(runId: string, seq: number, n: number, delay: number) {
    return this.events.add('wait-reminder', { runId, seq, n }, { jobId: `${runId}-remind-${seq}-${n}`, delay, ...EVENT_JOB });
  }

  /** An answer from a principal (API key or signed link). */
  async answer(runId: string, who: Answerer, option: string, comment?: string): Promise<'resolved' | 'recorded'> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    const wait = run.wait;
    if (run.status !== 'waiting' || wait?.kind !== 'confirmation')
      throw new EngineError('conflict', `run ${runId} is not waiting for a confirmation`);
    if (!this.services().directory.matches(who, wait.task.routing)) {
      throw new EngineError('forbidden', `this confirmation is not routed to ${who.id}`);
    }
    if (!wait.task.options.includes(option)) {
      throw new EngineError('invalid', `"${option}" is not one of the options`, [
        { path: '$.option', message: `must be one of ${wait.task.options.join(', ')}` },
      ]);
    }
    const event: NewHistoryEvent = {
      type: 'confirmation.answered',
      stepId: wait.stepId,
      by: who.id,
      detail: { option, ...(comment ? { comment } : {}) },
    };
    const res = await this.transitions.recordWaitAnswer(runId, wait.seq, { by: who.id, option, comment, event });
    if (res === 'not_waiting' || res === 'resolved_before')
      throw new EngineError('conflict', `the confirmation of run ${runId} was already decided`);
    if (res === 'already_answered') throw new EngineError('conflict', `${who.id} has already answered this confirmation`);
    if (res === 'recorded') return 'recorded';
    await this.finish(runId);
    return 'resolved';
  }

  /** Timer: the wait's deadline passed without a decision (a confirmation's or a child run's timeoutMs). */
  async expire(runId: string, seq: number): Promise<void> {
    const run = await this.runs.get(runId);
    notParkedYet(run, seq);
    const wait = run?.wait;
    if (run?.status !== 'waiting' || run.seq !== seq) return;
    if (wait?.kind === 'child') {
      const error: RunError = {
        code: 'CHILD_RUN_TIMEOUT',
        stepId: wait.stepId,
        message: `child run ${wait.childRunId} did not end within the step's timeoutMs`,
      };
      if (
        await this.resume(run, {
          error,
          events: [{ type: 'child.timedOut', stepId: wait.stepId, detail: { childRunId: wait.childRunId } }],
        })
      ) {
        await this.cancelChild(wait.childRunId);
      }
      return;
    }
    if (wait?.kind !== 'confirmation') return;
    const onTimeout = wait.task.onTimeout ?? 'fail';
    const event: NewHistoryEvent = { type: 'confirmation.timedOut', stepId: wait.stepId, by: 'system', detail: { onTimeout } };
    const error: RunError | undefined =
      onTimeout === 'fail'
        ? { code: 'CONFIRMATION_TIMEOUT', stepId: wait.stepId, message: `no decision within the step's timeoutMs` }
        : undefined;
    const res = await this.transitions.forceWaitOutcome(runId, seq, {
      by: 'system:timeout',
      option: onTimeout === 'fail' ? undefined : onTimeout.option,
      event,
      error,
    });
    if (res === 'resolved') await this.finish(runId);
  }

  /** Timer: re-notify the recipients who have not answered yet, then schedule the next reminder. */
  async remind(
    runId: string,
    seq: number,
    n: number,
    notify: (run: RunState, pending: string[], n: number) => Promise<void>,
  ): Promise<void> {
    const run = await this.runs.get(runId);
    notParkedYet(run, seq);
    const wait = run?.wait;
    if (run?.status !== 'waiting' || run.seq !== seq || wait?.kind !== 'confirmation' || !wait.task.reminderMs) return;
    const answered = new Set(await this.redis.hkeys(this.keys.answers(runId, seq)));
    const pending = wait.task.recipients.filter((r) => !answered.has(r));
    if (pending.length) await notify(run, pending, n);
    await this.transitions.recordReminder(run, seq, { stepId: wait.stepId, n, recipients: pending });
    const nextAt = Date.now() + wait.task.reminderMs;
    if (n < MAX_REMINDERS && (!wait.task.timeoutAt || nextAt < wait.task.timeoutAt))
      await this.scheduleReminder(runId, seq, n + 1, wait.task.reminderMs);
  }

  /** A child run ended: resume its parent with the child's final model, or fail the parent step. */
  async childEnded(child: RunState): Promise<void> {
    const link = child.parent;
    if (!link) return;
    const parent = await this.runs.get(link.runId);
    if (!parent) return;
    if (parent.status === 'running' && parent.seq < link.seq) {
      // The parent has not committed its wait yet (a very fast child): let the job retry.
      throw new Error(`parent ${parent.id} has not parked yet`);
    }
    if (parent.status !== 'waiting' || parent.seq !== link.seq || parent.wait?.kind !== 'child') return;
    const events: NewHistoryEvent[] = [
      { type: 'child.ended', stepId: link.stepId, detail: { childRunId: child.id, status: child.status } },
    ];
    if (child.status !== 'completed') {
      const error: RunError = {
        code: `CHILD_RUN_${child.status.toUpperCase()}`,
        stepId: link.stepId,
        message: `child run ${child.id} ended ${child.status}${child.error ? `: ${child.error.message}` : ''}`,
      };
      await this.resume(parent, { error, events });
      return;
    }
    const plan = await this.workflows.plan(parent.workflow, parent.version);
    const step = plan?.steps[link.stepId];
    const resultField = (step?.def as { resultField?: string } | undefined)?.resultField;
    const writes: FieldWrite[] = resultField
      ? [{ path: resultField, value: child.model }]
      : Object.entries(child.model).map(([path, value]) => ({ path, value }));
    await this.resume(parent, { writes, events });
  }

  /** Resumes a run whose wait has a recorded resolution (the second half of an answer or timeout). */
  async finish(runId: string): Promise<void> {
    const run = await this.runs.get(runId);
    const r = run?.resolution;
    if (!run || !r || run.status !== 'waiting' || run.seq !== r.seq || run.wait?.kind !== 'confirmation') return;
    const task = run.wait.task;
    if (r.error) {
      await this.resume(run, { error: r.error, events: [] });
      return;
    }
    const answers = await this.redis.hgetall(this.keys.answers(runId, r.seq));
    await this.resume(run, {
      writes: [{ path: task.confirmationField, value: r.option ?? null }],
      events: [],
      detail: { option: r.option, by: r.by, answers: Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, JSON.parse(v)])) },
    });
  }

  /** The fenced resume: waiting at seq → the step's successor (or failed), plus the next job. */
  private async resume(
    run: RunState,
    r: { writes?: FieldWrite[]; error?: RunError; events: NewHistoryEvent[]; detail?: Record<string, unknown> },
  ): Promise<boolean> {
    const wait = run.wait!;
    const plan = await this.workflows.plan(run.workflow, run.version);
    const step = plan?.steps[wait.stepId];
    if (!plan || !step) return false;
    let model = run.model;
    for (const w of r.writes ?? []) model = setPath(model, w.path, w.value);
    // Only a changed model is written back, and only within the budget.
    let modelJson = model === run.model ? undefined : JSON.stringify(model);
    let error = r.error;
    if (!error && modelJson && modelOverBudget(modelJson, this.modelMaxBytes)) {
      error = { code: 'MODEL_TOO_LARGE', stepId: step.id, message: `the result would grow the model past ${this.modelMaxBytes} bytes` };
      modelJson = undefined;
    }
    const res = await this.transitions.resumeWait(run, wait.seq, { plan, step, modelJson, error, events: r.events, detail: r.detail });
    if (!res.ok) return false;
    this.log.info({ runId: run.id, stepId: step.id, seq: res.seq, status: error ? 'failed' : 'resumed' }, 'waiting run resumed');
    return true;
  }

  /** Open confirmations the principal may answer, newest first. */
  async tasksFor(who: Answerer, limit = 100): Promise<TaskView[]> {
    const refs = [who.id, ...who.roles.map((r) => `role:${r}`)];
    const seen = new Set<string>();
    const out: TaskView[] = [];
    for (const ref of refs) {
      const members = await this.redis.zrevrange(this.keys.tasks(ref), 0, limit * 2);
      for (const m of members) {
        if (seen.has(m)) continue;
        seen.add(m);
        const [runId = '', seqText = ''] = m.split(' ');
        const run = await this.runs.get(runId);
        const wait = run?.wait;
        if (run?.status !== 'waiting' || run.seq !== Number(seqText) || wait?.kind !== 'confirmation' || run.resolution) {
          await this.redis.zrem(this.keys.tasks(ref), m);
          continue;
        }
        if (!this.services().directory.matches(who, wait.task.routing)) continue;
        if (await this.redis.hexists(this.keys.answers(runId, wait.seq), who.id)) continue;
        const plan = await this.workflows.plan(run.workflow, run.version);
        out.push({
          runId,
          workflow: run.workflow,
          version: run.version,
          stepId: wait.stepId,
          stepName: plan?.steps[wait.stepId]?.name ?? wait.stepId,
          seq: wait.seq,
          options: wait.task.options,
          policy: wait.task.policy,
          ...(wait.task.timeoutAt ? { timeoutAt: new Date(wait.task.timeoutAt).toISOString() } : {}),
          createdAt: new Date(run.updatedAt).toISOString(),
          model: run.model,
        });
      }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }
}

const MAX_REMINDERS = 100;

/** A timer that fires before its wait was committed (a short delay, a redelivered step) retries. */
function notParkedYet(run: RunState | null, seq: number): void {
  if (run?.status === 'running' && run.seq < seq) throw new Error(`run ${run.id} has not parked at seq ${seq} yet`);
}

/** Event jobs retry with backoff: a callback receiver may be down, a parent may not have parked yet. */
/** The delayed job that ends a wait at its deadline (a confirmation's or a child run's timeoutMs). */
export const timeoutJobId = (runId: string, seq: number) => `${runId}-timeout-${seq}`;

export const EVENT_JOB = {
  attempts: 10,
  backoff: { type: 'exponential' as const, delay: 500 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};
