import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis the global setup found or started (it sets REDIS_URL for every test worker). */
export function testRedisUrl(): string {
  return process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
}

/** A TCP port nothing listens on right now (for a throwaway redis-server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A fresh key prefix per test, so test files can run in parallel against one Redis. The result
 * always satisfies STAGEFLOW_PREFIX's rule (1-32 of A-Z a-z 0-9 _ -).
 */
export function uniquePrefix(label = ''): string {
  const tag = label
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 20);
  const id = `t${randomBytes(5).toString('hex')}`;
  return tag ? `${id}-${tag}` : id;
}

const SAFE_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Deletes every key under `${prefix}:` (stageflow's keys and its BullMQ queues, whose prefix is
 * `${prefix}:{bull}`). Refuses odd prefixes, since a glob character would widen the match to
 * other tests' or real data. Returns how many keys were removed.
 */
export async function cleanupPrefix(url: string, prefix: string): Promise<number> {
  if (!SAFE_PREFIX.test(prefix)) throw new Error(`cleanupPrefix: refusing unsafe prefix ${JSON.stringify(prefix)}`);
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  let removed = 0;
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}
