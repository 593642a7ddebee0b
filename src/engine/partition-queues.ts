/**
 * The BullMQ queues of every partition: each partition has its own `steps` and `events` queue
 * under its hash-tagged prefix (keyspace.ts `partition(p).bullPrefix`), so a run's jobs live in
 * the slot of its run and a partition's queue load sits on the primary that holds it. A run's
 * queue is found from its id alone.
 */
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from './redis.ts';
import type { Keyspace } from './keyspace.ts';
import type { StepJobData } from './scheduler.ts';

export class PartitionQueues {
  readonly steps: readonly Queue<StepJobData>[];
  readonly events: readonly Queue[];

  constructor(
    redis: Redis,
    private readonly keys: Keyspace,
    names: { steps: string; events: string },
    onError: { steps: (err: Error) => void; events: (err: Error) => void },
  ) {
    const parts = Array.from({ length: keys.partitions }, (_, p) => keys.partition(p));
    this.steps = parts.map((pk) => {
      const q = new Queue<StepJobData>(names.steps, { connection: redis, prefix: pk.bullPrefix });
      q.on('error', onError.steps);
      return q;
    });
    this.events = parts.map((pk) => {
      const q = new Queue(names.events, { connection: redis, prefix: pk.bullPrefix });
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
