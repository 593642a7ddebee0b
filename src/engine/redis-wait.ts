/**
 * Waiting for a Redis this process must not start: `npm run api`, `npm run worker` and every
 * role in production. During an outage a restarting process waits here until Redis is back;
 * starting a redis-server of its own would take the real one's port and hide its data.
 */
import type { Logger } from '../observability/logger.ts';
import { pingRedisCluster } from './redis-checks.ts';
import { pingRedis, type RedisTarget } from './redis.ts';

export interface WaitForRedisOptions {
  /** Pause between tries. */
  retryMs?: number;
  /** At most one "still waiting" line per this interval (the first failure is logged at once). */
  logIntervalMs?: number;
  /** Aborts the wait (a signal during start-up); the promise then rejects. */
  signal?: AbortSignal;
}

/**
 * Resolves once a PING at `url` answers (for a cluster: it is ok and every primary answers);
 * retries for ever, logging at a bounded rate.
 */
export async function waitForRedis(target: string | RedisTarget, log: Logger, opts: WaitForRedisOptions = {}): Promise<void> {
  const t: RedisTarget = typeof target === 'string' ? { url: target } : target;
  const ping = 'cluster' in t ? () => pingRedisCluster(t.cluster, 1_000) : () => pingRedis(t.url, 1_000);
  const retryMs = opts.retryMs ?? 500;
  const logIntervalMs = opts.logIntervalMs ?? 10_000;
  const where = 'cluster' in t ? t.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') : redactedUrl(t.url);
  const started = Date.now();
  let tries = 0;
  let loggedAt = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await ping()) {
      if (tries > 0) log.info({ redis: where, tries: tries + 1, waitedMs: Date.now() - started }, 'redis answers; starting');
      return;
    }
    tries += 1;
    const now = Date.now();
    if (tries === 1 || now - loggedAt >= logIntervalMs) {
      log.warn(
        { redis: where, tries, waitedMs: now - started },
        tries === 1
          ? 'redis does not answer; waiting for it (this process never starts one: only `npm start` outside production may, at its first start)'
          : 'still waiting for redis',
      );
      loggedAt = now;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryMs);
      opts.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an invalid REDIS_URL';
  }
}
