/**
 * Reads of run state, history, entries and run indexes (plain hash/list/zset reads), and the
 * entry save. A run's hash and history are written only by RunTransitions (run-transitions.ts).
 */
import type { RedisClient as Redis } from './redis.ts';
import type { Keyspace } from './keyspace.ts';
import type { Scripts } from './scripts.ts';
import type { Entry, HistoryEvent, ParentLink, Resolution, RunError, RunState, RunStatus, Wait } from './types.ts';
import type { Model } from '../steps/types.ts';

export interface ListQuery {
  workflow?: string;
  status?: RunStatus;
  /** Runs whose current step is one of these (needs `workflow`): the position index. */
  stepIds?: string[];
  entryId?: string;
  limit: number;
  cursor?: string;
  /** A check on the full run, after the index picked it (e.g. its stage in its own version). */
  where?: (run: RunState) => boolean;
}

export interface RunStoreOptions {
  retentionSec: number;
}

export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keyspace,
    private readonly opts: RunStoreOptions,
  ) {}

  async get(runId: string): Promise<RunState | null> {
    const h = await this.redis.hgetall(this.keys.run(runId));
    return h.id ? parseRun(h) : null;
  }

  async history(runId: string, from = 0, limit = 1000): Promise<HistoryEvent[]> {
    const raw = await this.redis.lrange(this.keys.history(runId), from, from + limit - 1);
    return raw.map((r) => JSON.parse(r) as HistoryEvent);
  }

  /**
   * Newest first. The cursor is the last run id looked at (ids are time-ordered). The most
   * selective index answers (entry, then step, then workflow/status); the other filters are
   * checked on the rows. `visible` filters out runs the caller may not see without leaving
   * pages short when more exist.
   */
  async list(
    q: ListQuery,
    visible?: (run: Pick<RunState, 'workflow'>) => Promise<boolean> | boolean,
  ): Promise<{ items: RunState[]; nextCursor?: string }> {
    const source = this.source(q);
    const filtered = Boolean(visible || q.where || ((q.entryId || q.stepIds) && (q.status || q.workflow)));
    const items: RunState[] = [];
    let cursor = q.cursor;
    for (let round = 0; round < 20; round++) {
      const batch = filtered ? Math.max(q.limit, 50) : q.limit - items.length;
      const ids = await source.next(cursor, batch);
      if (ids.length === 0) return { items };
      // Visibility is decided on the workflow name alone, so hidden runs cost one small read.
      const heads = visible
        ? ((await this.pipelined(ids, (p, id) => p.hget(this.keys.run(id), 'workflow'))) as (string | null)[])
        : undefined;
      const keep: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        const wf = heads?.[i];
        if (!heads || (wf && (await visible!({ workflow: wf } as RunState)))) keep.push(ids[i]!);
      }
      const rows = (await this.pipelined(keep, (p, id) => p.hgetall(this.keys.run(id)))) as Record<string, string>[];
      const byId = new Map(keep.map((id, i) => [id, rows[i]]));
      // Runs past retention leave their id in the index; drop those lazily and read on.
      const gone: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        cursor = ids[i];
        if (heads && !heads[i]) gone.push(ids[i]!);
        if (!byId.has(ids[i]!)) continue;
        const row = byId.get(ids[i]!);
        if (!row?.id) {
          gone.push(ids[i]!);
          continue;
        }
        const run = parseRun(row);
        if (q.workflow && run.workflow !== q.workflow) continue;
        if (q.status && run.status !== q.status) continue;
        if (q.where && !q.where(run)) continue;
        items.push(run);
        if (items.length === q.limit) break;
      }
      if (gone.length) await source.drop(gone);
      if (items.length === q.limit) return { items, nextCursor: cursor };
      if (ids.length < batch) return { items };
    }
    return { items, nextCursor: cursor };
  }

  /** The index a list reads: run ids below the cursor, newest first, and how to drop gone ones. */
  private source(q: ListQuery): {
    next(cursor: string | undefined, count: number): Promise<string[]>;
    drop(ids: string[]): Promise<unknown>;
  } {
    const below = (cursor: string | undefined) => (cursor ? `(${cursor}` : '+');
    if (q.entryId) {
      const key = this.keys.entryRuns(q.entryId);
      return {
        next: (cursor, count) => this.redis.zrange(key, below(cursor), '-', 'BYLEX', 'REV', 'LIMIT', 0, count),
        drop: (ids) => this.redis.zrem(key, ...ids),
      };
    }
    const partitions = Array.from({ length: this.keys.partitions }, (_, p) => this.keys.partition(p));
    // Run ids are UUIDv7, so ids of every partition sort by creation time together: the newest
    // `count` below the cursor are among each partition's own newest `count`, and one cursor (the
    // last id looked at) pages over all of them. A run is in one partition, so listed once.
    const merge = (ranges: string[][], count: number) => ranges.flat().sort().reverse().slice(0, count);
    // Gone ids are dropped from their own partition's index (one key per command: cluster-safe).
    if (q.stepIds) {
      if (!q.workflow) throw new Error('a step filter needs the workflow');
      const workflow = q.workflow;
      const steps = [...new Set(q.stepIds)];
      const redis = this.redis;
      return {
        // One lex range per step and partition (members `<stepId> <runId>`), merged newest first:
        // the k-way merge is exact because each range gives its own `count` newest below the cursor.
        async next(cursor, count) {
          const ranges = await Promise.all(
            partitions.flatMap((pk) =>
              steps.map((step) =>
                redis.zrange(
                  pk.positionIndex(workflow),
                  cursor ? `(${step} ${cursor}` : `(${step}!`,
                  `(${step} `,
                  'BYLEX',
                  'REV',
                  'LIMIT',
                  0,
                  count,
                ),
              ),
            ),
          );
          return merge(
            ranges.map((r) => r.map((m) => m.slice(m.indexOf(' ') + 1))),
            count,
          );
        },
        drop: (ids) =>
          Promise.all(
            [...groupBy(ids, (id) => this.keys.partitionOf(id))].map(([p, group]) =>
              redis.zrem(this.keys.partition(p).positionIndex(workflow), ...steps.flatMap((step) => group.map((id) => `${step} ${id}`))),
            ),
          ),
      };
    }
    const filter = { workflow: q.workflow, status: q.status };
    return {
      next: async (cursor, count) =>
        merge(
          await Promise.all(
            partitions.map((pk) => this.redis.zrange(pk.runIndex(filter), below(cursor), '-', 'BYLEX', 'REV', 'LIMIT', 0, count)),
          ),
          count,
        ),
      drop: (ids) =>
        Promise.all(
          [...groupBy(ids, (id) => this.keys.partitionOf(id))].map(([p, group]) =>
            this.redis.zrem(this.keys.partition(p).runIndex(filter), ...group),
          ),
        ),
    };
  }

  /**
   * One command per run, pipelined per partition: on Redis Cluster a pipeline must stay within
   * one node, and a partition is one slot. Results come back in the order of `ids`.
   */
  private async pipelined(ids: string[], add: (p: ReturnType<Redis['pipeline']>, id: string) => unknown): Promise<unknown[]> {
    if (ids.length === 0) return [];
    const out: unknown[] = new Array(ids.length);
    const groups = groupBy(
      ids.map((id, i) => ({ id, i })),
      ({ id }) => this.keys.partitionOf(id),
    );
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const pipe = this.redis.pipeline();
        for (const { id } of group) add(pipe, id);
        const res = (await pipe.exec()) ?? [];
        group.forEach(({ i }, j) => {
          out[i] = res[j]?.[1];
        });
      }),
    );
    return out;
  }

  /** Runs of one partition in one status, oldest first, for the reconciler (which works per partition). */
  async idsByStatus(partition: number, status: RunStatus, afterId: string | undefined, count: number): Promise<string[]> {
    const key = this.keys.partition(partition).runIndex({ status });
    return this.redis.zrange(key, afterId ? `(${afterId}` : '-', '+', 'BYLEX', 'LIMIT', 0, count);
  }

  async getEntry(entryId: string): Promise<Entry | null> {
    const h = await this.redis.hgetall(this.keys.entry(entryId));
    if (!h.version) return null;
    return {
      id: entryId,
      version: Number(h.version),
      model: JSON.parse(h.model ?? '{}') as Model,
      updatedAt: Number(h.updatedAt),
      ...(h.workflow ? { workflow: h.workflow } : {}),
    };
  }

  /** The version written (or already written by this effect key); -1 when another workflow owns the entry. */
  async saveEntry(entryId: string, model: Model, effectKey: string, runId: string, workflow: string): Promise<number> {
    const v = await this.scripts.run(
      'saveEntry',
      [this.keys.entry(entryId), this.keys.entryEffects(entryId)],
      [entryId, JSON.stringify(model), effectKey, Date.now(), runId, workflow, this.opts.retentionSec],
    );
    return Number(v);
  }
}

function groupBy<T>(items: T[], keyOf: (item: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = out.get(k);
    if (group) group.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function parseRun(h: Record<string, string>): RunState {
  const run: RunState = {
    id: h.id!,
    workflow: h.workflow!,
    version: Number(h.version),
    status: h.status as RunStatus,
    seq: Number(h.seq),
    stepId: h.stepId ? h.stepId : null,
    model: JSON.parse(h.model ?? '{}') as Model,
    entryId: h.entryId!,
    entryVersion: Number(h.entryVersion),
    transitions: Number(h.transitions ?? 0),
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
  };
  if (h.error) run.error = JSON.parse(h.error) as RunError;
  if (h.outcome) run.outcome = h.outcome;
  if (h.callbackUrl) run.callbackUrl = h.callbackUrl;
  if (h.startedBy) run.startedBy = h.startedBy;
  if (h.parent) run.parent = JSON.parse(h.parent) as ParentLink;
  if (h.wait) run.wait = JSON.parse(h.wait) as Wait;
  if (h.resolution) run.resolution = JSON.parse(h.resolution) as Resolution;
  return run;
}
