/**
 * POST /api/workflows/{name}/migrations: parked runs (waiting, draft, failed) move to another
 * version when their step exists there with the same type, and continue on the new version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
const history = async (id: string) => (await h.api('GET', `/api/runs/${id}/history`)).body.items as any[];
const migrate = (name: string, body: unknown, who = 'admin') => h.api('POST', `/api/workflows/${name}/migrations`, body, as(who));

const approval = (after: Record<string, unknown>, options = ['yes', 'no']) => ({
  name: 'mig-approval',
  stages: [
    {
      id: 'a',
      name: 'A',
      steps: [
        {
          id: 'ask',
          type: 'getUserConfirmation',
          confirmationField: 'ok',
          options,
          routing: ['role:manager'],
          users: ['ann', 'bob'],
          policy: 'all',
        },
        after,
      ],
    },
  ],
});

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('migrations', () => {
  it("a waiting confirmation keeps its answers and resumes into the new version's successor", async () => {
    const v1 = await h.saveWorkflow(approval({ id: 'after', type: 'updateModelField', field: 'v', value: 1 }));
    const run = await h.start('mig-approval', { model: {} }, '?wait=5000');
    expect(run.status).toBe('waiting');
    await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'yes' }, as('ann'));
    const v2 = await h.saveWorkflow(approval({ id: 'after', type: 'updateModelField', field: 'v', value: 2 }));
    // v3 drops an option the run asked for: not compatible
    const v3 = await h.saveWorkflow(approval({ id: 'after', type: 'updateModelField', field: 'v', value: 3 }, ['yes']));

    const blocked = (await migrate('mig-approval', { fromVersion: v1, toVersion: v3, dryRun: true })).body;
    expect(blocked).toMatchObject({ movable: 0, blocked: [{ runId: run.id }] });
    expect(blocked.blocked[0].reason).toMatch(/lacks the option\(s\) no/);

    const dry = await migrate('mig-approval', { fromVersion: v1, toVersion: v2, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, movable: 1, moved: [], blocked: [] });
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.version).toBe(v1);

    const done = await migrate('mig-approval', { fromVersion: v1, toVersion: v2 });
    expect(done.body).toMatchObject({ movable: 1, moved: [run.id] });
    const moved = (await h.api('GET', `/api/runs/${run.id}`)).body;
    expect(moved).toMatchObject({ version: v2, status: 'waiting' });
    expect((await history(run.id)).filter((e) => e.type === 'run.migrated').map((e) => e.detail)).toEqual([
      { fromVersion: v1, toVersion: v2 },
    ]);
    // bob's answer completes the policy: ann's answer was kept
    const answer = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'yes' }, as('bob'));
    expect(answer.body.resolved).toBe(true);
    const end = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(end.model).toEqual({ ok: 'yes', v: 2 });
    // nothing left to move
    expect((await migrate('mig-approval', { fromVersion: v1, toVersion: v2 })).body.movable).toBe(0);
  });

  it('raced with the answer that resumes the run, in both orders: the run ends on exactly one version', async () => {
    const race = (value: number) => ({
      name: 'mig-race',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'ask', type: 'getUserConfirmation', confirmationField: 'ok', options: ['yes'], routing: ['role:manager'] },
            { id: 'after', type: 'updateModelField', field: 'v', value },
          ],
        },
      ],
    });
    const v1 = await h.saveWorkflow(race(1));
    const v2 = await h.saveWorkflow(race(2));
    const outcomes = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const run = await h.start('mig-race', { model: {} }, '?wait=5000');
      // the run started on v2 (the latest); race it back to v1 instead, alternating who goes first
      const calls = [
        () => migrate('mig-race', { fromVersion: v2, toVersion: v1 }),
        () => h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'yes' }, as('ann')),
      ];
      await Promise.all((i % 2 ? calls : [...calls].reverse()).map((call) => call()));
      const end = await h.waitFor(run.id, (r) => r.status === 'completed');
      const migrated = (await history(run.id)).filter((e) => e.type === 'run.migrated');
      expect(end.model.v).toBe(end.version === v1 ? 1 : 2);
      expect(migrated).toHaveLength(end.version === v1 ? 1 : 0);
      outcomes.add(end.version);
    }
    expect(outcomes.size).toBeGreaterThanOrEqual(1);
  });

  it('a failed run retried runs the new version; a step missing in the target blocks the run', async () => {
    const bad = {
      name: 'mig-fail',
      stages: [
        { id: 'a', name: 'A', steps: [{ id: 'route', type: 'switchCase', sourceField: 'kind', cases: [{ value: 'x', steps: [] }] }] },
      ],
    };
    const v1 = await h.saveWorkflow(bad);
    const run = await h.start('mig-fail', { model: { kind: 'y' } }, '?wait=5000');
    expect(run.status).toBe('failed');
    const v2 = await h.saveWorkflow({
      name: 'mig-fail',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            {
              id: 'route',
              type: 'switchCase',
              sourceField: 'kind',
              cases: [{ value: 'y', steps: [{ id: 'fixed', type: 'updateModelField', field: 'fixed', value: true }] }],
            },
          ],
        },
      ],
    });
    const v3 = await h.saveWorkflow({
      name: 'mig-fail',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'other', type: 'updateModelField', field: 'f', value: 1 }] }],
    });
    expect((await migrate('mig-fail', { fromVersion: v1, toVersion: v3, dryRun: true })).body.blocked[0].reason).toMatch(
      /step route does not exist in version 3/,
    );
    expect((await migrate('mig-fail', { fromVersion: v1, toVersion: v2 })).body.moved).toEqual([run.id]);
    await h.api('POST', `/api/runs/${run.id}/retry`, {});
    const end = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(end).toMatchObject({ version: v2, model: { kind: 'y', fixed: true } });
  });

  it('a draft moves and is resubmitted into the new version', async () => {
    const v1 = await h.saveWorkflow({ name: 'mig-draft', stages: [{ id: 'a', name: 'A', steps: [{ id: 'back', type: 'resetToDraft' }] }] });
    const run = await h.start('mig-draft', { model: {} }, '?wait=5000');
    expect(run.status).toBe('draft');
    const v2 = await h.saveWorkflow({
      name: 'mig-draft',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 'go', type: 'updateModelField', field: 'v2', value: true }] }],
    });
    expect((await migrate('mig-draft', { fromVersion: v1, toVersion: v2, filter: { status: 'draft' } })).body.moved).toEqual([run.id]);
    await h.api('POST', `/api/runs/${run.id}/submit`, {});
    const end = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(end.model.v2).toBe(true);
  });

  it('access and bad input: operate needed (403), unknown versions and statuses are 400s naming the field', async () => {
    await h.saveWorkflow({
      name: 'mig-acl',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 's', type: 'updateModelField', field: 'f', value: 1 }] }],
    });
    await h.saveWorkflow({
      name: 'mig-acl',
      stages: [{ id: 'a', name: 'A', steps: [{ id: 's', type: 'updateModelField', field: 'f', value: 2 }] }],
    });
    expect((await migrate('mig-acl', { fromVersion: 1, toVersion: 2 }, 'ann')).status).toBe(403);
    expect((await migrate('mig-acl', { fromVersion: 1, toVersion: 2 }, 'user-1')).status).toBe(200);
    const unknown = await migrate('mig-acl', { fromVersion: 1, toVersion: 9 });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.errors)).toContain('$.toVersion');
    const status = await migrate('mig-acl', { fromVersion: 1, toVersion: 2, filter: { status: 'running' } });
    expect(status.status).toBe(400);
    expect(JSON.stringify(status.body.errors)).toContain('status');
  });
});
