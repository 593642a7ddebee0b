/**
 * Process wiring shared by `npm start` (API + worker), `npm run api` and `npm run worker`:
 * config → Redis → engine(s) → HTTP server and/or worker, and a bounded shutdown on SIGTERM.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config/schema.ts';
import { createApp } from './api/app.ts';
import { loadPrincipals, type PrincipalRegistry } from './api/principals.ts';
import { apiWiring, createServices } from './services.ts';
import { Engine, type EngineOptions } from './engine/engine.ts';
import { ensureRedis } from './engine/redis-bootstrap.ts';
import { waitForRedis } from './engine/redis-wait.ts';
import { redisTarget, waitUntilReady } from './engine/redis.ts';
import { checkRedisCluster, checkRedisServer, RedisCheckError } from './engine/redis-checks.ts';
import { egressProblem, setEgressAllowlist } from './http/egress.ts';
import { createLogger } from './observability/logger.ts';
import { startWorkerHttp } from './ops/worker-http.ts';

export type Role = 'all' | 'api' | 'worker';

export function engineOptions(config: Config): Omit<EngineOptions, 'services'> {
  return {
    redisUrl: config.redisUrl,
    redisCluster: config.redisCluster,
    partitions: config.partitions,
    waitReplicas: config.redisWaitReplicas,
    waitTimeoutMs: config.redisWaitTimeoutMs,
    prefix: config.prefix,
    maxTransitions: config.maxTransitions,
    modelMaxBytes: config.modelMaxBytes,
    retentionSec: config.runRetentionDays * 86_400,
    idempotencyTtlMs: config.idempotencyTtlHours * 3_600_000,
    reconcile: { intervalMs: config.reconcileIntervalMs, graceMs: Math.max(5_000, config.worker.lockDurationMs) },
    worker: { ...config.worker, shutdownTimeoutMs: config.shutdownTimeoutMs },
    publicUrl: config.publicUrl,
    ...(config.notify.webhookSecret ? { webhookSecret: config.notify.webhookSecret } : {}),
    ...(config.linkSecret ? { linkSecret: config.linkSecret } : {}),
  };
}

export interface Running {
  server?: Server;
  port?: number;
  /** The worker's health and metrics listener (WORKER_HTTP_PORT), when one is configured. */
  workerHttpPort?: number;
  shutdownTimeoutMs: number;
  stop(): Promise<void>;
}

/**
 * Who may start an embedded redis-server: only the all-in-one `npm start`, outside production,
 * and only at its own start. Every other process (and any process later, on a lost connection)
 * waits for Redis instead: a server started during an outage would take the real one's port
 * and serve an empty or stale database in its place.
 */
export function mayStartRedis(role: Role, config: Pick<Config, 'nodeEnv'>): boolean {
  return role === 'all' && config.nodeEnv !== 'production';
}

export interface StartOptions {
  /**
   * The start-up checks of the Redis server (src/engine/redis-checks.ts). Only tests turn them
   * off, to see how a running worker copes with a Redis that turns bad later (a failover).
   */
  checkRedis?: boolean;
  /** Aborts the wait for Redis at start (a SIGTERM before Redis ever answered). */
  signal?: AbortSignal;
}

export async function start(
  role: Role,
  env: NodeJS.ProcessEnv = process.env,
  log: Logger = createLogger({ name: 'stageflow' }),
  startOpts: StartOptions = {},
): Promise<Running> {
  const config = loadConfig(env);
  setEgressAllowlist(config.egressAllowlist);
  const webhookDenied = config.notify.webhookUrl ? egressProblem(config.notify.webhookUrl) : undefined;
  if (webhookDenied) throw new Error(`NOTIFY_WEBHOOK_URL ${webhookDenied}`);
  // Workers need the principals too: the directory expands role: recipients and finds e-mail addresses.
  const principals =
    role === 'worker' ? workerPrincipals(config) : loadPrincipals({ STAGEFLOW_API_KEYS: config.apiKeys, NODE_ENV: config.nodeEnv });
  // A Redis that answers but is unusable (wrong password, a replica…) is named before
  // ensureRedis, which would otherwise take a refused password for no Redis at all.
  const target = redisTarget(config);
  // On a cluster every primary is checked; the seeds of REDIS_CLUSTER_NODES find them.
  const checkRedis = () => ('cluster' in target ? checkRedisCluster(target.cluster) : checkRedisServer(target.url));
  const check =
    startOpts.checkRedis === false
      ? undefined
      : await checkRedis().then(
          () => 'ok' as const,
          (err: unknown) => err,
        );
  if (check instanceof RedisCheckError && check.check !== 'unreachable') throw check;
  // A cluster is never started here: an embedded redis-server is one standalone node.
  const redis =
    mayStartRedis(role, config) && !('cluster' in target)
      ? await ensureRedis(config, log)
      : await waitForRedis(target, log, { ...(startOpts.signal ? { signal: startOpts.signal } : {}) }).then(() => ({
          started: false,
        }));
  if (check !== undefined && check !== 'ok') await checkRedis();
  const opts = engineOptions(config);
  const stops: Array<() => Promise<void>> = [];
  const running: Running = {
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    stop: async () => {
      for (const s of stops.reverse()) await s();
    },
  };

  if (role !== 'api') {
    const services = createServices(config, principals, log);
    const engine = Engine.open({ ...opts, services: services.factory }, log, { failFast: false });
    await waitUntilReady(engine.redis, 10_000);
    if (startOpts.checkRedis !== false) await upgradeLayout(engine);
    const worker = engine.startWorker();
    engine.startReconciler();
    const http =
      config.workerHttpPort === undefined
        ? undefined
        : await startWorkerHttp({
            port: config.workerHttpPort,
            ping: () => engine.ping(),
            taking: () => worker.taking,
            log,
            ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
          });
    if (http) running.workerHttpPort = http.port;
    stops.push(async () => {
      // /readyz turns 503 at once (worker.taking is false while it drains); the listener goes last.
      await engine.close();
      await services.close();
      await http?.close();
    });
  }

  if (role !== 'worker') {
    const services = createServices(config, principals, log);
    const engine = Engine.open({ ...opts, services: services.factory }, log, { failFast: true });
    await waitUntilReady(engine.redis, 10_000);
    if (startOpts.checkRedis !== false) await upgradeLayout(engine);
    log.info(
      { waitReplicas: await engine.replication(), setting: config.redisWaitReplicas },
      'acknowledged writes wait for this many replicas',
    );
    const { notify, dataflowRegistry } = services.get();
    await dataflowRegistry.loadDir('config/dataflows');
    await loadExampleWorkflows(engine, log);
    const app = createApp({
      engine,
      ...apiWiring(engine, log),
      principals,
      log,
      notify,
      dataflows: dataflowRegistry,
      bodyLimit: config.bodyLimitBytes,
      rateLimitPerMinute: config.rateLimitPerMinute,
      authFailuresPerMinute: config.authFailuresPerMinute,
      batchMaxRuns: config.batchMaxRuns,
      metricsToken: config.metricsToken,
      secureCookies: config.publicUrl.startsWith('https:'),
    });
    const server = app.listen(config.port);
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    const address = server.address();
    running.server = server;
    running.port = typeof address === 'object' && address ? address.port : config.port;
    if (principals.devKey) {
      log.warn(
        { adminKey: principals.devKey },
        'DEV MODE: no API keys configured; use this generated admin key (Authorization: Bearer <adminKey>). Set STAGEFLOW_API_KEYS for real use.',
      );
    }
    log.info({ port: running.port, role, principals: principals.size }, `stageflow listening on http://localhost:${running.port}`);
    stops.unshift(async () => {
      await engine.close();
    });
    // Stops run last-in first: SSE streams end before server.close(), which would wait on them.
    stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    stops.push(() => services.close());
  }
  if (redis.started) log.info('the redis-server started for you keeps running after stageflow stops');
  return running;
}

/**
 * Moves data of the layout before partitions into the partitioned one (locked and marked done, so
 * every process may ask). A cluster starts from the partitioned layout (data is upgraded on the
 * single Redis before it moves): there it only records the partition count, or refuses another.
 * Only after the start-up checks (a writable primary): tests that turn them off start on a replica.
 */
async function upgradeLayout(engine: Engine): Promise<void> {
  // upgradeLegacyLayout logs what it moved.
  await engine.upgradeLegacyLayout();
}

function workerPrincipals(config: Config): PrincipalRegistry {
  try {
    return loadPrincipals({ STAGEFLOW_API_KEYS: config.apiKeys, NODE_ENV: 'development' });
  } catch (err) {
    throw new Error(`cannot read the principals for the directory: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Saves config/workflows/*.json so a new user has something to run; unchanged ones keep their version. */
async function loadExampleWorkflows(engine: Engine, log: Logger, dir = 'config/workflows') {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const file of files) {
    try {
      const def = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { name: string };
      const saved = await engine.saveWorkflow(def.name, def);
      log.info({ workflow: def.name, version: saved.version }, 'example workflow loaded');
    } catch (err) {
      log.error({ err, file }, 'example workflow not loaded');
    }
  }
}

/** Runs a role as the main program: logs fatal start errors plainly and drains on SIGTERM/SIGINT. */
export async function main(role: Role): Promise<void> {
  const startedAt = Date.now();
  const log = createLogger({ name: 'stageflow' });
  // Handlers go in before anything starts, so a signal during start-up still drains cleanly.
  let running: Running | undefined;
  let signalled: string | undefined;
  // A signal while start-up still waits for Redis ends that wait (and the process) at once.
  const starting = new AbortController();
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = signal;
    if (running) stop(running, signal);
    else starting.abort();
  };
  const stop = (r: Running, signal: string) => {
    const t0 = Date.now();
    log.info({ signal, shutdownTimeoutMs: r.shutdownTimeoutMs }, 'shutting down');
    // Active steps are handed back at the bound; anything still closing well after it (a hung
    // connection) must not keep the process, and so its container, from stopping.
    const watchdog = setTimeout(() => {
      log.error({ elapsedMs: Date.now() - t0 }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, r.shutdownTimeoutMs + 5_000);
    watchdog.unref();
    r.stop().then(
      () => {
        log.info({ signal, elapsedMs: Date.now() - t0 }, 'stageflow stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    running = await start(role, process.env, log, { signal: starting.signal });
  } catch (err) {
    if (signalled && starting.signal.aborted) {
      log.info({ signal: signalled }, 'stopped while waiting for redis');
      process.exit(0);
    }
    log.fatal({ err: err instanceof Error ? err.message : String(err), startMs: Date.now() - startedAt }, 'stageflow could not start');
    process.exit(1);
  }
  if (signalled) stop(running, signalled);
}
