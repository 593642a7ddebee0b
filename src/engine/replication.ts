/**
 * Acknowledge only what a replica holds. Redis replication is asynchronous: a primary that is
 * SIGKILLed right after answering loses that write, and its promoted replica never saw it. `WAIT`
 * blocks until N replicas have everything *this connection* wrote, so an answer given after it
 * survives a failover.
 *
 * WAIT counts the writes of the connection it is sent on (the client's last write offset), so it
 * must go over the connection that made the write: for a single Redis that is the client itself,
 * for a Cluster the connection ioredis keeps to the primary of the key's slot — the same one the
 * write went through. A keyless WAIT sent through the Cluster would land on an arbitrary node.
 */
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { parseInfo } from './redis-checks.ts';
import { EngineError } from './errors.ts';
import { isCluster, type RedisClient } from './redis.ts';

/**
 * The write was applied on the primary but fewer replicas than required confirmed it in time.
 * Unavailable (503): the caller may retry; with the same idempotency key the retry returns the
 * same result, so nothing is done twice and nothing acknowledged is lost.
 */
export class NotReplicatedError extends EngineError {
  override name = 'NotReplicatedError';
  constructor(
    readonly key: string,
    readonly wanted: number,
    readonly got: number,
    readonly timeoutMs: number,
  ) {
    super('unavailable', `only ${got} of ${wanted} Redis replica(s) confirmed the write within ${timeoutMs} ms; retry`);
  }
}

/** The connection to the primary serving `key`'s slot, as the Cluster's slot table knows it. */
export function primaryFor(cluster: Cluster, key: string): Redis {
  const slot = calculateSlot(key);
  const owner = cluster.slots[slot]?.[0];
  const node = owner === undefined ? undefined : cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new EngineError('unavailable', `no Redis Cluster primary known for slot ${slot} (cluster ${cluster.status})`);
  return node;
}

/**
 * Resolves with the number of replicas that hold every write this client made to `key`'s
 * primary (at least `replicas`), or throws NotReplicatedError after `timeoutMs`. `replicas` 0
 * resolves at once without a round trip (a deployment without replicas).
 */
export async function confirmReplicated(client: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  if (replicas <= 0) return 0;
  const node = isCluster(client) ? primaryFor(client, key) : client;
  let got: number;
  try {
    got = Number(await node.call('WAIT', String(replicas), String(timeoutMs)));
  } catch (err) {
    // A command timeout shorter than the WAIT, or the primary going away mid-wait: the write
    // is just as unconfirmed.
    if (err instanceof Error && /timed out|Connection is closed|ECONNRESET|EPIPE/i.test(err.message)) {
      throw new NotReplicatedError(key, replicas, 0, timeoutMs);
    }
    throw err;
  }
  if (got < replicas) throw new NotReplicatedError(key, replicas, got, timeoutMs);
  return got;
}

/**
 * What `REDIS_WAIT_REPLICAS=auto` means for this deployment: 1 when every primary has a
 * replica to wait for (INFO replication for a single Redis: an online replica; CLUSTER NODES for a cluster: each
 * primary serving slots has a replica not marked failing), else 0. A cluster where some primary
 * has none gets 0, since WAIT 1 would refuse every write to that primary's slots.
 */
export async function detectWaitReplicas(client: RedisClient): Promise<number> {
  if (!isCluster(client)) {
    // connected_slaves also counts a replica still in its initial sync (which acknowledges
    // nothing yet); only `state=online` ones can confirm a WAIT.
    const info = parseInfo(await client.info('replication'));
    const online = Object.entries(info).filter(([k, v]) => /^slave\d+$/.test(k) && /(?:^|,)state=online(?:,|$)/.test(v));
    return online.length > 0 ? 1 : 0;
  }
  const text = String(await client.nodes('master')[0]?.call('CLUSTER', 'NODES'));
  const nodes = text
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 8);
  const serving = nodes.filter((f) => (f[2] ?? '').split(',').includes('master') && f.length > 8);
  if (serving.length === 0) return 0;
  const healthyReplicaOf = new Set(
    nodes
      .filter((f) => (f[2] ?? '').split(',').some((flag) => flag === 'slave' || flag === 'replica') && !/fail/.test(f[2] ?? ''))
      .map((f) => f[3]),
  );
  return serving.every((f) => healthyReplicaOf.has(f[0])) ? 1 : 0;
}

/** REDIS_WAIT_REPLICAS resolved: a number as given, or `auto` detected once at start-up. */
export async function resolveWaitReplicas(setting: number | 'auto', client: RedisClient): Promise<number> {
  return setting === 'auto' ? detectWaitReplicas(client) : setting;
}
