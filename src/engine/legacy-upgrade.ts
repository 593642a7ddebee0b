/**
 * The upgrade from the single-slot layout of the release before partitions (issue 12 item 8):
 * `<prefix>:run:{<id>}` runs, `<prefix>:runs:…` indexes, `<prefix>:entry:{<id>}` entries,
 * `<prefix>:idem:…` records, `<prefix>:wf:<name>` and the other registries without a tag, and
 * the `<prefix>:{bull}` queues (steps, events, operations). On a single Redis (RENAME crosses slots) it moves every key
 * into the partitioned layout (keyspace.ts), rebuilds the partitions' indexes from the run
 * hashes, and re-adds the legacy queues' waiting and delayed jobs by id in their partition's
 * queue (a step job's seq fence makes a duplicate harmless; a job that was active is restored by
 * the reconciler's ensure-current-job after its grace). Idempotent and guarded: one process
 * migrates under a lock, and a marker says it is done. On a cluster (where the old release never
 * ran) it only records the marker and the partition count, so a later start with another count is
 * refused there too.
 */
import { Queue } from 'bullmq';
import { isCluster, type RedisClient as Redis, scanKeys } from './redis.ts';
import type { Logger } from 'pino';
import type { Keyspace } from './keyspace.ts';
import type { PartitionQueues } from './partition-queues.ts';
import { partitionOfKey } from './partition-tags.ts';
import type { RunStatus } from './types.ts';

export interface UpgradeReport {
  runs: number;
  entries: number;
  idempotency: number;
  globals: number;
  jobs: number;
}

const DONE = 'partitioned-v1';

/** SCAN MATCH patterns treat `[`, `*`, `?` and `\` as special; braces are literal. */
const glob = (text: string) => text.replace(/[[\]*?\\]/g, (c) => `\\${c}`);

/**
 * How many of `names` exist. One EXISTS per key: the old layout's keys hash to different slots,
 * and a multi-key EXISTS over them is refused with CROSSSLOT on a cluster.
 */
async function existing(redis: Redis, names: string[]): Promise<number> {
  return (await Promise.all(names.map((k) => redis.exists(k)))).reduce((a, b) => a + b, 0);
}

/** True when the Redis holds keys of the previous layout that are not migrated yet. */
export async function hasLegacyData(redis: Redis, keys: Keyspace): Promise<boolean> {
  if ((await redis.hget(keys.meta, 'layout')) === DONE) return false;
  const p = glob(keys.prefix);
  // On a cluster SCAN sees one node's keys: each primary is asked.
  for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
    for (const match of [`${p}:run:{*}`, `${p}:wf:*`, `${p}:entry:{*}`]) {
      const [, found] = await node.scan('0', 'MATCH', match, 'COUNT', 10_000);
      if (found.length) return true;
    }
  }
  return (await existing(redis, [`${keys.prefix}:{bull}:steps:meta`, `${keys.prefix}:wf-index`])) > 0;
}

export async function upgradeLegacyLayout(
  redis: Redis,
  keys: Keyspace,
  queues: PartitionQueues,
  operations: Queue,
  log: Logger,
): Promise<UpgradeReport | null> {
  const report: UpgradeReport = { runs: 0, entries: 0, idempotency: 0, globals: 0, jobs: 0 };
  if (await upgraded(redis, keys)) return null;
  // Every deployment of the old layout that holds anything has one of these: a run is in the
  // all-runs index, and each registry has its index or secret. None: nothing to move, and no
  // SCAN of a Redis that may hold millions of other keys.
  const legacy = ['wf-index', 'dataflow-index', 'tpl-index', 'link-secret', 'runs:all:any'].map((k) => `${keys.prefix}:${k}`);
  if ((await existing(redis, legacy)) === 0) {
    await redis.hset(keys.meta, 'layout', DONE, 'partitions', keys.partitions);
    return null;
  }
  // The move renames keys across slots, which a cluster refuses; the old release never ran on one.
  if (isCluster(redis)) {
    throw new Error(
      `stageflow: the Redis Cluster holds data of the layout before partitions under ${keys.prefix}; upgrade it on a single Redis (start this release there once), then move it`,
    );
  }
  const lock = `${keys.prefix}:{g}:upgrade-lock`;
  // Processes of one deployment start together: the one that takes the lock upgrades, the
  // others wait for its marker rather than fail their start.
  while (!(await redis.set(lock, '1', 'PX', 600_000, 'NX'))) {
    await new Promise((r) => setTimeout(r, 250));
    if (await upgraded(redis, keys)) return null;
  }
  if (await upgraded(redis, keys)) {
    await redis.del(lock);
    return null;
  }
  try {
    const prefix = keys.prefix;
    const p = glob(prefix);
    // ---- global registries ----
    const moves: Array<[string, string]> = [
      [`${prefix}:wf-index`, keys.workflowIndex],
      [`${prefix}:dataflow-index`, keys.dataflowIndex],
      [`${prefix}:tpl-index`, keys.templateIndex],
      [`${prefix}:link-secret`, keys.linkSecret],
    ];
    for (const key of await scanKeys(redis, `${p}:wf:*`)) moves.push([key, keys.workflow(key.slice(`${prefix}:wf:`.length))]);
    for (const key of await scanKeys(redis, `${p}:dataflow:*`)) moves.push([key, keys.dataflow(key.slice(`${prefix}:dataflow:`.length))]);
    for (const key of await scanKeys(redis, `${p}:tpl:*`)) moves.push([key, keys.template(key.slice(`${prefix}:tpl:`.length))]);
    for (const key of await scanKeys(redis, `${p}:tpl-file:*`))
      moves.push([key, keys.templateFile(key.slice(`${prefix}:tpl-file:`.length))]);
    for (const [from, to] of moves) if (await renameIfExists(redis, from, to)) report.globals++;

    // ---- entries ----
    for (const key of await scanKeys(redis, `${p}:entry:{*}`)) {
      const m = /^.*?:entry:\{(.*)\}$/.exec(key);
      if (!m) continue;
      const entryId = m[1]!;
      await renameIfExists(redis, key, keys.entry(entryId));
      await renameIfExists(redis, `${key}:effects`, keys.entryEffects(entryId));
      report.entries++;
    }

    // ---- runs: their keys, then the indexes rebuilt from their hashes ----
    const outbox = new Set(await redis.zrange(`${prefix}:runs:outbox`, 0, -1));
    for (const key of await scanKeys(redis, `${p}:run:{*}`)) {
      const m = /^.*?:run:\{([0-9a-f-]{36})\}$/.exec(key);
      if (!m) continue;
      const id = m[1]!;
      const h = await redis.hgetall(key);
      await renameIfExists(redis, key, keys.run(id));
      await renameIfExists(redis, `${key}:history`, keys.history(id));
      for (const answers of await scanKeys(redis, `${glob(key)}:answers:*`)) {
        await renameIfExists(redis, answers, keys.answers(id, Number(answers.slice(answers.lastIndexOf(':') + 1))));
      }
      if (!h.id) continue;
      // A confirmation parked by the old release kept its deadline only inside its task; the
      // wait envelope the reconciler and diagnosis read carries it at the top.
      const wait = h.wait ? (JSON.parse(h.wait) as { timeoutAt?: number; task?: { timeoutAt?: number } }) : undefined;
      if (wait && wait.timeoutAt === undefined && wait.task?.timeoutAt) {
        await redis.hset(keys.run(id), 'wait', JSON.stringify({ ...wait, timeoutAt: wait.task.timeoutAt }));
      }
      const pk = keys.partition(keys.partitionOf(id));
      const status = h.status as RunStatus;
      for (const index of [...pk.anyIndexes(h.workflow!), ...pk.statusIndexes(h.workflow!, status)]) await redis.zadd(index, 0, id);
      if (h.stepId) await redis.zadd(pk.positionIndex(h.workflow!), 0, `${h.stepId} ${id}`);
      if (h.entryId) await redis.zadd(keys.entryRuns(h.entryId), 0, id);
      for (const entry of outbox) if (entry.startsWith(`${id} `)) await redis.zadd(pk.outbox, Date.now(), entry);
      report.runs++;
    }

    // ---- idempotency records: into the partition a retry of that start now looks in ----
    for (const key of await scanKeys(redis, `${p}:idem:*`)) {
      const rest = key.slice(`${prefix}:idem:`.length);
      const cut = rest.indexOf(':');
      const [value, ttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
      if (cut < 0 || !value) continue;
      const workflow = rest.slice(0, cut);
      const scoped = rest.slice(cut + 1);
      const runId = value.split(' ')[0] ?? '';
      const entryId = runId ? await redis.hget(keys.run(runId), 'entryId') : null;
      const partition =
        entryId && entryId !== runId
          ? keys.partitionOfEntry(entryId)
          : partitionOfKey('idempotency', `${workflow}\u0000${scoped}`, keys.partitions);
      const to = keys.idempotency(partition, workflow, scoped);
      if (ttl > 0) await redis.set(to, value, 'PX', ttl);
      else await redis.set(to, value);
      await redis.del(key);
      report.idempotency++;
    }

    // ---- legacy queues: waiting and delayed jobs re-added by id in their partition ----
    for (const name of ['steps', 'events', 'operations'] as const) {
      const legacy = new Queue(name, { connection: redis, prefix: `${prefix}:{bull}` });
      try {
        const jobs = await legacy.getJobs(['waiting', 'delayed', 'prioritized']);
        for (const job of jobs) {
          if (!job.id) continue;
          const delay = Math.max(0, job.timestamp + (job.opts.delay ?? 0) - Date.now());
          if (name === 'operations') {
            // Bulk operations span partitions: their queue is global now.
            await operations.add(job.name, job.data, { ...job.opts, jobId: job.id, delay });
            report.jobs++;
            continue;
          }
          const runId = (job.data as { runId?: string }).runId;
          if (!runId) continue;
          // A child's end is handled in its parent's partition (event-worker.ts).
          const parent = job.name === 'child-done' ? await redis.hget(keys.run(runId), 'parent') : null;
          const about = parent ? (JSON.parse(parent) as { runId: string }).runId : runId;
          const target = name === 'steps' ? queues.stepsOf(runId) : queues.eventsOf(about);
          await target.add(job.name, job.data, { ...job.opts, jobId: job.id, delay });
          report.jobs++;
        }
        await legacy.obliterate({ force: true });
      } finally {
        await legacy.close();
      }
    }
    await redis.del(`${prefix}:runs:outbox`);
    for (const key of await scanKeys(redis, `${p}:runs:*`)) await redis.del(key);
    await redis.hset(keys.meta, 'layout', DONE, 'partitions', keys.partitions);
    log.info(report, 'key layout upgraded to partitions');
    return report;
  } finally {
    await redis.del(lock);
  }
}

/**
 * True once the layout is partitioned. The partition count is fixed when a deployment is created
 * (a run's partition follows from its id modulo the count): starting with another count is refused.
 */
async function upgraded(redis: Redis, keys: Keyspace): Promise<boolean> {
  const [layout, partitions] = await redis.hmget(keys.meta, 'layout', 'partitions');
  if (layout !== DONE) return false;
  if (partitions && Number(partitions) !== keys.partitions) {
    throw new Error(
      `stageflow: this deployment has ${partitions} partitions (STAGEFLOW_PARTITIONS is fixed when a deployment is created); this process was started with ${keys.partitions}`,
    );
  }
  return true;
}

async function renameIfExists(redis: Redis, from: string, to: string): Promise<boolean> {
  if (from === to || !(await redis.exists(from))) return false;
  await redis.rename(from, to);
  return true;
}
