/**
 * A deployment's BullMQ events streams and event-job retention are split over its partitions
 * (docs/partitions.md, "Retention"): each partition queue's meta hash holds its share of the
 * events-stream budget, BullMQ's scripts (ours that run its add and finish included) trim the
 * stream to it, and event jobs carry their share of the retention count.
 */
import { createServer, type Server } from 'node:http';
import { type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyspace } from '../../src/engine/keyspace.ts';
import {
  EVENTS_STREAM_MAX_LEN,
  EVENTS_STREAM_MIN_LEN,
  eventsStreamPerPartition,
  PartitionQueues,
} from '../../src/engine/partition-queues.ts';
import { duplicateClient, type RedisClient } from '../../src/engine/redis.ts';
import { EVENT_JOB, eventJobPerPartition, timeoutJobId } from '../../src/engine/waits.ts';
import {
  cleanupTestPrefix,
  linearWorkflow,
  startHarness,
  testRedisClient,
  type Harness,
  confirmationWorkflow,
} from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';

/**
 * The most entries a stream trimmed with `MAXLEN ~ share` may hold: Redis drops only whole macro
 * nodes (`stream-node-max-entries` each), so up to one node's worth stays above the share; and
 * BullMQ adds some entries after its last trim without MAXLEN (moveToActive's 'active', one per
 * job a worker holds; after moveToFinished's trim its 'completed', 'drained' or the next job's
 * 'active').
 */
async function streamBound(redis: RedisClient, share: number, concurrency: number): Promise<number> {
  const [, nodeEntries] = (await redis.config('GET', 'stream-node-max-entries')) as [string, string];
  return share + Number(nodeEntries) + concurrency + 3;
}

/** XLEN and how many entries were ever added (XINFO STREAM `entries-added`, Redis ≥ 7). */
async function streamInfo(redis: RedisClient, key: string): Promise<{ length: number; added: number }> {
  const info = (await redis.call('XINFO', 'STREAM', key)) as unknown[];
  const field = (name: string) => Number(info[info.indexOf(name) + 1]);
  return { length: field('length'), added: field('entries-added') };
}

/** A queue's meta as its scripts read it; waits for the Queue to have written it (getVersion does). */
async function metaMaxLen(redis: RedisClient, q: PartitionQueues['events'][number]): Promise<string | null> {
  await q.getVersion();
  return redis.hget(q.keys.meta!, 'opts.maxLenEvents');
}

describe('events streams per partition, BullMQ queues and a plain Worker', () => {
  const prefix = uniquePrefix('streams');
  const redis = testRedisClient();
  const keys = createKeyspace(prefix, 4);
  // A budget of 800 over 4 partitions: 200 each.
  const queues = new PartitionQueues(
    redis,
    keys,
    { steps: 'steps', events: 'events' },
    { steps: () => undefined, events: () => undefined },
    { eventsStreamMaxLen: 800 },
  );
  afterAll(async () => {
    await queues.close();
    await cleanupTestPrefix(prefix);
    redis.disconnect();
  });

  it("writes each partition queue's share into its meta hash", async () => {
    for (const q of queues.all()) expect(await metaMaxLen(redis, q)).toBe('200');
  });

  it("keeps a partition's stream within its share while a Worker with no stream option finishes more jobs than that", async () => {
    const q = queues.events[0]!;
    const jobs = 300;
    const connection = duplicateClient(redis, { maxRetriesPerRequest: null });
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker(q.name, async () => 'ok', { connection: connection as never, prefix: q.opts.prefix, concurrency: 20 });
      worker.on('completed', () => {
        if (++done === jobs) void worker.close().then(() => resolve());
      });
    });
    await q.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'j', data: { i }, opts: { removeOnComplete: 10 } })));
    await finished;
    connection.disconnect();
    const { length, added } = await streamInfo(redis, q.keys.events!);
    // Every job added, took and completed an event: the stream saw far more than its share…
    expect(added).toBeGreaterThan(3 * jobs);
    // …and kept no more than the share and the trim's slack.
    expect(length).toBeGreaterThanOrEqual(200);
    expect(length).toBeLessThanOrEqual(await streamBound(redis, 200, 20));
    // The other partitions' queues saw nothing.
    expect(await redis.exists(queues.events[1]!.keys.events!)).toBe(0);
  });
});

describe('events streams and event jobs per partition, the engine (12 partitions)', () => {
  let h: Harness;
  let server: Server;
  let url = '';
  const share = eventsStreamPerPartition(EVENTS_STREAM_MAX_LEN, 12);
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    h = await startHarness();
    expect(h.engine.keys.partitions).toBe(12);
    await h.saveWorkflow(linearWorkflow('ps-long', 350));
    await h.saveWorkflow(linearWorkflow('ps-short', 1));
    await h.saveWorkflow(
      confirmationWorkflow('ps-wait', {
        confirmationField: 'ok',
        options: ['yes'],
        routing: ['role:manager'],
        timeoutMs: 3_600_000,
        reminderMs: 1_800_000,
      }),
    );
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("holds a twelfth of BullMQ's 10,000 in the meta hash of every partition's steps and events queue", async () => {
    expect(share).toBe(834);
    const all = h.engine.queues.all();
    expect(all).toHaveLength(24);
    for (const q of all) expect(await metaMaxLen(h.engine.redis, q)).toBe(String(share));
  });

  it("trims a partition's steps stream to its share through stageflow's own add and folded finish", async () => {
    const run = await h.start('ps-long', { model: {} });
    await h.waitFor(run.id, (r) => r.status === 'completed', 60_000);
    const { length, added } = await streamInfo(h.engine.redis, h.engine.queues.stepsOf(run.id).keys.events!);
    expect(added).toBeGreaterThan(await streamBound(h.engine.redis, share, h.options.worker.concurrency));
    expect(length).toBeGreaterThanOrEqual(share);
    expect(length).toBeLessThanOrEqual(await streamBound(h.engine.redis, share, h.options.worker.concurrency));
  });

  it("gives event jobs (timeouts, reminders, callbacks) a twelfth of the deployment's retention count", async () => {
    const perPartition = { age: EVENT_JOB.removeOnComplete.age, count: 84 };
    expect(eventJobPerPartition(12).removeOnComplete).toEqual(perPartition);

    const parked = await h.start('ps-wait', { model: {} }, '?wait=5000');
    expect(parked.status).toBe('waiting');
    const events = h.engine.queues.eventsOf(parked.id);
    const timeout = await events.getJob(timeoutJobId(parked.id, parked.seq));
    expect(timeout?.opts.removeOnComplete).toEqual(perPartition);
    expect(timeout?.opts.removeOnFail).toEqual(EVENT_JOB.removeOnFail);
    const reminder = await events.getJob(`${parked.id}-remind-${parked.seq}-1`);
    expect(reminder?.opts.removeOnComplete).toEqual(perPartition);

    const done = await h.start('ps-short', { model: {}, callbackUrl: `${url}/done` }, '?wait=5000');
    expect(done.status).toBe('completed');
    const callbackId = `cb-${done.id}-${done.seq}`;
    let callback: Job | undefined;
    for (let i = 0; i < 200 && !callback; i++) {
      callback = await h.engine.queues.eventsOf(done.id).getJob(callbackId);
      if (!callback) await new Promise((r) => setTimeout(r, 25));
    }
    expect(callback?.opts).toMatchObject({ attempts: 25, removeOnComplete: perPartition });
  });
});

describe('the events-stream share', () => {
  it('is the budget split over the partitions, rounded up, never below the floor', () => {
    expect(eventsStreamPerPartition(EVENTS_STREAM_MAX_LEN, 1)).toBe(EVENTS_STREAM_MAX_LEN);
    expect(eventsStreamPerPartition(EVENTS_STREAM_MAX_LEN, 12) * 12).toBeLessThan(EVENTS_STREAM_MAX_LEN + 12);
    expect(eventsStreamPerPartition(EVENTS_STREAM_MAX_LEN, 256)).toBe(EVENTS_STREAM_MIN_LEN);
  });
});
