/**
 * Parked runs (DESIGN §5.5). The engine knows waits only through the WaitKind contract
 * (src/steps/types.ts) of the step type that parks: this module dispatches park, expire, remind
 * and resume to it and is its WaitHost (timers, the task index, answers, the fenced resume). Each
 * resume goes through a fenced transition at the seq the run parked at, so racing answers or a
 * redelivered timer resume a run exactly once. Confirmation answers and the task inbox live with
 * the confirmation (src/steps/confirmation-desk.ts); this module only hands them its reads and verbs.
 */
import type { Queue } from 'bullmq';
import type { RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import type { PlanStep } from '../definition/plan.ts';
import { setPath } from '../definition/paths.ts';
import type { StepServices } from '../steps/services.ts';
import { getStepType, getWaitKind } from '../steps/registry.ts';
import { ConfirmationDesk } from '../steps/confirmation-desk.ts';
import type { FieldWrite, StepOutcome, StepType, WaitContext, WaitHost, WaitKind } from '../steps/types.ts';
import type { Keyspace } from './keyspace.ts';
import { jobRetentionPerPartition } from './partition-queues.ts';
import type { RunStore } from './run-store.ts';
import { effectKey, modelOverBudget, type RunTransitions } from './run-transitions.ts';
import type { NewHistoryEvent, RunError, RunState, Wait } from './types.ts';
import type { WorkflowStore } from './workflow-store.ts';

export type { Answerer, TaskView } from '../steps/confirmation-desk.ts';

export const EVENTS_QUEUE = 'events';

export class Waits {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly runs: RunStore,
    private readonly transitions: RunTransitions,
    private readonly workflows: WorkflowStore,
    /** The event queue of a run's partition (its timeouts and reminders go there). */
    private readonly eventsOf: (runId: string) => Queue,
    private readonly services: () => StepServices,
    private readonly log: Logger,
    private readonly modelMaxBytes: number,
    /** Cancels a child run its parent gave up on. */
    private readonly cancelChild: (childRunId: string) => Promise<void> = async () => undefined,
  ) {
    this.eventJob = eventJobPerPartition(keys.partitions);
  }

  /** Options of the timers this module adds to a partition's event queue. */
  private readonly eventJob: typeof EVENT_JOB;

  /** The confirmation's answers and task inbox (the API's /confirm and /tasks), on the engine's reads and verbs. */
  readonly confirmations = new ConfirmationDesk({
    directory: () => this.services().directory,
    run: (runId) => this.runs.get(runId),
    plan: (workflow, version) => this.workflows.plan(workflow, version),
    recordAnswer: (runId, seq, a) => this.transitions.recordWaitAnswer(runId, seq, a),
    finish: (runId) => this.finish(runId),
    inbox: (ref, limit) => this.redis.zrevrange(this.keys.tasks(ref), 0, limit),
    unlist: async (ref, member) => {
      await this.redis.zrem(this.keys.tasks(ref), member);
    },
    hasAnswered: async (runId, seq, who) => (await this.redis.hexists(this.keys.answers(runId, seq), who)) === 1,
  });

  /** The engine's side of the wait contract (WaitKind in src/steps/types.ts): what hooks may do. */
  private readonly hooks: Omit<WaitHost, 'services'> = {
    effectKey,
    scheduleTimeout: async (runId, seq, at) => {
      await this.eventsOf(runId).add(
        'wait-timeout',
        { runId, seq },
        { jobId: timeoutJobId(runId, seq), delay: Math.max(0, at - Date.now()), ...this.eventJob },
      );
    },
    scheduleReminder: async (runId, seq, n, delay) => {
      await this.eventsOf(runId).add('wait-reminder', { runId, seq, n }, { jobId: `${runId}-remind-${seq}-${n}`, delay, ...this.eventJob });
    },
    listTask: async (refs, runId, seq) => {
      const member = `${runId} ${seq}`;
      // One command per list: each user's and role's list is its own key (and slot on a cluster).
      const now = Date.now();
      await Promise.all(refs.map((ref) => this.redis.zadd(this.keys.tasks(ref), now, member)));
    },
    history: (runId) => this.runs.history(runId, 0, 100_000),
    answers: async (runId, seq) => {
      const raw = await this.redis.hgetall(this.keys.answers(runId, seq));
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v)]));
    },
    forceOutcome: async (runId, seq, f) => (await this.transitions.forceWaitOutcome(runId, seq, f)) === 'resolved',
    recordReminder: async (run, seq, r) => {
      await this.transitions.recordReminder(run, seq, r);
    },
    resume: (run, r) => this.resume(run, r),
    finish: (runId) => this.finish(runId),
    cancelRun: (runId) => this.cancelChild(runId),
  };

  /**
   * Called before the step's parking commit: the step type's wait kind parks (idempotently, so a
   * commit that never happens leaves only no-ops behind) and says what the run waits for.
   */
  async park(run: RunState, step: PlanStep, waitSeq: number, outcome: Extract<StepOutcome, { kind: 'wait' }>): Promise<Wait> {
    const kind = getStepType(step.type)?.wait;
    if (!kind || kind.kind !== outcome.reason) throw new Error(`step ${step.id} waits for an unknown reason ${outcome.reason}`);
    return kind.park(this.withServices(), { runId: run.id, stepId: step.id, seq: waitSeq, detail: outcome.detail });
  }

  private withServices(): WaitHost {
    return { ...this.hooks, services: this.services() };
  }

  /** The waiting step's wait kind and context, or undefined when its plan or type lost it. */
  private async waitOf(run: RunState): Promise<{ kind: WaitKind; ctx: WaitContext } | undefined> {
    const wait = run.wait;
    if (!wait) return undefined;
    const step = (await this.workflows.plan(run.workflow, run.version))?.steps[wait.stepId];
    const type = step ? getStepType(step.type) : undefined;
    if (!step || !type?.wait || type.wait.kind !== wait.kind) return undefined;
    return { kind: type.wait, ctx: { run, wait, step, params: paramsOf(step, type) } };
  }

  /** What the waiting run's kind reads for its diagnosis (WaitKind.inspect), if anything. */
  async inspect(run: RunState): Promise<unknown> {
    const kind = run.wait ? getWaitKind(run.wait.kind) : undefined;
    return run.wait ? kind?.inspect?.(this.withServices(), run, run.wait) : undefined;
  }

  /** Timer: the wait's deadline passed without a decision (a confirmation's or a child run's timeoutMs). */
  async expire(runId: string, seq: number): Promise<void> {
    const run = await this.runs.get(runId);
    notParkedYet(run, seq);
    if (run?.status !== 'waiting' || run.seq !== seq) return;
    const w = await this.waitOf(run);
    await w?.kind.expire?.(this.withServices(), w.ctx);
  }

  /** Timer: the wait's `n`th reminder. */
  async remind(runId: string, seq: number, n: number): Promise<void> {
    const run = await this.runs.get(runId);
    notParkedYet(run, seq);
    if (run?.status !== 'waiting' || run.seq !== seq) return;
    const w = await this.waitOf(run);
    await w?.kind.remind?.(this.withServices(), w.ctx, n);
  }

  /** A child run ended: its parent's wait kind resumes the parent. */
  async childEnded(child: RunState): Promise<void> {
    const link = child.parent;
    if (!link) return;
    const parent = await this.runs.get(link.runId);
    if (!parent) return;
    if (parent.status === 'running' && parent.seq < link.seq) {
      // The parent has not committed its wait yet (a very fast child): let the job retry.
      throw new Error(`parent ${parent.id} has not parked yet`);
    }
    if (parent.status !== 'waiting' || parent.seq !== link.seq) return;
    const w = await this.waitOf(parent);
    await w?.kind.resume?.(this.withServices(), w.ctx, { kind: 'childEnded', child });
  }

  /** Resumes a run whose wait has a recorded resolution (the second half of an answer or timeout). */
  async finish(runId: string): Promise<void> {
    const run = await this.runs.get(runId);
    const r = run?.resolution;
    if (!run || !r || run.status !== 'waiting' || run.seq !== r.seq) return;
    const w = await this.waitOf(run);
    await w?.kind.resume?.(this.withServices(), w.ctx, { kind: 'resolved', resolution: r });
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
}

/** The runs a wait waits on (WaitKind.children): cancelled with it, checked by the reconciler. */
export function childrenOf(wait: Wait | undefined): string[] {
  return wait ? (getWaitKind(wait.kind)?.children?.(wait) ?? []) : [];
}

/** A timer that fires before its wait was committed (a short delay, a redelivered step) retries. */
function notParkedYet(run: RunState | null, seq: number): void {
  if (run?.status === 'running' && run.seq < seq) throw new Error(`run ${run.id} has not parked at seq ${seq} yet`);
}

/** The delayed job that ends a wait at its deadline (a confirmation's or a child run's timeoutMs). */
export const timeoutJobId = (runId: string, seq: number) => `${runId}-timeout-${seq}`;

/**
 * Event jobs retry with backoff: a callback receiver may be down, a parent may not have parked yet.
 * The retention count is the deployment's: a partition's event queue keeps its share
 * (eventJobPerPartition), as step jobs do.
 */
export const EVENT_JOB = {
  attempts: 10,
  backoff: { type: 'exponential' as const, delay: 500 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** EVENT_JOB for one partition's event queue: its retention count split over the partitions. */
export const eventJobPerPartition = (partitions: number) => jobRetentionPerPartition(EVENT_JOB, partitions);

/** Parsed parameters per plan step: plans are immutable, so each waiting step's are parsed once. */
const parsedParams = new WeakMap<PlanStep, unknown>();
function paramsOf(step: PlanStep, type: StepType): unknown {
  if (!parsedParams.has(step)) parsedParams.set(step, type.params.parse(step.def));
  return parsedParams.get(step);
}
