/**
 * Partitions (issue 12, docs/partitions.md): where runs land, that a start's Idempotency-Key and
 * entry meet their first run in one partition, that a child's end reaches a parent in another
 * partition through the outbox, and that lists merge the partitions under one cursor.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataflowServices } from '../../src/dataflows/index.ts';
import { partitionOfKey, partitionTags } from '../../src/engine/partition-tags.ts';
import { idempotencyScope } from '../../src/engine/run-service.ts';
import { EVENT_JOB, eventJobPerPartition } from '../../src/engine/waits.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { linearWorkflow, settled, startHarness, type Harness } from '../helpers/harness.ts';

describe('partitions (12, the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      engine: {
        services: (engine) => ({
          ...unconfiguredServices(),
          dataflows: createDataflowServices({
            redis: engine.redis,
            prefix: engine.keys.prefix,
            log: engine.log,
            startChild: (wf, input, ctx) => engine.startChildRun(wf, input, ctx),
          }).dataflows,
        }),
      },
    });
    expect(h.engine.keys.partitions).toBe(12);
    await h.saveWorkflow(linearWorkflow('pt-linear', 2));
    await h.saveWorkflow(linearWorkflow('pt-other', 1));
    await h.saveWorkflow({
      name: 'pt-wait',
      stages: [
        {
          id: 's',
          name: 'S',
          steps: [{ id: 'ask', type: 'getUserConfirmation', confirmationField: 'ok', options: ['yes'], routing: ['role:manager'] }],
        },
      ],
    });
    expect((await h.api('PUT', '/api/dataflows/pt-child', { kind: 'workflow', workflow: 'pt-other' })).status).toBe(201);
    await h.saveWorkflow({
      name: 'pt-parent',
      stages: [
        {
          id: 'p',
          name: 'P',
          steps: [{ id: 'call', type: 'executeDataflow', dataflow: 'pt-child', input: 'order', resultField: 'child' }],
        },
      ],
    });
  });
  afterAll(() => h.close());

  const tags = () => partitionTags(h.engine.keys.partitions);
  const partitionOf = (id: string) => h.engine.keys.partitionOf(id);

  it('spreads runs over the partitions, each run keyed under its partition tag', async () => {
    const ids = await Promise.all(Array.from({ length: 60 }, async () => (await h.start('pt-linear', { model: {} })).id as string));
    const used = new Set(ids.map(partitionOf));
    expect(used.size).toBeGreaterThanOrEqual(8);
    for (const id of ids) {
      const tag = tags()[partitionOf(id)]!;
      expect(h.engine.keys.run(id)).toBe(`${h.prefix}:{${tag}}:run:${id}`);
      expect(await h.engine.redis.exists(h.engine.keys.run(id))).toBe(1);
      const running = await h.engine.redis.zscore(h.engine.keys.partition(partitionOf(id)).runIndex({}), id);
      expect(running).not.toBeNull();
    }
    for (const id of ids) await h.waitFor(id, (r) => r.status === 'completed');
  });

  it('the same Idempotency-Key is the same run (200), in the partition the key picks; racing starts make one', async () => {
    const headers = { 'idempotency-key': 'pt-same-key' };
    const first = await h.api('POST', '/api/workflows/pt-linear/runs', { model: { a: 1 } }, headers);
    expect(first.status).toBe(201);
    const again = await h.api('POST', '/api/workflows/pt-linear/runs', { model: { a: 1 } }, headers);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const by = first.body.startedBy as string | undefined;
    expect(partitionOf(first.body.id)).toBe(partitionOfKey('idempotency', idempotencyScope('pt-linear', by, 'pt-same-key'), 12));

    const race = await Promise.all(
      Array.from({ length: 20 }, () => h.api('POST', '/api/workflows/pt-linear/runs', { model: {} }, { 'idempotency-key': 'pt-race' })),
    );
    expect(new Set(race.map((r) => r.body.id)).size).toBe(1);
    expect(race.filter((r) => r.status === 201)).toHaveLength(1);
    expect(race.filter((r) => r.status === 200)).toHaveLength(19);
  });

  it('racing starts of two workflows on one new entry: one owner; every run of the entry is in its partition', async () => {
    const entryId = `pt-entry-${Date.now()}`;
    const race = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.api('POST', `/api/workflows/${i % 2 ? 'pt-other' : 'pt-linear'}/runs`, { entryId, model: {} }),
      ),
    );
    const created = race.filter((r) => r.status === 201);
    const refused = race.filter((r) => r.status === 409);
    expect(created.length + refused.length).toBe(10);
    const owners = new Set(created.map((r) => r.body.workflow));
    expect(owners.size).toBe(1);
    expect(created).toHaveLength(5);
    const entry = (await h.api('GET', `/api/entries/${entryId}`)).body;
    expect(entry.workflow).toBe([...owners][0]);
    const p = h.engine.keys.partitionOfEntry(entryId);
    expect(p).toBe(partitionOfKey('entry', entryId, 12));
    for (const r of created) expect(partitionOf(r.body.id)).toBe(p);
    const listed = (await h.api('GET', `/api/runs?entryId=${entryId}&limit=50`)).body.items.map((r: any) => r.id);
    expect(listed.sort()).toEqual(created.map((r) => r.body.id).sort());
  });

  it("a child's end reaches its parent in another partition (through the outbox)", async () => {
    let checked = 0;
    for (let i = 0; i < 20 && checked < 2; i++) {
      const parent = await h.start('pt-parent', { model: { order: { n: i } } }, '?wait=5000');
      const done = await h.waitFor(parent.id, (r) => r.status === 'completed', 10_000);
      const history = (await h.api('GET', `/api/runs/${parent.id}/history`)).body.items as any[];
      const childId = history.find((e) => e.type === 'child.ended')?.detail?.childRunId as string;
      expect(childId).toBeTruthy();
      expect(done.model.child).toMatchObject({ n: i, f1: 1 });
      // The parent's partition kept the notice, with its share of the event jobs' retention.
      const child = (await h.api('GET', `/api/runs/${childId}`)).body;
      const notice = await h.engine.queues.eventsOf(parent.id).getJob(`child-${childId}-${child.seq}`);
      expect(notice?.opts.removeOnComplete).toEqual(eventJobPerPartition(12).removeOnComplete);
      expect(notice?.opts.removeOnComplete).not.toEqual(EVENT_JOB.removeOnComplete);
      if (partitionOf(childId) !== partitionOf(parent.id)) checked++;
    }
    expect(checked).toBe(2);
  });

  it('pages over runs spread across partitions with a stable cursor while runs change status: each exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await h.start('pt-wait', { model: {} }, '?wait=3000')).id);
    expect(new Set(ids.map(partitionOf)).size).toBeGreaterThan(3);
    const seen: string[] = [];
    let cursor: string | undefined;
    let page = 0;
    do {
      const res: any = (await h.api('GET', `/api/runs?workflow=pt-wait&limit=4${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...res.items.map((r: any) => r.id));
      cursor = res.nextCursor;
      // Runs change status between pages, ahead of and behind the cursor.
      if (page++ < 5) await h.api('POST', `/api/runs/${ids[page * 5]}/cancel`, {});
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    // A status filter over the partitions: the cancelled ones, newest first, by pages of 2.
    const cancelled: string[] = [];
    cursor = undefined;
    do {
      const res: any = (await h.api('GET', `/api/runs?workflow=pt-wait&status=cancelled&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      cancelled.push(...res.items.map((r: any) => r.id));
      cursor = res.nextCursor;
    } while (cursor);
    expect(cancelled).toEqual([5, 10, 15, 20, 25].map((i) => ids[i]!).reverse());
    const counts = await h.engine.runCounts();
    expect(counts.cancelled).toBeGreaterThanOrEqual(5);
    // Summed over the partitions: every run this file started is counted once.
    expect(Object.values(counts).reduce((a, b) => a + (b ?? 0), 0)).toBeGreaterThanOrEqual(30 + 60 + 2 + 5);
  });

  it("runs of one entry (one partition) get the process's whole concurrency, not a twelfth of it", async () => {
    // The harness worker's concurrency is 10 over 12 partitions: an even split gives each one slot.
    // Each call is held until all 8 runs' calls are in (released together) or for 1.5 s: a loaded
    // machine that spreads the 8 starts over more than one fixed hold no longer looks like a cap.
    let inFlight = 0;
    let most = 0;
    const held = new Set<ServerResponse>();
    const answer = (res: ServerResponse) => {
      if (!held.delete(res)) return;
      inFlight -= 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    const server = createServer((_req, res) => {
      most = Math.max(most, ++inFlight);
      held.add(res);
      if (inFlight >= 8) for (const r of [...held]) answer(r);
      else setTimeout(() => answer(res), 1_500);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
      expect((await h.api('PUT', '/api/dataflows/pt-slow', { kind: 'http', url })).status).toBe(201);
      const call = (id: string) => ({ id, type: 'executeDataflow', dataflow: 'pt-slow', resultField: id });
      await h.saveWorkflow({ name: 'pt-hot', stages: [{ id: 's', name: 'S', steps: [call('a'), call('b')] }] });
      const entryId = `pt-hot-${Date.now()}`;
      const started = await Promise.all(
        Array.from({ length: 8 }, () => h.api('POST', '/api/workflows/pt-hot/runs', { entryId, model: {} })),
      );
      expect(started.map((r) => r.status)).toEqual(Array(8).fill(201));
      expect(new Set(started.map((r) => partitionOf(r.body.id))).size).toBe(1);
      for (const r of started) expect((await h.waitFor(r.body.id, settled)).status).toBe('completed');
      expect(most).toBeGreaterThanOrEqual(6);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('partitions (3) and WORKER_PARTITIONS', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine: { partitions: 3 }, worker: false });
    await h.saveWorkflow(linearWorkflow('pt3', 2));
  });
  afterAll(() => h.close());

  it('a worker serving some partitions runs only their runs; the rest wait for their own worker', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30 && new Set(ids.map((id) => h.engine.keys.partitionOf(id))).size < 3; i++)
      ids.push((await h.start('pt3', { model: {} })).id);
    const { Engine } = await import('../../src/engine/engine.ts');
    const { createLogger } = await import('../../src/observability/logger.ts');
    const log = createLogger({ level: 'silent' });
    const first = Engine.open({ ...h.options, worker: { ...h.options.worker, partitions: [0, 2] } }, log, { failFast: false });
    first.startWorker();
    try {
      for (const id of ids.filter((id) => h.engine.keys.partitionOf(id) !== 1)) await h.waitFor(id, (r) => r.status === 'completed');
      const ones = ids.filter((id) => h.engine.keys.partitionOf(id) === 1);
      expect(ones.length).toBeGreaterThan(0);
      for (const id of ones) expect((await h.api('GET', `/api/runs/${id}`)).body.status).toBe('running');
      const second = Engine.open({ ...h.options, worker: { ...h.options.worker, partitions: [1] } }, log, { failFast: false });
      second.startWorker();
      try {
        for (const id of ones) await h.waitFor(id, (r) => r.status === 'completed');
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
    const wrong = Engine.open({ ...h.options, worker: { ...h.options.worker, partitions: [3] } }, log, { failFast: true });
    try {
      expect(() => wrong.servedPartitions).toThrow(/no partition 3 of 3/);
    } finally {
      await wrong.close();
    }
  });
});
