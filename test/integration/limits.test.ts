import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ engine: { modelMaxBytes: 2048 } });
  await h.saveWorkflow({
    name: 'grow',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          { id: 'copy1', type: 'updateModelField', field: 'b', sourceField: 'a' },
          { id: 'copy2', type: 'updateModelField', field: 'c', sourceField: 'a' },
        ],
      },
    ],
  });
});
afterAll(() => h.close());

describe('model size budget', () => {
  it('refuses a start whose model is over the budget with 400 naming $.model, and creates nothing', async () => {
    const res = await h.api('POST', '/api/workflows/grow/runs', { model: { a: 'x'.repeat(3000) } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: '$.model' })]);
    expect((await h.api('GET', '/api/runs?workflow=grow')).body.items).toEqual([]);
  });

  it('fails the step that would grow the model past the budget, without retries', async () => {
    const run = await h.start('grow', { model: { a: 'x'.repeat(900) } }, '?wait=5000');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'MODEL_TOO_LARGE', stepId: 'copy2' });
    expect(run.model).toEqual({ a: 'x'.repeat(900), b: 'x'.repeat(900) });
    const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items as any[];
    expect(history.filter((e) => e.type === 'step.retrying')).toEqual([]);
  });

  it('refuses a modelPatch that would pass the budget', async () => {
    const run = await h.start('grow', { model: { a: 'x'.repeat(900) } }, '?wait=5000');
    const res = await h.api('POST', `/api/runs/${run.id}/retry`, { modelPatch: { d: 'y'.repeat(2000) } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('$.modelPatch');
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('failed');
  });
});

describe('API keys', () => {
  it('accepts keys configured as SHA-256 hashes, and rejects bad key configuration with the field named', () => {
    const key = 'a-hashed-key-0123456789';
    const registry = PrincipalRegistry.fromJson(
      [{ id: 'h', keyHash: createHash('sha256').update(key).digest('hex'), roles: ['operator'] }],
      'test',
    );
    expect(registry.authenticate(key)).toEqual({ id: 'h', roles: ['operator'] });
    expect(registry.authenticate(`${key}x`)).toBeUndefined();
    expect(() => PrincipalRegistry.fromJson([{ id: 'x', key: 'short', roles: [] }], 'test')).toThrow(/\$\[0\]\.key: /);
    expect(() =>
      PrincipalRegistry.fromJson([{ id: 'x', key: 'long-enough-key-123', keyHash: 'ab'.repeat(32), roles: [] }], 'test'),
    ).toThrow(/exactly one of key or keyHash/);
  });
});

describe('entries', () => {
  it('save once per effect key, even when another run saved in between (A, B, A)', async () => {
    const runs = h.engine.runs;
    const a = await runs.saveEntry('shared-1', { by: 'a' }, 'runA/save/3', 'runA', 'grow');
    const b = await runs.saveEntry('shared-1', { by: 'b' }, 'runB/save/5', 'runB', 'grow');
    const again = await runs.saveEntry('shared-1', { by: 'a-redelivered' }, 'runA/save/3', 'runA', 'grow');
    expect([a, b, again]).toEqual([1, 2, 1]);
    expect(await runs.getEntry('shared-1')).toMatchObject({ version: 2, model: { by: 'b' } });
  });

  it('belong to the workflow that created them: another workflow can neither start on nor save into one', async () => {
    await h.saveWorkflow({ name: 'other-wf', stages: [{ id: 'a', name: 'A', steps: [{ id: 'save', type: 'updateModel' }] }] });
    const first = await h.start('grow', { model: { a: 'x' }, entryId: 'owned-1' }, '?wait=5000');
    expect(first.status).toBe('completed');
    const res = await h.api('POST', '/api/workflows/other-wf/runs', { entryId: 'owned-1', model: { planted: true } });
    expect(res.status).toBe(409);
    expect(res.body.errors[0].path).toBe('$.entryId');
    expect(await h.engine.runs.saveEntry('owned-1', { hijack: true }, 'x/save/1', 'x', 'other-wf')).toBe(-1);
    expect((await h.api('GET', '/api/entries/owned-1')).body.model).toEqual({ a: 'x' });
  });

  it('two concurrent starts of different workflows on one new entry id: exactly one wins, every time', async () => {
    for (const name of ['race-a', 'race-b']) {
      await h.saveWorkflow({
        name,
        stages: [{ id: 'a', name: 'A', steps: [{ id: 'mark', type: 'updateModelField', field: 'by', value: name }] }],
      });
    }
    for (let i = 0; i < 12; i++) {
      const entryId = `race-entry-${i}`;
      const order = i % 2 ? ['race-a', 'race-b'] : ['race-b', 'race-a'];
      const results = await Promise.all(order.map((wf) => h.api('POST', `/api/workflows/${wf}/runs`, { entryId, model: { i } })));
      const won = results.filter((r) => r.status === 201);
      const lost = results.filter((r) => r.status !== 201);
      expect(won, `try ${i}: ${JSON.stringify(results.map((r) => [r.status, r.body?.detail]))}`).toHaveLength(1);
      expect(lost[0]!.status).toBe(409);
      expect(lost[0]!.body.errors[0].path).toBe('$.entryId');
      const winner = won[0]!.body.workflow as string;
      expect((await h.api('GET', `/api/entries/${entryId}`)).body.workflow).toBe(winner);
    }
    // the loser left nothing behind: one run per try
    const runs = [
      ...(await h.api('GET', '/api/runs?workflow=race-a&limit=50')).body.items,
      ...(await h.api('GET', '/api/runs?workflow=race-b&limit=50')).body.items,
    ];
    expect(runs).toHaveLength(12);
  });
});
