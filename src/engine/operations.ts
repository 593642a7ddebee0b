/**
 * Bulk operations: cancel, retry or submit every run a filter matches, in the background. The
 * matching runs are snapshotted (id and seq) when the operation starts, then processed in pages
 * by jobs on the `operations` queue. Each run gets exactly the single call's operation, with the
 * caller's rights checked again per run (stored with the operation); a run that moved since the
 * snapshot is skipped, and each run's result is recorded once, so a redelivered page (a worker
 * crash) never acts on a run twice.
 */
import { createHash } from 'node:crypto';
import { Worker, type Job, type Queue } from 'bullmq';
import { duplicateClient, type RedisClient as Redis } from './redis.ts';
import type { Logger } from 'pino';
import { uuidv7 } from './uuid7.ts';
import { can, type Caller } from '../definition/access.ts';
import type { WorkflowDefinition } from '../definition/schema.ts';
import { EngineError } from './errors.ts';
import type { Keyspace } from './keyspace.ts';
import type { ListQuery, RunStore } from './run-store.ts';
import type { RunState, RunStatus } from './types.ts';
import { drain } from './drain.ts';
import { refusalBackoff, type RefusalBackoff } from './refusal-backoff.ts';
import { throttledLog } from '../observability/throttle.ts';

export const OPERATIONS_QUEUE = 'operations';
export type BulkAction = 'cancel' | 'retry' | 'submit';

export interface BulkFilter {
  workflow: string;
  version?: number;
  status?: RunStatus;
  stepId?: string;
  createdBefore?: string;
  createdAfter?: string;
}

export interface OperationView {
  id: string;
  action: BulkAction;
  filter: BulkFilter;
  by: string;
  status: 'running' | 'done';
  total: number;
  done: number;
  failed: number;
  skipped: number;
  errors: Array<{ runId: string; message: string }>;
  createdAt: string;
  finishedAt?: string;
}

/** The statuses each action applies to (a filter's status must be one of them). */
export const ACTION_STATUSES: Record<BulkAction, readonly RunStatus[]> = {
  cancel: ['running', 'waiting', 'draft', 'failed'],
  retry: ['failed'],
  submit: ['draft'],
};

const PAGE = 100;
/** An identical request from the same principal within this window is the same operation. */
export const SAME_REQUEST_WINDOW_MS = 60_000;
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export interface OperationDeps {
  redis: Redis;
  keys: Keyspace;
  runs: RunStore;
  queue: Queue;
  log: Logger;
  retentionSec: number;
  policyOf: (workflow: string) => Promise<Pick<WorkflowDefinition, 'restrictAccess' | 'access'> | null>;
  /** The single call's operation (Engine.cancel/retry/submit). */
  act: (action: BulkAction, runId: string, by: string) => Promise<unknown>;
}

export class Operations {
  constructor(private readonly d: OperationDeps) {}

  /** May `caller` apply `action` to `run`, exactly as the single call decides? */
  async allowed(caller: Caller, action: BulkAction, run: Pick<RunState, 'workflow' | 'startedBy'>): Promise<boolean> {
    const policy = await this.d.policyOf(run.workflow);
    if (!policy || !can(caller, 'read', policy)) return false;
    return can(caller, 'operate', policy) || (action === 'submit' && run.startedBy === caller.id);
  }

  /** The runs a filter matches, newest first, from the indexes a list reads (status, position). */
  private async *matches(action: BulkAction, f: BulkFilter): AsyncGenerator<RunState> {
    const before = f.createdBefore ? Date.parse(f.createdBefore) : Infinity;
    const after = f.createdAfter ? Date.parse(f.createdAfter) : -Infinity;
    for (const status of f.status ? [f.status] : ACTION_STATUSES[action]) {
      let cursor: string | undefined;
      do {
        const q: ListQuery = {
          workflow: f.workflow,
          status,
          limit: 200,
          cursor,
          ...(f.stepId ? { stepIds: [f.stepId] } : {}),
          where: (r) => (f.version === undefined || r.version === f.version) && r.createdAt < before && r.createdAt > after,
        };
        const page = await this.d.runs.list(q);
        cursor = page.nextCursor;
        yield* page.items;
      } while (cursor);
    }
  }

  validate(action: BulkAction, f: BulkFilter): void {
    if (f.status && !ACTION_STATUSES[action].includes(f.status)) {
      throw new EngineError('invalid', `${action} applies to ${ACTION_STATUSES[action].join(', ')} runs`, [
        { path: '$.filter.status', message: `must be one of ${ACTION_STATUSES[action].join(', ')} for ${action}` },
      ]);
    }
  }

  async dryRun(action: BulkAction, f: BulkFilter, caller: Caller): Promise<{ count: number; skipped: number; sample: RunState[] }> {
    this.validate(action, f);
    const out = { count: 0, skipped: 0, sample: [] as RunState[] };
    for await (const run of this.matches(action, f)) {
      if (!(await this.allowed(caller, action, run))) {
        out.skipped++;
        continue;
      }
      out.count++;
      if (out.sample.length < 10) out.sample.push(run);
    }
    return out;
  }

  /**
   * Starts an operation, or answers the one this request started before: the same
   * Idempotency-Key from the same principal (24 h), or an identical body from the same principal
   * within SAME_REQUEST_WINDOW_MS.
   */
  async start(action: BulkAction, f: BulkFilter, caller: Caller, idempotencyKey?: string): Promise<{ id: string; created: boolean }> {
    this.validate(action, f);
    const bodyHash = createHash('sha256')
      .update(JSON.stringify([action, f]))
      .digest('hex')
      .slice(0, 32);
    const idemKey = this.d.keys.operationIdempotency(caller.id, idempotencyKey ? `key:${idempotencyKey}` : `body:${bodyHash}`);
    const id = uuidv7();
    const k = this.d.keys.operation(id);
    await this.d.redis.hset(k.hash, {
      id,
      action,
      filter: JSON.stringify(f),
      by: JSON.stringify({ id: caller.id, roles: caller.roles }),
      status: 'running',
      total: -1,
      createdAt: Date.now(),
      bodyHash,
    });
    const won = await this.d.redis.set(idemKey, id, 'PX', idempotencyKey ? IDEMPOTENCY_TTL_MS : SAME_REQUEST_WINDOW_MS, 'NX');
    if (!won) {
      await this.d.redis.del(k.hash);
      const existing = await this.d.redis.get(idemKey);
      if (!existing) return this.start(action, f, caller, idempotencyKey); // expired in between
      const prior = await this.d.redis.hget(this.d.keys.operation(existing).hash, 'bodyHash');
      if (idempotencyKey && prior && prior !== bodyHash) {
        throw new EngineError('conflict', 'this Idempotency-Key was already used with a different request', [
          { path: 'header.Idempotency-Key', message: 'reused with another body' },
        ]);
      }
      return { id: existing, created: false };
    }
    await this.d.redis.expire(k.hash, this.d.retentionSec);
    await this.d.queue.add('plan', { operationId: id }, { jobId: `${id}-plan`, ...OPERATION_JOB });
    this.d.log.info({ operationId: id, action, filter: f, by: caller.id }, 'bulk operation started');
    return { id, created: true };
  }

  async get(id: string): Promise<OperationView | null> {
    const k = this.d.keys.operation(id);
    const [h, results, errors] = await Promise.all([
      this.d.redis.hgetall(k.hash),
      this.d.redis.hvals(k.results),
      this.d.redis.lrange(k.errors, 0, 999),
    ]);
    if (!h.id) return null;
    const count = (r: string) => results.filter((v) => v === r).length;
    const total = Number(h.total);
    return {
      id,
      action: h.action as BulkAction,
      filter: JSON.parse(h.filter!) as BulkFilter,
      by: (JSON.parse(h.by!) as Caller).id,
      // A claim without a result is a run a crashed delivery left; its redelivery finishes it.
      status: h.status === 'done' && !results.includes('claimed') ? 'done' : 'running',
      total: Math.max(0, total),
      done: count('done'),
      failed: count('failed'),
      skipped: count('skipped'),
      errors: errors.map((e) => JSON.parse(e) as { runId: string; message: string }),
      createdAt: new Date(Number(h.createdAt)).toISOString(),
      ...(h.finishedAt ? { finishedAt: new Date(Number(h.finishedAt)).toISOString() } : {}),
    };
  }

  /** An operations-queue job: the snapshot ('plan'), then one page at a time. */
  async handle(job: Job<{ operationId: string; offset?: number }>): Promise<void> {
    const id = job.data.operationId;
    const k = this.d.keys.operation(id);
    const h = await this.d.redis.hgetall(k.hash);
    if (!h.id) return;
    const action = h.action as BulkAction;
    const caller = JSON.parse(h.by!) as Caller;
    if (job.name === 'plan') {
      if (Number(h.total) < 0) {
        // Redelivered after a crash mid-snapshot: start the snapshot over.
        await this.d.redis.del(k.ids);
        const rows: string[] = [];
        for await (const run of this.matches(action, JSON.parse(h.filter!) as BulkFilter)) rows.push(`${run.id} ${run.seq}`);
        const pipe = this.d.redis.multi();
        if (rows.length) pipe.rpush(k.ids, ...rows);
        pipe.hset(k.hash, 'total', rows.length);
        for (const key of [k.ids, k.results, k.errors]) pipe.expire(key, this.d.retentionSec);
        await pipe.exec();
      }
      await this.d.queue.add('page', { operationId: id, offset: 0 }, { jobId: `${id}-page-0`, ...OPERATION_JOB });
      return;
    }
    const offset = job.data.offset ?? 0;
    const rows = await this.d.redis.lrange(k.ids, offset, offset + PAGE - 1);
    const redelivered = job.attemptsMade > 0;
    for (const row of rows) {
      const [runId = '', seqText = ''] = row.split(' ');
      // Claimed before acting, so two deliveries of one page never both act on a run. A claim
      // left by a crashed delivery is taken over on redelivery: the seq check in one() then
      // tells whether the crashed one got as far as acting (the run moved: skipped).
      const claimed = await this.d.redis.hsetnx(k.results, runId, 'claimed');
      if (!claimed && !(redelivered && (await this.d.redis.hget(k.results, runId)) === 'claimed')) continue;
      const result = await this.one(action, caller, runId, Number(seqText));
      await this.d.redis.hset(k.results, runId, result.kind);
      if (result.kind === 'failed') await this.d.redis.rpush(k.errors, JSON.stringify({ runId, message: result.message }));
    }
    await this.d.redis.expire(k.results, this.d.retentionSec);
    await this.d.redis.expire(k.errors, this.d.retentionSec);
    if (rows.length === PAGE) {
      await this.d.queue.add(
        'page',
        { operationId: id, offset: offset + PAGE },
        { jobId: `${id}-page-${offset + PAGE}`, ...OPERATION_JOB },
      );
    } else {
      await this.d.redis.hset(k.hash, 'status', 'done', 'finishedAt', Date.now());
      this.d.log.info({ operationId: id, action }, 'bulk operation done');
    }
  }

  private async one(
    action: BulkAction,
    caller: Caller,
    runId: string,
    seq: number,
  ): Promise<{ kind: 'done' | 'skipped' } | { kind: 'failed'; message: string }> {
    const run = await this.d.runs.get(runId);
    if (!run) return { kind: 'skipped' };
    // Rights as of now, not as of the request: a revoked operator acts on nothing more.
    if (!(await this.allowed(caller, action, run))) return { kind: 'skipped' };
    // Moved since the snapshot: by someone else, or by this operation before a crash. Either way
    // the operation was decided on a state that is gone, so it leaves the run alone.
    if (run.seq !== seq) return { kind: 'skipped' };
    try {
      await this.d.act(action, runId, caller.id);
      return { kind: 'done' };
    } catch (err) {
      if (err instanceof EngineError) return { kind: 'failed', message: err.message };
      throw err;
    }
  }
}

const OPERATION_JOB = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The operations-queue worker; one per step worker process. */
export class OperationWorker {
  readonly worker: Worker;
  private readonly connection: Redis;
  private readonly refusals: RefusalBackoff;
  private held = 0;

  constructor(redis: Redis, queue: Queue, ops: Operations, log: Logger) {
    // BullMQ never closes a connection it is handed, so this one is ours to close.
    this.connection = duplicateClient(redis, { maxRetriesPerRequest: null, enableOfflineQueue: true });
    this.worker = new Worker(
      queue.name,
      async (job) => {
        this.held += 1;
        try {
          return await ops.handle(job);
        } finally {
          this.held -= 1;
        }
      },
      { connection: this.connection, prefix: queue.opts.prefix, concurrency: 2 },
    );
    // Like the step and event workers: a Redis that refuses (a replica after failover) pauses
    // this worker with backoff, and repeated errors are logged at a bounded rate.
    const workerError = throttledLog(log, 'error', 'operations worker error');
    this.refusals = refusalBackoff(this.worker);
    this.worker.on('error', (err) => {
      this.refusals.onError(err);
      workerError(err);
    });
    this.worker.on('failed', (job, err) =>
      log.warn({ err: err.message, operationId: job?.data?.operationId, attempt: job?.attemptsMade }, 'operation job failed'),
    );
  }

  /** Lets active pages finish for up to `timeoutMs`; a page cut short is redelivered and its claims taken over. */
  async close(timeoutMs = Infinity): Promise<void> {
    this.refusals.stop();
    const closing = this.worker.close();
    closing.catch(() => undefined);
    if (Number.isFinite(timeoutMs)) await drain(closing, timeoutMs, () => this.held);
    else await closing;
    this.connection.disconnect();
  }
}
