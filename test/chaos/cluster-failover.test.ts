/**
 * Crash safety on the Redis Cluster (issue 12 item 9): worker processes are SIGKILLed and two
 * primaries fail over mid-load — one by `CLUSTER FAILOVER` on its replica (no write lost), one by
 * SIGKILL (asynchronous replication: step commits not yet replicated are lost and redone by
 * redelivery). Every run must still complete, each step committed exactly once.
 *
 * Needs the partitioned key layout (scripts single-slot): skipped until scriptsPartitioned().
 * Runs on a cluster of its own (testCluster({ own: 'chaos' })), stopped afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterNodes } from '../../config/schema.ts';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { DataflowRegistry } from '../../src/dataflows/registry.ts';
import {
  cleanupClusterPrefix,
  failoverPrimary,
  healTestCluster,
  killPrimary,
  primaries,
  rawClusterClient,
  scriptsPartitioned,
  stopTestCluster,
  testCluster,
} from '../helpers/cluster.ts';
import { engineTestOptions } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { crashWorkflow, WorkerPool } from '../helpers/worker-pool.ts';

const RUNS = 60;
const STEPS = 10;
const PAUSE_MS = 20;
const partitioned = scriptsPartitioned();
// Only started when the test will run: a second cluster costs six redis-servers.
const cluster = partitioned ? testCluster({ own: 'chaos' }) : undefined;

describe.runIf(cluster && partitioned)('workers SIGKILLed and primaries failed over mid-load on the Redis Cluster', () => {
  // The body is collected even when skipped: nothing here may assume the cluster exists.
  const c = cluster ?? { seeds: [], nodesEnv: '', basePort: undefined };
  const prefix = uniquePrefix('cluster-crash');
  // Workers never wait for replicas (step commits converge by redelivery); the test's own API
  // engine starts runs before any failover, so its WAITs find every replica.
  const options = engineTestOptions(prefix, {
    ...(cluster ? { redisCluster: parseClusterNodes(c.nodesEnv) } : {}),
    waitReplicas: 'auto',
    waitTimeoutMs: 2_000,
  });
  let engine: Engine;
  const pool = new WorkerPool({
    REDIS_CLUSTER_NODES: c.nodesEnv,
    STAGEFLOW_PREFIX: prefix,
    WORKER_CONCURRENCY: '4',
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '300',
    WORKER_MAX_STALLED_COUNT: '20',
    RECONCILE_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
  });

  beforeAll(async () => {
    engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
    await waitUntilReady(engine.redis, 10_000);
    await new DataflowRegistry(engine.redis, prefix).put({ name: 'sleep', kind: 'module', module: 'sleep' });
    await engine.saveWorkflow('cluster-crash', crashWorkflow('cluster-crash', STEPS));
  });

  afterAll(async () => {
    pool.killAll();
    await engine?.close();
    try {
      healTestCluster(c);
      const raw = rawClusterClient(c);
      await cleanupClusterPrefix(raw, prefix).finally(() => raw.disconnect());
    } finally {
      stopTestCluster(c);
    }
  });

  it(`${RUNS} runs over 3 workers complete through worker kills, a manual failover and a killed primary`, async () => {
    for (let i = 0; i < 3; i++) pool.spawn();
    await pool.until('3 live workers', async () => (await engine.liveWorkers(10_000)) >= 3, 90_000);

    // Two waves of starts: the second goes in after the manual failover, just before the kill,
    // so the kill lands mid-load however fast the first wave ran (a quiet machine finished all
    // of one wave before the kill).
    const runIds: string[] = [];
    const startWave = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        runIds.push((await engine.startRun('cluster-crash', { model: { i, pause: { ms: PAUSE_MS } } })).run.id);
    };
    await startWave(0, RUNS / 2);
    const completed = async () => (await engine.listRuns({ workflow: 'cluster-crash', status: 'completed', limit: RUNS })).items.length;

    // A worker dies mid-load, and the first primary hands over by CLUSTER FAILOVER.
    await pool.until('some steps done', async () => (await engine.history(runIds[0]!)).some((e) => e.type === 'step.completed'), 60_000);
    pool.children[0]!.kill('SIGKILL');
    const [first, second] = await primaries(c);
    await failoverPrimary(c, first!);
    pool.spawn();

    // Another worker dies, and a second primary is SIGKILLed while the second wave is moving.
    await startWave(RUNS / 2, RUNS);
    expect(await completed()).toBeLessThan(RUNS);
    pool.children[1]!.kill('SIGKILL');
    await killPrimary(c, second!);
    pool.spawn();

    await pool.until('every run to finish', async () => (await completed()) === RUNS, 180_000, 200);

    let duplicates = 0;
    for (const id of runIds) {
      const run = await engine.getRun(id);
      expect(run.status).toBe('completed');
      const expectedModel: Record<string, unknown> = { i: run.model.i, pause: { ms: PAUSE_MS } };
      for (let s = 1; s <= STEPS; s++) expectedModel[s % 2 ? `f${s}` : `slept${s}`] = s % 2 ? s : { slept: PAUSE_MS };
      expect(run.model).toEqual(expectedModel);
      const history = await engine.history(id);
      const commits = history.filter((e) => e.type === 'step.completed');
      duplicates += commits.length - new Set(commits.map((e) => e.seq)).size;
      expect(commits.map((e) => e.stepId)).toEqual(Array.from({ length: STEPS }, (_, s) => `s${s + 1}`));
      expect(history.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    }
    expect(duplicates).toBe(0);
  }, 400_000);
});
