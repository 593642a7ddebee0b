/**
 * stageflow's own engine on the Redis Cluster (issue 12 items 6 and 7): the harness builds it from
 * REDIS_CLUSTER_NODES-style seeds through the Cluster factories (in the cluster suite; here the
 * file builds its own options so it runs in either). What works before the key layout is
 * partitioned is asserted unconditionally; full runs wait for scriptsPartitioned().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterNodes } from '../../config/schema.ts';
import { Engine } from '../../src/engine/engine.ts';
import { checkRedisCluster, clusterPrimaries, pingRedisCluster, RedisCheckError } from '../../src/engine/redis-checks.ts';
import { duplicateClient, isCluster, waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import {
  cleanupClusterPrefix,
  primaries,
  primaryOf,
  processPid,
  rawClusterClient,
  scriptsPartitioned,
  testCluster,
} from '../helpers/cluster.ts';
import { engineTestOptions, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const cluster = testCluster();

describe.runIf(cluster)('the engine on the Redis Cluster', () => {
  // The body is collected even when skipped: nothing here may assume the cluster exists.
  const c = cluster ?? { seeds: [], nodesEnv: '127.0.0.1:1', basePort: undefined };
  const config = parseClusterNodes(c.nodesEnv);
  const prefix = uniquePrefix('cluster-engine');
  const log = createLogger({ level: 'silent' });
  const options = engineTestOptions(prefix, { redisCluster: config, waitReplicas: 'auto', waitTimeoutMs: 2_000 });
  let api: Engine;
  let worker: Engine;

  beforeAll(async () => {
    api = Engine.open(options, log, { failFast: true });
    worker = Engine.open(options, log, { failFast: false });
    await Promise.all([waitUntilReady(api.redis, 10_000), waitUntilReady(worker.redis, 10_000)]);
  });

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    const raw = rawClusterClient(c);
    await cleanupClusterPrefix(raw, prefix).finally(() => raw.disconnect());
  });

  it('opens on Cluster connections, REDIS_URL ignored, and decides the WAIT count once', async () => {
    // engineTestOptions' redisUrl is the single test Redis: a Cluster means it was ignored.
    expect(isCluster(api.redis)).toBe(true);
    expect(isCluster(worker.redis)).toBe(true);
    expect(await api.ping()).toBe(true);
    expect(await api.replication()).toBe(1);
  });

  it('workers start on the cluster and heartbeat through it', async () => {
    worker.startWorker();
    const end = Date.now() + 20_000;
    while ((await api.liveWorkers(10_000)) < 1) {
      if (Date.now() > end) throw new Error('no worker heartbeat on the cluster');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('duplicateClient keeps the cluster and puts the options on every node', () => {
    const dup = duplicateClient(worker.redis, { maxRetriesPerRequest: null, enableOfflineQueue: true, connectionName: 'dup' });
    try {
      expect(isCluster(dup)).toBe(true);
      if (!isCluster(dup)) return;
      expect(dup.options.redisOptions?.maxRetriesPerRequest).toBeNull();
      expect(dup.options.redisOptions?.connectionName).toBe('dup');
      expect(dup.options.enableOfflineQueue).toBe(true);
      // Cluster.duplicate({…}) would have taken the options for startup nodes
      expect((dup as unknown as { startupNodes: unknown }).startupNodes).toEqual(config.nodes);
    } finally {
      dup.disconnect();
    }
  });

  it('start-up checks find and check every primary; a standalone Redis named as a cluster is refused', async () => {
    expect(await clusterPrimaries(config)).toHaveLength(3);
    await expect(checkRedisCluster(config)).resolves.toBeUndefined();
    expect(await pingRedisCluster(config)).toBe(true);
    const standalone = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const wrong = parseClusterNodes(`${standalone.hostname}:${standalone.port || '6379'}`);
    const err = await checkRedisCluster(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisCheckError);
    expect(String(err)).toMatch(/is not a Redis Cluster node/);
    expect(await pingRedisCluster(wrong)).toBe(false);
  });
});

describe.runIf(cluster && scriptsPartitioned())('runs on the Redis Cluster (partitioned key layout)', () => {
  let h: Harness;
  const c = cluster as NonNullable<typeof cluster>;

  beforeAll(async () => {
    h = await startHarness({ engine: { redisCluster: parseClusterNodes(c.nodesEnv), waitReplicas: 'auto', waitTimeoutMs: 1_000 } });
    await h.saveWorkflow(linearWorkflow('on-cluster', 6));
  });
  afterAll(() => h?.close());

  it('runs complete, each step committed once', async () => {
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await h.start('on-cluster', { model: { i } })).id);
    for (const id of ids) {
      const run = await h.waitFor(id, (r) => r.status === 'completed', 20_000);
      expect(run.model.f6).toBe(6);
      const history = (await h.api('GET', `/api/runs/${id}/history`)).body;
      const commits = (history.items ?? history).filter((e: { type: string }) => e.type === 'step.completed');
      expect(commits.map((e: { stepId: string }) => e.stepId)).toEqual(['s1', 's2', 's3', 's4', 's5', 's6']);
    }
  });

  it("a start answers 503 while its primary's replica is stalled, and the retry with its key returns the run", async () => {
    const owner = (await primaries(c))[0]!;
    const pids = await Promise.all(owner.replicas.map((r) => processPid(r)));
    let stalledKey: string | undefined;
    // about a third of the partitions sit on `owner`: start until one lands there
    for (let i = 0; i < 30 && !stalledKey; i++) {
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        const res = await h.api('POST', '/api/workflows/on-cluster/runs', { model: { i } }, { 'idempotency-key': `stalled-${i}` });
        if (res.status === 503) stalledKey = `stalled-${i}`;
        else expect(res.status).toBe(201);
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
    }
    expect(stalledKey).toBeDefined();
    const i = Number(stalledKey?.slice('stalled-'.length));
    const again = await h.api('POST', '/api/workflows/on-cluster/runs', { model: { i } }, { 'idempotency-key': stalledKey as string });
    expect([200, 201]).toContain(again.status);
    expect((await primaryOf(c, h.engine.keys.run(again.body.id))).id).toBe(owner.id);
  });
});
