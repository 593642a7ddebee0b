/**
 * The two things being compared, behind one small interface: a naive BullMQ chain and stageflow
 * running a linear updateModelField workflow. Both use the same retention, attempts, lock
 * settings and worker concurrency.
 */
import { performance } from 'node:perf_hooks';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_RETRY } from '../src/definition/compile.ts';
import { Engine } from '../src/engine/engine.ts';
import { STEP_JOB_RETENTION } from '../src/engine/scheduler.ts';
import { waitUntilReady } from '../src/engine/redis.ts';
import type { StepWorker } from '../src/engine/step-worker.ts';
import { createLogger } from '../src/observability/logger.ts';
import { engineTestOptions, linearWorkflow } from '../test/helpers/harness.ts';
import { type BenchConfig, type Monitor, waitFor } from './lib.ts';

export interface Side {
  /** The BullMQ Worker whose 'completed' events give per-step latency. */
  worker: Worker;
  /** Add every chain/run at once (a burst); resolves when all adds are acknowledged. */
  startAll(n: number): Promise<void>;
  /** True once n chains/runs in total (warm-up included) are finished; throws if one failed. */
  done(n: number): Promise<boolean>;
  /** Drops the finished jobs (of the warm-up), so memory is measured from an empty completed set. */
  cleanFinished(): Promise<void>;
  close(): Promise<void>;
}

export interface SideFactory {
  name: string;
  retention: string;
  open(cfg: BenchConfig, prefix: string, monitor: Monitor): Promise<Side>;
  kindOf(prefix: string, key: string): string;
}

// The baseline's jobs get stageflow's step job retention and default retry policy.
const { keepCompleted: KEEP_COMPLETED, keepFailed: KEEP_FAILED } = STEP_JOB_RETENTION;

/** `{bull}:<queue>:<job id | suffix>[:<sub>]` → a coarse kind, e.g. "bull steps job hash", "bull steps:events". */
function bullKind(rest: string): string {
  const [, queue = '', ...more] = rest.split(':');
  const tail = more.join(':');
  const jobId = /^([0-9]+|[0-9a-f-]{36}-\d+)(:|$)/.exec(tail);
  if (jobId) return jobId[2] ? `bull ${queue} job :${tail.split(':').pop()}` : `bull ${queue} job hash`;
  return `bull ${queue}:${tail}`;
}

// ---------------------------------------------------------------- (a) naive BullMQ chain

export const baseline: SideFactory = {
  name: 'baseline',
  retention: `BullMQ removeOnComplete ${JSON.stringify(KEEP_COMPLETED)} → at most ${KEEP_COMPLETED.count} finished job hashes kept; no other state`,
  async open(cfg, prefix) {
    const connection = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    const queue = new Queue('chain', { connection, prefix: `${prefix}:{bull}` });
    const last = cfg.stepsPerRun;
    const jobOpts = {
      attempts: DEFAULT_RETRY.attempts,
      backoff: { type: 'exponential', delay: DEFAULT_RETRY.backoff.delayMs },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = engineTestOptions(prefix).worker;
    let finished = 0;
    let failed = 0;
    const workerConnection = connection.duplicate({ maxRetriesPerRequest: null });
    workerConnection.on('error', () => undefined);
    const worker = new Worker(
      'chain',
      async (job: Job<{ chain: number; i: number }>) => {
        const { chain, i } = job.data;
        if (i < last) await queue.add('step', { chain, i: i + 1 }, jobOpts);
        return null;
      },
      {
        connection: workerConnection,
        prefix: `${prefix}:{bull}`,
        concurrency: cfg.concurrency,
        lockDuration: lockDurationMs,
        stalledInterval: stalledIntervalMs,
        maxStalledCount,
      },
    );
    worker.on('error', () => undefined);
    worker.on('completed', (job: Job<{ chain: number; i: number }>) => {
      if (job.data.i === last) finished += 1;
    });
    worker.on('failed', () => void (failed += 1));
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    return {
      worker,
      async startAll(n) {
        await Promise.all(Array.from({ length: n }, (_, chain) => queue.add('step', { chain, i: 1 }, jobOpts)));
      },
      async done(n) {
        if (failed > 0) throw new Error(`baseline: ${failed} jobs failed`);
        return finished >= n;
      },
      async cleanFinished() {
        await queue.clean(0, 100_000, 'completed');
      },
      async close() {
        await worker.close();
        await queue.close();
        workerConnection.disconnect();
        connection.disconnect();
      },
    };
  },
  kindOf(prefix, key) {
    const rest = key.slice(prefix.length + 1);
    return rest.startsWith('{bull}:') ? bullKind(rest) : rest.split(':')[0]!;
  },
};

// ---------------------------------------------------------------- (b) stageflow

const WORKFLOW = 'bench-chain';

export const stageflow: SideFactory = {
  name: 'stageflow',
  retention:
    `same BullMQ job retention (Scheduler: removeOnComplete ${JSON.stringify(KEEP_COMPLETED)}); ` +
    'run hash + history expire after retentionSec=3600; run index members and entries do not expire',
  async open(cfg, prefix, monitor) {
    const base = engineTestOptions(prefix, { redisUrl: cfg.redisUrl, ...(cfg.redisCluster ? { redisCluster: cfg.redisCluster } : {}) });
    const opts = {
      ...base,
      // BENCH_PARTITIONS: the engine's STAGEFLOW_PARTITIONS (default 12), to price the partitions on one Redis.
      partitions: Number(process.env.BENCH_PARTITIONS ?? 12),
      worker: { ...base.worker, concurrency: cfg.concurrency },
    };
    const log = createLogger({ level: 'silent' });
    // One engine for the worker (retrying connection), one for starting runs as the API would.
    const workerEngine = Engine.open(opts, log, { failFast: false });
    const api = Engine.open(opts, log, { failFast: true });
    await Promise.all([waitUntilReady(api.redis, 5000), waitUntilReady(workerEngine.redis, 5000)]);
    await api.saveWorkflow(WORKFLOW, linearWorkflow(WORKFLOW, cfg.stepsPerRun));
    const stepWorker: StepWorker = workerEngine.startWorker();
    // One BullMQ Worker per partition: the bench listens on all of them through one face.
    const workers = stepWorker.workers as unknown as Worker[];
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const worker = {
      on(event: string, listener: (...a: unknown[]) => void) {
        for (const w of workers) w.on(event as 'completed', listener);
        return this;
      },
    } as unknown as Worker;
    const parts = Array.from({ length: api.keys.partitions }, (_, p) => api.keys.partition(p));
    const completedKeys = parts.map((pk) => pk.runIndex({ workflow: WORKFLOW, status: 'completed' }));
    const failedKeys = parts.map((pk) => pk.runIndex({ workflow: WORKFLOW, status: 'failed' }));
    const sum = async (keys: string[]) => {
      const pipe = monitor.redis.pipeline();
      for (const key of keys) pipe.zcard(key);
      return ((await pipe.exec()) ?? []).reduce((n, [, c]) => n + Number(c ?? 0), 0);
    };
    return {
      worker,
      async startAll(n) {
        await Promise.all(Array.from({ length: n }, () => api.startRun(WORKFLOW, { model: {} })));
      },
      async done(n) {
        // Count via the run indexes (one ZCARD pipeline on the bench's own monitor connection, subtracted later).
        const [completed, failed] = await Promise.all([sum(completedKeys), sum(failedKeys)]);
        if (failed > 0) throw new Error(`stageflow: ${failed} runs failed`);
        return completed >= n;
      },
      async cleanFinished() {
        await Promise.all(api.queue.map((q) => q.clean(0, 100_000, 'completed')));
      },
      async close() {
        // Connections the engine leaves open are found and reported by the caller (sweepOpenClients).
        await workerEngine.close();
        await api.close();
      },
    };
  },
  kindOf(prefix, key) {
    // `<prefix>:{<partition tag> | g}:<kind>…` (src/engine/keyspace.ts); the tag is dropped, so the partitions' keys add up by kind.
    const rest = key.slice(prefix.length + 1).replace(/^\{[^}]*\}:/, '');
    if (/^(steps|events):/.test(rest)) return bullKind(`tag:${rest}`);
    if (/^run:[^:]+:history$/.test(rest)) return 'run history';
    if (/^run:[^:]+$/.test(rest)) return 'run hash';
    if (rest.startsWith('entry:')) return 'entry hash';
    if (rest.startsWith('runs:')) return 'run indexes';
    return rest.split(':')[0]!;
  },
};

/** Starts `runs` chains/runs at once; resolves with the ms from the first add until `target` in all are done. */
export async function burst(side: Side, what: string, runs: number, target: number, pollMs: number, deadline: number): Promise<number> {
  const t0 = performance.now();
  const adding = side.startAll(runs);
  let addError: unknown;
  adding.catch((err) => (addError = err));
  await waitFor(
    `${what} runs`,
    () => {
      if (addError) throw addError;
      return side.done(target);
    },
    pollMs,
    deadline,
  );
  const ms = performance.now() - t0;
  await adding;
  return ms;
}
