/**
 * A confirmation with neither users nor userInfoField tells the people it is routed to, in their
 * inbox (real Redis inbox through the harness's real services), instead of nobody.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness, confirmationWorkflow } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const inboxOf = async (id: string) =>
  (await h.api('GET', '/api/me/notifications', undefined, { authorization: `Bearer ${keyOf(id)}` })).body.items as any[];

describe('confirmation without recipients', () => {
  it('notifies every routed user (role and id) in the inbox and reports them delivered', async () => {
    await h.saveWorkflow(
      confirmationWorkflow('ask-routed', {
        confirmationField: 'd',
        options: ['approve', 'reject'],
        routing: ['role:manager', 'eve'],
        timeoutMs: 60_000,
      }),
    );
    const run = await h.start('ask-routed', { model: {} }, '?wait=5000');
    expect(run.status).toBe('waiting');
    for (const id of ['ann', 'bob', 'cid', 'eve']) {
      const items = await inboxOf(id);
      expect(
        items.filter((i) => i.data?.runId === run.id),
        id,
      ).toHaveLength(1);
      expect(items[0].data).toMatchObject({ kind: 'confirmation', stepId: 'ask', options: ['approve', 'reject'] });
    }
    expect(await inboxOf('dana')).toEqual([]);
    const history = (await h.api('GET', `/api/runs/${run.id}/history`)).body.items as any[];
    const done = history.find((e) => e.stepId === 'ask' && e.detail?.notified);
    expect(done.detail.notified).toEqual({ delivered: 4, recipients: 4 });
  });

  it('keeps notifying only the named users when users are given', async () => {
    await h.saveWorkflow({
      name: 'ask-named',
      stages: [
        {
          id: 's',
          name: 'S',
          steps: [
            {
              id: 'ask',
              type: 'getUserConfirmation',
              confirmationField: 'd',
              options: ['ok'],
              routing: ['role:manager'],
              users: ['ann'],
              timeoutMs: 60_000,
            },
          ],
        },
      ],
    });
    const run = await h.start('ask-named', { model: {} }, '?wait=5000');
    expect((await inboxOf('ann')).filter((i) => i.data?.runId === run.id)).toHaveLength(1);
    expect((await inboxOf('bob')).filter((i) => i.data?.runId === run.id)).toHaveLength(0);
  });
});
