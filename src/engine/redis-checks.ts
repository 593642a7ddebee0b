/**
 * Start-up checks of the Redis stageflow is pointed at. Each of these makes every later command
 * fail (or, for eviction, silently lose jobs), so it is a fatal error naming the fix, found in
 * one short connection instead of an endless stream of per-command errors.
 */
import { Redis } from 'ioredis';

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

/** Throws a RedisCheckError when the server at `url` cannot run stageflow; resolves when it can. */
export async function checkRedisServer(url: string, timeoutMs = 5_000): Promise<void> {
  const where = redisAddress(url);
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableReadyCheck: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    connectionName: 'stageflow:startup-check',
  });
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
          `Redis at ${where} refused the credentials (${(err as Error).message}): put the right password in REDIS_URL, e.g. redis://:PASSWORD@host:6379 (or redis://USER:PASSWORD@host:6379 with ACL users)`,
        );
      }
      throw new RedisCheckError('unreachable', `Redis at ${where} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }

    const replication = parseInfo(await client.info('replication'));
    if (replication.role === 'slave' || replication.role === 'replica') {
      const primary = replication.master_host ? ` of ${replication.master_host}:${replication.master_port ?? '6379'}` : '';
      throw new RedisCheckError(
        'replica',
        `Redis at ${where} is a read-only replica${primary}: point REDIS_URL at the primary (after a failover, at the promoted node); stageflow writes on every step`,
      );
    }

    const cluster = parseInfo(await client.info('cluster'));
    if (cluster.cluster_enabled === '1') {
      throw new RedisCheckError(
        'cluster',
        `Redis at ${where} is a Redis Cluster node, and stageflow does not run on Redis Cluster: point REDIS_URL at a standalone Redis (or the primary of a Sentinel/managed failover pair)`,
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
