/**
 * BullMQ 6 on the Redis Cluster, the way partitions will use it: one queue per partition under a
 * prefix carrying the partition's hash tag (`stageflow:{p0.d}`), so all of a queue's keys and
 * Lua scripts stay in one slot. 100 jobs per queue are added and processed, on three partitions
 * that sit on three different primaries.
 */
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionSlot, partitionTags } from '../../src/engine/partition-tags.ts';
import { createClusterWorkerConnection } from '../../src/engine/redis.ts';
import { cleanupClusterPrefix, primaries, rawClusterClient, testCluster } from '../helpers/cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const cluster = testCluster();

describe.runIf(cluster)('BullMQ on the Redis Cluster', () => {
  const c = cluster as NonNullable<typeof cluster>;
  const base = uniquePrefix('cluster-bullmq');
  const raw = rawClusterClient(c);
  const connection = createClusterWorkerConnection(
    { nodes: c.seeds, username: undefined, password: undefined, tls: false },
    { name: 'test:bullmq' },
  );
  const closers: Array<() => Promise<unknown>> = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await cleanupClusterPrefix(raw, base);
    connection.disconnect();
    raw.disconnect();
  });

  it('adds and processes 100 jobs on a queue prefixed stageflow:{p0}', async () => {
    const prefix = `${base}:{p0}`;
    const queue = new Queue('steps', { connection, prefix });
    const seen = new Set<number>();
    const worker = new Worker(
      'steps',
      async (job) => {
        seen.add(job.data.n as number);
        return job.data.n;
      },
      { connection, prefix, concurrency: 10 },
    );
    closers.push(
      () => queue.close(),
      () => worker.close(),
    );
    await queue.addBulk(Array.from({ length: 100 }, (_, n) => ({ name: 'step', data: { n }, opts: { jobId: `j${n}` } })));
    const end = Date.now() + 20_000;
    while (seen.size < 100 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(seen.size).toBe(100);
    await expect(queue.getJobCounts('completed', 'failed', 'wait', 'active')).resolves.toMatchObject({
      completed: 100,
      failed: 0,
      wait: 0,
      active: 0,
    });
    // every key of the queue sits in the tag's slot
    const slot = Number(await raw.call('CLUSTER', 'KEYSLOT', `${prefix}:steps:id`));
    expect(Number(await raw.call('CLUSTER', 'KEYSLOT', `${prefix}:steps:wait`))).toBe(slot);
  });

  it('one queue per partition: three partitions on three primaries, 100 jobs each, delayed ones too', async () => {
    const tags = partitionTags(3);
    const ps = await primaries(c);
    const owners = tags.map((_, i) => {
      const slot = partitionSlot(i, 3);
      return ps.find((p) => p.slots.some(([a, b]) => slot >= a && slot <= b))?.id;
    });
    expect(new Set(owners).size).toBe(3);

    const done = tags.map(() => new Set<number>());
    const queues = tags.map((tag) => new Queue('steps', { connection, prefix: `${base}:{${tag}}` }));
    const workers = tags.map(
      (tag, i) =>
        new Worker(
          'steps',
          async (job) => {
            done[i]?.add(job.data.n as number);
          },
          { connection, prefix: `${base}:{${tag}}`, concurrency: 10 },
        ),
    );
    for (const q of queues) closers.push(() => q.close());
    for (const w of workers) closers.push(() => w.close());
    await Promise.all(
      queues.map((q) =>
        q.addBulk(Array.from({ length: 100 }, (_, n) => ({ name: 'step', data: { n }, opts: n % 10 === 0 ? { delay: 200 } : {} }))),
      ),
    );
    const end = Date.now() + 30_000;
    while (done.some((s) => s.size < 100) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(done.map((s) => s.size)).toEqual([100, 100, 100]);
  });
});
