/**
 * Our scripts add step jobs with BullMQ's own addStandardJob script (src/engine/bullmq-add.ts).
 * These tests pin that a job added this way is the job `queue.add` makes, and that a transition
 * which does not apply adds nothing, so a BullMQ upgrade that changes the script fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient as Redis } from '../../src/engine/redis.ts';
import { stepJobId, type StepJobData } from '../../src/engine/scheduler.ts';
import { loadScripts } from '../../src/engine/scripts.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  h = await startHarness({ worker: false });
  redis = h.engine.redis;
  await h.saveWorkflow(linearWorkflow('compat', 2));
});
afterAll(() => h.close());

/** The step queue of the run a job id names (`<runId>-…`): each partition has its own. */
const qOf = (id: string) => h.engine.queues.stepsOf(id.slice(0, 36));
const jobKey = (id: string) => `${qOf(id).keys['']}${id}`;

/** Events the queue's stream holds for a job, in order. */
async function eventsOf(id: string): Promise<string[]> {
  const entries = await redis.xrange(qOf(id).keys.events!, '-', '+');
  return entries.filter(([, f]) => f[f.indexOf('jobId') + 1] === id).map(([, f]) => f[f.indexOf('event') + 1]!);
}

describe('step jobs added inside our scripts', () => {
  it('are the jobs queue.add makes: same hash fields, options, place in the wait list and events', async () => {
    const run = await h.start('compat', { model: { a: 1 } });
    const ours = stepJobId(run.id, 0);
    const job = await qOf(run.id).getJob(ours);
    expect(job?.name).toBe('updateModelField');
    expect(job?.data).toMatchObject({
      runId: run.id,
      seq: 0,
      stepId: 's1',
      carry: { workflow: 'compat', version: 1, transitions: 0, model: { a: 1 } },
    });

    // The same job through BullMQ's public API, under another id.
    const twin = `${run.id}-twin`;
    const step = (await h.engine.workflows.plan('compat', 1))!.steps.s1!;
    const [, name, , dataJson, optsJson] = h.engine.scheduler.job(run.id, 0, step, {
      workflow: 'compat',
      version: 1,
      entryId: run.id,
      transitions: 0,
      model: { a: 1 },
    });
    await qOf(run.id).add(name, JSON.parse(dataJson) as StepJobData, { ...JSON.parse(optsJson), jobId: twin });

    const [a, b] = await Promise.all([redis.hgetall(jobKey(ours)), redis.hgetall(jobKey(twin))]);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const field of ['name', 'data', 'delay', 'priority']) expect(a[field], field).toBe(b[field]);
    expect({ ...JSON.parse(a.opts!), jobId: null }).toEqual({ ...JSON.parse(b.opts!), jobId: null });
    expect(JSON.parse(a.opts!).jobId).toBe(ours);
    expect(Math.abs(Number(a.timestamp) - Number(b.timestamp))).toBeLessThan(60_000);

    expect(await qOf(run.id).getJobState(ours)).toBe('waiting');
    const waiting = await redis.lrange(qOf(run.id).keys.wait!, 0, -1);
    expect(waiting).toContain(ours);
    expect(waiting).toContain(twin);
    expect(await eventsOf(ours)).toEqual(await eventsOf(twin));
    expect(await eventsOf(ours)).toEqual(['added', 'waiting']);
    await qOf(run.id).remove(twin);
  });

  it('a transition that does not apply adds no job, and one that applies adds exactly one', async () => {
    const run = await h.start('compat', { model: {} });
    const plan = (await h.engine.workflows.plan('compat', 1))!;
    const state = (await h.engine.runs.get(run.id))!;
    // s1 ran and routes to s2: the commit adds s2's job at seq + 1.
    const commit = (seq: number) =>
      h.engine.transitions.commitStep(
        { ...state, seq },
        { plan, step: plan.steps.s1!, attempt: 1, started: Date.now(), model: {}, detail: {}, end: { status: 'running', next: 's2' } },
      );
    const stale = await commit(7);
    expect(stale).toMatchObject({ ok: false, reason: 'seq', seq: 0 });
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 8))).toBe('unknown');

    const applied = await commit(0);
    expect(applied).toMatchObject({ ok: true, seq: 1 });
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('waiting');
    // The same commit again is refused by the fence and leaves the job as it was.
    const again = await commit(0);
    expect(again).toMatchObject({ ok: false, seq: 1 });
    expect(await eventsOf(stepJobId(run.id, 1))).toEqual(['added', 'waiting']);
  });

  it('refuses to add a job from a transition that does not advance seq', async () => {
    const run = await h.start('compat', { model: {} });
    const step = (await h.engine.workflows.plan('compat', 1))!.steps.s2!;
    const k = h.engine.keys;
    const pk = k.partition(k.partitionOf(run.id));
    const q = pk.queue('steps');
    // Every verb that adds a job fences and advances seq by construction; this is the script's own
    // guard, reached by calling a non-advancing verb's script with a job.
    await expect(
      loadScripts(redis).run(
        'recordFailedAttempt',
        [k.run(run.id), k.history(run.id), pk.positionIndex('compat'), pk.outbox, ...q.add],
        ['', '', Date.now(), k.events, 60, q.prefix, ...h.engine.scheduler.job(run.id, 1, step), '', 0],
      ),
    ).rejects.toThrow(/must advance seq/);
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('unknown');
  });

  it("builds each partition's queue keys as BullMQ does", () => {
    const names = ['wait', 'paused', 'meta', 'id', 'completed', 'delayed', 'active', 'events', 'marker'] as const;
    for (let p = 0; p < h.engine.keys.partitions; p++) {
      const q = h.engine.keys.partition(p).queue('steps');
      expect(q.prefix).toBe(h.engine.queue[p]!.keys['']);
      expect(q.add).toEqual(names.map((n) => h.engine.queue[p]!.keys[n]));
    }
  });
});
