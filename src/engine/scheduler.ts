/**
 * Puts step jobs on the queue. A step job's id is derived from the run and the seq it was
 * enqueued for, so adding it twice (a stale job repairing its successor, the reconciler, a
 * racing API call) is a no-op while the job exists, and a harmless stale no-op after it is gone.
 */
import type { Queue } from 'bullmq';
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

export interface SchedulerOptions {
  /** Completed jobs kept for Bull Board; run state and history are the record, not the jobs. */
  keepCompleted: { age: number; count: number };
  keepFailed: { age: number; count: number };
}

export class Scheduler {
  constructor(
    readonly queue: Queue<StepJobData>,
    private readonly opts: SchedulerOptions,
  ) {}

  /** `carry` is the run as committed at `seq`; it rides along only for pure steps with small models. */
  async enqueue(runId: string, seq: number, step: PlanStep, carry?: CarriedState, modelJson?: string): Promise<void> {
    const worthCarrying = carry && getStepType(step.type)?.pure && (modelJson ?? JSON.stringify(carry.model)).length <= CARRY_MAX_BYTES;
    await this.queue.add(
      step.type,
      { runId, seq, stepId: step.id, backoff: step.retry.backoff, ...(worthCarrying ? { carry } : {}) },
      {
        jobId: stepJobId(runId, seq),
        attempts: step.retry.attempts,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: this.opts.keepCompleted,
        removeOnFail: this.opts.keepFailed,
      },
    );
  }
}

/** Delay before the next attempt (attemptsMade ≥ 1), per the step's backoff policy. */
export function backoffDelay(policy: RetryPolicy['backoff'], attemptsMade: number, random = Math.random): number {
  const base = policy.type === 'fixed' ? policy.delayMs : policy.delayMs * 2 ** Math.max(0, attemptsMade - 1);
  const capped = policy.maxDelayMs !== undefined ? Math.min(base, policy.maxDelayMs) : base;
  const jitter = policy.jitter ?? 0;
  return Math.round(capped * (1 - jitter * random()));
}
