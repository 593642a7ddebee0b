/**
 * The run verbs' result codes at the atomic boundary (src/engine/run-transitions.ts): a verb
 * refuses a missing run, a run in a status it does not start from and a stale seq, and changes
 * nothing when it refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ worker: false });
  await h.saveWorkflow(linearWorkflow('verbs', 2));
});
afterAll(() => h.close());

const snapshot = async (runId: string) => ({
  hash: await h.engine.redis.hgetall(h.engine.keys.run(runId)),
  history: await h.engine.redis.lrange(h.engine.keys.history(runId), 0, -1),
});

describe('run verbs', () => {
  it('refuse a stale seq and change nothing', async () => {
    const run = (await h.engine.runs.get((await h.start('verbs', { model: {} })).id))!;
    const before = await snapshot(run.id);
    const res = await h.engine.transitions.failRun({ ...run, seq: run.seq + 3 }, { code: 'X', message: 'stale' });
    expect(res).toEqual({ ok: false, reason: 'seq', seq: run.seq, status: 'running' });
    expect(await snapshot(run.id)).toEqual(before);
  });

  it('refuse a run in a status the verb does not start from', async () => {
    const run = (await h.engine.runs.get((await h.start('verbs', { model: {} })).id))!;
    const plan = (await h.engine.workflows.plan('verbs', 1))!;
    const before = await snapshot(run.id);
    // retry starts from failed only; this run is running.
    const res = await h.engine.transitions.retry(run, { step: plan.steps.s1! });
    expect(res).toEqual({ ok: false, reason: 'status', seq: run.seq, status: 'running' });
    expect(await snapshot(run.id)).toEqual(before);
    await expect(h.engine.retry(run.id, {})).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('refuse a missing run and create nothing', async () => {
    const run = (await h.engine.runs.get((await h.start('verbs', { model: {} })).id))!;
    const ghost = { ...run, id: '01000000-0000-7000-8000-000000000000' };
    expect(await h.engine.transitions.cancel(ghost)).toEqual({ ok: false, reason: 'missing' });
    expect(await h.engine.redis.exists(h.engine.keys.run(ghost.id), h.engine.keys.history(ghost.id))).toBe(0);
  });

  it('apply at the right status and seq: the run moves, its indexes and history follow', async () => {
    const run = (await h.engine.runs.get((await h.start('verbs', { model: {} })).id))!;
    const res = await h.engine.transitions.failRun(run, { code: 'X', stepId: 's1', message: 'boom' });
    expect(res).toEqual({ ok: true, seq: run.seq + 1, from: 'running' });
    const pk = h.engine.keys.partition(h.engine.keys.partitionOf(run.id));
    const [running, failed] = [pk.runIndex({ workflow: 'verbs', status: 'running' }), pk.runIndex({ status: 'failed' })];
    expect(await h.engine.redis.zscore(running, run.id)).toBeNull();
    expect(await h.engine.redis.zscore(failed, run.id)).not.toBeNull();
    const history = await h.engine.runs.history(run.id);
    expect(history.at(-1)).toMatchObject({ type: 'run.failed', seq: run.seq + 1, detail: { error: { code: 'X' } } });
    // The same failure again finds the run failed: refused by status, not applied twice.
    expect(await h.engine.transitions.failRun(run, { code: 'X', message: 'again' })).toMatchObject({ ok: false, reason: 'status' });
  });
});
