/**
 * Runs one step job: read the run, check the job is current (seq fencing), execute the step's
 * handler, decide the next step (pure), and commit everything, the successor's job included, in
 * one fenced transition. Every crash point converges (DESIGN §5): a redelivered job whose step already
 * committed finds an advanced seq and only makes sure the successor job exists.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Plan, PlanStep } from '../definition/plan.ts';
import { setPath } from '../definition/paths.ts';
import { getStepType } from '../steps/registry.ts';
import type { StepServices } from '../steps/services.ts';
import { NonRetryableError, type Model, type StepResult, type StepType } from '../steps/types.ts';
import { StepTimeoutError } from './errors.ts';
import type { RunStore } from './run-store.ts';
import { effectKey, modelOverBudget, type RunTransitions, type StepEnd, type TransitionResult } from './run-transitions.ts';
import type { FoldedFinish } from './bullmq-finish.ts';
import type { Scheduler, StepJobData } from './scheduler.ts';
import { lazyChild } from '../observability/lazy-child.ts';
import { queueWait, stepDuration, stepsProcessed } from '../observability/metrics.ts';
import { decide, transitionLimitError } from './transition.ts';
import { childrenOf, type Waits } from './waits.ts';
import type { RunError, RunState } from './types.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface ProcessorOptions {
  maxTransitions: number;
  modelMaxBytes: number;
}

export type JobOutcome = 'committed' | 'stale' | 'missing';

export class StepProcessor {
  constructor(
    private readonly runs: RunStore,
    private readonly transitions: RunTransitions,
    private readonly workflows: WorkflowStore,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
    private readonly opts: ProcessorOptions,
    private readonly services: StepServices,
    private readonly waits: Pick<Waits, 'park'>,
    /** Cancels a child run whose parent will never wait for it. */
    private readonly orphaned: (childRunId: string) => Promise<void> = async () => undefined,
  ) {}

  /**
   * `fold`, when given, takes the step's commit to run inside the job's own finish (one Redis
   * call, bullmq-finish.ts): the commit then happens when BullMQ completes the job, after this
   * returns, and its follow-up (a refused commit's repair) runs there. Without it the commit runs
   * here, before BullMQ's finish, as its own call.
   */
  async process(job: Job<StepJobData>, fold?: (finish: FoldedFinish) => void): Promise<JobOutcome> {
    const { runId, seq, stepId } = job.data;
    // Attempts count deliveries: BullMQ bumps attemptsStarted on every move to active, a
    // redelivery after a stall (the worker died holding the job) included, so receivers and
    // history can tell it from a first try. attemptsMade (failures) still drives the retry budget.
    const attempt = Math.max(job.attemptsStarted ?? 0, job.attemptsMade + 1);
    // A retry's wait is its backoff, not queueing: only first attempts say how busy workers are.
    if (attempt === 1) queueWait.observe({ queue: job.queueName }, Math.max(0, Date.now() - job.timestamp - (job.opts.delay ?? 0)) / 1000);
    const log = lazyChild(this.log, { runId, stepId, seq, attempt });
    // A pure step with its state carried in the job needs no read: if the job is stale, the
    // fenced commit refuses it and the stale path below runs then.
    const run = job.data.carry ? fromCarry(job.data, job.data.carry) : await this.runs.get(runId);
    if (!run) {
      log.warn('step job for a run that no longer exists; dropped');
      return 'missing';
    }
    if (run.status !== 'running' || run.seq !== seq) {
      log.debug({ status: run.status, currentSeq: run.seq }, 'stale step job; making sure the current one exists');
      stepsProcessed.inc({ type: job.name, result: 'stale' });
      await this.ensureCurrentJob(run);
      return 'stale';
    }
    const plan = await this.workflows.plan(run.workflow, run.version);
    const step = plan && run.stepId ? plan.steps[run.stepId] : undefined;
    if (!plan || !step) {
      await this.failRun(run, { code: 'BAD_PLAN', message: `workflow ${run.workflow} v${run.version} has no step ${run.stepId}` }, log);
      return 'committed';
    }

    const overLimit = transitionLimitError(step.id, run.transitions, this.opts.maxTransitions);
    if (overLimit) {
      log.warn({ transitions: run.transitions }, 'transition limit reached; run failed');
      await this.failRun(run, overLimit, log);
      return 'committed';
    }

    const started = Date.now();
    let result: StepResult;
    try {
      result = await this.execute(run, step, attempt, log);
    } catch (err) {
      stepDuration.observe({ type: step.type }, (Date.now() - started) / 1000);
      const final = await this.recordFailure(job, run, step, attempt, started, err, log);
      stepsProcessed.inc({ type: step.type, result: final ? 'failed' : 'retrying' });
      if (final && !(err instanceof UnrecoverableError)) throw new UnrecoverableError(message(err));
      throw err;
    }
    stepDuration.observe({ type: step.type }, (Date.now() - started) / 1000);
    await this.commit(run, plan, step, attempt, started, result, log, fold);
    stepsProcessed.inc({ type: step.type, result: result.outcome.kind === 'wait' ? 'waiting' : 'completed' });
    return 'committed';
  }

  private async execute(run: RunState, step: PlanStep, attempt: number, log: Logger): Promise<StepResult> {
    const type = getStepType(step.type);
    if (!type) throw new NonRetryableError(`unknown step type ${step.type}`);
    const params = paramsOf(step, type);
    const timeoutMs = type.ownTimeout ? undefined : step.timeoutMs;
    const controller = timeoutMs ? new AbortController() : undefined;
    const ctx = {
      runId: run.id,
      workflow: run.workflow,
      version: run.version,
      stepId: step.id,
      seq: run.seq,
      attempt,
      effectKey: effectKey(run.id, step.id, run.seq),
      params,
      model: run.model,
      signal: controller?.signal ?? NEVER,
      log,
      services: this.services,
    };
    if (!timeoutMs) return type.execute(ctx);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new StepTimeoutError(`step ${step.id} timed out after ${timeoutMs} ms`);
        controller!.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve(type.execute(ctx)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async commit(
    run: RunState,
    plan: Plan,
    step: PlanStep,
    attempt: number,
    started: number,
    result: StepResult,
    log: Logger,
    fold?: (finish: FoldedFinish) => void,
  ) {
    let model: Model = run.model;
    for (const w of result.writes ?? []) model = setPath(model, w.path, w.value);
    const modelJson = result.writes?.length ? JSON.stringify(model) : undefined;
    const failed = { stepId: step.id, attempt, started };
    if (modelJson && modelOverBudget(modelJson, this.opts.modelMaxBytes)) {
      const error = {
        code: 'MODEL_TOO_LARGE',
        stepId: step.id,
        attempt,
        message: `step ${step.id} would grow the model past ${this.opts.modelMaxBytes} bytes`,
      };
      await this.failRun(run, error, log, failed);
      return;
    }

    const detail: Record<string, unknown> = { ...result.detail };
    let entryVersion: number | undefined;
    if (result.saveEntry) {
      entryVersion = await this.runs.saveEntry(run.entryId, model, effectKey(run.id, step.id, run.seq), run.id, run.workflow);
      if (entryVersion < 0) {
        const error = {
          code: 'ENTRY_OWNED_ELSEWHERE',
          stepId: step.id,
          attempt,
          message: `entry ${run.entryId} belongs to another workflow`,
        };
        await this.failRun(run, error, log, failed);
        return;
      }
      detail.entryVersion = entryVersion;
    }

    const decision = decide(plan, step, result.outcome);
    let end: StepEnd;
    if (decision.status === 'waiting') {
      const outcome = result.outcome as Extract<StepResult['outcome'], { kind: 'wait' }>;
      end = { status: 'waiting', wait: await this.waits.park(run, step, run.seq + 1, outcome), reason: outcome.reason };
    } else if (decision.status === 'draft') {
      end = { status: 'draft', entry: await this.runs.getEntry(run.entryId) };
    } else {
      end = decision;
    }
    // The next step's job is added by the same script call that commits this one.
    const c = { plan, step, attempt, started, model, modelJson, entryVersion, detail, end };
    if (fold) {
      fold(async (finish) => {
        const out = await this.transitions.commitStepAndFinish(run, c, finish);
        // The job is finished by now whatever this does, so a failed repair is said, not thrown:
        // the reconciler finds a running run whose job is missing.
        await this.afterCommit(run, decision, end, out.commit, log).catch((err: unknown) =>
          log.warn({ err }, 'repair after a refused commit failed'),
        );
        return { result: out.finish, ranDry: out.ranDry };
      });
      return;
    }
    await this.afterCommit(run, decision, end, await this.transitions.commitStep(run, c), log);
  }

  /** What follows a commit: a refused one (the run moved on) makes sure the run's current job exists. */
  private async afterCommit(run: RunState, decision: ReturnType<typeof decide>, end: StepEnd, res: TransitionResult, log: Logger) {
    if (!res.ok) {
      log.info('step finished but the run moved on meanwhile (cancelled or redelivered); not committed');
      const now = await this.runs.get(run.id);
      if (now) await this.ensureCurrentJob(now);
      // A child started for a wait that was never committed (the parent was cancelled meanwhile)
      // must not go on; a duplicate that parked on the same child keeps it.
      if (end.status === 'waiting') {
        const kept = new Set(childrenOf(now?.wait));
        for (const child of childrenOf(end.wait)) if (!kept.has(child)) await this.orphaned(child);
      }
      return;
    }
    if (this.log.isLevelEnabled('debug'))
      log.debug({ next: decision.status === 'running' ? decision.next : decision.status }, 'step committed');
  }

  /** Records a failed attempt; returns true when it was the last one (the run is now failed). */
  private async recordFailure(
    job: Job<StepJobData>,
    run: RunState,
    step: PlanStep,
    attempt: number,
    started: number,
    err: unknown,
    log: Logger,
  ): Promise<boolean> {
    const nonRetryable = err instanceof NonRetryableError || err instanceof UnrecoverableError;
    // The budget is of failures (attemptsMade), not deliveries: a stall does not use up a retry.
    const final = nonRetryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const error: RunError = {
      message: message(err),
      stepId: step.id,
      attempt,
      code: err instanceof StepTimeoutError ? 'STEP_TIMEOUT' : nonRetryable ? 'NON_RETRYABLE' : 'STEP_ERROR',
    };
    if (final) {
      log.warn({ err: error }, 'step failed for good; run failed');
      await this.failRun(run, error, log, { stepId: step.id, attempt, started });
    } else {
      log.info({ err: error }, 'step attempt failed; will retry');
      await this.transitions.recordFailedAttempt(run, { stepId: step.id, attempt, started, error });
    }
    return final;
  }

  private async failRun(run: RunState, error: RunError, log: Logger, attempt?: { stepId: string; attempt: number; started: number }) {
    const res = await this.transitions.failRun(run, error, attempt);
    if (!res.ok) log.info('run moved on before its failure was recorded');
  }

  /** The repair every stale job performs: the run's current step must have a job. */
  async ensureCurrentJob(run: Pick<RunState, 'id' | 'status' | 'seq' | 'stepId' | 'workflow' | 'version'>): Promise<void> {
    if (run.status !== 'running' || !run.stepId) return;
    const plan = await this.workflows.plan(run.workflow, run.version);
    const step = plan?.steps[run.stepId];
    if (step) await this.scheduler.enqueue(run.id, run.seq, step);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fromCarry(data: StepJobData, c: NonNullable<StepJobData['carry']>): RunState {
  return {
    id: data.runId,
    workflow: c.workflow,
    version: c.version,
    status: 'running',
    seq: data.seq,
    stepId: data.stepId,
    model: c.model,
    entryId: c.entryId,
    entryVersion: 0,
    transitions: c.transitions,
    createdAt: 0,
    updatedAt: 0,
  };
}

/** The signal of a step without a timeout: nothing aborts it. */
const NEVER = new AbortController().signal;

/** Parsed parameters per plan step: plans are immutable, so each step's are parsed once. */
const parsedParams = new WeakMap<PlanStep, unknown>();
function paramsOf(step: PlanStep, type: StepType): unknown {
  if (!parsedParams.has(step)) parsedParams.set(step, type.params.parse(step.def));
  return parsedParams.get(step);
}
