import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureRedis, isLoopbackHost, type RedisHandle } from '../../src/engine/redis-bootstrap.ts';
import { createProducerConnection, pingRedis, waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { cleanupPrefix, freePort, testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

describe('pingRedis', () => {
  it('answers true for the test Redis', async () => {
    expect(await pingRedis(testRedisUrl(), 2_000)).toBe(true);
  });

  it('answers false quickly for a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    expect(await pingRedis(`redis://127.0.0.1:${port}`, 1_000)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('answers false within its bound when the connection never completes', async () => {
    // A listener that accepts nothing at the protocol level: TCP connects, PING never returns.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const started = Date.now();
      expect(await pingRedis(`redis://127.0.0.1:${port}`, 300)).toBe(false);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      silent.close();
    }
  });

  it('answers false for a malformed URL instead of throwing', async () => {
    expect(await pingRedis('redis://[bad', 300)).toBe(false);
  });
});

describe('createProducerConnection', () => {
  it('fails a command at once when Redis is down instead of queueing it', async () => {
    const port = await freePort();
    const client = createProducerConnection(`redis://127.0.0.1:${port}`, { log: createLogger({ level: 'silent' }) });
    try {
      const started = Date.now();
      await expect(client.get('x')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      client.disconnect();
    }
  });

  it('works against the test Redis once ready', async () => {
    const client = createProducerConnection(testRedisUrl(), { log: createLogger({ level: 'silent' }) });
    try {
      await waitUntilReady(client, 5_000);
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});

describe('ensureRedis', () => {
  const handles: RedisHandle[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function tempDataDir(): string {
    const base = mkdtempSync(path.join(tmpdir(), 'stageflow-bootstrap-'));
    dirs.push(base);
    // A directory that does not exist yet, to check ensureRedis creates it.
    return path.join(base, 'data');
  }

  it('does nothing when Redis already answers', async () => {
    const { log, lines } = capturingLogger();
    const handle = await ensureRedis({ redisUrl: testRedisUrl(), dataDir: tempDataDir() }, log);
    expect(handle.started).toBe(false);
    await handle.stop();
    expect(lines).toHaveLength(0);
    expect(await pingRedis(testRedisUrl())).toBe(true);
  });

  it('starts a durable redis-server on a free loopback port and stops it', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const dataDir = tempDataDir();
    const { log, lines } = capturingLogger();

    const handle = await ensureRedis({ redisUrl: url, dataDir }, log);
    handles.push(handle);
    expect(handle.started).toBe(true);
    expect(handle.pid).toBeGreaterThan(0);
    expect(await pingRedis(url)).toBe(true);
    expect(existsSync(path.join(dataDir, 'redis.log'))).toBe(true);

    const said = lines.find((l) => l.msg === 'started redis-server for you');
    expect(said).toMatchObject({ pid: handle.pid, dir: dataDir, port });

    const client = new Redis(url, { lazyConnect: true });
    try {
      await client.connect();
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', dataDir]);
    } finally {
      client.disconnect();
    }

    // A second start against the same URL finds the running server and leaves it alone.
    const again = await ensureRedis({ redisUrl: url, dataDir }, log);
    expect(again.started).toBe(false);

    await handle.stop();
    await handle.stop();
    expect(await pingRedis(url, 500)).toBe(false);
  });

  it('refuses a non-loopback URL and says how to get Redis', async () => {
    const { log } = capturingLogger();
    // TEST-NET-1 (RFC 5737): guaranteed not to answer.
    await expect(ensureRedis({ redisUrl: 'redis://192.0.2.1:6379', dataDir: tempDataDir() }, log)).rejects.toThrow(
      /not on this machine[\s\S]*apt-get install redis-server[\s\S]*REDIS_URL[\s\S]*docker compose up/,
    );
  });

  it('says how to get Redis when redis-server is not installed', async () => {
    const port = await freePort();
    const { log } = capturingLogger();
    await expect(
      ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir: tempDataDir() }, log, { pathEnv: '/nonexistent' }),
    ).rejects.toThrow(/redis-server is not installed[\s\S]*apt-get install redis-server/);
  });

  it('reports the server log when redis-server cannot start', async () => {
    // Occupy the port with something that is not Redis: ping fails, and so does redis-server's bind.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const address = squatter.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const { log } = capturingLogger();
    try {
      await expect(ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir: tempDataDir() }, log)).rejects.toThrow(
        /redis-server exited right after start[\s\S]*redis\.log/,
      );
    } finally {
      squatter.close();
    }
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['::1', true],
    ['redis', false],
    ['10.0.0.1', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('test helpers', () => {
  it('uniquePrefix makes distinct prefixes that satisfy STAGEFLOW_PREFIX', () => {
    const a = uniquePrefix('my test: with spaces/and{braces}');
    const b = uniquePrefix('my test: with spaces/and{braces}');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(uniquePrefix()).toMatch(/^t[0-9a-f]{10}$/);
  });

  it('cleanupPrefix removes every key under the prefix and nothing else', async () => {
    const url = testRedisUrl();
    const prefix = uniquePrefix('cleanup');
    const other = uniquePrefix('other');
    const client = new Redis(url);
    try {
      const pipeline = client.pipeline();
      for (let i = 0; i < 2500; i++) pipeline.set(`${prefix}:k${i}`, '1');
      pipeline.hset(`${prefix}:{bull}:steps:1`, 'a', '1');
      pipeline.set(`${prefix}x:not-mine`, '1');
      pipeline.set(`${other}:keep`, '1');
      await pipeline.exec();

      expect(await cleanupPrefix(url, prefix)).toBe(2501);
      expect(await client.exists(`${prefix}:k0`, `${prefix}:{bull}:steps:1`)).toBe(0);
      expect(await client.exists(`${prefix}x:not-mine`, `${other}:keep`)).toBe(2);
      await expect(cleanupPrefix(url, '*')).rejects.toThrow(/unsafe/);
    } finally {
      await client.del(`${prefix}x:not-mine`, `${other}:keep`);
      client.disconnect();
    }
  });
});
