import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig } from '../../config/schema.ts';
import { logger as defaultLogger, type Logger } from '../observability/logger.ts';
import { createThrottle, throttledLog } from '../observability/throttle.ts';

/**
 * A connection to either a single Redis or a Redis Cluster. Code that only sends commands whose
 * keys share one hash tag (every stageflow script, BullMQ with a tagged prefix) works with both.
 */
export type RedisClient = Redis | Cluster;

export interface ConnectionOptions {
  log?: Logger;
  /** Shown in logs and as the Redis CLIENT name, to tell connections apart in `CLIENT LIST`. */
  name?: string;
  /** Extra ioredis options; the ones each helper sets for correctness win over these. */
  redis?: RedisOptions;
}

export interface ProducerConnectionOptions extends ConnectionOptions {
  /**
   * A command that gets no reply within this bound fails, so an HTTP request sees an error
   * (503) rather than hanging on a Redis that accepts connections but does not answer.
   * Never send blocking commands (BLPOP, XREAD BLOCK, QueueEvents) over this connection.
   */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * ioredis emits 'error' on every failed reconnect attempt (several per second while Redis is
 * down): log each kind of error at a bounded rate (src/observability/throttle.ts), and say
 * when the connection is back so an operator can see the outage window.
 */
function attachLogging(client: RedisClient, log: Logger, role: string): void {
  const throttle = createThrottle();
  const logError = throttledLog(log, 'error', 'redis connection error', throttle);
  let failing = false;
  client.on('error', (err: Error & { code?: string }) => {
    logError(err, { role, code: err.code });
    failing = true;
  });
  // A Cluster also reports each node's connection trouble (a primary down mid-failover).
  client.on('node error', (err: Error & { code?: string }, address: string) => {
    logError(err, { role, code: err.code, node: address });
  });
  client.on('ready', () => {
    if (failing) log.info({ role }, 'redis connection restored');
    failing = false;
    throttle.reset();
  });
}

/**
 * For BullMQ Workers (and anything that blocks): commands wait through reconnects instead of
 * failing, as BullMQ requires (`maxRetriesPerRequest: null`).
 */
export function createWorkerConnection(url: string, opts: ConnectionOptions = {}): Redis {
  const log = opts.log ?? defaultLogger;
  const client = new Redis(url, {
    ...opts.redis,
    ...(opts.name !== undefined ? { connectionName: opts.name } : {}),
    maxRetriesPerRequest: null,
  });
  attachLogging(client, log, opts.name ?? 'worker');
  return client;
}

/**
 * For the API and other producers: when Redis is down a command fails at once (no offline
 * queue, one retry) so callers can answer 503 instead of piling up requests.
 * Commands sent before the first 'ready' fail too; await waitUntilReady() at startup.
 */
export function createProducerConnection(url: string, opts: ProducerConnectionOptions = {}): Redis {
  const log = opts.log ?? defaultLogger;
  const client = new Redis(url, {
    ...opts.redis,
    ...(opts.name !== undefined ? { connectionName: opts.name } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
  });
  attachLogging(client, log, opts.name ?? 'producer');
  return client;
}

/** ioredis options shared by every node of the cluster: credentials and TLS from REDIS_CLUSTER_NODES. */
function clusterNodeOptions(cluster: RedisClusterConfig, name: string | undefined): RedisOptions {
  return {
    ...(cluster.username !== undefined ? { username: cluster.username } : {}),
    ...(cluster.password !== undefined ? { password: cluster.password } : {}),
    ...(cluster.tls ? { tls: {} } : {}),
    ...(name !== undefined ? { connectionName: name } : {}),
  };
}

export interface ClusterConnectionOptions extends ConnectionOptions {
  /** Extra ioredis Cluster options; the ones each helper sets for correctness win over these. */
  cluster?: ClusterOptions;
}

/**
 * A Cluster for BullMQ Workers (and anything that blocks): like createWorkerConnection, commands
 * wait through reconnects and failovers instead of failing (`maxRetriesPerRequest: null` on each
 * node, as BullMQ requires, and the cluster-level offline queue on).
 */
export function createClusterWorkerConnection(cluster: RedisClusterConfig, opts: ClusterConnectionOptions = {}): Cluster {
  const log = opts.log ?? defaultLogger;
  const client = new Cluster(cluster.nodes, {
    ...opts.cluster,
    enableOfflineQueue: true,
    redisOptions: {
      ...opts.redis,
      ...clusterNodeOptions(cluster, opts.name),
      maxRetriesPerRequest: null,
    },
  });
  attachLogging(client, log, opts.name ?? 'worker');
  return client;
}

/**
 * A Cluster for the API and other producers: like createProducerConnection, a command fails
 * rather than waits when the cluster is unreachable (no cluster-level offline queue, one retry
 * per node, a bound on every reply) so callers can answer 503.
 *
 * The nodes keep ioredis's own offline queue: the Cluster connects to each node lazily, on its
 * first command, and without that queue the first command to every node would fail. The
 * command timeout bounds how long such a queued command can wait.
 */
export function createClusterProducerConnection(
  cluster: RedisClusterConfig,
  opts: ProducerConnectionOptions & ClusterConnectionOptions = {},
): Cluster {
  const log = opts.log ?? defaultLogger;
  const client = new Cluster(cluster.nodes, {
    ...opts.cluster,
    enableOfflineQueue: false,
    redisOptions: {
      ...opts.redis,
      ...clusterNodeOptions(cluster, opts.name),
      maxRetriesPerRequest: 1,
      connectTimeout: opts.connectTimeoutMs ?? 2_000,
      commandTimeout: opts.commandTimeoutMs ?? 5_000,
    },
  });
  attachLogging(client, log, opts.name ?? 'producer');
  return client;
}

/** Where stageflow's Redis is: REDIS_CLUSTER_NODES when set, else REDIS_URL. */
export type RedisTarget = { cluster: RedisClusterConfig } | { url: string };

/** The target a config names (REDIS_URL is ignored when REDIS_CLUSTER_NODES is set). */
export function redisTarget(config: { redisUrl: string; redisCluster?: RedisClusterConfig | undefined }): RedisTarget {
  return config.redisCluster ? { cluster: config.redisCluster } : { url: config.redisUrl };
}

/** A worker (blocking-safe) connection to either kind of target. */
export function createWorkerClient(target: RedisTarget, opts: ClusterConnectionOptions = {}): RedisClient {
  return 'cluster' in target ? createClusterWorkerConnection(target.cluster, opts) : createWorkerConnection(target.url, opts);
}

/** A producer (fail-fast) connection to either kind of target. */
export function createProducerClient(target: RedisTarget, opts: ProducerConnectionOptions & ClusterConnectionOptions = {}): RedisClient {
  return 'cluster' in target ? createClusterProducerConnection(target.cluster, opts) : createProducerConnection(target.url, opts);
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Every key matching `match` (SCAN MATCH syntax): on a cluster SCAN sees one node, so each primary is asked. */
export async function scanKeys(client: RedisClient, match: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of isCluster(client) ? client.nodes('master') : [client]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

/**
 * A new connection like `client` with `options` on top (on a Cluster: on every node). Needed
 * because `Cluster.duplicate`'s first argument is the startup nodes: options passed the way
 * `Redis.duplicate` takes them would be read as a node list and lost.
 */
export function duplicateClient(client: RedisClient, options: RedisOptions): RedisClient {
  if (!isCluster(client)) return client.duplicate(options);
  const { enableOfflineQueue, ...nodeOptions } = options;
  return client.duplicate([], {
    ...client.options,
    // The cluster-level queue is what keeps commands through a failover (no node to send to).
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    redisOptions: { ...client.options.redisOptions, ...nodeOptions },
  });
}

/** Resolves once the client is ready; rejects after timeoutMs without closing the client. */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    function onReady(): void {
      clearTimeout(timer);
      resolve();
    }
    client.once('ready', onReady);
  });
}

/**
 * True when a PING at `url` gets PONG within timeoutMs. Never throws, never waits longer than
 * the bound, and always closes its own connection (no reconnects, no offline queue).
 */
export async function pingRedis(url: string, timeoutMs = 1_000): Promise<boolean> {
  let client: Redis | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      enableReadyCheck: false,
    });
    // Without a listener an 'error' event would crash the process.
    client.on('error', () => {});
    const c = client;
    const attempt = (async () => {
      await c.connect();
      return (await c.ping()) === 'PONG';
    })();
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([attempt.catch(() => false), timeout]);
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
    client?.disconnect();
  }
}
