/**
 * The engine's own jobs, beside the step jobs: completion callbacks, a child run's end reaching
 * its parent, confirmation timeouts and reminders. One BullMQ Worker per consumed partition's
 * `events` queue. The relay turns outbox entries written by the Lua transitions into these jobs
 * (ids are deterministic, so relaying twice is harmless): each consumed partition's outbox, into
 * the event queue of the partition the job is about (a callback: the run's own; a child's end:
 * its parent's, which may be another partition), so a cross-partition notice is as durable as
 * the transition that wrote it.
 */
import { Worker, type Job } from 'bullmq';
import { duplicateClient, type RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import type { Keyspace } from './keyspace.ts';
import { jobRetentionPerPartition, type PartitionQueues } from './partition-queues.ts';
import { ConcurrencyBalancer } from './concurrency-balancer.ts';
import type { RunStore } from './run-store.ts';
import type { RunView } from './run-view.ts';
import { EVENT_JOB, eventJobPerPartition, type Waits } from './waits.ts';
import { callbackRetryDelay, sendCallback } from './callbacks.ts';
import type { RunState } from './types.ts';
import { throttledLog } from '../observability/throttle.ts';
import { callbacks, stalledJobs } from '../observability/metrics.ts';
import { refusalBackoff, type RefusalBackoff } from './refusal-backoff.ts';
import { drain } from './drain.ts';

export interface EventWorkerDeps {
  redis: Redis;
  keys: Keyspace;
  queues: PartitionQueues;
  /** The partitions whose event queues and outboxes this process serves. */
  partitions: number[];
  runs: RunStore;
  waits: Waits;
  view: (run: RunState) => Promise<RunView>;
  callbackSecret: () => Promise<string>;
  log: Logger;
  concurrency: number;
}

const RELAY_MS = 200;

/**
 * A receiver may be down for a while: 1 s doubling to an hour between tries (or the longer
 * Retry-After it asked for, within the hour), 25 tries, about 14 hours in all. After that the job stays failed (visible in Bull Board, retryable there).
 */
const CALLBACK_JOB = { ...EVENT_JOB, attempts: 25, backoff: { type: 'callback' } };

export class EventWorker {
  readonly workers: Worker[];
  private relayTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly connection: Redis;
  private readonly refusals: RefusalBackoff[] = [];
  private held = 0;
  /** The relayed jobs' options for one partition's event queue: retention counts split over the partitions. */
  private readonly callbackJob: typeof CALLBACK_JOB;
  private readonly childDoneJob: typeof EVENT_JOB;

  constructor(private readonly d: EventWorkerDeps) {
    this.callbackJob = jobRetentionPerPartition(CALLBACK_JOB, d.keys.partitions);
    this.childDoneJob = eventJobPerPartition(d.keys.partitions);
    // BullMQ never closes a connection it is handed, so this one is ours to close.
    this.connection = duplicateClient(d.redis, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    const balancer = new ConcurrencyBalancer(d.concurrency, d.partitions.length);
    const workerError = throttledLog(d.log, 'error', 'event worker error');
    this.workers = d.partitions.map((p, i) => {
      const queue = d.queues.events[p]!;
      const worker = new Worker(
        queue.name,
        async (job) => {
          this.held += 1;
          balancer.started(i);
          try {
            return await this.handle(job);
          } finally {
            this.held -= 1;
            balancer.finished(i);
          }
        },
        {
          connection: this.connection,
          prefix: queue.opts.prefix,
          concurrency: balancer.initial(i),
          settings: { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => callbackRetryDelay(attemptsMade, err) },
        },
      );
      balancer.attach(i, worker);
      const refusals = refusalBackoff(worker);
      this.refusals.push(refusals);
      worker.on('error', (err) => {
        refusals.onError(err);
        workerError(err, { partition: p });
      });
      worker.on('stalled', () => stalledJobs.inc({ queue: queue.name }));
      worker.on('failed', (job, err) =>
        d.log.warn(
          { err: err.message, job: job?.name, runId: job?.data?.runId, seq: job?.data?.seq, attempt: job?.attemptsMade },
          'event job failed',
        ),
      );
      return worker;
    });
    const relayFailed = throttledLog(d.log, 'error', 'outbox relay failed');
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.relayOnce();
      } catch (err) {
        relayFailed(err);
      }
      this.relayTimer = setTimeout(tick, RELAY_MS);
      this.relayTimer.unref();
    };
    void tick();
  }

  private async handle(job: Job): Promise<void> {
    const { runId, seq } = job.data as { runId: string; seq: number };
    switch (job.name) {
      case 'callback': {
        const run = await this.d.runs.get(runId);
        if (!run?.callbackUrl) return;
        const view = await this.d.view(run);
        // The summary is of the state that ended, even if the run moved on since (a draft resubmitted).
        const status = (job.data as { status: RunView['status'] }).status;
        try {
          await sendCallback(run.callbackUrl, { ...view, status, seq }, await this.d.callbackSecret());
        } catch (err) {
          callbacks.inc({ result: 'failed' });
          throw err;
        }
        callbacks.inc({ result: 'delivered' });
        this.d.log.info({ runId, seq, status, attempt: job.attemptsMade + 1, stepId: run.stepId }, 'callback delivered');
        return;
      }
      case 'child-done': {
        const child = await this.d.runs.get(runId);
        if (child) await this.d.waits.childEnded(child);
        return;
      }
      case 'wait-timeout':
        await this.d.waits.expire(runId, seq);
        return;
      case 'wait-reminder':
        await this.d.waits.remind(runId, seq, (job.data as { n: number }).n);
        return;
      default:
        this.d.log.warn({ job: job.name }, 'unknown event job');
    }
  }

  /** Moves outbox entries of every served partition into event jobs. */
  async relayOnce(): Promise<number> {
    const counts = await Promise.all(this.d.partitions.map((p) => this.relayPartition(p)));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async relayPartition(p: number): Promise<number> {
    const outbox = this.d.keys.partition(p).outbox;
    const entries = await this.d.redis.zrange(outbox, 0, 99);
    for (const entry of entries) {
      const [runId = '', status = '', seqText = '0'] = entry.split(' ');
      const seq = Number(seqText);
      const run = await this.d.runs.get(runId);
      if (run?.callbackUrl)
        await this.d.queues.eventsOf(runId).add('callback', { runId, seq, status }, { jobId: `cb-${runId}-${seq}`, ...this.callbackJob });
      // The parent hears of its child in the parent's partition, where its wait is resolved.
      if (run?.parent)
        await this.d.queues
          .eventsOf(run.parent.runId)
          .add('child-done', { runId, seq, status }, { jobId: `child-${runId}-${seq}`, ...this.childDoneJob });
      await this.d.redis.zrem(outbox, entry);
    }
    return entries.length;
  }

  /**
   * Stops relaying and lets active event jobs finish for up to `timeoutMs`; one still running
   * then is left to its lock's expiry (event jobs are idempotent: callbacks carry a stable id).
   */
  async close(timeoutMs = Infinity): Promise<void> {
    this.stopped = true;
    for (const r of this.refusals) r.stop();
    clearTimeout(this.relayTimer);
    const closing = Promise.all(this.workers.map((w) => w.close()));
    closing.catch(() => undefined);
    if (Number.isFinite(timeoutMs)) await drain(closing, timeoutMs, () => this.held);
    else await closing;
    this.connection.disconnect();
  }
}
