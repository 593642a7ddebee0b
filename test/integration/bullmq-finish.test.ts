/**
 * A committed step's job is finished by our commit script running BullMQ's own moveToFinished
 * (src/engine/bullmq-finish.ts, lua/commit-and-finish-step.lua). These tests pin that a job
 * finished this way is the job BullMQ's own finish leaves, that a refused commit still finishes
 * its job, and that a lost lock leaves the commit to seq fencing, as before the fold, so a BullMQ
 * upgrade that changes the finish script fails here.
 */
import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldFinish } from '../../src/engine/bullmq-finish.ts';
import { duplicateClient, type RedisClient as Redis } from '../../src/engine/redis.ts';
import type { StepCommit, TransitionResult } from '../../src/engine/run-transitions.ts';
import { stepJobId, type StepJobData } from '../../src/engine/scheduler.ts';
import { linearWorkflow, onCluster, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let redis: Redis;
/** A manual BullMQ worker per partition (no processor): the tests take and finish jobs by hand. */
const workers = new Map<number, Worker<StepJobData>>();
beforeAll(async () => {
  h = await startHarness({ worker: false });
  redis = h.engine.redis;
  await h.saveWorkflow(linearWorkflow('finish', 3));
});
afterAll(async () => {
  for (const w of workers.values()) await w.close();
  await h.close();
});

const partitionOf = (runId: string) => h.engine.keys.partitionOf(runId);
const qOf = (runId: string) => h.engine.queues.stepsOf(runId);
const jobKey = (runId: string, id: string) => `${qOf(runId).keys['']}${id}`;

function workerOf(runId: string): Worker<StepJobData> {
  const p = partitionOf(runId);
  let w = workers.get(p);
  if (!w) {
    w = new Worker<StepJobData>('steps', null, {
      connection: duplicateClient(redis, { maxRetriesPerRequest: null }) as never,
      prefix: h.engine.keys.partition(p).bullPrefix,
      name: 'finish-test',
      autorun: false,
      metrics: { maxDataPoints: 10 },
      removeOnComplete: { count: 1000 },
    });
    workers.set(p, w);
  }
  return w;
}

/**
 * Takes a job of the run's queue as a worker does, locked with a fresh token: the run's first
 * step job unless `id` is given. Jobs of other tests' runs that share the partition are taken
 * on the way and left active (no stall check runs here).
 */
async function take(runId: string, id = stepJobId(runId, 0)): Promise<{ job: Job<StepJobData>; token: string }> {
  for (;;) {
    const token = randomUUID();
    const job = (await workerOf(runId).getNextJob(token, { block: false })) as Job<StepJobData> | undefined;
    if (!job) throw new Error(`job ${id} not found`);
    if (job.id === id) return { job, token };
  }
}

/** Events the queue's stream holds for a job, in order. */
async function eventsOf(runId: string, id: string): Promise<string[]> {
  const entries = await redis.xrange(qOf(runId).keys.events!, '-', '+');
  return entries.filter(([, f]) => f[f.indexOf('jobId') + 1] === id).map(([, f]) => f[f.indexOf('event') + 1]!);
}

/** The commit of step `from` routing to `to`. */
async function stepCommit(from: string, to: string): Promise<StepCommit> {
  const plan = (await h.engine.workflows.plan('finish', 1))!;
  return { plan, step: plan.steps[from]!, attempt: 1, started: Date.now(), model: {}, detail: {}, end: { status: 'running', next: to } };
}

/** The commit of s1 routing to s2. */
const s1Commit = () => stepCommit('s1', 's2');

/** Folds the commit of s1 at `seq` into the job's finish; resolves with the commit's result. */
function fold(job: Job<StepJobData>, runId: string, seq: number, c: StepCommit): Promise<TransitionResult> {
  return new Promise((resolve, reject) => {
    foldFinish(job, async (finish) => {
      const state = (await h.engine.runs.get(runId)) ?? { id: runId, workflow: 'finish', version: 1, entryId: runId, transitions: 0, seq };
      const out = await h.engine.transitions.commitStepAndFinish({ ...state, seq }, c, finish).catch((err: unknown) => {
        reject(err);
        throw err;
      });
      resolve(out.commit);
      dryOf.set(job.id!, out.ranDry);
      return { result: out.finish, ranDry: out.ranDry };
    });
  });
}

/** Whether each folded finish (by job id) said its queue was left with nothing waiting. */
const dryOf = new Map<string, boolean>();

describe.skipIf(onCluster)('step jobs finished inside our commit script', () => {
  it("are the jobs BullMQ's own finish leaves: hash fields, completed set, events, metrics; the next job is the successor just added", async () => {
    const run = await h.start('finish', { model: {} });
    const ours = stepJobId(run.id, 0);
    const twin = `${run.id}-twin`;
    const existing = await redis.hgetall(jobKey(run.id, ours));
    await qOf(run.id).add(existing.name!, JSON.parse(existing.data!) as StepJobData, { ...JSON.parse(existing.opts!), jobId: twin });
    const a = await take(run.id);
    const b = await take(run.id, twin);
    const metrics = qOf(run.id).keys['metrics'] ?? `${qOf(run.id).keys['']}metrics`;
    const countBefore = Number((await redis.hget(`${metrics}:completed`, 'count')) ?? 0);
    const idKey = `${qOf(run.id).keys['']}id`;
    const idBefore = Number((await redis.get(idKey)) ?? 0);

    // BullMQ's own finish for the twin; ours through the fold, fetching the next job as a worker does.
    await b.job.moveToCompleted('committed', b.token, false);
    const committed = fold(a.job, run.id, 0, await s1Commit());
    const next = (await a.job.moveToCompleted('committed', a.token, true)) as unknown[];
    expect(await committed).toMatchObject({ ok: true, seq: 1 });
    // The commit added s2's job and the finish, in the same call, took it: it is the next job.
    expect(next[1]).toBe(stepJobId(run.id, 1));
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('active');

    const [ha, hb] = await Promise.all([redis.hgetall(jobKey(run.id, ours)), redis.hgetall(jobKey(run.id, twin))]);
    expect(Object.keys(ha).sort()).toEqual(Object.keys(hb).sort());
    for (const field of ['name', 'data', 'returnvalue', 'atm', 'ats', 'pb', 'attemptsMade']) expect(ha[field], field).toBe(hb[field]);
    expect(Math.abs(Number(ha.finishedOn) - Number(hb.finishedOn))).toBeLessThan(60_000);
    expect(a.job.finishedOn).toBe(Number(ha.finishedOn));
    expect(a.job.attemptsMade).toBe(b.job.attemptsMade);
    expect(await redis.exists(`${jobKey(run.id, ours)}:lock`)).toBe(0);

    expect(await qOf(run.id).getJobState(ours)).toBe('completed');
    expect(await qOf(run.id).getJobState(twin)).toBe('completed');
    expect(await eventsOf(run.id, ours)).toEqual(await eventsOf(run.id, twin));
    expect(await eventsOf(run.id, ours)).toEqual(['added', 'waiting', 'active', 'completed']);
    expect(Number(await redis.hget(`${metrics}:completed`, 'count'))).toBe(countBefore + 2);
    expect(await redis.lrange(qOf(run.id).keys.active!, 0, -1)).toContain(stepJobId(run.id, 1));
    // The successor's add took its queue keys from the finish's, and its id counter from KEYS[5]:
    // it is the job queue.add makes, on the same queue, its events on the queue's stream.
    expect(Number(await redis.get(idKey))).toBe(idBefore + 1);
    const successor = await redis.hgetall(jobKey(run.id, stepJobId(run.id, 1)));
    expect(JSON.parse(successor.opts!)).toEqual({ ...JSON.parse(existing.opts!), jobId: stepJobId(run.id, 1) });
    expect((await eventsOf(run.id, stepJobId(run.id, 1))).slice(0, 3)).toEqual(['added', 'waiting', 'active']);
  });

  it("carries BullMQ's packed options as text and hands its script their table: a job's removeOnComplete still applies", async () => {
    const run = await h.start('finish', { model: {} });
    const id = stepJobId(run.id, 0);
    const opts = JSON.parse((await redis.hget(jobKey(run.id, id), 'opts'))!);
    await redis.hset(jobKey(run.id, id), 'opts', JSON.stringify({ ...opts, removeOnComplete: { count: 0 } }));
    const a = await take(run.id);
    let sent: unknown[] = [];
    const committed = new Promise<TransitionResult>((resolve) => {
      foldFinish(a.job, async (finish) => {
        sent = finish.args;
        const out = await h.engine.transitions.commitStepAndFinish(
          { ...(await h.engine.runs.get(run.id))!, seq: 0 },
          await s1Commit(),
          finish,
        );
        resolve(out.commit);
        return { result: out.finish, ranDry: out.ranDry };
      });
    });
    await a.job.moveToCompleted('committed', a.token, false);
    expect(await committed).toMatchObject({ ok: true, seq: 1 });
    // No Buffer: ioredis then writes the whole call as one string.
    expect(sent.filter((x) => typeof x !== 'string' && typeof x !== 'number')).toEqual([]);
    expect(JSON.parse(String(sent[7]))).toMatchObject({ keepJobs: { count: 0 }, token: a.token });
    // count 0: BullMQ's script removed the job as it finished it.
    expect(await redis.exists(jobKey(run.id, id))).toBe(0);
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('waiting');
  });

  it("takes back the queue's marker and says so when its fetch leaves nothing waiting; keeps it while a job waits", async () => {
    const run = await h.start('finish', { model: {} });
    const marker = qOf(run.id).keys.marker!;
    const a = await take(run.id);
    // Another job waits in the queue, older than the successor the commit adds: the fetch takes it.
    const filler = `${run.id}-filler`;
    await qOf(run.id).add('filler', { runId: run.id } as StepJobData, { jobId: filler });
    const kept = fold(a.job, run.id, 0, await stepCommit('s1', 's2'));
    const first = (await a.job.moveToCompleted('committed', a.token, true)) as unknown[];
    expect(await kept).toMatchObject({ ok: true, seq: 1 });
    expect(first[1]).toBe(filler);
    expect(dryOf.get(a.job.id!)).toBe(false);
    expect(await redis.lrange(qOf(run.id).keys.wait!, 0, -1)).toContain(stepJobId(run.id, 1));
    expect(await redis.zscore(marker, '0')).not.toBeNull();

    // s2 is the last job waiting: the commit adds s3 and its fetch takes it, so nothing waits.
    const b = await take(run.id, stepJobId(run.id, 1));
    const dry = fold(b.job, run.id, 1, await stepCommit('s2', 's3'));
    const second = (await b.job.moveToCompleted('committed', b.token, true)) as unknown[];
    expect(await dry).toMatchObject({ ok: true, seq: 2 });
    expect(second[1]).toBe(stepJobId(run.id, 2));
    expect(dryOf.get(b.job.id!)).toBe(true);
    expect(await redis.llen(qOf(run.id).keys.wait!)).toBe(0);
    expect(await redis.zscore(marker, '0')).toBeNull();
    // The next add marks the queue again, so a blocked worker wakes for it.
    await qOf(run.id).add('filler', { runId: run.id } as StepJobData, { jobId: `${filler}-2` });
    expect(await redis.zscore(marker, '0')).not.toBeNull();
  });

  it('a refused commit (stale seq, wrong status, missing run) still finishes its job and adds none', async () => {
    const run = await h.start('finish', { model: {} });
    const { job, token } = await take(run.id);
    // Another delivery committed s1 meanwhile: this one is stale.
    expect(await h.engine.transitions.commitStep({ ...(await h.engine.runs.get(run.id))!, seq: 0 }, await s1Commit())).toMatchObject({
      ok: true,
    });
    const waitingBefore = (await redis.lrange(qOf(run.id).keys.wait!, 0, -1)).filter((id) => id.startsWith(run.id));
    const committed = fold(job, run.id, 0, await s1Commit());
    await job.moveToCompleted('committed', token, false);
    expect(await committed).toMatchObject({ ok: false, reason: 'seq', seq: 1 });
    expect(await qOf(run.id).getJobState(job.id!)).toBe('completed');
    expect((await redis.lrange(qOf(run.id).keys.wait!, 0, -1)).filter((id) => id.startsWith(run.id))).toEqual(waitingBefore);
    expect((await h.engine.runs.get(run.id))!.seq).toBe(1);

    // Wrong status: the run was cancelled while its step ran.
    const cancelled = await h.start('finish', { model: {} });
    const c = await take(cancelled.id);
    expect((await h.engine.transitions.cancel((await h.engine.runs.get(cancelled.id))!)).ok).toBe(true);
    const refused = fold(c.job, cancelled.id, 0, await s1Commit());
    await c.job.moveToCompleted('committed', c.token, false);
    expect(await refused).toMatchObject({ ok: false, reason: 'status', status: 'cancelled' });
    expect(await qOf(cancelled.id).getJobState(c.job.id!)).toBe('completed');

    // Missing run: its hash is gone (retention), the job still ends.
    const gone = await h.start('finish', { model: {} });
    const g = await take(gone.id);
    await redis.del(h.engine.keys.run(gone.id));
    const missing = fold(g.job, gone.id, 0, await s1Commit());
    await g.job.moveToCompleted('committed', g.token, false);
    expect(await missing).toMatchObject({ ok: false, reason: 'missing' });
    expect(await qOf(gone.id).getJobState(g.job.id!)).toBe('completed');
  });

  it("a refused commit's follow-up still runs after the folded finish: the run's current job is made sure of", async () => {
    const run = await h.start('finish', { model: {} });
    const { job, token } = await take(run.id);
    // Another delivery committed s1 (seq 1) and its s2 job was lost.
    expect(await h.engine.transitions.commitStep({ ...(await h.engine.runs.get(run.id))!, seq: 0 }, await s1Commit())).toMatchObject({
      ok: true,
    });
    await qOf(run.id).remove(stepJobId(run.id, 1));
    // The step is pure and carries its state, so the processor commits without reading the run;
    // the fold hands that commit to the job's finish.
    let folded = false;
    const outcome = await h.engine.processor.process(job, (finish) => {
      folded = true;
      foldFinish(job, finish);
    });
    expect(outcome).toBe('committed');
    expect(folded).toBe(true);
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('unknown');
    await job.moveToCompleted(outcome, token, false);
    expect(await qOf(run.id).getJobState(job.id!)).toBe('completed');
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('waiting');
    expect((await h.engine.runs.get(run.id))!.seq).toBe(1);
  });

  it("a lost lock fails the finish with BullMQ's own error and leaves the commit to seq fencing", async () => {
    const run = await h.start('finish', { model: {} });
    const { job, token } = await take(run.id);
    // The job stalled and was taken over: its lock is another worker's now.
    await redis.set(`${jobKey(run.id, job.id!)}:lock`, 'someone-else');
    const committed = fold(job, run.id, 0, await s1Commit());
    const finishing = job.moveToCompleted('committed', token, false);
    await expect(finishing).rejects.toThrow(/Lock mismatch for job/);
    // The commit applied (its seq was current), as when commit and finish were two calls: the
    // copy the new owner runs finds a stale job and only makes sure s2's job exists.
    expect(await committed).toMatchObject({ ok: true, seq: 1 });
    expect(await qOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('waiting');
    expect(await qOf(run.id).getJobState(job.id!)).toBe('active');

    // BullMQ's own finish gives the same error for the same case.
    const other = await h.start('finish', { model: {} });
    const o = await take(other.id);
    await redis.del(`${jobKey(other.id, o.job.id!)}:lock`);
    await expect(o.job.moveToCompleted('committed', o.token, false)).rejects.toThrow(/Missing lock for job/);
    const third = await h.start('finish', { model: {} });
    const t = await take(third.id);
    await redis.del(`${jobKey(third.id, t.job.id!)}:lock`);
    const foldedMissing = fold(t.job, third.id, 0, await s1Commit());
    await expect(t.job.moveToCompleted('committed', t.token, false)).rejects.toThrow(/Missing lock for job/);
    expect(await foldedMissing).toMatchObject({ ok: true });
  });
});
