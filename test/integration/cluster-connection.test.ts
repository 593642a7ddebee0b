/**
 * The Cluster connection factories keep the semantics of the single-Redis ones: a worker
 * connection waits through a stalled primary (BullMQ needs maxRetriesPerRequest null on every
 * node), a producer connection fails within its bound so the API can answer 503.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/schema.ts';
import {
  createClusterProducerConnection,
  createClusterWorkerConnection,
  createProducerClient,
  isCluster,
  redisTarget,
  waitUntilReady,
} from '../../src/engine/redis.ts';
import { cleanupClusterPrefix, primaryOf, processPid, rawClusterClient, testCluster } from '../helpers/cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const cluster = testCluster();

describe.runIf(cluster)('Redis Cluster connections', () => {
  const c = cluster as NonNullable<typeof cluster>;
  const prefix = uniquePrefix('cluster-conn');
  const config = loadConfig({ REDIS_CLUSTER_NODES: c.nodesEnv, REDIS_URL: 'redis://127.0.0.1:1' });
  const target = redisTarget(config);
  const raw = rawClusterClient(c);

  afterAll(async () => {
    await cleanupClusterPrefix(raw, prefix);
    raw.disconnect();
  });

  it('REDIS_CLUSTER_NODES wins over REDIS_URL and reaches every primary', async () => {
    expect('cluster' in target).toBe(true);
    const client = createProducerClient(target, { name: 'test:producer' });
    try {
      expect(isCluster(client)).toBe(true);
      await waitUntilReady(client, 10_000);
      // keys in slots owned by different primaries
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `${prefix}:{${t}}:k`);
      for (const k of keys) await client.set(k, k);
      for (const k of keys) expect(await client.get(k)).toBe(k);
    } finally {
      client.disconnect();
    }
  });

  it('a worker connection sets maxRetriesPerRequest null on its nodes and waits through a stalled primary', async () => {
    const worker = createClusterWorkerConnection(config.redisCluster as NonNullable<typeof config.redisCluster>, { name: 'test:worker' });
    try {
      expect(worker.options.redisOptions?.maxRetriesPerRequest).toBeNull();
      await waitUntilReady(worker, 10_000);
      const key = `${prefix}:{w}:k`;
      await worker.set(key, '1');
      const pid = await processPid(await primaryOf(c, key));
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      const pending = worker.incr(key);
      await new Promise((r) => setTimeout(r, 700));
      process.kill(pid, 'SIGCONT');
      expect(await pending).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    } finally {
      worker.disconnect();
    }
  });

  it('a producer connection fails a command to a stalled primary within its bound', async () => {
    const producer = createClusterProducerConnection(config.redisCluster as NonNullable<typeof config.redisCluster>, {
      name: 'test:producer',
      commandTimeoutMs: 300,
    });
    try {
      await waitUntilReady(producer, 10_000);
      const key = `${prefix}:{p}:k`;
      await producer.set(key, '1');
      const pid = await processPid(await primaryOf(c, key));
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      try {
        await expect(producer.incr(key)).rejects.toThrow(/timed out/i);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      producer.disconnect();
    }
  });

  it('a producer connection to a cluster that is not there fails at once instead of queueing', async () => {
    const producer = createClusterProducerConnection({
      nodes: [{ host: '127.0.0.1', port: 1 }],
      username: undefined,
      password: undefined,
      tls: false,
    });
    try {
      const started = Date.now();
      await expect(producer.get(`${prefix}:x`)).rejects.toThrow(/enableOfflineQueue|not ready|closed/i);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      producer.disconnect();
    }
  });
});
