import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.ts';
import { pingRedis } from './redis.ts';

export interface RedisHandle {
  /** True when this process started redis-server; false when one was already answering. */
  started: boolean;
  pid?: number;
  /** Stops the redis-server this process started (a no-op otherwise); safe to call twice. */
  stop(): Promise<void>;
}

export interface EnsureRedisConfig {
  redisUrl: string;
  dataDir: string;
}

export interface EnsureRedisOptions {
  /** PATH to look for redis-server on; defaults to process.env.PATH. */
  pathEnv?: string;
  /** How long to wait for a started server to answer. */
  waitMs?: number;
}

export interface StartRedisServerOptions {
  bin: string;
  port: number;
  dir: string;
  /** Both stdout and stderr of the server are appended here. */
  logFile: string;
  /** Arguments after --port/--bind/--dir, e.g. persistence settings. */
  extraArgs: string[];
  bind?: string[];
  /** A detached server lives on after this process exits and misses its Ctrl-C. */
  detached: boolean;
  waitMs?: number;
}

export interface RedisServerProcess {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

const HOW_TO_GET_REDIS = [
  'Ways to get one:',
  '  - install it locally: `sudo apt-get install redis-server` (stageflow then starts it for you on a loopback REDIS_URL),',
  '  - point REDIS_URL at a Redis you already run (e.g. REDIS_URL=redis://host:6379),',
  '  - or run everything in containers: `docker compose up`.',
].join('\n');

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Absolute path of an executable on `pathEnv`, or undefined. */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    function onExit(): void {
      clearTimeout(timer);
      resolve(true);
    }
    child.once('exit', onExit);
  });
}

/**
 * Spawns redis-server in the foreground (`--daemonize no`, so we own its pid) and resolves once
 * it answers PING. Throws, with the tail of its log, if it exits or stays silent.
 */
export async function startRedisServer(opts: StartRedisServerOptions): Promise<RedisServerProcess> {
  mkdirSync(opts.dir, { recursive: true });
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const bind = opts.bind ?? ['127.0.0.1'];
  const args = ['--port', String(opts.port), '--bind', ...bind, '--dir', opts.dir, '--daemonize', 'no', ...opts.extraArgs];
  const logFd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.bin, args, {
      detached: opts.detached,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(logFd);
  }
  // A detached server must not keep this process alive; an attached one dies with it anyway.
  child.unref();

  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const host = bind[0] ?? '127.0.0.1';
  const url = `redis://${host.includes(':') ? `[${host}]` : host}:${opts.port}`;
  const stop = async (): Promise<void> => {
    if (exited || child.exitCode !== null || child.signalCode !== null) return;
    // SIGTERM makes redis-server flush its AOF and exit cleanly.
    child.kill('SIGTERM');
    if (await waitForExit(child, 5_000)) return;
    child.kill('SIGKILL');
    await waitForExit(child, 2_000);
  };

  const deadline = Date.now() + (opts.waitMs ?? 5_000);
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<undefined>((resolve) => setTimeout(resolve, 100, undefined))]);
    if (failed) throw new Error(`could not run ${opts.bin}: ${failed.message}`);
    if (exited) {
      throw new Error(
        `redis-server exited right after start (port ${opts.port}); its log ${opts.logFile} ends with:\n${tail(opts.logFile)}`,
      );
    }
    if (await pingRedis(url, 500)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server did not answer on port ${opts.port} within ${opts.waitMs ?? 5_000} ms; its log ${opts.logFile} ends with:\n${tail(opts.logFile)}`,
      );
    }
  }
  if (child.pid === undefined) throw new Error(`could not run ${opts.bin}: no pid`);
  return { pid: child.pid, url, stop };
}

/**
 * Makes sure Redis answers at config.redisUrl. On a developer machine with nothing running it
 * starts a durable redis-server (AOF everysec, noeviction as BullMQ requires) with its data in
 * config.dataDir; it keeps running after this process exits so the next start finds it and its
 * data. Anywhere else it refuses and explains how to get Redis.
 */
export async function ensureRedis(config: EnsureRedisConfig, log: Logger, opts: EnsureRedisOptions = {}): Promise<RedisHandle> {
  const noop: RedisHandle = { started: false, stop: async () => {} };
  if (await pingRedis(config.redisUrl, 1_000)) return noop;

  let url: URL;
  try {
    url = new URL(config.redisUrl);
  } catch {
    throw new Error(`REDIS_URL is not a valid URL: ${config.redisUrl}`);
  }
  const where = `${url.protocol}//${url.host}`;
  const fail = (why: string): Error => new Error(`Redis does not answer at ${where}; ${why}.\n${HOW_TO_GET_REDIS}`);

  if (!isLoopbackHost(url.hostname)) {
    throw fail('it is not on this machine, so stageflow cannot start one for you');
  }
  if (url.protocol !== 'redis:' || url.username !== '' || url.password !== '') {
    throw fail('stageflow only starts a plain local redis-server (no TLS, no password) for you');
  }
  const bin = findExecutable('redis-server', opts.pathEnv);
  if (!bin) throw fail('redis-server is not installed (not found on PATH)');

  const port = url.port === '' ? 6379 : Number(url.port);
  const dir = path.resolve(config.dataDir);
  const hostIsV6 = url.hostname.replace(/^\[|\]$/g, '') === '::1';
  const server = await startRedisServer({
    bin,
    port,
    dir,
    logFile: path.join(dir, 'redis.log'),
    bind: hostIsV6 ? ['::1'] : ['127.0.0.1'],
    extraArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
    detached: true,
    ...(opts.waitMs !== undefined ? { waitMs: opts.waitMs } : {}),
  });
  log.info({ pid: server.pid, dir, port, logFile: path.join(dir, 'redis.log') }, 'started redis-server for you');

  let stopped: Promise<void> | undefined;
  return {
    started: true,
    pid: server.pid,
    stop: () => (stopped ??= server.stop()),
  };
}
