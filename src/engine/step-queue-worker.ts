/**
 * A partition's BullMQ Worker, told by our finish when its queue ran dry.
 *
 * BullMQ marks a Worker "not drained" whenever a finish hands it the next job. With slots free,
 * its loop then asks the queue for more without blocking (moveToActive), finds nothing, and only
 * then blocks on the queue's marker. A single busy queue rarely pays for that, but a process's
 * slots are spread over every partition, and a partition usually holds fewer runs than its
 * Worker has slots: then every step cost one empty fetch (0.7 per step under the HTTP bench,
 * against 0.04 for the naive chain's one queue), each a script call in Redis and a round trip
 * for the process.
 *
 * Our commit-and-finish script knows whether anything is left waiting after its own fetch, and
 * then takes back the queue's marker (commit-and-finish-step.lua). Told so, this Worker stays
 * drained: its free slots block on the marker, which the next add to the queue sets. It also
 * emits 'drained' as BullMQ's empty fetch did, so the concurrency balancer still sees the queue
 * run dry. Only that flag changes; every fetch, lock and finish is BullMQ's own.
 */
import { Worker, type Job, type JobJson } from 'bullmq';

/** Job ids a dry finish handed out, kept until BullMQ takes the job in; bounded for safety. */
const MAX_PENDING = 1000;

export class StepQueueWorker<D> extends Worker<D> {
  private readonly dryAt = new Set<string>();

  /** A finish left the queue with nothing waiting; `nextJobId` is the job it handed out, if any. */
  ranDry(nextJobId: string | undefined): void {
    this.emit('drained');
    if (nextJobId === undefined) {
      this.markDrained();
      return;
    }
    if (this.dryAt.size >= MAX_PENDING) this.dryAt.clear();
    this.dryAt.add(nextJobId);
  }

  // BullMQ calls this with every job it takes in, from a fetch or a finish; it clears `drained`.
  protected override async nextJobFromJobData(jobData?: JobJson, jobId?: string, token?: string): Promise<Job<D>> {
    const job = await super.nextJobFromJobData(jobData, jobId, token);
    if (jobId !== undefined && this.dryAt.delete(jobId)) this.markDrained();
    return job;
  }

  private markDrained(): void {
    (this as unknown as { drained: boolean }).drained = true;
  }
}

/** Fails at start when the pinned BullMQ's Worker no longer keeps the flag this class sets. */
export function assertDrainedFlag(worker: Worker): void {
  if (typeof (worker as unknown as { drained?: unknown }).drained !== 'boolean') {
    throw new Error("bullmq's Worker no longer has a boolean `drained` flag; see src/engine/step-queue-worker.ts");
  }
}
