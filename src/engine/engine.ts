/**
 * The engine's wiring: the Redis connection, the queues, the stores and RunTransitions, the step
 * processor, waits, reconciler and workers, and the process roles (startWorker, startReconciler).
 * What the API asks of runs is answered by the RunService (run-service.ts); the methods below
 * under "the API's calls" only hand over to it, so their names and signatures stay those the
 * API and src/runtime.ts call.
 */
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import type { ValidationResult } from '../definition/validate.ts';
import type { WorkflowDefinition } from '../definition/schema.ts';
import type { StepServices } from '../steps/services.ts';
import { unconfiguredServices } from './unconfigured-services.ts';
import { createKeyspace, DEFAULT_PARTITIONS, type Keyspace } from './keyspace.ts';
import { PartitionQueues, retentionPerPartition } from './partition-queues.ts';
import { hasLegacyData, upgradeLegacyLayout, type UpgradeReport } from './legacy-upgrade.ts';
import { Reconciler } from './reconciler.ts';
import { createProducerClient, createWorkerClient, redisTarget } from './redis.ts';
import { Acknowledger, resolveWaitReplicas } from './replication.ts';
import type { RedisClusterConfig } from '../../config/schema.ts';
import { RunStore, type ListQuery } from './run-store.ts';
import { RunService } from './run-service.ts';
import { RunTransitions } from './run-transitions.ts';
import type { RunView } from './run-view.ts';
import { STEP_JOB_RETENTION, Scheduler, type StepJobData } from './scheduler.ts';
import { loadScripts } from './scripts.ts';
import { StepProcessor } from './step-processor.ts';
import { StepWorker, type StepWorkerOptions } from './step-worker.ts';
import type { RunStatus } from './types.ts';
import { EventWorker } from './event-worker.ts';
import { Links } from './links.ts';
import { EVENTS_QUEUE, Waits } from './waits.ts';
import { WorkflowStore } from './workflow-store.ts';
import { Diagnoser } from './diagnosis.ts';
import type { Diagnosis } from './diagnose.ts';
import { Migrations } from './migrations.ts';
import { OPERATIONS_QUEUE, OperationWorker, Operations } from './operations.ts';
import { throttledLog } from '../observability/throttle.ts';

export const STEP_QUEUE = 'steps';

export interface EngineOptions {
  redisUrl: string;
  /** A Redis Cluster's seeds (REDIS_CLUSTER_NODES); when set, redisUrl is ignored. */
  redisCluster?: RedisClusterConfig | undefined;
  /**
   * Replicas that must confirm (WAIT) a start, an answer or an operator action before it is
   * acknowledged (REDIS_WAIT_REPLICAS); `auto` is decided once, at the first write or
   * replication(). Unset: 0, nothing waits.
   */
  waitReplicas?: number | 'auto';
  /** REDIS_WAIT_TIMEOUT_MS: past it an unconfirmed write answers 503. */
  waitTimeoutMs?: number;
  prefix: string;
  /** STAGEFLOW_PARTITIONS: the deployment's partition count, fixed at creation (default 12). */
  partitions?: number;
  maxTransitions: number;
  modelMaxBytes: number;
  retentionSec: number;
  idempotencyTtlMs: number;
  reconcile: { intervalMs: number; graceMs: number };
  worker: Omit<StepWorkerOptions, 'prefixes' | 'queueName' | 'heartbeatKey'> & {
    /** WORKER_PARTITIONS: the partitions this process's workers and reconciler serve (default: all). */
    partitions?: number[];
  };
  /** Builds what step handlers may use (notifications, dataflows…); see src/steps/services.ts. */
  services?: (engine: Engine) => Omit<StepServices, 'links'>;
  /** Secret for signed confirmation links; else one is generated once and kept in Redis. */
  linkSecret?: string;
  /** Secret signing completion callbacks (WEBHOOK_SECRET); falls back to the link secret. */
  webhookSecret?: string;
  /** Builds public URLs for links in messages (PUBLIC_URL). */
  publicUrl?: string;
}

export type { StartContext, StartInput } from './run-service.ts';

export class Engine {
  readonly keys: Keyspace;
  readonly runs: RunStore;
  readonly transitions: RunTransitions;
  readonly workflows: WorkflowStore;
  /** Every partition's step and event queues. */
  readonly queues: PartitionQueues;
  /** Every partition's step queue (index = partition), for Bull Board and /metrics. */
  readonly queue: readonly Queue<StepJobData>[];
  /** Every partition's event queue (index = partition). */
  readonly eventQueue: readonly Queue[];
  readonly scheduler: Scheduler;
  readonly processor: StepProcessor;
  readonly waits: Waits;
  readonly links: Links;
  readonly services: StepServices;
  readonly diagnoser: Diagnoser;
  readonly operationQueue: Queue;
  readonly operations: Operations;
  readonly migrations: Migrations;
  readonly service: RunService;
  private reconciler?: Reconciler;
  private readonly closers: Array<() => Promise<unknown>> = [];

  private constructor(
    readonly redis: Redis,
    readonly opts: EngineOptions,
    readonly log: Logger,
  ) {
    this.keys = createKeyspace(opts.prefix, opts.partitions ?? DEFAULT_PARTITIONS);
    const scripts = loadScripts(redis);
    this.queues = new PartitionQueues(
      redis,
      this.keys,
      { steps: STEP_QUEUE, events: EVENTS_QUEUE },
      { steps: throttledLog(log, 'error', 'step queue error'), events: throttledLog(log, 'error', 'event queue error') },
    );
    this.runs = new RunStore(redis, scripts, this.keys, { retentionSec: opts.retentionSec });
    this.workflows = new WorkflowStore(redis, scripts, this.keys);
    this.queue = this.queues.steps;
    this.eventQueue = this.queues.events;
    this.scheduler = new Scheduler((runId) => this.queues.stepsOf(runId), retentionPerPartition(STEP_JOB_RETENTION, this.keys.partitions));
    this.transitions = new RunTransitions(redis, scripts, this.keys, this.scheduler, {
      retentionSec: opts.retentionSec,
      stepQueue: STEP_QUEUE,
    });
    const base = (opts.publicUrl ?? 'http://localhost:3000').replace(/\/+$/, '');
    const publicUrl = (path: string) => `${base}${path}`;
    this.links = new Links(redis, this.keys, opts.linkSecret, publicUrl);
    const links = this.links;
    this.services = {
      ...(opts.services ?? unconfiguredServices)(this),
      publicUrl,
      links: {
        async forOptions(a) {
          const out: Record<string, string> = {};
          for (const option of a.options)
            out[option] = await links.url({ runId: a.runId, stepId: a.stepId, seq: a.seq, principalId: a.principalId, option, exp: a.exp });
          return out;
        },
      },
    };
    this.waits = new Waits(
      redis,
      this.keys,
      this.runs,
      this.transitions,
      this.workflows,
      (runId) => this.queues.eventsOf(runId),
      () => this.services,
      log,
      opts.modelMaxBytes,
      (childRunId) =>
        this.cancel(childRunId, 'system').then(
          () => undefined,
          () => undefined,
        ),
    );
    this.processor = new StepProcessor(
      this.runs,
      this.transitions,
      this.workflows,
      this.scheduler,
      log,
      { maxTransitions: opts.maxTransitions, modelMaxBytes: opts.modelMaxBytes },
      this.services,
      this.waits,
      (childRunId) =>
        this.cancel(childRunId, 'system').then(
          () => undefined,
          () => undefined,
        ),
    );
    this.diagnoser = new Diagnoser({
      redis,
      keys: this.keys,
      runs: this.runs,
      transitions: this.transitions,
      workflows: this.workflows,
      waits: this.waits,
      queues: this.queues,
      scheduler: this.scheduler,
      log,
      reconciler: {
        intervalMs: opts.reconcile.intervalMs,
        graceMs: opts.reconcile.graceMs,
        stalledIntervalMs: opts.worker.stalledIntervalMs,
      },
    });
    // Bulk operations span partitions: their queue is global.
    this.operationQueue = new Queue(OPERATIONS_QUEUE, { connection: redis, prefix: this.keys.globalBullPrefix });
    const operationQueueError = throttledLog(log, 'error', 'operations queue error');
    this.operationQueue.on('error', (err) => operationQueueError(err));
    this.operations = new Operations({
      redis,
      keys: this.keys,
      runs: this.runs,
      queue: this.operationQueue,
      log,
      retentionSec: opts.retentionSec,
      policyOf: (workflow) => this.policyOf(workflow),
      act: (action, runId, by) =>
        action === 'cancel' ? this.cancel(runId, by) : action === 'retry' ? this.retry(runId, {}, by) : this.submit(runId, {}, by),
    });
    this.migrations = new Migrations(this.runs, this.transitions, this.workflows, log);
    this.service = new RunService({
      opts,
      log,
      keys: this.keys,
      runs: this.runs,
      transitions: this.transitions,
      workflows: this.workflows,
      queues: this.queues,
      scheduler: this.scheduler,
      processor: this.processor,
      waits: this.waits,
      links: this.links,
      services: this.services,
      diagnoser: this.diagnoser,
      operations: this.operations,
      migrations: this.migrations,
      replicated: (...keys) => this.replicated(keys),
    });
  }

  private waitReplicas?: Promise<number>;
  private acks?: Acknowledger;

  /**
   * How many replicas each acknowledged write waits for, decided once (REDIS_WAIT_REPLICAS
   * `auto`: 1 when every primary has a replica). Never re-detected: after a failover the
   * promoted primary has no replica, and dropping to 0 then would silently drop the guarantee.
   */
  replication(): Promise<number> {
    this.waitReplicas ??= resolveWaitReplicas(this.opts.waitReplicas ?? 0, this.redis).catch((err: unknown) => {
      this.waitReplicas = undefined;
      throw err;
    });
    return this.waitReplicas;
  }

  /**
   * Resolves once enough replicas hold what this engine wrote to the primaries of `keys` (one
   * WAIT per primary, at once, on a connection of its own: Acknowledger); else NotReplicatedError
   * (503). The write stays: it is on the primary, and a retry with the same Idempotency-Key returns it.
   */
  private async replicated(keys: string[]): Promise<void> {
    const replicas = await this.replication();
    if (replicas <= 0 || keys.length === 0) return;
    this.acks ??= new Acknowledger(this.redis, throttledLog(this.log, 'warn', 'replication acknowledgement connection error'));
    await this.acks.confirm(keys, this.keys.ackMarker, replicas, this.opts.waitTimeoutMs ?? 1_000);
  }

  /**
   * `failFast` is for request handlers: a call fails at once when Redis is down instead of
   * queueing; workers want the opposite and keep retrying until Redis is back.
   */
  static open(opts: EngineOptions, log: Logger, { failFast }: { failFast: boolean }): Engine {
    const target = redisTarget(opts);
    // The engine's logger, so connection errors carry its context (and a silent test engine stays silent).
    const redis = failFast ? createProducerClient(target, { log }) : createWorkerClient(target, { log });
    return new Engine(redis, opts, log);
  }

  // ---- the API's calls, answered by the run service (run-service.ts) ----

  validateWorkflow(...a: Parameters<RunService['validateWorkflow']>): ReturnType<RunService['validateWorkflow']> {
    return this.service.validateWorkflow(...a);
  }

  saveWorkflow(...a: Parameters<RunService['saveWorkflow']>): ReturnType<RunService['saveWorkflow']> {
    return this.service.saveWorkflow(...a);
  }

  listWorkflows(...a: Parameters<RunService['listWorkflows']>): ReturnType<RunService['listWorkflows']> {
    return this.service.listWorkflows(...a);
  }

  getWorkflow(...a: Parameters<RunService['getWorkflow']>): ReturnType<RunService['getWorkflow']> {
    return this.service.getWorkflow(...a);
  }

  policyOf(...a: Parameters<RunService['policyOf']>): ReturnType<RunService['policyOf']> {
    return this.service.policyOf(...a);
  }

  startRun(...a: Parameters<RunService['startRun']>): ReturnType<RunService['startRun']> {
    return this.service.startRun(...a);
  }

  startRuns(...a: Parameters<RunService['startRuns']>): ReturnType<RunService['startRuns']> {
    return this.service.startRuns(...a);
  }

  getRun(...a: Parameters<RunService['getRun']>): ReturnType<RunService['getRun']> {
    return this.service.getRun(...a);
  }

  diagnose(...a: Parameters<RunService['diagnose']>): ReturnType<RunService['diagnose']> {
    return this.service.diagnose(...a);
  }

  repair(...a: Parameters<RunService['repair']>): ReturnType<RunService['repair']> {
    return this.service.repair(...a);
  }

  bulkDryRun(...a: Parameters<RunService['bulkDryRun']>): ReturnType<RunService['bulkDryRun']> {
    return this.service.bulkDryRun(...a);
  }

  startBulk(...a: Parameters<RunService['startBulk']>): ReturnType<RunService['startBulk']> {
    return this.service.startBulk(...a);
  }

  getOperation(...a: Parameters<RunService['getOperation']>): ReturnType<RunService['getOperation']> {
    return this.service.getOperation(...a);
  }

  migrate(...a: Parameters<RunService['migrate']>): ReturnType<RunService['migrate']> {
    return this.service.migrate(...a);
  }

  simulate(...a: Parameters<RunService['simulate']>): ReturnType<RunService['simulate']> {
    return this.service.simulate(...a);
  }

  history(...a: Parameters<RunService['history']>): ReturnType<RunService['history']> {
    return this.service.history(...a);
  }

  listRuns(...a: Parameters<RunService['listRuns']>): ReturnType<RunService['listRuns']> {
    return this.service.listRuns(...a);
  }

  workflowVersions(...a: Parameters<RunService['workflowVersions']>): ReturnType<RunService['workflowVersions']> {
    return this.service.workflowVersions(...a);
  }

  cancel(...a: Parameters<RunService['cancel']>): ReturnType<RunService['cancel']> {
    return this.service.cancel(...a);
  }

  retry(...a: Parameters<RunService['retry']>): ReturnType<RunService['retry']> {
    return this.service.retry(...a);
  }

  submit(...a: Parameters<RunService['submit']>): ReturnType<RunService['submit']> {
    return this.service.submit(...a);
  }

  confirm(...a: Parameters<RunService['confirm']>): ReturnType<RunService['confirm']> {
    return this.service.confirm(...a);
  }

  readLink(...a: Parameters<RunService['readLink']>): ReturnType<RunService['readLink']> {
    return this.service.readLink(...a);
  }

  linkStatus(...a: Parameters<RunService['linkStatus']>): ReturnType<RunService['linkStatus']> {
    return this.service.linkStatus(...a);
  }

  confirmByLink(...a: Parameters<RunService['confirmByLink']>): ReturnType<RunService['confirmByLink']> {
    return this.service.confirmByLink(...a);
  }

  tasks(...a: Parameters<RunService['tasks']>): ReturnType<RunService['tasks']> {
    return this.service.tasks(...a);
  }

  startChildRun(...a: Parameters<RunService['startChildRun']>): ReturnType<RunService['startChildRun']> {
    return this.service.startChildRun(...a);
  }

  getEntry(...a: Parameters<RunService['getEntry']>): ReturnType<RunService['getEntry']> {
    return this.service.getEntry(...a);
  }

  // ---- processes ----

  /** The partitions this process's workers and reconciler serve (WORKER_PARTITIONS, default all). */
  get servedPartitions(): number[] {
    const all = Array.from({ length: this.keys.partitions }, (_, p) => p);
    const asked = this.opts.worker.partitions;
    if (!asked?.length) return all;
    for (const p of asked)
      if (!Number.isInteger(p) || p < 0 || p >= this.keys.partitions)
        throw new RangeError(`WORKER_PARTITIONS: no partition ${p} of ${this.keys.partitions}`);
    return [...new Set(asked)].sort((a, b) => a - b);
  }

  startWorker(): StepWorker {
    const { partitions: _, ...workerOpts } = this.opts.worker;
    const served = this.servedPartitions;
    const worker = new StepWorker(this.redis, this.processor, this.log, {
      ...workerOpts,
      prefixes: served.map((p) => this.keys.partition(p).bullPrefix),
      queueName: STEP_QUEUE,
      heartbeatKey: this.keys.workerHeartbeats,
    });
    const events = new EventWorker({
      redis: this.redis,
      keys: this.keys,
      queues: this.queues,
      partitions: served,
      runs: this.runs,
      waits: this.waits,
      log: this.log,
      concurrency: Math.max(5, Math.ceil(this.opts.worker.concurrency / 2)),
      view: (run) => this.service.view(run),
      callbackSecret: async () => this.opts.webhookSecret ?? (await this.links.secretText()),
    });
    const operations = new OperationWorker(this.redis, this.operationQueue, this.operations, this.log);
    // All drain at once, so a SIGTERM costs one SHUTDOWN_TIMEOUT_MS, not several.
    this.closers.push(() =>
      Promise.all([worker.close(), events.close(this.opts.worker.shutdownTimeoutMs), operations.close(this.opts.worker.shutdownTimeoutMs)]),
    );
    return worker;
  }

  startReconciler(): Reconciler {
    this.reconciler = new Reconciler(
      this.redis,
      this.keys,
      this.queues,
      this.runs,
      this.transitions,
      this.processor,
      this.waits,
      this.log,
      {
        ...this.opts.reconcile,
        partitions: this.servedPartitions,
      },
    );
    this.reconciler.start();
    return this.reconciler;
  }

  /**
   * Moves data stored by the release before partitions into the partitioned layout (single Redis
   * only; see legacy-upgrade.ts). Null when there was nothing to do.
   */
  upgradeLegacyLayout(): Promise<UpgradeReport | null> {
    return upgradeLegacyLayout(this.redis, this.keys, this.queues, this.operationQueue, this.log);
  }

  /** True while data of the previous layout waits to be upgraded (a cluster must refuse to start then). */
  hasLegacyData(): Promise<boolean> {
    return hasLegacyData(this.redis, this.keys);
  }

  /** Runs kept in Redis, by status (the partitions' status indexes, summed). */
  async runCounts(): Promise<Partial<Record<RunStatus, number>>> {
    const statuses = ['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft'] as const;
    // One pipeline per partition: on a cluster a pipeline must stay in one slot's node.
    const perPartition = await Promise.all(
      Array.from({ length: this.keys.partitions }, async (_, p) => {
        const pk = this.keys.partition(p);
        const pipe = this.redis.pipeline();
        for (const status of statuses) pipe.zcard(pk.runIndex({ status }));
        return ((await pipe.exec()) ?? []).map(([, n]) => Number(n ?? 0));
      }),
    );
    return Object.fromEntries(statuses.map((s, i) => [s, perPartition.reduce((sum, counts) => sum + (counts[i] ?? 0), 0)]));
  }

  /** Live workers: those whose heartbeat is fresher than `withinMs`. */
  async liveWorkers(withinMs: number): Promise<number> {
    return this.redis.zcount(this.keys.workerHeartbeats, Date.now() - withinMs, '+inf');
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping().catch(() => 'down')) === 'PONG';
  }

  async close(): Promise<void> {
    this.reconciler?.stop();
    this.workflows.close();
    for (const close of this.closers.reverse()) await close();
    await this.service.close();
    await this.queues.close();
    await this.operationQueue.close();
    this.acks?.close();
    this.redis.disconnect();
  }
}

export type { RunView, ListQuery, ValidationResult, WorkflowDefinition, Diagnosis };

export type { RunSearch } from './run-service.ts';
