/**
 * Per-call cost of the Redis round-trips a stageflow step makes, each measured alone with 50 calls
 * in flight: throughput, Node CPU µs/call (this process) and Redis CPU µs/call (INFO cpu).
 * A profiling aid for chain.ts's findings:  npx tsx bench/calls.ts
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Engine } from '../src/engine/engine.ts';
import { waitUntilReady } from '../src/engine/redis.ts';
import { createLogger } from '../src/observability/logger.ts';
import { engineTestOptions, linearWorkflow } from '../test/helpers/harness.ts';
import { cleanupPrefix, uniquePrefix } from '../test/helpers/redis.ts';

const prefix = uniquePrefix('bench-calls');
const opts = engineTestOptions(prefix, process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {});
const e = Engine.open(opts, createLogger({ level: 'silent' }), { failFast: false });
const mon = new Redis(opts.redisUrl);
await waitUntilReady(e.redis, 5000);
await e.saveWorkflow('m', linearWorkflow('m', 10));
const runIds: string[] = [];
for (let i = 0; i < 500; i++) runIds.push((await e.startRun('m', { model: { a: 1 } })).run.id);
await e.queue.obliterate({ force: true });
async function redisCpuSec(): Promise<number> {
  const info = await mon.info('cpu');
  return info.split('\r\n').filter((l) => /^used_cpu_(sys|user):/.test(l)).reduce((a, l) => a + Number(l.split(':')[1]), 0);
}

async function measure(name: string, n: number, op: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 500; i++) await op(i); // warm-up
  const r0 = await redisCpuSec();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < n) await op(next++);
  }));
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const r1 = await redisCpuSec();
  const opsPerSec = ((n / ms) * 1000).toFixed(0).padStart(7);
  const nodeUs = ((c.user + c.system) / n).toFixed(1).padStart(5);
  const redisUs = (((r1 - r0) * 1e6) / n).toFixed(1).padStart(5);
  process.stdout.write(`${name.padEnd(34)} ${opsPerSec} calls/s  node ${nodeUs} µs/call  redis ${redisUs} µs/call\n`);
}
const N = 20000;
// The same shape as a step commit: two history events, model and stepId set, seq advanced.
const ev = () => [
  { type: 'step.started', stepId: 's1', attempt: 1, at: new Date().toISOString() },
  { type: 'step.completed', stepId: 's1', attempt: 1, durationMs: 0 },
];
await measure('ping', N, () => e.redis.ping());
await measure('runs.get (HGETALL)', N, (i) => e.runs.get(runIds[i % 500]!));
await measure('runs.transition (sf_transition)', N, (i) =>
  e.runs.transition(runIds[i % 500]!, { expect: ['running'], advance: true, set: { stepId: 's2', model: '{"a":1,"f1":1}' }, events: ev() }),
);
const plan = (await e.workflows.plan('m', 1))!;
await measure('scheduler.enqueue (add)', N, (i) => e.scheduler.enqueue(runIds[i % 500]!, 100000 + i, plan.steps['s1']!));
await e.close();
mon.disconnect();
await cleanupPrefix(opts.redisUrl, prefix);
