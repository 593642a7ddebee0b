/**
 * The composition root of what step handlers and routes use besides the engine: notification
 * channels, templates, the inbox, dataflows. One set per engine (the engine calls the factory
 * in its constructor); `close()` ends SSE streams, the SMTP pool and subscriber connections.
 */
import type { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore, type RedisReply, type SendCommandClusterFn } from 'rate-limit-redis';
import type { Config } from '../config/schema.ts';
import { bullBoard } from './api/bull-board.ts';
import type { ApiInfrastructure, CounterStore } from './api/ports.ts';
import type { PrincipalRegistry } from './api/principals.ts';
import { createDataflowServices } from './dataflows/index.ts';
import { DataflowRegistry } from './dataflows/registry.ts';
import type { Engine } from './engine/engine.ts';
import { Invalidation } from './engine/invalidation.ts';
import { isCluster } from './engine/redis.ts';
import { createNotifyServices, type NotifyServices } from './notify/index.ts';
import { scrapeMetrics } from './observability/scrape.ts';
import type { StepServices } from './steps/services.ts';

export interface ServiceSet {
  notify: NotifyServices;
  dataflowRegistry: DataflowRegistry;
}

export interface Services {
  /** Pass as EngineOptions.services. */
  factory: (engine: Engine) => Omit<StepServices, 'links'>;
  /** The set of the first engine built with this factory. */
  get(): ServiceSet;
  close(): Promise<void>;
}

export function createServices(
  config: Pick<Config, 'notify' | 'publicUrl'> & Partial<Pick<Config, 'templateMaxBytes'>>,
  principals: PrincipalRegistry,
  log: Logger,
): Services {
  // An engine per role may share one factory (npm start runs API and worker): keep every set to close it.
  const sets: ServiceSet[] = [];
  return {
    factory: (engine) => {
      const notify = createNotifyServices({
        redis: engine.redis,
        keys: engine.keys,
        config,
        registry: principals,
        log,
        // Documents live as long as the runs they were sent from, signed like answer links.
        documentTtlSec: engine.opts.retentionSec,
        documentSecret: () => engine.links.secretText(),
        ...(config.templateMaxBytes ? { templateMaxBytes: config.templateMaxBytes } : {}),
      });
      const df = createDataflowServices({
        redis: engine.redis,
        prefix: engine.keys.prefix,
        log,
        startChild: (workflow, input, ctx) => engine.startChildRun(workflow, input, ctx),
      });
      sets.push({ notify, dataflowRegistry: df.registry });
      return {
        directory: notify.directory,
        notifier: notify.notifier,
        templates: notify.templates,
        dataflows: df.dataflows,
        publicUrl: notify.publicUrl,
      };
    },
    get: () => {
      if (!sets[0]) throw new Error('services are created with the engine');
      return sets[0];
    },
    close: async () => {
      for (const set of sets.splice(0)) await set.notify.close();
    },
  };
}

/**
 * What the API app needs besides the engine's services, built on the engine's Redis: the shared
 * rate-limit and failed-authentication counters, Bull Board over the engine's queues, the
 * secret admin cookies are signed with, and the metrics scrape. The API never sees the client.
 */
export function apiInfrastructure(engine: Engine): ApiInfrastructure {
  const { redis } = engine;
  const authKey = (address: string) => engine.keys.authFailures(address);
  // Addresses with a failure in their current window, as heard from every API process (ms of the
  // window's end). Only those can be over the budget, so only they cost a read: a request from a
  // clean address makes no Redis call. Each failure is broadcast before its 401/429 is sent, so a
  // guesser refused by one process is refused by every other one too (no oracle across processes).
  const failing = new Map<string, number>();
  const note = (address: string, ttlMs: number) => {
    if (failing.size >= 10_000) for (const [a, until] of failing) if (until <= Date.now()) failing.delete(a);
    failing.set(address, Date.now() + Math.max(ttlMs, 1000));
  };
  const heard = new Invalidation(
    redis,
    engine.keys.authFailed,
    (msg) => {
      const at = msg.indexOf(' ');
      note(msg.slice(at + 1), Number(msg.slice(0, at)));
    },
    // Failures counted while this process was not listening: one read of the addresses whose
    // window is still open (a SCAN of the counters cost seconds on a Redis of half a million keys,
    // and the process read Redis on every request until it finished).
    async () => {
      failing.clear();
      const now = Date.now();
      const open = await redis.zrangebyscore(engine.keys.authFailing, now, '+inf', 'WITHSCORES');
      for (let i = 0; i < open.length; i += 2) note(open[i]!, Number(open[i + 1]) - now);
    },
  );
  const authFailures: CounterStore = {
    async read(address) {
      const until = failing.get(address);
      if (heard.live && (until === undefined || until <= Date.now())) return { count: 0, ttlMs: -1 };
      const res = await redis.multi().get(authKey(address)).pttl(authKey(address)).exec();
      return { count: Number(res?.[0]?.[1] ?? 0), ttlMs: Number(res?.[1]?.[1] ?? -1) };
    },
    async hit(address, windowMs) {
      // A fixed window from the first failure; NX keeps later failures from extending it.
      const k = authKey(address);
      const res = await redis.multi().incr(k).pexpire(k, windowMs, 'NX').pttl(k).exec();
      const counted = { count: Number(res?.[0]?.[1] ?? 0), ttlMs: Number(res?.[2]?.[1] ?? -1) };
      // Its own key (the counters sit in many slots): closed windows are dropped as new ones open,
      // and the set itself goes once no address has failed for a window.
      const now = Date.now();
      const end = now + (counted.ttlMs > 0 ? counted.ttlMs : windowMs);
      await redis
        .pipeline()
        .zremrangebyscore(engine.keys.authFailing, '-inf', now)
        .zadd(engine.keys.authFailing, 'GT', end, address)
        .pexpire(engine.keys.authFailing, windowMs)
        .exec();
      await heard.publish(`${counted.ttlMs > 0 ? counted.ttlMs : windowMs} ${address}`);
      return counted;
    },
  };
  const queues = [engine.queue, engine.eventQueue];
  return {
    rateLimitStore: () =>
      new RedisStore({
        prefix: engine.keys.rateLimitPrefix,
        ...(isCluster(redis)
          ? { sendCommandCluster: clusterRateLimitCommand(redis) }
          : { sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply> }),
      }),
    authFailures,
    board: bullBoard(queues),
    linkSecret: () => engine.links.secretText(),
    metrics: { scrape: () => scrapeMetrics({ ping: () => engine.ping(), runCounts: () => engine.runCounts(), queues }) },
  };
}

/**
 * rate-limit-redis's commands on a cluster. Its scripts are loaded with SCRIPT LOAD, which a
 * cluster client sends to any one node, so the EVALSHA for a principal's key met NOSCRIPT on the
 * others, its reload went to a random node again, and the limiter let the request through (found
 * by bad-input.test.ts on the cluster; a replica promoted by a failover has no scripts either).
 * Scripts are loaded on every primary; every other command goes where its key lives.
 */
function clusterRateLimitCommand(redis: Cluster): SendCommandClusterFn {
  return async ({ command }) => {
    const [name, ...args] = command as [string, ...string[]];
    if (name.toUpperCase() === 'SCRIPT') {
      const shas = await Promise.all(redis.nodes('master').map((node) => node.call(name, ...args)));
      return shas[0] as RedisReply;
    }
    return redis.call(name, ...args) as Promise<RedisReply>;
  };
}

/** The app's wiring on one engine: its infrastructure, and a dataflow registry on its Redis (pass your own to share one). */
export function apiWiring(engine: Engine, log?: Logger): { infra: ApiInfrastructure; dataflows: DataflowRegistry } {
  return { infra: apiInfrastructure(engine), dataflows: new DataflowRegistry(engine.redis, engine.keys.prefix, log) };
}
