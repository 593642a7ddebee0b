/**
 * Acks mode (`npm run bench -- --mode=acks`): what acknowledging only replicated writes costs.
 * A primary with one replica whose link runs through a TCP relay that delays each chunk by
 * BENCH_ACK_DELAY_MS (default 1) each way, as a replica in another zone would be; one API engine
 * in this process starts runs, BENCH_ACK_IN_FLIGHT (20) at a time, with REDIS_WAIT_REPLICAS 1 and
 * with 0, alternating, BENCH_ACK_STARTS (2,000; quick 300) per measurement. No worker: the figure
 * is the start path's. With one WAIT per write every acknowledged write of the process queued
 * behind the replica's round trip (770 starts/s at 1 ms); replication.ts group-commits them (2,057).
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { Engine } from '../src/engine/engine.ts';
import { waitUntilReady } from '../src/engine/redis.ts';
import { createLogger } from '../src/observability/logger.ts';
import { engineTestOptions, linearWorkflow } from '../test/helpers/harness.ts';
import { uniquePrefix } from '../test/helpers/redis.ts';
import { spawnRedisServer } from '../test/helpers/redis-server.ts';
import type { Figure } from './http.ts';
import { intEnv, median, out, sleep } from './lib.ts';
import { track } from './procs.ts';

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** A relay to `port` that holds every chunk `delayMs` before passing it on, both ways. */
async function delayedRelay(port: number, delayMs: number): Promise<net.Server & { port: number }> {
  const relay = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    // No Nagle: with it, delayed ACKs turn each round trip into about 40 ms.
    down.setNoDelay(true);
    up.setNoDelay(true);
    down.on('data', (d) => setTimeout(() => up.write(d), delayMs));
    up.on('data', (d) => setTimeout(() => down.write(d), delayMs));
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return Object.assign(relay, { port: (relay.address() as net.AddressInfo).port });
}

export async function acksMode(o: { quick: boolean }): Promise<Figure[]> {
  const delayMs = intEnv('BENCH_ACK_DELAY_MS', 1, 0);
  const inFlight = intEnv('BENCH_ACK_IN_FLIGHT', 20);
  const starts = intEnv('BENCH_ACK_STARTS', o.quick ? 300 : 2000);
  const rounds = intEnv('BENCH_ACK_ROUNDS', o.quick ? 1 : 3);
  out(
    `\n== acks: ${starts} starts, ${inFlight} in flight, REDIS_WAIT_REPLICAS 1 vs 0, the replica's link delayed ${delayMs} ms each way; ${rounds} round(s)`,
  );
  const primary = await spawnRedisServer(['--maxmemory-policy', 'noeviction']);
  track(primary.child);
  const relay = await delayedRelay(primary.port, delayMs);
  const replica = await spawnRedisServer(['--replicaof', '127.0.0.1', String(relay.port), '--repl-diskless-sync-delay', '0']);
  track(replica.child);
  const probe = new Redis(replica.url);
  const log = createLogger({ level: 'silent' });
  const engines: Engine[] = [];
  try {
    const end = Date.now() + 20_000;
    while (!/master_link_status:up/.test(await probe.info('replication'))) {
      if (Date.now() > end) throw new Error('acks: the replica did not sync');
      await sleep(50);
    }
    const prefix = uniquePrefix('bench-acks');
    const open = async (waitReplicas: number) => {
      const e = Engine.open(engineTestOptions(prefix, { redisUrl: primary.url, waitReplicas, waitTimeoutMs: 2_000 }), log, {
        failFast: true,
      });
      engines.push(e);
      await waitUntilReady(e.redis, 5000);
      return e;
    };
    const acked = await open(1);
    const unacked = await open(0);
    await acked.saveWorkflow('acks', linearWorkflow('acks', 2));
    const measure = async (engine: Engine) => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < starts) {
            next += 1;
            await engine.startRun('acks', { model: {} });
          }
        }),
      );
      return starts / ((performance.now() - t0) / 1000);
    };
    await measure(acked); // warm-up, also of the replica link
    const rates = { acked: [] as number[], unacked: [] as number[] };
    for (let round = 1; round <= rounds; round++) {
      const a = await measure(acked);
      const u = await measure(unacked);
      rates.acked.push(a);
      rates.unacked.push(u);
      out(`  round ${round}: WAIT 1 ${fmt(a)} starts/s, WAIT 0 ${fmt(u)} starts/s → ${(a / u).toFixed(2)}×`);
    }
    const a = median(rates.acked);
    const u = median(rates.unacked);
    out(`  median: acknowledged after the replica holds it ${fmt(a)} starts/s, without waiting ${fmt(u)} (${(a / u).toFixed(2)}×)`);
    return [
      { name: `acknowledged starts/s, replica ${delayMs} ms away (WAIT 1 / WAIT 0)`, value: `${fmt(a)} / ${fmt(u)}`, goal: '(context)' },
    ];
  } finally {
    for (const e of engines) await e.close().catch(() => undefined);
    probe.disconnect();
    relay.close();
    await replica.stop();
    await primary.stop();
  }
}
