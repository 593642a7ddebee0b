/**
 * An in-process stageflow for integration tests: API on a free port plus (optionally) a worker,
 * under a unique key prefix that is deleted afterwards.
 */
import type { Server } from 'node:http';
import { createApp, type AppOptions } from '../../src/api/app.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { Engine, type EngineOptions } from '../../src/engine/engine.ts';
import { Cluster, Redis } from 'ioredis';
import { type RedisClient, waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { apiWiring, createServices } from '../../src/services.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { undocumented } from './openapi-check.ts';
import type { NotifyConfig } from '../../config/schema.ts';
import { parseClusterNodes } from '../../config/schema.ts';
import { cleanupPrefix, testRedisUrl, uniquePrefix } from './redis.ts';
import { cleanupClusterPrefix, rawClusterClient, testCluster } from './cluster.ts';

/**
 * The cluster suite (`npm run test:cluster`, vitest.cluster.config.ts) sets STAGEFLOW_TEST_ON_CLUSTER:
 * every harness then builds its engines on the test cluster (helpers/cluster.ts: the local one, or
 * TEST_REDIS_CLUSTER_NODES), acknowledging writes only once a replica holds them, as production would.
 */
export const onCluster = process.env.STAGEFLOW_TEST_ON_CLUSTER === '1';

function clusterOptions(): Partial<EngineOptions> {
  if (!onCluster) return {};
  const cluster = testCluster();
  if (!cluster) throw new Error('STAGEFLOW_TEST_ON_CLUSTER is set, but no test cluster can be had (redis-server missing?)');
  return { redisCluster: parseClusterNodes(cluster.nodesEnv), waitReplicas: 'auto', waitTimeoutMs: 2_000 };
}

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const USER_KEY = 'test-user-key-0123456789ab';

/** Principals every harness knows; the key of each is `key-<id>-0123456789` (admin: ADMIN_KEY). */
export const TEST_PRINCIPALS = [
  { id: 'admin', key: ADMIN_KEY, roles: ['admin'] },
  { id: 'user-1', key: USER_KEY, roles: ['operator'] },
  { id: 'ann', key: 'key-ann-0123456789', roles: ['manager'], email: 'ann@example.test', name: 'Ann' },
  { id: 'bob', key: 'key-bob-0123456789', roles: ['manager'], email: 'bob@example.test', name: 'Bob' },
  { id: 'cid', key: 'key-cid-0123456789', roles: ['manager'], email: 'cid@example.test' },
  { id: 'eve', key: 'key-eve-0123456789', roles: ['clerk'], email: 'eve@example.test' },
  // For the role matrix (test/integration/role-matrix.test.ts): a designer, an operator who may also
  // read restricted workflows naming role:auditor, a user named by id in access lists, and an outsider.
  { id: 'dana', key: 'key-dana-0123456789', roles: ['designer'] },
  { id: 'opal', key: 'key-opal-0123456789', roles: ['operator', 'auditor'] },
  { id: 'allowed-user', key: 'key-allowed-user-0123456789', roles: [] },
  { id: 'other-user', key: 'key-other-user-0123456789', roles: ['staff'] },
];
export const keyOf = (id: string) => TEST_PRINCIPALS.find((p) => p.id === id)!.key;

export interface Harness {
  base: string;
  prefix: string;
  engine: Engine;
  worker?: Engine;
  options: EngineOptions;
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  saveWorkflow(def: { name: string } & Record<string, unknown>): Promise<number>;
  start(name: string, body?: Record<string, unknown>, query?: string): Promise<any>;
  waitFor(runId: string, pred: (run: any) => boolean, ms?: number): Promise<any>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  worker?: boolean;
  engine?: Partial<EngineOptions>;
  notify?: Partial<NotifyConfig>;
  /**
   * EGRESS_ALLOWLIST for this test process. Tests' receivers listen on loopback, which the
   * default policy refuses: they are allowlisted here (the default stays strict).
   */
  egressAllowlist?: string;
  /** Extra createApp options (metricsToken, rateLimitPerMinute, bodyLimit…). */
  app?: Partial<Omit<AppOptions, 'engine' | 'principals' | 'log'>>;
}

export function engineTestOptions(prefix: string, over: Partial<EngineOptions> = {}): EngineOptions {
  return {
    redisUrl: testRedisUrl(),
    prefix,
    maxTransitions: 10_000,
    modelMaxBytes: 256 * 1024,
    retentionSec: 3600,
    idempotencyTtlMs: 3_600_000,
    reconcile: { intervalMs: 60_000, graceMs: 1000 },
    worker: { concurrency: 10, lockDurationMs: 5000, stalledIntervalMs: 5000, maxStalledCount: 3, shutdownTimeoutMs: 2000 },
    ...clusterOptions(),
    ...over,
  };
}

/**
 * The environment that points a spawned stageflow process (worker, API) at the Redis `options`
 * names: in the cluster suite REDIS_CLUSTER_NODES (REDIS_URL is then ignored), acknowledging
 * writes as the harness engines do; else REDIS_URL, with no REDIS_CLUSTER_NODES inherited.
 */
export function redisEnv(options: EngineOptions): Record<string, string | undefined> {
  const cluster = options.redisCluster;
  if (!cluster) return { REDIS_URL: options.redisUrl, REDIS_CLUSTER_NODES: undefined };
  return {
    REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    REDIS_WAIT_REPLICAS: String(options.waitReplicas ?? 0),
    REDIS_WAIT_TIMEOUT_MS: String(options.waitTimeoutMs ?? 1_000),
  };
}

/**
 * Deletes every key under `${prefix}:` in the Redis `options` names (every primary on a cluster);
 * by default the test Redis, i.e. the cluster in the cluster suite.
 */
export async function cleanupTestPrefix(
  prefix: string,
  options: Pick<EngineOptions, 'redisUrl' | 'redisCluster'> = engineTestOptions(prefix),
): Promise<number> {
  if (!options.redisCluster) return cleanupPrefix(options.redisUrl, prefix);
  const raw = rawClusterClient({ seeds: options.redisCluster.nodes, nodesEnv: '', basePort: undefined });
  return cleanupClusterPrefix(raw, prefix).finally(() => raw.disconnect());
}

/**
 * A connection to the test Redis for tests that build services by hand: the test cluster in the
 * cluster suite, else the single test Redis. Auto-pipelined on a cluster, where an explicit
 * pipeline must keep to one slot.
 */
export function testRedisClient(): RedisClient {
  const cluster = clusterOptions().redisCluster;
  if (!cluster) return new Redis(testRedisUrl());
  const client = new Cluster(cluster.nodes, { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => {});
  return client;
}

/** Every key matching a pattern, from every primary on a cluster (the engine's own scan). */
export { scanKeys } from '../../src/engine/redis.ts';

/**
 * Engine options naming a Redis nothing answers (port 1 on loopback), for "Redis is down" tests;
 * in the cluster suite a cluster whose only seed is there.
 */
export function unreachableRedis(): Pick<EngineOptions, 'redisUrl' | 'redisCluster'> {
  return { redisUrl: 'redis://127.0.0.1:1', redisCluster: onCluster ? parseClusterNodes('127.0.0.1:1') : undefined };
}

/**
 * The API with its real services on a Redis (or cluster) that does not answer, fail-fast as
 * `npm run api` starts, on a free port: what the "Redis is down" tests call.
 */
export async function startApiWithRedisDown(name: string): Promise<{ base: string; close(): Promise<void> }> {
  const log = createLogger({ level: 'silent' });
  const principals = PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test');
  const services = createServices(
    {
      notify: { smtpUrl: undefined, mailFrom: 'x@example.test', webhookSecret: undefined, webhookUrl: undefined },
      publicUrl: 'http://stageflow.test',
    },
    principals,
    log,
  );
  const engine = Engine.open({ ...engineTestOptions(name), ...unreachableRedis(), services: services.factory }, log, { failFast: true });
  const { notify, dataflowRegistry } = services.get();
  // The rate limiter lets requests through when its store is down; off here to keep its warnings out.
  const app = createApp({ engine, principals, log, notify, ...apiWiring(engine), dataflows: dataflowRegistry, rateLimitPerMinute: 0 });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const a = server.address();
  return {
    base: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await engine.close().catch(() => undefined);
      await services.close().catch(() => undefined);
    },
  };
}

export const TEST_EGRESS_ALLOWLIST = '127.0.0.1,::1';

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  setEgressAllowlist(opts.egressAllowlist ?? TEST_EGRESS_ALLOWLIST);
  const principals = PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test');
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  // Real services (inbox, templates, dataflows…) unless a test plugs in its own.
  const services = createServices(
    {
      notify: { smtpUrl: undefined, mailFrom: 'stageflow@localhost', webhookSecret: undefined, webhookUrl: undefined, ...opts.notify },
      publicUrl: 'http://stageflow.test',
    },
    principals,
    log,
  );
  // A test that shares a prefix between harnesses (processes of one deployment) names it in opts.engine.
  const options = engineTestOptions(uniquePrefix('it'), { services: services.factory, ...opts.engine });
  const prefix = options.prefix;
  const engine = Engine.open(options, log, { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  let worker: Engine | undefined;
  if (opts.worker !== false) {
    worker = Engine.open(options, log, { failFast: false });
    worker.startWorker();
  }
  const own = options.services === services.factory ? services.get() : undefined;
  // Every test client comes from 127.0.0.1, and several suites send bad keys on purpose: the
  // per-address failure limit is off unless a test asks for it (test/integration/auth-failures.test.ts).
  // So is the per-principal request limit (bad-input.test.ts sets one): waitFor polls every 25 ms,
  // which passes the default 1,200 a minute within a long wait and would read 429s as the run.
  const app = createApp({
    engine,
    ...apiWiring(engine, log),
    principals,
    log,
    authFailuresPerMinute: 0,
    rateLimitPerMinute: 0,
    ...(own ? { notify: own.notify, dataflows: own.dataflowRegistry } : {}),
    ...opts.app,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const api: Harness['api'] = async (method, path, body, headers = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    // Every status the suite sees must be in the OpenAPI document (test/helpers/openapi-check.ts).
    const problem = undocumented(method, path, res.status);
    if (problem) throw new Error(`OpenAPI: ${problem}`);
    return { status: res.status, body: parsed, headers: res.headers };
  };

  const h: Harness = {
    base,
    prefix,
    engine,
    worker,
    options,
    api,
    async saveWorkflow(def) {
      const res = await api('PUT', `/api/workflows/${def.name}`, def);
      if (res.status !== 201 && res.status !== 200) throw new Error(`save failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.version as number;
    },
    async start(name, body = {}, query = '') {
      const res = await api('POST', `/api/workflows/${name}/runs${query}`, body);
      if (res.status !== 201 && res.status !== 200) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async waitFor(runId, pred, ms = 10_000) {
      const until = Date.now() + ms;
      for (;;) {
        const run = (await api('GET', `/api/runs/${runId}`)).body;
        if (pred(run)) return run;
        if (Date.now() > until) throw new Error(`run ${runId} did not reach the expected state: ${JSON.stringify(run)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      // h.worker, not the one it started with: a test may replace it (a restarted worker process).
      await h.worker?.close();
      await engine.close();
      await services.close();
      await cleanupTestPrefix(prefix, options);
    },
  };
  return h;
}

/** A workflow of `n` updateModelField steps spread over stages of 5. */
export function linearWorkflow(name: string, n: number): { name: string } & Record<string, unknown> {
  const steps = Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, type: 'updateModelField', field: `f${i + 1}`, value: i + 1 }));
  const stages = [];
  for (let i = 0; i < n; i += 5) stages.push({ id: `stage${i / 5 + 1}`, name: `Stage ${i / 5 + 1}`, steps: steps.slice(i, i + 5) });
  return { name, stages };
}

/** A one-step workflow that parks on a confirmation `ask` (stage `s`); `ask` sets the step's own fields. */
export function confirmationWorkflow(name: string, ask: Record<string, unknown>): { name: string } & Record<string, unknown> {
  return { name, stages: [{ id: 's', name: 'S', steps: [{ id: 'ask', type: 'getUserConfirmation', ...ask }] }] };
}

export const settled = (run: any) => run.status !== 'running';
