/**
 * The upgrade from the layout of the release before partitions (issue 12 item 8). Runs are made
 * by today's engine, then put back into the previous layout key by key as its scripts wrote them
 * (`<prefix>:run:{<id>}`, `<prefix>:runs:…` indexes, `<prefix>:entry:{<id>}`, `<prefix>:wf:<name>`,
 * `<prefix>:idem:…`, step jobs in `<prefix>:{bull}`); the upgrade must bring them all back.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { cleanupTestPrefix, engineTestOptions, keyOf, linearWorkflow, onCluster, startHarness, type Harness } from '../helpers/harness.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { uniquePrefix } from '../helpers/redis.ts';

let h: Harness;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });

beforeAll(async () => {
  h = await startHarness({ worker: false });
  await h.saveWorkflow(linearWorkflow('up-linear', 2));
  await h.saveWorkflow({
    name: 'up-wait',
    stages: [
      {
        id: 's',
        name: 'S',
        steps: [{ id: 'ask', type: 'getUserConfirmation', confirmationField: 'ok', options: ['yes', 'no'], routing: ['role:manager'] }],
      },
    ],
  });
});
afterAll(() => h.close());

/** Moves a run from the partitioned layout back to the previous release's keys. */
async function toLegacy(runId: string) {
  const { redis, keys } = h.engine;
  const legacy = `${h.prefix}:run:{${runId}}`;
  const run = await redis.hgetall(keys.run(runId));
  const pk = keys.partition(keys.partitionOf(runId));
  await redis.rename(keys.run(runId), legacy);
  await redis.rename(keys.history(runId), `${legacy}:history`);
  for (const [from, to] of [
    [pk.runIndex({}), `${h.prefix}:runs:all:any`],
    [pk.runIndex({ workflow: run.workflow }), `${h.prefix}:runs:wf:${run.workflow}:any`],
    [pk.runIndex({ status: run.status }), `${h.prefix}:runs:all:st:${run.status}`],
    [pk.runIndex({ workflow: run.workflow, status: run.status }), `${h.prefix}:runs:wf:${run.workflow}:st:${run.status}`],
  ] as const) {
    await redis.zrem(from, runId);
    await redis.zadd(to, 0, runId);
  }
  if (run.stepId) {
    await redis.zrem(pk.positionIndex(run.workflow!), `${run.stepId} ${runId}`);
    await redis.zadd(`${h.prefix}:runs:wf:${run.workflow}:at`, 0, `${run.stepId} ${runId}`);
  }
  await redis.zrem(keys.entryRuns(run.entryId!), runId);
  await redis.zadd(`${h.prefix}:runs:entry:${run.entryId}`, 0, runId);
  if (await redis.exists(keys.entry(run.entryId!))) await redis.rename(keys.entry(run.entryId!), `${h.prefix}:entry:{${run.entryId}}`);
  // Its step job, by id, in the single {bull} queue.
  const job = await h.engine.queues.stepsOf(runId).getJob(`${runId}-${run.seq}`);
  if (job) {
    const legacyQueue = new Queue('steps', { connection: redis, prefix: `${h.prefix}:{bull}` });
    await legacyQueue.add(job.name, job.data, { ...job.opts, jobId: job.id });
    await legacyQueue.close();
    await job.remove();
  }
}

describe('upgrading data stored by the release before partitions', () => {
  // The old layout is put back by RENAMEs across slots, which a cluster refuses; the old release
  // never ran on one (its scripts were cross-slot), so its data is upgraded on a single Redis.
  it.skipIf(onCluster)(
    'a running run completes, a waiting run can be answered, finished runs list and read, the same Idempotency-Key finds its run',
    async () => {
      // A finished run (a worker of its own completes it), a running one (no worker: its job waits), a waiting one.
      const finisher = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
      finisher.startWorker();
      const done = await h.start('up-linear', { model: {} }, '?wait=5000');
      await h.waitFor(done.id, (r) => r.status === 'completed');
      const waiting = await h.start('up-wait', { model: {} }, '?wait=5000');
      await h.waitFor(waiting.id, (r) => r.status === 'waiting');
      await finisher.close();
      const running = (await h.api('POST', '/api/workflows/up-linear/runs', { model: { x: 1 } }, { 'idempotency-key': 'up-key' })).body;
      expect(running.status).toBe('running');

      for (const id of [done.id, waiting.id, running.id]) await toLegacy(id);
      const { redis, keys } = h.engine;
      for (const name of ['up-linear', 'up-wait']) await redis.rename(keys.workflow(name), `${h.prefix}:wf:${name}`);
      await redis.rename(keys.workflowIndex, `${h.prefix}:wf-index`);
      const idem = (await redis.keys(`${h.prefix}:{*}:idem:*`))[0]!;
      await redis.rename(idem, `${h.prefix}:idem:up-linear:${idem.slice(idem.indexOf(':idem:up-linear:') + ':idem:up-linear:'.length)}`);
      // Gone from the new layout: the engine sees nothing until the upgrade.
      expect((await h.api('GET', `/api/runs/${done.id}`)).status).toBe(404);
      expect(await h.engine.hasLegacyData()).toBe(true);

      // Processes of a deployment start together: one upgrades, the other waits for it (not fails).
      const other = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: true });
      await waitUntilReady(other.redis, 5000);
      const reports = await Promise.all([h.engine.upgradeLegacyLayout(), other.upgradeLegacyLayout()]).finally(() => other.close());
      expect(reports.filter((r) => r === null)).toHaveLength(1);
      const report = reports.find((r) => r !== null);
      expect(report).toMatchObject({ runs: 3, entries: 3, idempotency: 1, jobs: 1 });
      expect(await h.engine.hasLegacyData()).toBe(false);
      expect(await h.engine.upgradeLegacyLayout()).toBeNull();
      expect(await redis.keys(`${h.prefix}:run:*`)).toEqual([]);
      expect(await redis.keys(`${h.prefix}:{bull}:*`)).toEqual([]);

      // Finished runs list and read.
      expect((await h.api('GET', `/api/runs/${done.id}`)).body).toMatchObject({ status: 'completed', model: { f1: 1, f2: 2 } });
      const listed = (await h.api('GET', '/api/runs?workflow=up-linear&status=completed')).body.items.map((r: any) => r.id);
      expect(listed).toEqual([done.id]);
      expect((await h.api('GET', `/api/runs/${done.id}/history`)).body.items.length).toBeGreaterThan(2);
      // The same Idempotency-Key finds the upgraded run.
      const again = await h.api('POST', '/api/workflows/up-linear/runs', { model: { x: 1 } }, { 'idempotency-key': 'up-key' });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(running.id);

      // A worker now: the running run's re-added job runs it to the end; the waiting one is answered.
      const worker = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
      worker.startWorker();
      try {
        await h.waitFor(running.id, (r) => r.status === 'completed');
        const answer = await h.api('POST', `/api/runs/${waiting.id}/confirm`, { option: 'yes' }, as('ann'));
        expect(answer.status).toBe(200);
        const answered = await h.waitFor(waiting.id, (r) => r.status === 'completed');
        expect(answered.model).toMatchObject({ ok: 'yes' });
        const all = (await h.api('GET', '/api/runs?limit=10')).body.items.map((r: any) => r.id);
        expect(all.sort()).toEqual([done.id, waiting.id, running.id].sort());
      } finally {
        await worker.close();
      }
    },
  );

  it('a new deployment is marked upgraded at once, and a later start with another partition count is refused', async () => {
    const prefix = uniquePrefix('up-new');
    const log = createLogger({ level: 'silent' });
    const fresh = Engine.open(engineTestOptions(prefix, { partitions: 12 }), log, { failFast: true });
    const other = Engine.open(engineTestOptions(prefix, { partitions: 8 }), log, { failFast: true });
    await Promise.all([waitUntilReady(fresh.redis, 5000), waitUntilReady(other.redis, 5000)]);
    try {
      expect(await fresh.upgradeLegacyLayout()).toBeNull();
      expect(await fresh.hasLegacyData()).toBe(false);
      expect(await fresh.upgradeLegacyLayout()).toBeNull();
      await expect(other.upgradeLegacyLayout()).rejects.toThrow(/has 12 partitions .* started with 8/);
    } finally {
      await fresh.close();
      await other.close();
      await cleanupTestPrefix(prefix);
    }
  });

  it.runIf(onCluster)('on a cluster, old-layout keys on any primary are seen, and the upgrade refuses to move them there', async () => {
    const prefix = uniquePrefix('up-cl');
    const log = createLogger({ level: 'silent' });
    const engine = Engine.open(engineTestOptions(prefix), log, { failFast: true });
    await waitUntilReady(engine.redis, 5000);
    try {
      expect(await engine.hasLegacyData()).toBe(false);
      // One key per primary at least: SCAN asked of a single node would miss the others.
      for (let i = 0; i < 12; i++) await engine.redis.set(`${prefix}:wf:w${i}`, '{}');
      await engine.redis.zadd(`${prefix}:wf-index`, 0, 'w0');
      expect(await engine.hasLegacyData()).toBe(true);
      await expect(engine.upgradeLegacyLayout()).rejects.toThrow(/layout before partitions .* upgrade it on a single Redis/);
    } finally {
      await engine.close();
      await cleanupTestPrefix(prefix);
    }
  });
});
