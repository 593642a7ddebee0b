/**
 * Start-up checks of the Redis stageflow is pointed at. Each of these makes every later command
 * fail (or, for eviction, silently lose jobs), so it is a fatal error naming the fix, found in
 * one short connection instead of an endless stream of per-command errors.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig } from '../../config/schema.ts';

export class RedisCheckError extends Error {
  constructor(
    readonly check: 'auth' | 'replica' | 'cluster' | 'eviction' | 'unreachable',
    message: string,
  ) {
    super(message);
    this.name = 'RedisCheckError';
  }
}

/** `redis://host:port` without credentials, to name the server in messages. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** Parses `INFO` text into its fields. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

function codeOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return /^([A-Z]+)\b/.exec(msg)?.[1] ?? '';
}

/** One short-lived connection: no reconnects, no offline queue, bounded. */
function checkConnection(url: string | RedisOptions, timeoutMs: number): Redis {
  const opts: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableReadyCheck: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    connectionName: 'stageflow:startup-check',
  };
  return typeof url === 'string' ? new Redis(url, opts) : new Redis({ ...url, ...opts });
}

/** Throws a RedisCheckError when the server at `url` cannot run stageflow; resolves when it can. */
export async function checkRedisServer(url: string, timeoutMs = 5_000): Promise<void> {
  await checkNode(url, redisAddress(url), 'standalone', timeoutMs);
}

/**
 * Checks one server: it answers with these credentials, is a primary (standalone), is a cluster
 * node exactly when the target is a cluster, and does not evict.
 */
async function checkNode(url: string | RedisOptions, where: string, kind: 'standalone' | 'cluster', timeoutMs: number): Promise<void> {
  const client = checkConnection(url, timeoutMs);
  // A refused AUTH arrives as an 'error' event, and the command after it only sees a closed stream.
  let connectionError: unknown;
  client.on('error', (err: unknown) => (connectionError ??= err));
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (failure) {
      const err = codeOf(failure) ? failure : (connectionError ?? failure);
      const code = codeOf(err);
      if (code === 'NOAUTH' || code === 'WRONGPASS' || /invalid password|without any password configured/i.test(String(err))) {
        throw new RedisCheckError(
          'auth',
          kind === 'cluster'
            ? `Redis Cluster node ${where} refused the credentials (${(err as Error).message}): give them in REDIS_CLUSTER_NODES, e.g. redis://:PASSWORD@host:6379,host2:6379`
            : `Redis at ${where} refused the credentials (${(err as Error).message}): put the right password in REDIS_URL, e.g. redis://:PASSWORD@host:6379 (or redis://USER:PASSWORD@host:6379 with ACL users)`,
        );
      }
      throw new RedisCheckError('unreachable', `Redis at ${where} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }

    const replication = parseInfo(await client.info('replication'));
    // A cluster's replicas are found and skipped by checkRedisCluster; only its primaries come here.
    if (kind === 'standalone' && (replication.role === 'slave' || replication.role === 'replica')) {
      const primary = replication.master_host ? ` of ${replication.master_host}:${replication.master_port ?? '6379'}` : '';
      throw new RedisCheckError(
        'replica',
        `Redis at ${where} is a read-only replica${primary}: point REDIS_URL at the primary (after a failover, at the promoted node); stageflow writes on every step`,
      );
    }

    const cluster = parseInfo(await client.info('cluster'));
    if (kind === 'standalone' && cluster.cluster_enabled === '1') {
      throw new RedisCheckError(
        'cluster',
        `Redis at ${where} is a Redis Cluster node: name the cluster's nodes in REDIS_CLUSTER_NODES (host:port,host:port,…) instead of REDIS_URL`,
      );
    }
    if (kind === 'cluster' && cluster.cluster_enabled !== '1') {
      throw new RedisCheckError(
        'cluster',
        `Redis at ${where} is not a Redis Cluster node: point REDIS_URL at it and unset REDIS_CLUSTER_NODES, or name a cluster's nodes there`,
      );
    }

    let policy: string | undefined;
    try {
      const got = (await client.config('GET', 'maxmemory-policy')) as string[];
      policy = got[1];
    } catch {
      // Managed Redis often refuses CONFIG; INFO memory says the same.
    }
    policy ??= parseInfo(await client.info('memory')).maxmemory_policy;
    if (policy !== undefined && policy !== 'noeviction') {
      throw new RedisCheckError(
        'eviction',
        `Redis at ${where} has maxmemory-policy ${policy}, which evicts keys (jobs and runs would vanish under memory pressure): set maxmemory-policy noeviction (redis-server --maxmemory-policy noeviction, CONFIG SET maxmemory-policy noeviction, or the managed service's parameter group)`,
      );
    }
  } finally {
    client.disconnect();
  }
}

/** A node's ioredis options from the cluster's shared credentials and TLS. */
export function clusterNodeConnection(cluster: RedisClusterConfig, node: { host: string; port: number }): RedisOptions {
  return {
    host: node.host,
    port: node.port,
    ...(cluster.username !== undefined ? { username: cluster.username } : {}),
    ...(cluster.password !== undefined ? { password: cluster.password } : {}),
    ...(cluster.tls ? { tls: {} } : {}),
  };
}

/** The primaries serving slots, as CLUSTER NODES on the first seed that answers lists them. */
export async function clusterPrimaries(cluster: RedisClusterConfig, timeoutMs = 5_000): Promise<Array<{ host: string; port: number }>> {
  let last: unknown;
  for (const seed of cluster.nodes) {
    const client = checkConnection(clusterNodeConnection(cluster, seed), timeoutMs);
    client.on('error', () => {});
    try {
      await client.connect();
      const info = parseInfo(String(await client.call('CLUSTER', 'INFO')));
      if (info.cluster_state !== 'ok') {
        throw new RedisCheckError(
          'unreachable',
          `Redis Cluster (seen from ${seed.host}:${seed.port}) is in state ${info.cluster_state ?? '?'}, not ok`,
        );
      }
      const lines = String(await client.call('CLUSTER', 'NODES'))
        .trim()
        .split('\n');
      const primaries = lines
        .map((l) => l.trim().split(' '))
        .filter((f) => (f[2] ?? '').split(',').includes('master') && !/fail/.test(f[2] ?? '') && f.length > 8)
        .map((f) => {
          const addr = (f[1] ?? '').split('@')[0] ?? '';
          const i = addr.lastIndexOf(':');
          // A node that does not announce its host is reached at the seed's.
          return { host: addr.slice(0, i) || seed.host, port: Number(addr.slice(i + 1)) };
        });
      if (primaries.length === 0)
        throw new RedisCheckError('unreachable', `Redis Cluster (seen from ${seed.host}:${seed.port}) has no primary serving slots`);
      return primaries;
    } catch (err) {
      last = err;
      if (
        err instanceof RedisCheckError ||
        /NOAUTH|WRONGPASS|invalid password|without any password|cluster support disabled/i.test(String(err))
      )
        break;
    } finally {
      client.disconnect();
    }
  }
  if (last instanceof RedisCheckError) throw last;
  // Let checkNode name what is wrong with the first seed (credentials, not a cluster node…).
  const first = cluster.nodes[0];
  if (first) await checkNode(clusterNodeConnection(cluster, first), `${first.host}:${first.port}`, 'cluster', timeoutMs);
  throw new RedisCheckError(
    'unreachable',
    `no Redis Cluster seed in REDIS_CLUSTER_NODES answered: ${last instanceof Error ? last.message : String(last)}`,
  );
}

/**
 * The start-up checks for a Redis Cluster: the cluster is ok as a seed sees it, and every primary
 * serving slots takes the credentials and does not evict (replicas are not written to).
 */
export async function checkRedisCluster(cluster: RedisClusterConfig, timeoutMs = 5_000): Promise<void> {
  const primaries = await clusterPrimaries(cluster, timeoutMs);
  for (const p of primaries) await checkNode(clusterNodeConnection(cluster, p), `${p.host}:${p.port}`, 'cluster', timeoutMs);
}

/** True when every primary of the cluster answers PING (and the cluster is ok); never throws. */
export async function pingRedisCluster(cluster: RedisClusterConfig, timeoutMs = 1_000): Promise<boolean> {
  try {
    const primaries = await clusterPrimaries(cluster, timeoutMs);
    for (const p of primaries) {
      const client = checkConnection(clusterNodeConnection(cluster, p), timeoutMs);
      client.on('error', () => {});
      try {
        await client.connect();
        if ((await client.ping()) !== 'PONG') return false;
      } finally {
        client.disconnect();
      }
    }
    return true;
  } catch {
    return false;
  }
}
