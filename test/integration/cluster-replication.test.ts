/**
 * confirmReplicated: WAIT on the connection that wrote, at the primary of the key's slot. With
 * replicas in sync it confirms; with the key's replica stalled it turns into NotReplicatedError
 * (503) after the timeout instead of a silent acknowledgement. Also on a single Redis, with and
 * without a replica, and what REDIS_WAIT_REPLICAS=auto detects for each.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  confirmReplicated,
  detectWaitReplicas,
  NotReplicatedError,
  primaryFor,
  resolveWaitReplicas,
} from '../../src/engine/replication.ts';
import { createClusterProducerConnection, createProducerConnection, waitUntilReady } from '../../src/engine/redis.ts';
import { cleanupClusterPrefix, primaryOf, processPid, rawClusterClient, testCluster } from '../helpers/cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { spawnRedisServer } from '../helpers/redis-server.ts';

const cluster = testCluster();

describe.runIf(cluster)('confirmReplicated on the Redis Cluster', () => {
  const c = cluster as NonNullable<typeof cluster>;
  const prefix = uniquePrefix('cluster-wait');
  const raw = rawClusterClient(c);
  const client = createClusterProducerConnection({ nodes: c.seeds, username: undefined, password: undefined, tls: false });

  afterAll(async () => {
    await cleanupClusterPrefix(raw, prefix);
    raw.disconnect();
    client.disconnect();
  });

  it('finds the primary of each slot and confirms writes to every primary', async () => {
    await waitUntilReady(client, 10_000);
    expect(await detectWaitReplicas(client)).toBe(1);
    expect(await resolveWaitReplicas('auto', client)).toBe(1);
    expect(await resolveWaitReplicas(0, client)).toBe(0);
    const ports = new Set<number>();
    for (const tag of ['p0', 'p1', 'p2', 'x', 'y', 'z']) {
      const key = `${prefix}:{${tag}}:run`;
      await client.set(key, tag);
      const node = primaryFor(client, key);
      expect(node.options.port).toBe((await primaryOf(c, key)).port);
      ports.add(node.options.port as number);
      expect(await confirmReplicated(client, key, 1, 2_000)).toBeGreaterThanOrEqual(1);
    }
    expect(ports.size).toBeGreaterThan(1);
  });

  it("times out into NotReplicatedError while the key primary's replica is stalled", async () => {
    const key = `${prefix}:{stall}:run`;
    await client.set(key, 'before');
    const owner = await primaryOf(c, key);
    expect(owner.replicas.length).toBeGreaterThanOrEqual(1);
    const pids = await Promise.all(owner.replicas.map((r) => processPid(r)));
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    let error: unknown;
    const started = Date.now();
    try {
      await client.set(key, 'unconfirmed');
      await confirmReplicated(client, key, 1, 300);
    } catch (err) {
      error = err;
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    expect(error).toBeInstanceOf(NotReplicatedError);
    expect(error).toMatchObject({ kind: 'unavailable', wanted: 1, got: 0, key });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    // once the replica runs again the same connection's writes are confirmed
    expect(await confirmReplicated(client, key, 1, 2_000)).toBeGreaterThanOrEqual(1);
  });

  it('0 replicas confirms at once, without asking Redis', async () => {
    expect(await confirmReplicated(client, `${prefix}:{none}:k`, 0, 1)).toBe(0);
  });
});

describe('confirmReplicated on a single Redis', () => {
  it('detects no replica, and waits for one in vain', async () => {
    const primary = await spawnRedisServer();
    const client = createProducerConnection(primary.url);
    try {
      await waitUntilReady(client, 5_000);
      expect(await detectWaitReplicas(client)).toBe(0);
      await client.set('k', '1');
      await expect(confirmReplicated(client, 'k', 1, 100)).rejects.toBeInstanceOf(NotReplicatedError);
    } finally {
      client.disconnect();
      await primary.stop();
    }
  });

  it('detects a connected replica and confirms through it', async () => {
    const primary = await spawnRedisServer();
    const replica = await spawnRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
    const client = createProducerConnection(primary.url);
    const probe = new Redis(replica.url);
    try {
      await waitUntilReady(client, 5_000);
      // diskless initial sync waits repl-diskless-sync-delay (5 s) before the replica is online
      const end = Date.now() + 20_000;
      while ((await detectWaitReplicas(client)) !== 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(await detectWaitReplicas(client)).toBe(1);
      await client.set('k', 'replicated');
      expect(await confirmReplicated(client, 'k', 1, 2_000)).toBe(1);
      expect(await probe.get('k')).toBe('replicated');
    } finally {
      probe.disconnect();
      client.disconnect();
      await replica.stop();
      await primary.stop();
    }
  });
});
