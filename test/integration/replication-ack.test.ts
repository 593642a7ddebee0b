/**
 * Acknowledge only what a replica holds (issue 12 item 7), on a single Redis with a replica: with
 * REDIS_WAIT_REPLICAS=auto a start answers once the replica has it; with the replica stalled
 * (SIGSTOP) the start answers 503 within the timeout instead of acknowledging a write a failover
 * could lose, and once the replica runs again the retry with the same Idempotency-Key returns the
 * run the first request created (it stayed on the primary).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';
import { spawnRedisServer, type TestRedisServer } from '../helpers/redis-server.ts';

const TIMEOUT_MS = 500;
let primary: TestRedisServer;
let replica: TestRedisServer;
let probe: Redis;
let h: Harness;

beforeAll(async () => {
  primary = await spawnRedisServer(['--maxmemory-policy', 'noeviction']);
  // No diskless-sync delay: the replica is online at once instead of after 5 s.
  replica = await spawnRedisServer(['--replicaof', '127.0.0.1', String(primary.port), '--repl-diskless-sync-delay', '0']);
  probe = new Redis(replica.url);
  const end = Date.now() + 20_000;
  while (!/master_link_status:up/.test(await probe.info('replication'))) {
    if (Date.now() > end) throw new Error('the replica did not sync');
    await new Promise((r) => setTimeout(r, 50));
  }
  h = await startHarness({ worker: false, engine: { redisUrl: primary.url, waitReplicas: 'auto', waitTimeoutMs: TIMEOUT_MS } });
  await h.saveWorkflow(linearWorkflow('acked', 2));
});

afterAll(async () => {
  process.kill(replica.child.pid as number, 'SIGCONT');
  await h?.close();
  probe?.disconnect();
  await replica?.stop();
  await primary?.stop();
});

describe('a single Redis with a replica', () => {
  it('auto waits for the one online replica', async () => {
    expect(await h.engine.replication()).toBe(1);
  });

  it('acknowledges a start once the replica holds the run', async () => {
    const res = await h.api('POST', '/api/workflows/acked/runs', { model: { a: 1 } });
    expect(res.status).toBe(201);
    // WAIT returned: the replica has the run's hash already, no polling needed.
    expect(await probe.exists(h.engine.keys.run(res.body.id))).toBe(1);
  });

  it('concurrent starts share WAITs (group commit), and each is on the replica when answered', async () => {
    const primaryProbe = new Redis(primary.url);
    try {
      const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await primaryProbe.info('commandstats'))?.[1] ?? 0);
      const before = await waits();
      const n = 40;
      const runs = await Promise.all(Array.from({ length: n }, (_, i) => h.engine.startRun('acked', { model: { group: i } })));
      const sent = (await waits()) - before;
      // One WAIT each would be n; at most one is out at a time, so later starts share the next.
      expect(sent).toBeGreaterThanOrEqual(1);
      expect(sent).toBeLessThan(n / 2);
      const onReplica = await Promise.all(runs.map(({ run }) => probe.exists(h.engine.keys.run(run.id))));
      expect(onReplica).toEqual(runs.map(() => 1));
    } finally {
      primaryProbe.disconnect();
    }
  });

  it("an engine's first acknowledgements, many at once, share one wait for its connection", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const fresh = Engine.open({ ...h.options, waitReplicas: 1 }, createLogger({ level: 'silent' }), { failFast: true });
    try {
      await waitUntilReady(fresh.redis, 5_000);
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh.startRun('acked', { model: { first: i } })));
      expect(runs).toHaveLength(20);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await fresh.close();
    }
  });

  it('answers 503 within the timeout while the replica is stalled, and the retry returns the same run', async () => {
    const pid = replica.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    let stalled: Awaited<ReturnType<Harness['api']>>;
    const t0 = Date.now();
    try {
      stalled = await h.api('POST', '/api/workflows/acked/runs', { model: { a: 2 } }, { 'idempotency-key': 'k-stalled' });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const took = Date.now() - t0;
    expect(stalled.status).toBe(503);
    expect(stalled.body.detail).toMatch(/only 0 of 1 Redis replica\(s\) confirmed the write within 500 ms; retry/);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(took).toBeLessThan(TIMEOUT_MS + 3_000);

    const again = await h.api('POST', '/api/workflows/acked/runs', { model: { a: 2 } }, { 'idempotency-key': 'k-stalled' });
    expect([200, 201]).toContain(again.status);
    const runs = await h.api('GET', '/api/runs?workflow=acked');
    const withA2 = runs.body.items.filter((r: { model: { a?: number } }) => r.model.a === 2);
    // the 503 did not lose the write, nor does the retry make a second run
    expect(withA2.map((r: { id: string }) => r.id)).toEqual([again.body.id]);
    expect(await probe.exists(h.engine.keys.run(again.body.id))).toBe(1);

    const fresh = await h.api('POST', '/api/workflows/acked/runs', { model: { a: 3 } });
    expect(fresh.status).toBe(201);
  });

  it('reads do not queue behind a WAIT: with the replica stalled, a read answers while a start waits', async () => {
    const run = await h.start('acked', { model: { a: 5 } });
    const pid = replica.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const waiting = h.api('POST', '/api/workflows/acked/runs', { model: { a: 6 } });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const read = await h.api('GET', `/api/runs/${run.id}`);
      const took = Date.now() - t0;
      expect(read.status).toBe(200);
      // On the WAIT's connection the read would wait out the rest of its 500 ms.
      expect(took).toBeLessThan(TIMEOUT_MS / 2);
      expect((await waiting).status).toBe(503);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('an operator action waits too: a cancel with the replica stalled answers 503 and stays applied', async () => {
    const run = await h.start('acked', { model: { a: 4 } });
    const pid = replica.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    let res: Awaited<ReturnType<Harness['api']>>;
    try {
      res = await h.api('POST', `/api/runs/${run.id}/cancel`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(res.status).toBe(503);
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('cancelled');
  });
});
