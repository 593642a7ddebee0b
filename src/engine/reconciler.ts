/**
 * The last line of defence of DESIGN §5.2: finds running runs whose current step has no live
 * job (deleted behind the engine's back, or failed by BullMQ after too many stalls) and repairs
 * them. It works per partition: one process at a time does a partition's pass, under a short
 * lock in that partition's slot, so reconcilers of several processes share the partitions.
 */
import type { RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import type { Keyspace } from './keyspace.ts';
import type { PartitionQueues } from './partition-queues.ts';
import type { RunStore } from './run-store.ts';
import type { RunTransitions } from './run-transitions.ts';
import { stepJobId } from './scheduler.ts';
import type { StepProcessor } from './step-processor.ts';
import type { RunState } from './types.ts';
import { childrenOf, timeoutJobId, type Waits } from './waits.ts';
import { throttledLog } from '../observability/throttle.ts';
import { reconcilerRepairs } from '../observability/metrics.ts';

export interface ReconcilerOptions {
  intervalMs: number;
  /** Runs that changed more recently than this are left alone (their successor may be on its way). */
  graceMs: number;
  /** The partitions this process reconciles (WORKER_PARTITIONS; each under its own lock). */
  partitions: number[];
}

export interface ReconcileReport {
  checked: number;
  requeued: number;
  failed: number;
  /** Waiting runs whose decided wait was resumed. */
  resumed: number;
}

export class Reconciler {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly queues: PartitionQueues,
    private readonly runs: RunStore,
    private readonly transitions: RunTransitions,
    private readonly processor: StepProcessor,
    private readonly waits: Pick<Waits, 'finish' | 'expire' | 'childEnded'>,
    private readonly log: Logger,
    private readonly opts: ReconcilerOptions,
  ) {}

  start(): void {
    const passFailed = throttledLog(this.log, 'error', 'reconciler pass failed');
    const tick = async () => {
      try {
        const ttl = Math.max(1000, this.opts.intervalMs - 100);
        const mine: number[] = [];
        for (const p of this.opts.partitions) {
          if (await this.redis.set(this.keys.partition(p).reconcilerLock, '1', 'PX', ttl, 'NX')) mine.push(p);
        }
        if (mine.length) await this.reconcileOnce(mine);
      } catch (err) {
        passFailed(err);
      }
      this.timer = setTimeout(tick, this.opts.intervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** One pass over `partitions` (default: those this process reconciles). */
  async reconcileOnce(partitions: number[] = this.opts.partitions): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, requeued: 0, failed: 0, resumed: 0 };
    const horizon = Date.now() - this.opts.graceMs;
    for (const p of partitions) await this.reconcilePartition(p, horizon, report);
    if (report.requeued || report.failed || report.resumed) this.log.warn(report, 'reconciler repaired runs');
    for (const kind of ['requeued', 'failed', 'resumed'] as const) if (report[kind]) reconcilerRepairs.inc({ kind }, report[kind]);
    return report;
  }

  private async reconcilePartition(partition: number, horizon: number, report: ReconcileReport): Promise<void> {
    for (const status of ['running', 'waiting'] as const) {
      let after: string | undefined;
      for (;;) {
        const ids = await this.runs.idsByStatus(partition, status, after, 200);
        if (ids.length === 0) break;
        after = ids[ids.length - 1];
        for (const id of ids) {
          const run = await this.runs.get(id);
          if (!run || run.status !== status || run.updatedAt > horizon) continue;
          report.checked++;
          if (status === 'running') await this.repair(run, report);
          else await this.repairWait(run, horizon, report);
        }
      }
    }
  }

  /**
   * A waiting run can be left behind when a process dies between deciding its wait and resuming
   * it (an answer whose resolution is stored, a child that ended, a timeout whose job is gone).
   */
  private async repairWait(run: RunState, horizon: number, report: ReconcileReport) {
    const wait = run.wait;
    if (!wait) return;
    const log = this.log.child({ runId: run.id, stepId: wait.stepId, seq: run.seq });
    if (run.resolution) {
      log.warn('resolved wait never resumed; resuming it');
      await this.waits.finish(run.id);
      report.resumed++;
      return;
    }
    const deadline = wait.timeoutAt;
    const timer =
      deadline && deadline < horizon ? await this.queues.eventsOf(run.id).getJobState(timeoutJobId(run.id, run.seq)) : undefined;
    if (timer !== undefined && timer !== 'waiting' && timer !== 'delayed' && timer !== 'active') {
      log.warn({ timer, kind: wait.kind }, 'wait past its deadline without a live timer; applying the timeout');
      await this.waits.expire(run.id, run.seq);
      report.resumed++;
      return;
    }
    for (const childId of childrenOf(wait)) {
      const child = await this.runs.get(childId);
      if (child && child.status !== 'running' && child.status !== 'waiting' && child.updatedAt < horizon) {
        log.warn({ childRunId: child.id, childStatus: child.status }, 'child ended but the parent still waits; resuming it');
        await this.waits.childEnded(child);
        report.resumed++;
        return;
      }
    }
  }

  private async repair(run: RunState, report: ReconcileReport) {
    const jobId = stepJobId(run.id, run.seq);
    const queue = this.queues.stepsOf(run.id);
    const state = await queue.getJobState(jobId);
    const log = this.log.child({ runId: run.id, stepId: run.stepId, seq: run.seq });
    if (state === 'unknown') {
      log.warn('running run without a job; re-enqueued its current step');
      await this.processor.ensureCurrentJob(run);
      report.requeued++;
    } else if (state === 'failed') {
      // BullMQ fails a job that stalled more than maxStalledCount times without our handler running.
      const job = await queue.getJob(jobId);
      const message = job?.failedReason || 'step job failed outside the step handler';
      log.warn({ reason: message }, 'step job failed without the run knowing; run marked failed');
      const res = await this.transitions.failRun(run, { code: 'JOB_FAILED', stepId: run.stepId ?? undefined, message });
      if (res.ok) report.failed++;
    } else if (state === 'completed') {
      // A completed job at the current seq cannot have committed; clear it so the id can be used again.
      await queue.remove(jobId);
      await this.processor.ensureCurrentJob(run);
      report.requeued++;
    }
  }
}
