/**
 * Gathers the facts about a run that src/engine/diagnose.ts turns into words: its state, the
 * BullMQ job of its current step (state, attempts, lock, place in the queue, delay), what its
 * wait's kind inspects (a confirmation's answers), its wait's child run, its completion callback. Also the operator's repair:
 * re-adding the missing job of a running run's current step, fenced on status and seq.
 */
import { Job } from 'bullmq';
import type { RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import { diagnose, type Diagnosis, type DiagnosisFacts, type JobFacts, type JobState } from './diagnose.ts';
import { EngineError } from './errors.ts';
import type { Keyspace } from './keyspace.ts';
import type { RunStore } from './run-store.ts';
import type { RunTransitions } from './run-transitions.ts';
import type { PartitionQueues } from './partition-queues.ts';
import { stepJobId, type Scheduler, type StepJobData } from './scheduler.ts';
import type { RunState } from './types.ts';
import { childrenOf, type Waits } from './waits.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface DiagnosisDeps {
  redis: Redis;
  keys: Keyspace;
  runs: RunStore;
  transitions: RunTransitions;
  workflows: WorkflowStore;
  waits: Pick<Waits, 'inspect'>;
  queues: PartitionQueues;
  scheduler: Scheduler;
  log: Logger;
  reconciler: DiagnosisFacts['reconciler'];
}

/** A child's diagnosis is nested, to this depth (a chain of child runs). */
const MAX_DEPTH = 3;
/** Reads of a run that keeps moving before its facts are taken as they are. */
const MAX_READS = 5;

export class Diagnoser {
  constructor(private readonly d: DiagnosisDeps) {}

  /**
   * The run and its job are read one after the other, so a step that commits in between (its job
   * completed, the run already on the next seq) would read as "no job". The facts count only when
   * the run is still where they were gathered; else they are gathered again.
   */
  async diagnose(runId: string, depth = 0): Promise<Diagnosis> {
    for (let attempt = 1; ; attempt++) {
      const run = await this.d.runs.get(runId);
      if (!run) throw new EngineError('not_found', `no run ${runId}`);
      const facts = await this.facts(run, depth);
      const after = attempt < MAX_READS ? await this.d.runs.get(runId) : run;
      if (!after || (after.seq === run.seq && after.status === run.status)) return diagnose(facts);
    }
  }

  private async facts(run: RunState, depth: number): Promise<DiagnosisFacts> {
    const plan = await this.d.workflows.plan(run.workflow, run.version);
    const stepId = run.wait?.stepId ?? run.stepId;
    const step = stepId ? plan?.steps[stepId] : undefined;
    const facts: DiagnosisFacts = {
      now: Date.now(),
      run: {
        id: run.id,
        status: run.status,
        seq: run.seq,
        stepId: run.stepId,
        updatedAt: run.updatedAt,
        ...(run.error ? { error: run.error } : {}),
        ...(run.wait ? { wait: run.wait } : {}),
        ...(run.resolution ? { resolved: true } : {}),
      },
      ...(step ? { step: { id: step.id, name: step.name, type: step.type } } : {}),
      reconciler: this.d.reconciler,
    };
    if (run.status === 'running') {
      facts.job = await this.stepJob(run.id, stepJobId(run.id, run.seq));
      const history = await this.d.runs.history(run.id, 0, 100_000);
      const last = history.filter((e) => e.seq === run.seq && e.type === 'step.retrying').pop();
      const err = (last?.detail as { error?: { message?: string } } | undefined)?.error?.message;
      if (err) facts.lastAttemptError = err;
    } else if (run.status === 'waiting' && run.wait) {
      const facts_ = await this.d.waits.inspect(run);
      if (facts_ !== undefined) facts.waitFacts = facts_;
      const [childId] = childrenOf(run.wait);
      if (childId && depth < MAX_DEPTH) {
        facts.child = await this.diagnose(childId, depth + 1).catch((err: unknown) => {
          if (err instanceof EngineError && err.kind === 'not_found') return { missing: true as const, runId: childId };
          throw err;
        });
      }
    } else if (run.callbackUrl) {
      facts.callback = await this.callback(run);
    }
    return facts;
  }

  private async stepJob(runId: string, jobId: string): Promise<JobFacts> {
    const queue = this.d.queues.stepsOf(runId);
    // The state before the hash: the script that makes a job active writes its worker (pb) into
    // the hash, so a hash read after an 'active' state names the worker. Read the other way
    // round, a job taken in between showed as active on no worker.
    const state = (await queue.getJobState(jobId)) as JobState;
    const job = state === 'unknown' ? undefined : await Job.fromId<StepJobData>(queue, jobId);
    if (!job) return { id: jobId, state: 'unknown', attemptsMade: 0, attemptsStarted: 0, maxAttempts: 1 };
    const q = queue.keys;
    const facts: JobFacts = {
      id: jobId,
      state,
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted ?? 0,
      maxAttempts: job.opts.attempts ?? 1,
      ...(job.failedReason ? { lastError: job.failedReason } : {}),
      ...(job.processedBy ? { worker: job.processedBy } : {}),
    };
    if (state === 'delayed') {
      // BullMQ scores delayed jobs as due-time × 0x1000 + a counter.
      const score = await this.d.redis.zscore(q.delayed!, jobId);
      if (score !== null) facts.delayUntil = Math.floor(Number(score) / 0x1000);
    } else if (state === 'active') {
      facts.lockTtlMs = await this.d.redis.pttl(`${q['']}${jobId}:lock`);
    } else if (state === 'waiting') {
      // Workers take from the right end of the wait list.
      const [pos, len] = await Promise.all([this.d.redis.lpos(q.wait!, jobId), this.d.redis.llen(q.wait!)]);
      if (pos !== null) facts.queueAhead = len - 1 - pos;
    }
    if (job.processedBy) {
      const seen = await this.d.redis.zscore(this.d.keys.workerHeartbeats, job.processedBy);
      if (seen !== null) facts.workerSeenAt = Number(seen);
    }
    return facts;
  }

  private async callback(run: RunState): Promise<DiagnosisFacts['callback']> {
    const inOutbox =
      (await this.d.redis.zscore(this.d.keys.partition(this.d.keys.partitionOf(run.id)).outbox, `${run.id} ${run.status} ${run.seq}`)) !==
      null;
    if (inOutbox) return { state: 'outbox' };
    const job = await Job.fromId(this.d.queues.eventsOf(run.id), `cb-${run.id}-${run.seq}`);
    if (!job) return { state: 'unknown' };
    return {
      state: (await job.getState()) as JobState,
      attemptsMade: job.attemptsMade,
      ...(job.failedReason ? { lastError: job.failedReason } : {}),
    };
  }

  /**
   * Re-adds the missing job of a running run's current step now (what the reconciler would do
   * on its next pass), by a transition fenced on status and seq with a `run.repaired` event.
   */
  async repair(runId: string, by?: string): Promise<Diagnosis> {
    const run = await this.d.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    // Judged on this one read of the run, whose seq fences the repair.
    const before = diagnose(await this.facts(run, 0));
    if (!before.repairable) throw new EngineError('conflict', `run ${runId} has nothing to repair: ${before.summary}`);
    const plan = await this.d.workflows.plan(run.workflow, run.version);
    const step = run.stepId ? plan?.steps[run.stepId] : undefined;
    if (!step) throw new EngineError('conflict', `run ${runId} is at step ${run.stepId}, which version ${run.version} lacks`);
    // The repair moves the run to the next seq with a fresh job, fenced on the seq it saw: of two
    // racing repairs one applies, and the lost job, should it ever come back, is a stale no-op.
    const jobId = stepJobId(run.id, run.seq + 1);
    const res = await this.d.transitions.repair(run, { step, by, jobId, lostJobId: stepJobId(run.id, run.seq) });
    if (!res.ok) throw new EngineError('conflict', `run ${runId} moved on while being repaired`);
    this.d.log.warn({ runId, stepId: step.id, seq: run.seq, by }, 'run repaired: its step job was re-added');
    return this.diagnose(runId);
  }
}
