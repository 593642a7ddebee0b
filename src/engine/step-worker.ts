/**
 * A BullMQ worker on the step queue, with the engine's backoff strategy, a heartbeat for
 * /readyz, and a bounded graceful shutdown (BullMQ's own close() waits forever).
 */
import { randomUUID } from 'node:crypto';
import { Worker, type Job, type MinimalJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BACKOFF_TYPE, backoffDelay, type StepJobData } from './scheduler.ts';
import type { StepProcessor } from './step-processor.ts';
import { retryAfterMsOf } from '../http/retry-after.ts';

export interface StepWorkerOptions {
  prefix: string;
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
  readonly worker: Worker<StepJobData>;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly connection: Redis;

  constructor(
    private readonly redis: Redis,
    processor: StepProcessor,
    private readonly log: Logger,
    private readonly opts: StepWorkerOptions,
  ) {
    // BullMQ never closes a connection it is handed, so this one is ours to close.
    this.connection = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
    this.worker = new Worker<StepJobData>(opts.queueName, (job: Job<StepJobData>) => processor.process(job), {
      connection: this.connection,
      // Jobs record which worker ran them (job.processedBy), so Bull Board and tests can tell.
      name: this.id,
      prefix: opts.prefix,
      concurrency: opts.concurrency,
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
    });
    this.worker.on('error', (err) => log.error({ err, workerId: this.id }, 'worker error'));
    const beat = () =>
      void redis.zadd(opts.heartbeatKey, Date.now(), this.id).catch((err) => log.warn({ err }, 'heartbeat failed'));
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    log.info({ workerId: this.id, concurrency: opts.concurrency }, 'step worker started');
  }

  /** Finish active jobs within the bound, then hand the rest back (their locks lapse and another worker takes them). */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.opts.shutdownTimeoutMs)));
    const result = await Promise.race([this.worker.close().then(() => 'closed' as const), forced]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn({ workerId: this.id }, 'worker did not drain in time; closing with jobs still active');
      await this.worker.close(true);
    }
    await this.redis.zrem(this.opts.heartbeatKey, this.id).catch(() => undefined);
    this.connection.disconnect();
    this.log.info({ workerId: this.id }, 'step worker stopped');
  }
}
