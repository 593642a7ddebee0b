/**
 * A partition's Worker told by our finish that its queue ran dry (src/engine/step-queue-worker.ts)
 * blocks on the queue's marker instead of asking the queue again after every step, still wakes
 * for new work at once, and still tells the concurrency balancer when its queue ran dry.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StepQueueWorker } from '../../src/engine/step-queue-worker.ts';
import { linearWorkflow, settled, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
/** Each moveToActive call the step Workers made, and each 'drained' they emitted: queue prefix (partition) and time. */
const fetches: { prefix: string; at: number }[] = [];
const drained: { prefix: string; at: number }[] = [];
const since = (list: typeof fetches, prefix: string, t0: number) => list.filter((e) => e.prefix === prefix && e.at >= t0).length;

beforeAll(async () => {
  // The spy is on the prototype before the harness builds its Workers, so every one is counted.
  const proto = StepQueueWorker.prototype as unknown as { moveToActive: (...a: unknown[]) => Promise<unknown> };
  const real = proto.moveToActive;
  vi.spyOn(proto, 'moveToActive').mockImplementation(function (this: StepQueueWorker<unknown>, ...a: unknown[]) {
    fetches.push({ prefix: String(this.opts.prefix), at: Date.now() });
    return real.apply(this, a);
  });
  const emit = StepQueueWorker.prototype.emit;
  vi.spyOn(StepQueueWorker.prototype, 'emit').mockImplementation(function (this: StepQueueWorker<unknown>, event, ...args) {
    if (event === 'drained') drained.push({ prefix: String(this.opts.prefix), at: Date.now() });
    return emit.call(this, event, ...(args as []));
  });
  h = await startHarness({ worker: true });
  await h.saveWorkflow(linearWorkflow('dry', 10));
});
afterAll(async () => {
  await h.close();
  vi.restoreAllMocks();
});

describe("a partition's step Worker", () => {
  it('runs a lone 10-step run with one fetch, not one empty fetch per step, and sees its queue run dry', async () => {
    // Warm up: one run through, so every Worker has fetched once and blocks on its marker.
    const warm = await h.start('dry', { model: {} });
    expect((await h.waitFor(warm.id, settled)).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 200));

    const t0 = Date.now();
    const run = await h.start('dry', { model: {} });
    const prefix = h.engine.keys.partition(h.engine.keys.partitionOf(run.id)).bullPrefix;
    const done = await h.waitFor(run.id, settled);
    expect(done.status).toBe('completed');
    expect(done.model).toMatchObject({ f1: 1, f10: 10 });
    // The start's marker wakes the Worker for s1 (one fetch); s2…s10 come with each finish.
    // BullMQ alone asks again after each of them: about 10 fetches for this run. (A blocked
    // fetch that times out, every 5 s, also fetches: hence the slack.)
    const during = since(fetches, prefix, t0);
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(3);
    // Told at each finish that nothing else waits, as BullMQ's empty fetch would have said.
    expect(since(drained, prefix, t0)).toBeGreaterThanOrEqual(9);
  });

  it('wakes for a run started while it blocks, and runs runs started together in one partition', async () => {
    const ids: string[] = [];
    const entryId = `dry-entry-${Date.now()}`;
    for (let i = 0; i < 5; i++) ids.push((await h.start('dry', { model: {}, entryId })).id);
    const later = await h.start('dry', { model: {} });
    for (const id of [...ids, later.id]) expect((await h.waitFor(id, settled)).status).toBe('completed');
  });
});
