/**
 * The start path's per-process caches stay true across processes: the latest version of a
 * workflow (invalidated by a pub/sub message each save sends before it answers; another process
 * may still start the previous version in the instant the save is answered) and the set of
 * addresses with failed authentications (broadcast by whichever API process counts them).
 * Two or three apps share one Redis and one prefix here, as API processes of one deployment do.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { uniquePrefix } from '../helpers/redis.ts';
import { ADMIN_KEY, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function getFrom(h: Harness, localAddress: string, path: string, token: string): Promise<number> {
  const url = new URL(h.base + path);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, localAddress, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('latest version cache', () => {
  const prefix = uniquePrefix('itcache');
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    a = await startHarness({ worker: false, engine: { prefix } });
    b = await startHarness({ worker: false, engine: { prefix } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a start right after a save, in this process or another, uses the new version', async () => {
    const def = linearWorkflow('cached', 1);
    expect(await a.saveWorkflow(def)).toBe(1);
    // Warm both caches and let their subscribers subscribe.
    for (let i = 0; i < 3; i++) {
      expect((await a.start('cached')).version).toBe(1);
      expect((await b.start('cached')).version).toBe(1);
      await sleep(100);
    }
    expect((b.engine.workflows as unknown as { latest: Map<string, number> }).latest.get('cached')).toBe(1);
    for (let v = 2; v <= 8; v++) {
      const saver = v % 2 ? a : b;
      expect(await saver.saveWorkflow({ ...def, title: `v${v}` })).toBe(v);
      const [other, same] = await Promise.all([(saver === a ? b : a).start('cached'), saver.start('cached')]);
      expect(same.version).toBe(v);
      // Another process hears of the save in the same write round as the answer, so nearly
      // always in time for this start, but nothing orders the two (README, Performance): it
      // must have it by the next start at the latest, without reading Redis on every start.
      expect(other.version).toBeGreaterThanOrEqual(v - 1);
      if (other.version !== v) expect((await (saver === a ? b : a).start('cached')).version).toBe(v);
    }
    // The access check reads the cache too: a version that restricts access applies at once elsewhere.
    await a.saveWorkflow({ ...def, title: 'locked', restrictAccess: true, access: { read: ['admin'], start: ['admin'] } });
    const refused = await b.api('POST', '/api/workflows/cached/runs', {}, { authorization: 'Bearer key-eve-0123456789' });
    expect(refused.status).toBe(404);
  });
});

describe('failed-authentication limiter across processes', () => {
  const prefix = uniquePrefix('itauthx');
  const LIMIT = 3;
  const opts = { worker: false, engine: { prefix }, app: { authFailuresPerMinute: LIMIT } } as const;
  let a: Harness;
  let b: Harness;
  let c: Harness | undefined;
  beforeAll(async () => {
    a = await startHarness(opts);
    b = await startHarness(opts);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await c?.close();
  });

  it('an address blocked by one process is refused by another, even with a valid key', async () => {
    // Both processes listen before the guessing starts (the subscription opens on first use).
    expect(await getFrom(a, '127.0.0.61', '/api/me', ADMIN_KEY)).toBe(200);
    expect(await getFrom(b, '127.0.0.61', '/api/me', ADMIN_KEY)).toBe(200);
    await sleep(200);
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push(await getFrom(a, '127.0.0.62', '/api/me', `wrong-key-${i}`));
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(await getFrom(b, '127.0.0.62', '/api/me', ADMIN_KEY)).toBe(429);
    expect(await getFrom(a, '127.0.0.62', '/api/me', ADMIN_KEY)).toBe(429);
    // Other addresses go on, in both processes.
    expect(await getFrom(b, '127.0.0.63', '/api/me', ADMIN_KEY)).toBe(200);
    expect(await getFrom(a, '127.0.0.63', '/api/me', ADMIN_KEY)).toBe(200);
  });

  it('a process that starts listening after the failures still refuses the address', async () => {
    for (let i = 0; i <= LIMIT; i++) await getFrom(a, '127.0.0.64', '/api/me', `wrong-key-${i}`);
    c = await startHarness(opts);
    // The rebuild is one read of the open windows, never a walk over the keyspace.
    const reads = vi.spyOn(c.engine.redis, 'zrangebyscore');
    expect(await getFrom(c, '127.0.0.64', '/api/me', ADMIN_KEY)).toBe(429);
    await sleep(300);
    // Now subscribed: it rebuilt the failing addresses from the windows it had not heard about.
    expect(await getFrom(c, '127.0.0.64', '/api/me', ADMIN_KEY)).toBe(429);
    expect(await getFrom(c, '127.0.0.65', '/api/me', ADMIN_KEY)).toBe(200);
    expect(reads.mock.calls.map((call) => call[0])).toContain(c.engine.keys.authFailing);
    // The window's end is what the rebuild read: within the minute from the first failure.
    const end = Number(await c.engine.redis.zscore(c.engine.keys.authFailing, '127.0.0.64'));
    expect(end).toBeGreaterThan(Date.now());
    expect(end).toBeLessThanOrEqual(Date.now() + 60_000);
  });
});
