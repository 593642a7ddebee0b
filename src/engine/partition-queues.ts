/**
 * The BullMQ queues of every partition: each partition has its own `steps` and `events` queue
 * under its hash-tagged prefix (keyspace.ts `partition(p).bullPrefix`), so a run's jobs live in
 * the slot of its run and a partition's queue load sits on the primary that holds it. A run's
 * queue is found from its id alone.
 */
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from './redis.ts';
import type { Keyspace } from './keyspace.ts';
import type { SchedulerOptions, StepJobData } from './scheduler.ts';

/**
 * The events streams' budget of a deployment, per queue kind (steps, events): what the one queue
 * of each kind kept before partitions, BullMQ's default `streams.events.maxLen`. Each partition's
 * queue keeps its share (eventsStreamPerPartition); the stream is Bull Board's and QueueEvents'
 * recent history only, the run's history is the record.
 */
export const EVENTS_STREAM_MAX_LEN = 10_000;
/** A partition's events stream keeps at least this many entries, however many partitions share the budget. */
export const EVENTS_STREAM_MIN_LEN = 100;

export interface PartitionQueuesOptions {
  /** The deployment's events-stream budget per queue kind (default EVENTS_STREAM_MAX_LEN). */
  eventsStreamMaxLen?: number;
}

export class PartitionQueues {
  readonly steps: readonly Queue<StepJobData>[];
  readonly events: readonly Queue[];

  constructor(
    redis: Redis,
    private readonly keys: Keyspace,
    names: { steps: string; events: string },
    onError: { steps: (err: Error) => void; events: (err: Error) => void },
    opts: PartitionQueuesOptions = {},
  ) {
    const parts = Array.from({ length: keys.partitions }, (_, p) => keys.partition(p));
    // Each Queue writes this into its meta hash (`opts.maxLenEvents`) when it connects; every
    // script that adds to or trims the stream reads it from there, ours that run BullMQ's add and
    // finish included, so Workers need no option (docs/partitions.md, "Retention").
    const streams = { events: { maxLen: eventsStreamPerPartition(opts.eventsStreamMaxLen ?? EVENTS_STREAM_MAX_LEN, keys.partitions) } };
    this.steps = parts.map((pk) => {
      const q = new Queue<StepJobData>(names.steps, { connection: redis, prefix: pk.bullPrefix, streams });
      q.on('error', onError.steps);
      return q;
    });
    this.events = parts.map((pk) => {
      const q = new Queue(names.events, { connection: redis, prefix: pk.bullPrefix, streams });
      q.on('error', onError.events);
      return q;
    });
  }

  /** The step queue of the run's partition. */
  stepsOf(runId: string): Queue<StepJobData> {
    return this.steps[this.keys.partitionOf(runId)]!;
  }

  /** The event queue of the run's partition: where jobs about this run (its timeouts, its children's ends) go. */
  eventsOf(runId: string): Queue {
    return this.events[this.keys.partitionOf(runId)]!;
  }

  /** Every queue, for Bull Board. */
  all(): Queue[] {
    return [...this.steps, ...this.events];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}

/**
 * One partition's share of a deployment-wide count, rounded up and at least `floor`. BullMQ's
 * counts (a job retention's `count`, an events stream's `maxLen`) bound one queue; kept per queue
 * as given, 12 partitions would keep 12 times what the figure names.
 */
export function sharePerPartition(count: number, partitions: number, floor = 1): number {
  return Math.max(floor, Math.ceil(count / partitions));
}

/**
 * A deployment-wide job retention split over the partitions' queues (measured before the split:
 * 25 KB instead of 7.6 KB of Redis per finished 10-step run). The age is kept.
 */
export function retentionPerPartition(r: SchedulerOptions, partitions: number): SchedulerOptions {
  return {
    keepCompleted: { ...r.keepCompleted, count: sharePerPartition(r.keepCompleted.count, partitions) },
    keepFailed: { ...r.keepFailed, count: sharePerPartition(r.keepFailed.count, partitions) },
  };
}

/** BullMQ's keep-jobs option (`removeOnComplete`/`removeOnFail` as an object). */
interface KeepJobs {
  age?: number;
  count?: number;
}

/**
 * Job options whose deployment-wide retention counts are split over the partitions' queues, as
 * retentionPerPartition does for step jobs; ages and every other option are kept.
 */
export function jobRetentionPerPartition<T extends { removeOnComplete?: KeepJobs; removeOnFail?: KeepJobs }>(
  job: T,
  partitions: number,
): T {
  const split = (keep: KeepJobs): KeepJobs =>
    keep.count === undefined ? keep : { ...keep, count: sharePerPartition(keep.count, partitions) };
  return {
    ...job,
    ...(job.removeOnComplete ? { removeOnComplete: split(job.removeOnComplete) } : {}),
    ...(job.removeOnFail ? { removeOnFail: split(job.removeOnFail) } : {}),
  };
}

/** A partition queue's events-stream length: its share of the deployment's `total`, at least EVENTS_STREAM_MIN_LEN. */
export function eventsStreamPerPartition(total: number, partitions: number): number {
  return sharePerPartition(total, partitions, EVENTS_STREAM_MIN_LEN);
}
