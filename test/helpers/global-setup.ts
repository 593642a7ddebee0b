import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { pingRedis } from '../../src/engine/redis.ts';
import { findExecutable, startRedisServer } from '../../src/engine/redis-bootstrap.ts';
import { freePort, testRedisUrl } from './redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * Gives every test file a Redis: the one at REDIS_URL (or the default) when it answers, else
 * a throwaway redis-server on a free port that keeps nothing on disk.
 *
 * The URL reaches test workers through process.env: vitest 4 builds the forks' environment
 * from the main process's process.env after globalSetup has run, so REDIS_URL set here is what
 * tests, and any process they spawn, see. It is also provided as inject('redisUrl').
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const wanted = testRedisUrl();
  if (await pingRedis(wanted, 1_000)) {
    process.env.REDIS_URL = wanted;
    project.provide('redisUrl', wanted);
    return;
  }

  const bin = findExecutable('redis-server');
  if (!bin) {
    throw new Error(
      `Tests need Redis: nothing answers at ${wanted} and redis-server is not installed. ` +
        'Install it (`apt-get install redis-server`; .ci/run does this), or set REDIS_URL to a running Redis.',
    );
  }

  const dir = mkdtempSync(path.join(tmpdir(), 'stageflow-test-redis-'));
  let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  let lastError: unknown;
  // Another process can grab the free port between the probe and the bind; try a few.
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    try {
      server = await startRedisServer({
        bin,
        port: await freePort(),
        dir,
        logFile: path.join(dir, 'redis.log'),
        extraArgs: ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
        detached: false,
        waitMs: 10_000,
      });
    } catch (err) {
      lastError = err;
    }
  }
  if (!server) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Tests need Redis: nothing answers at ${wanted} and starting redis-server failed: ${String(lastError)}`);
  }

  process.stderr.write(`[global-setup] no Redis at ${wanted}; started redis-server ${server.url} (pid ${server.pid})\n`);
  process.env.REDIS_URL = server.url;
  project.provide('redisUrl', server.url);

  const started = server;
  return async () => {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
