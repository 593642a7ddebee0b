/**
 * A step worker process's consumer: one BullMQ Worker per consumed partition's step queue
 * (WORKER_PARTITIONS), sharing the engine's backoff strategy, one heartbeat for /readyz and one
 * bounded graceful shutdown (BullMQ's own close() waits forever). WORKER_CONCURRENCY stays the
 * process's figure: its slots go to the partitions that have work (concurrency-balancer.ts). A
 * step's commit is folded into BullMQ's finish of its job, so a committed step is one Redis call
 * (bullmq-finish.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Job, MinimalJob } from 'bullmq';
import { duplicateClient, type RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import { BACKOFF_TYPE, backoffDelay, type StepJobData } from './scheduler.ts';
import type { StepProcessor } from './step-processor.ts';
import { retryAfterMsOf } from '../http/retry-after.ts';
import { throttledLog } from '../observability/throttle.ts';
import { stalledJobs } from '../observability/metrics.ts';
import { refusalBackoff, type RefusalBackoff } from './refusal-backoff.ts';
import { drain } from './drain.ts';
import { ConcurrencyBalancer } from './concurrency-balancer.ts';
import { assertFinishInterface, foldFinish } from './bullmq-finish.ts';
import { assertDrainedFlag, StepQueueWorker } from './step-queue-worker.ts';

export interface StepWorkerOptions {
  /** The BullMQ prefix of each consumed partition (keyspace.ts `partition(p).bullPrefix`). */
  prefixes: string[];
  queueName: string;
  heartbeatKey: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  shutdownTimeoutMs: number;
}

const HEARTBEAT_MS = 5000;
const MAX_RETRY_AFTER_MS = 3_600_000;

export class StepWorker {
  readonly id = randomUUID();
  readonly workers: StepQueueWorker<StepJobData>[];
  private readonly heartbeat: NodeJS.Timeout;
  private readonly connection: Redis;
  private readonly refusals: RefusalBackoff[];
  /** Jobs this worker holds the lock of, so close() can hand them back. */
  private readonly active = new Map<string, { job: Job<StepJobData>; token: string }>();

  constructor(
    private readonly redis: Redis,
    processor: StepProcessor,
    private readonly log: Logger,
    private readonly opts: StepWorkerOptions,
  ) {
    // BullMQ never closes a connection it is handed, so this one is ours to close.
    this.connection = duplicateClient(redis, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    const balancer = new ConcurrencyBalancer(opts.concurrency, opts.prefixes.length);
    const workerError = throttledLog(log, 'error', 'worker error');
    this.refusals = [];
    this.workers = opts.prefixes.map((prefix, i) => {
      const worker: StepQueueWorker<StepJobData> = new StepQueueWorker<StepJobData>(
        opts.queueName,
        async (job: Job<StepJobData>, token?: string) => {
          if (token && job.id) this.active.set(job.id, { job, token });
          balancer.started(i);
          try {
            // A committed step's commit rides on this job's own finish: one Redis call (bullmq-finish.ts).
            return await processor.process(job, (finish) => foldFinish(job, finish, (next) => worker.ranDry(next)));
          } finally {
            if (job.id) this.active.delete(job.id);
            balancer.finished(i);
          }
        },
        {
          connection: this.connection,
          // Jobs record which worker ran them (job.processedBy), so Bull Board and tests can tell.
          name: this.id,
          prefix,
          concurrency: balancer.initial(i),
          lockDuration: opts.lockDurationMs,
          stalledInterval: opts.stalledIntervalMs,
          maxStalledCount: opts.maxStalledCount,
          settings: {
            backoffStrategy: (attemptsMade: number, type?: string, err?: Error, job?: MinimalJob) => {
              if (type !== BACKOFF_TYPE || !job) return 1000;
              const policy = (job.data as StepJobData).backoff;
              const delay = backoffDelay(policy, attemptsMade);
              // A server that said when to come back (Retry-After) is believed, within the policy's cap.
              const asked = retryAfterMsOf(err);
              return asked !== undefined ? Math.min(Math.max(asked, delay), policy.maxDelayMs ?? MAX_RETRY_AFTER_MS) : delay;
            },
          },
        },
      );
      balancer.attach(i, worker);
      assertFinishInterface(worker);
      assertDrainedFlag(worker);
      const refusals = refusalBackoff(worker);
      this.refusals.push(refusals);
      worker.on('error', (err) => {
        const paused = refusals.onError(err);
        workerError(err, { workerId: this.id, prefix, ...(paused ? { pausedForMs: refusals.pausedFor } : {}) });
      });
      worker.on('stalled', () => stalledJobs.inc({ queue: opts.queueName }));
      return worker;
    });
    const heartbeatFailed = throttledLog(log, 'warn', 'heartbeat failed');
    const beat = () =>
      void redis.zadd(opts.heartbeatKey, Date.now(), this.id).catch((err: unknown) => heartbeatFailed(err, { workerId: this.id }));
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    log.info({ workerId: this.id, concurrency: opts.concurrency, partitions: opts.prefixes.length }, 'step worker started');
  }

  /** Taking jobs: running and not shutting down (a worker's /readyz). */
  get taking(): boolean {
    return !this.closingStarted && this.workers.every((w) => w.isRunning());
  }

  private closingStarted = false;

  /**
   * Finish active jobs within the bound, then hand the rest back to the wait list, so another
   * worker takes them at once rather than after the lock expires. BullMQ 6.7's close(true) after
   * close() only returns the same pending promise, so the bound is kept here: moveToWait removes
   * this worker's lock and requeues the job without counting a failed attempt. The abandoned
   * handler may still run until the process exits; seq fencing refuses its commit if the new
   * owner commits first, and the new owner finds a stale job if this one won.
   */
  async close(): Promise<void> {
    this.closingStarted = true;
    for (const r of this.refusals) r.stop();
    clearInterval(this.heartbeat);
    const closing = Promise.all(this.workers.map((w) => w.close()));
    const result = await drain(closing, this.opts.shutdownTimeoutMs, () => this.active.size);
    if (result === 'timeout') {
      const held = [...this.active.values()];
      this.active.clear();
      let handedBack = 0;
      for (const { job, token } of held) {
        try {
          await job.moveToWait(token);
          handedBack += 1;
        } catch (err) {
          // Its lock is gone already (it finished meanwhile, or the stall check took it): nothing to hand back.
          this.log.debug({ err, jobId: job.id, runId: job.data.runId, seq: job.data.seq }, 'job not handed back');
        }
      }
      this.log.warn(
        { workerId: this.id, handedBack, held: held.length },
        'worker did not drain in time; active jobs handed back to the queue',
      );
      // The pending close() still waits on the abandoned handlers; the process exits without it.
      closing.catch(() => undefined);
    }
    // Bounded: with Redis gone this command would wait in the offline queue for ever. The
    // heartbeat goes stale by itself anyway.
    let zremTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.redis.zrem(this.opts.heartbeatKey, this.id).catch(() => undefined),
      new Promise((r) => (zremTimer = setTimeout(r, 1_000))),
    ]);
    clearTimeout(zremTimer);
    this.connection.disconnect();
    this.log.info({ workerId: this.id, drained: result !== 'timeout' }, 'step worker stopped');
  }
}
