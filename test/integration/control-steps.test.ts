import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearWorkflow, settled, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const types = (history: any[]) => history.map((e) => e.type);
const completedSteps = (history: any[]) => history.filter((e) => e.type === 'step.completed').map((e) => e.stepId);

describe('control steps through the API', () => {
  it('runs a linear workflow across stages and completes with every field set', async () => {
    await h.saveWorkflow(linearWorkflow('linear', 7));
    const run = await h.start('linear', { model: { keep: 'me' } }, '?wait=5000');
    expect(run.status).toBe('completed');
    expect(run.model).toEqual({ keep: 'me', f1: 1, f2: 2, f3: 3, f4: 4, f5: 5, f6: 6, f7: 7 });
    const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items;
    expect(completedSteps(history)).toEqual(['s1', 's2', 's3', 's4', 's5', 's6', 's7']);
    expect(types(history)[0]).toBe('run.started');
    expect(types(history).at(-1)).toBe('run.completed');
    // seq is non-decreasing and each step commit advanced it by one
    const seqs = history.filter((e: any) => e.type === 'step.completed').map((e: any) => e.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('updateModelField copies from sourceField, including nested paths', async () => {
    await h.saveWorkflow({
      name: 'copy',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'c1', type: 'updateModelField', field: 'target.deep.x', sourceField: 'source.value' },
            { id: 'c2', type: 'updateModelField', field: 'missing', sourceField: 'nope.nothing' },
          ],
        },
      ],
    });
    const run = await h.start('copy', { model: { source: { value: [1, { y: 2 }] } } }, '?wait=5000');
    expect(run.status).toBe('completed');
    expect(run.model.target).toEqual({ deep: { x: [1, { y: 2 }] } });
    expect(run.model.missing).toBeNull();
  });

  it('ifCondition takes then or else and rejoins the main line', async () => {
    await h.saveWorkflow({
      name: 'branchy',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            {
              id: 'check',
              type: 'ifCondition',
              field: 'amount',
              operator: 'greater',
              value: 100,
              then: [{ id: 'big', type: 'updateModelField', field: 'size', value: 'big' }],
              else: [{ id: 'small', type: 'updateModelField', field: 'size', value: 'small' }],
            },
            { id: 'after', type: 'updateModelField', field: 'rejoined', value: true },
          ],
        },
      ],
    });
    const big = await h.start('branchy', { model: { amount: 500 } }, '?wait=5000');
    const small = await h.start('branchy', { model: { amount: 5 } }, '?wait=5000');
    const text = await h.start('branchy', { model: { amount: 'lots' } }, '?wait=5000');
    expect(big.model).toMatchObject({ size: 'big', rejoined: true });
    expect(small.model).toMatchObject({ size: 'small', rejoined: true });
    // mismatched types compare false, never throw
    expect(text.status).toBe('completed');
    expect(text.model).toMatchObject({ size: 'small', rejoined: true });
    const hist = (await h.api('GET', `/api/runs/${big.id}/history`)).body.items;
    expect(completedSteps(hist)).toEqual(['check', 'big', 'after']);
  });

  it('ifCondition with compareWithNull, and finish inside a branch ends the run there', async () => {
    await h.saveWorkflow({
      name: 'nullcheck',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            {
              id: 'no-owner',
              type: 'ifCondition',
              field: 'owner',
              operator: 'equal',
              compareWithNull: true,
              then: [
                { id: 'mark', type: 'updateModelField', field: 'orphan', value: true },
                { id: 'stop', type: 'finish', outcome: 'orphaned' },
              ],
            },
          ],
        },
        { id: 'b', name: 'B', steps: [{ id: 'owned', type: 'updateModelField', field: 'orphan', value: false }] },
      ],
    });
    const orphan = await h.start('nullcheck', { model: {} }, '?wait=5000');
    expect(orphan).toMatchObject({ status: 'completed', outcome: 'orphaned', model: { orphan: true } });
    const owned = await h.start('nullcheck', { model: { owner: 'ann' } }, '?wait=5000');
    expect(owned).toMatchObject({ status: 'completed', model: { owner: 'ann', orphan: false } });
  });

  it('switchCase jumps into the matching case, skips the rest of the stage, and goes to the next stage', async () => {
    await h.saveWorkflow({
      name: 'switchy',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            {
              id: 'route',
              type: 'switchCase',
              sourceField: 'kind',
              cases: [
                { value: 'x', steps: [{ id: 'got-x', type: 'updateModelField', field: 'lane', value: 'x' }] },
                { value: null, steps: [{ id: 'got-null', type: 'updateModelField', field: 'lane', value: 'none' }] },
                { value: 7, steps: [], goto: 'c' },
              ],
              default: { steps: [{ id: 'got-default', type: 'updateModelField', field: 'lane', value: 'default' }] },
            },
          ],
        },
        { id: 'b', name: 'B', steps: [{ id: 'in-b', type: 'updateModelField', field: 'visitedB', value: true }] },
        { id: 'c', name: 'C', steps: [{ id: 'in-c', type: 'updateModelField', field: 'visitedC', value: true }] },
      ],
    });
    const x = await h.start('switchy', { model: { kind: 'x' } }, '?wait=5000');
    expect(x.model).toEqual({ kind: 'x', lane: 'x', visitedB: true, visitedC: true });
    const none = await h.start('switchy', { model: {} }, '?wait=5000');
    expect(none.model).toMatchObject({ lane: 'none' });
    const seven = await h.start('switchy', { model: { kind: 7 } }, '?wait=5000');
    expect(seven.model).toEqual({ kind: 7, visitedC: true });
    const other = await h.start('switchy', { model: { kind: 'zzz' } }, '?wait=5000');
    expect(other.model).toMatchObject({ lane: 'default', visitedB: true });
  });

  it('switchCase without a match and without a default fails the run at once, without retries', async () => {
    await h.saveWorkflow({
      name: 'nomatch',
      defaults: { retry: { attempts: 5, backoff: { type: 'fixed', delayMs: 10 } } },
      stages: [
        { id: 'a', name: 'A', steps: [{ id: 'route', type: 'switchCase', sourceField: 'kind', cases: [{ value: 'x', steps: [] }] }] },
      ],
    });
    const run = await h.start('nomatch', { model: { kind: 'y' } }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'route', attempt: 1 });
    expect(run.error.message).toMatch(/kind/);
    const hist = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items;
    expect(types(hist).filter((t: string) => t === 'step.retrying')).toHaveLength(0);
    expect(types(hist).slice(-2)).toEqual(['step.failed', 'run.failed']);
  });

  it('updateModel saves the working model into the entry with a new version', async () => {
    await h.saveWorkflow({
      name: 'saver',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'set', type: 'updateModelField', field: 'state', value: 'saved' },
            { id: 'save', type: 'updateModel' },
            { id: 'later', type: 'updateModelField', field: 'state', value: 'unsaved-change' },
          ],
        },
      ],
    });
    const run = await h.start('saver', { entryId: 'order-42', model: { n: 1 } }, '?wait=5000');
    expect(run.status).toBe('completed');
    expect(run.entry).toEqual({ id: 'order-42', version: 2 });
    const entry = (await h.api('GET', '/api/entries/order-42')).body;
    expect(entry).toMatchObject({ id: 'order-42', version: 2, model: { n: 1, state: 'saved' } });
    // a second run on the same entry starts from the saved model, with the request's model merged over it
    const again = await h.start('saver', { entryId: 'order-42', model: { n: 2 } }, '?wait=5000');
    expect(again.entry.version).toBe(3);
    expect((await h.api('GET', '/api/entries/order-42')).body.model).toEqual({ n: 2, state: 'saved' });
  });

  it('goto loops are stopped by the transition limit with a clear failure', async () => {
    // tick, then loop back unless `stop` exists
    const looper = {
      name: 'looper',
      stages: [
        { id: 'a', name: 'A', steps: [{ id: 'tick', type: 'updateModelField', field: 't', value: 1 }] },
        {
          id: 'b',
          name: 'B',
          steps: [
            { id: 'again', type: 'ifCondition', field: 'stop', operator: 'exists', then: [{ id: 'end', type: 'finish' }], elseGoto: 'a' },
          ],
        },
      ],
    };
    await h.saveWorkflow(looper);
    // the harness's limit is 10,000; a small limit is a property of the engine, so use a dedicated one
    const { startHarness: start } = await import('../helpers/harness.ts');
    const small = await start({ engine: { maxTransitions: 25 } });
    try {
      await small.saveWorkflow(looper);
      const run = await small.start('looper', { model: {} }, '?wait=10000');
      expect(run.status).toBe('failed');
      expect(run.error.code).toBe('TRANSITION_LIMIT');
      expect(run.error.message).toMatch(/25 transitions/);
      expect(run.error.stepId).toBe('again'); // 25 commits alternate tick/again; the 26th step never ran
      const hist = (await small.api('GET', `/api/runs/${run.id}/history`)).body.items;
      expect(hist.filter((e: any) => e.type === 'step.completed')).toHaveLength(25);
      // the limit counts since the last start/retry/submit: a retry that ends the loop completes
      const retried = await small.api('POST', `/api/runs/${run.id}/retry`, { modelPatch: { stop: true } });
      expect(retried.status).toBe(200);
      const done = await small.waitFor(run.id, (r) => r.status !== 'running');
      expect(done.status).toBe('completed');
      // a retry that does not end the loop gets a fresh budget of 25 again, not zero
      const again = await small.start('looper', { model: {} }, '?wait=10000');
      expect(again.error.code).toBe('TRANSITION_LIMIT');
      await small.api('POST', `/api/runs/${again.id}/retry`, {});
      const twice = await small.waitFor(again.id, (r) => r.status !== 'running', 10_000);
      expect(twice.error.code).toBe('TRANSITION_LIMIT');
      const commits = (await small.api('GET', `/api/runs/${again.id}/history`)).body.items.filter((e: any) => e.type === 'step.completed');
      expect(commits).toHaveLength(50);
    } finally {
      await small.close();
    }
    // with the stop flag the same loop ends at once
    const done = await h.start('looper', { model: { stop: true } }, '?wait=5000');
    expect(done.status).toBe('completed');
  });

  it('a workflow whose stages are all empty completes at start', async () => {
    await h.saveWorkflow({ name: 'empty', stages: [{ id: 'a', name: 'A', steps: [] }] });
    const run = await h.start('empty', {});
    expect(run.status).toBe('completed');
    expect(run.step).toBeNull();
  });

  it('GET /api/runs/{id} shows the stage and step of the cursor', async () => {
    await h.saveWorkflow({
      name: 'stuck-switch',
      stages: [
        { id: 'first', name: 'First', steps: [] },
        { id: 'second', name: 'Second', steps: [{ id: 'pick', type: 'switchCase', sourceField: 'k', cases: [{ value: 1, steps: [] }] }] },
      ],
    });
    const run = await h.start('stuck-switch', { model: { k: 2 } }, '?wait=5000');
    expect(run).toMatchObject({
      status: 'failed',
      stage: { id: 'second', name: 'Second', index: 1, count: 2 },
      step: { id: 'pick', type: 'switchCase', name: 'pick' },
      version: 1,
    });
    expect(settled(run)).toBe(true);
  });
});
