/**
 * Puts step jobs on the queue. A step job's id is derived from the run and the seq it was
 * enqueued for, so adding it twice (a stale job repairing its successor, the reconciler, a
 * racing API call) is a no-op while the job exists, and a harmless stale no-op after it is gone.
 */
import type { JobsOptions, Queue } from 'bullmq';
import { jobArgs, type JobArgs } from './bullmq-add.ts';
import type { PlanStep } from '../definition/plan.ts';
import type { RetryPolicy } from '../definition/schema.ts';
import { getStepType } from '../steps/registry.ts';
import type { Model } from '../steps/types.ts';

export interface StepJobData {
  runId: string;
  seq: number;
  stepId: string;
  /** Carried so the backoff strategy needs no lookup. */
  backoff: RetryPolicy['backoff'];
  /** The run as committed at `seq`, for pure steps: they run without reading the run first. */
  carry?: CarriedState;
}

export interface CarriedState {
  workflow: string;
  version: number;
  entryId: string;
  transitions: number;
  model: Model;
}

/** Models larger than this are read from the run instead of copied into the job. */
const CARRY_MAX_BYTES = 8 * 1024;

export const BACKOFF_TYPE = 'stageflow';

export const stepJobId = (runId: string, seq: number) => `${runId}-${seq}`;

/** Step jobs kept after they finish, for Bull Board; run state and history are the record. */
export const STEP_JOB_RETENTION: SchedulerOptions = {
  keepCompleted: { age: 3600, count: 1000 },
  keepFailed: { age: 7 * 24 * 3600, count: 10000 },
};

export interface SchedulerOptions {
  /** Completed jobs kept for Bull Board; run state and history are the record, not the jobs. */
  keepCompleted: { age: number; count: number };
  keepFailed: { age: number; count: number };
}

export class Scheduler {
  private readonly tails = new WeakMap<PlanStep, string>();

  constructor(
    /** The step queue of a run's partition. */
    private readonly queueOf: (runId: string) => Queue<StepJobData>,
    private readonly opts: SchedulerOptions,
  ) {}

  /**
   * The job of `step` at `seq`, for a run transition to add in the same script call (RunStore).
   * `carry` is the run as committed at `seq`; it rides along only for pure steps with small
   * models. `modelJson`, when the caller has it, saves serialising the model again.
   */
  job(runId: string, seq: number, step: PlanStep, carry?: CarriedState, modelJson?: string): JobArgs {
    const jobId = stepJobId(runId, seq);
    const base = dataOf(runId, seq, step);
    const modelText = carry && getStepType(step.type)?.pure ? (modelJson ?? JSON.stringify(carry.model)) : undefined;
    let data: string;
    if (modelText !== undefined && modelText.length <= CARRY_MAX_BYTES) {
      // The model is the last field of the last field: serialise the rest, then splice it in.
      const { workflow, version, entryId, transitions } = carry!;
      const shell = JSON.stringify({ ...base, carry: { workflow, version, entryId, transitions, model: null } });
      data = `${shell.slice(0, -'null}}'.length)}${modelText}}}`;
    } else {
      data = JSON.stringify(base);
    }
    return jobArgs(jobId, step.type, data, `{"jobId":${JSON.stringify(jobId)},${this.optsTail(step)}`);
  }

  /** Adds the job of the run's current step on its own: the repair a stale job or the reconciler makes. */
  async enqueue(runId: string, seq: number, step: PlanStep): Promise<void> {
    await this.queueOf(runId).add(step.type, dataOf(runId, seq, step), { jobId: stepJobId(runId, seq), ...this.stepOpts(step) });
  }

  private stepOpts(step: PlanStep): JobsOptions {
    return {
      attempts: step.retry.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: this.opts.keepCompleted,
      removeOnFail: this.opts.keepFailed,
    };
  }

  /** The step's job options as JSON without the opening brace; plan steps are immutable, so once each. */
  private optsTail(step: PlanStep): string {
    let tail = this.tails.get(step);
    if (tail === undefined) {
      tail = JSON.stringify(this.stepOpts(step)).slice(1);
      this.tails.set(step, tail);
    }
    return tail;
  }
}

/** A step job's data without carried state: what every step job holds. */
function dataOf(runId: string, seq: number, step: PlanStep): StepJobData {
  return { runId, seq, stepId: step.id, backoff: step.retry.backoff };
}

/** Delay before the next attempt (attemptsMade ≥ 1), per the step's backoff policy. */
export function backoffDelay(policy: RetryPolicy['backoff'], attemptsMade: number, random = Math.random): number {
  const base = policy.type === 'fixed' ? policy.delayMs : policy.delayMs * 2 ** Math.max(0, attemptsMade - 1);
  const capped = policy.maxDelayMs !== undefined ? Math.min(base, policy.maxDelayMs) : base;
  const jitter = policy.jitter ?? 0;
  return Math.round(capped * (1 - jitter * random()));
}
