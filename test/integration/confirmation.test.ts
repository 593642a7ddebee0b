import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../src/steps/services.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { createDirectory } from '../../src/notify/directory.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { keyOf, startHarness, TEST_PRINCIPALS, type Harness } from '../helpers/harness.ts';
import { jobCounts } from '../helpers/queues.ts';

const sent: OutgoingMessage[] = [];
let h: Harness;

const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
const history = async (id: string) => (await h.api('GET', `/api/runs/${id}/history`)).body.items as any[];

function approval(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    stages: [
      {
        id: 'ask',
        name: 'Ask',
        steps: [
          {
            id: 'decide',
            type: 'getUserConfirmation',
            confirmationField: 'decision',
            options: ['approve', 'reject'],
            routing: ['role:manager'],
            userInfoField: 'approvers',
            timeoutMs: 60_000,
            ...extra,
          },
        ],
      },
      { id: 'after', name: 'After', steps: [{ id: 'mark', type: 'updateModelField', field: 'after', value: true }] },
    ],
  };
}

beforeAll(async () => {
  const registry = PrincipalRegistry.fromJson(TEST_PRINCIPALS, 'test');
  h = await startHarness({
    engine: {
      services: () => ({
        ...unconfiguredServices(),
        directory: createDirectory(registry),
        // records what would be delivered; the channels themselves are tested in notify.test.ts
        notifier: {
          deliver: async (msg: OutgoingMessage) => {
            sent.push(msg);
            return { delivered: msg.recipients.length, alreadySent: 0, unreachable: [] };
          },
        },
      }),
    },
  });
  await h.saveWorkflow(approval('approve-any'));
  await h.saveWorkflow(approval('approve-all', { policy: 'all' }));
  await h.saveWorkflow(approval('approve-quorum', { policy: { quorum: 2 } }));
  await h.saveWorkflow(approval('approve-timeout', { timeoutMs: 300, onTimeout: { option: 'reject' } }));
  await h.saveWorkflow(approval('approve-timeout-fail', { timeoutMs: 300, onTimeout: 'fail' }));
  await h.saveWorkflow(approval('approve-remind', { policy: 'all', reminderMs: 1000 }));
});
afterAll(() => h.close());

describe('getUserConfirmation', () => {
  it('parks the run without a job; a routed answer continues it with the option in the model', async () => {
    const run = await h.start('approve-any', { model: { approvers: ['ann'] } }, '?wait=5000');
    expect(run).toMatchObject({
      status: 'waiting',
      step: { id: 'decide' },
      confirmation: { stepId: 'decide', options: ['approve', 'reject'], routing: ['role:manager'], recipients: ['ann'] },
    });
    const counts = await jobCounts(h.engine.queue, 'active', 'waiting', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + (b ?? 0), 0)).toBe(0);

    const tasks = (await h.api('GET', '/api/tasks', undefined, as('bob'))).body.items;
    expect(tasks.map((t: any) => t.runId)).toContain(run.id);
    expect((await h.api('GET', '/api/tasks', undefined, as('eve'))).body.items.map((t: any) => t.runId)).not.toContain(run.id);

    const res = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve', comment: 'looks fine' }, as('bob'));
    expect(res.status).toBe(200);
    expect(res.body.resolved).toBe(true);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.model).toMatchObject({ decision: 'approve', after: true });
    const items = await history(run.id);
    expect(items.find((e) => e.type === 'confirmation.answered')).toMatchObject({
      by: 'bob',
      stepId: 'decide',
      detail: { option: 'approve', comment: 'looks fine' },
    });
    expect(items.filter((e) => e.type === 'step.completed' && e.stepId === 'decide')).toHaveLength(1);
    // The step that parked has its start and, once answered, its end; the pure step after it is
    // one entry whose start is at − durationMs.
    expect(items.filter((e) => e.stepId === 'decide').map((e) => e.type)).toEqual([
      'step.started',
      'run.waiting',
      'confirmation.answered',
      'step.completed',
    ]);
    const mark = items.filter((e) => e.stepId === 'mark' && e.type.startsWith('step.'));
    expect(mark).toEqual([expect.objectContaining({ type: 'step.completed', attempt: 1, durationMs: expect.any(Number) })]);
    expect((await h.api('GET', '/api/tasks', undefined, as('bob'))).body.items.map((t: any) => t.runId)).not.toContain(run.id);
  });

  it('refuses unrouted callers (403), unknown options (400) and a second answer (409)', async () => {
    const run = await h.start('approve-any', { model: {} }, '?wait=5000');
    const outsider = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('eve'));
    expect(outsider.status).toBe(403);
    const unknown = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'maybe' }, as('ann'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].path).toBe('$.option');
    const bad = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 7 }, as('ann'));
    expect(bad.status).toBe(400);
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('waiting');
    expect((await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'reject' }, as('ann'))).status).toBe(200);
    const second = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('bob'));
    expect(second.status).toBe(409);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.model.decision).toBe('reject');
  });

  it('20 concurrent answers make exactly one transition', async () => {
    const run = await h.start('approve-any', { model: {} }, '?wait=5000');
    const who = ['ann', 'bob', 'cid'];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.api('POST', `/api/runs/${run.id}/confirm`, { option: i % 2 ? 'approve' : 'reject' }, as(who[i % 3]!)),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
    await h.waitFor(run.id, (r) => r.status === 'completed');
    const items = await history(run.id);
    expect(items.filter((e) => e.type === 'confirmation.answered')).toHaveLength(1);
    expect(items.filter((e) => e.type === 'step.completed' && e.stepId === 'decide')).toHaveLength(1);
    expect(items.filter((e) => e.type === 'step.completed' && e.stepId === 'mark')).toHaveLength(1);
  });

  it('policy all waits for every recipient; one dissent decides at once', async () => {
    const run = await h.start('approve-all', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    const first = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('ann'));
    expect(first.body).toMatchObject({ resolved: false, run: { status: 'waiting' } });
    const again = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('ann'));
    expect(again.status).toBe(409);
    const second = await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('bob'));
    expect(second.body.resolved).toBe(true);
    expect((await h.waitFor(run.id, (r) => r.status === 'completed')).model.decision).toBe('approve');

    const split = await h.start('approve-all', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    await h.api('POST', `/api/runs/${split.id}/confirm`, { option: 'approve' }, as('ann'));
    const dissent = await h.api('POST', `/api/runs/${split.id}/confirm`, { option: 'reject' }, as('bob'));
    expect(dissent.body.resolved).toBe(true);
    expect((await h.waitFor(split.id, (r) => r.status === 'completed')).model.decision).toBe('reject');
  });

  it('policy all: a dissent decides with its option whatever the order; unanimity needs the first option', async () => {
    const answer = (id: string, who: string, option: string) => h.api('POST', `/api/runs/${id}/confirm`, { option }, as(who));
    const decided = async (id: string) => (await h.waitFor(id, (r) => r.status === 'completed')).model.decision;

    const rejectFirst = await h.start('approve-all', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    expect((await answer(rejectFirst.id, 'bob', 'reject')).body.resolved).toBe(true);
    expect((await answer(rejectFirst.id, 'ann', 'approve')).status).toBe(409);
    expect(await decided(rejectFirst.id)).toBe('reject');

    const approveFirst = await h.start('approve-all', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    expect((await answer(approveFirst.id, 'ann', 'approve')).body.resolved).toBe(false);
    expect((await answer(approveFirst.id, 'bob', 'reject')).body.resolved).toBe(true);
    expect(await decided(approveFirst.id)).toBe('reject');

    const unanimous = await h.start('approve-all', { model: { approvers: ['ann', 'bob', 'cid'] } }, '?wait=5000');
    for (const who of ['cid', 'ann', 'bob']) await answer(unanimous.id, who, 'approve');
    expect(await decided(unanimous.id)).toBe('approve');

    for (let i = 0; i < 10; i++) {
      const run = await h.start('approve-all', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
      const results = await Promise.all([answer(run.id, 'bob', 'reject'), answer(run.id, 'ann', 'approve')]);
      expect(results.filter((r) => r.status === 200 && r.body.resolved === true)).toHaveLength(1);
      expect(await decided(run.id)).toBe('reject');
      const items = await history(run.id);
      expect(items.filter((e) => e.type === 'step.completed' && e.stepId === 'decide')).toHaveLength(1);
    }
  });

  it('policy quorum resolves when n answers agree', async () => {
    const run = await h.start('approve-quorum', { model: { approvers: ['role:manager'] } }, '?wait=5000');
    expect((await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'reject' }, as('ann'))).body.resolved).toBe(false);
    expect((await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('bob'))).body.resolved).toBe(false);
    expect((await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('cid'))).body.resolved).toBe(true);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.model.decision).toBe('approve');
    const detail = (await history(run.id)).find((e) => e.type === 'step.completed' && e.stepId === 'decide').detail;
    expect(Object.keys(detail.answers).sort()).toEqual(['ann', 'bob', 'cid']);
  });

  it('a timeout applies onTimeout: an option, or failing the run', async () => {
    const run = await h.start('approve-timeout', { model: {} }, '?wait=5000');
    expect(run.status).toBe('waiting');
    const done = await h.waitFor(run.id, (r) => r.status === 'completed', 10_000);
    expect(done.model.decision).toBe('reject');
    expect((await history(run.id)).map((e) => e.type)).toContain('confirmation.timedOut');

    const failing = await h.start('approve-timeout-fail', { model: {} }, '?wait=5000');
    const failed = await h.waitFor(failing.id, (r) => r.status === 'failed', 10_000);
    expect(failed.error).toMatchObject({ code: 'CONFIRMATION_TIMEOUT', stepId: 'decide' });
    expect((await h.api('POST', `/api/runs/${failing.id}/confirm`, { option: 'approve' }, as('ann'))).status).toBe(409);
  });

  it('sends each recipient signed links that work once; tampered and expired links are refused', async () => {
    sent.length = 0;
    const run = await h.start('approve-any', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    expect(sent.map((m) => m.recipients[0]!.id).sort()).toEqual(['ann', 'bob']);
    const toAnn = sent.find((m) => m.recipients[0]!.id === 'ann')!;
    const link = (toAnn.data!.links as Record<string, string>).approve!;
    const path = new URL(link).pathname;
    expect(toAnn.body).toContain(link);

    const page = await fetch(h.base + path);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('approve');
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('waiting');

    const tampered = path.slice(0, -3) + (path.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await fetch(h.base + tampered, { method: 'POST', headers: { accept: 'application/json' } })).status).toBe(403);

    const used = await fetch(h.base + path, { method: 'POST', headers: { accept: 'application/json' } });
    expect(used.status).toBe(200);
    expect((await used.json()).resolved).toBe(true);
    const again = await fetch(h.base + path, { method: 'POST', headers: { accept: 'application/json' } });
    expect(again.status).toBe(409);
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.model.decision).toBe('approve');
    expect((await history(run.id)).find((e) => e.type === 'confirmation.answered').by).toBe('ann');

    const expired = await h.engine.links.url({
      runId: run.id,
      stepId: 'decide',
      seq: 1,
      principalId: 'ann',
      option: 'approve',
      exp: Date.now() - 1,
    });
    const res = await fetch(h.base + new URL(expired).pathname, { method: 'POST', headers: { accept: 'application/json' } });
    expect(res.status).toBe(403);
  });

  it('an answer link of a closed confirmation shows a closed page saying how it closed, with no Confirm button', async () => {
    const linkOf = (who: string, option: string) => {
      const msg = sent.filter((m) => m.recipients[0]!.id === who).at(-1)!;
      return new URL((msg.data!.links as Record<string, string>)[option]!).pathname;
    };
    const closedPage = async (path: string) => {
      const res = await fetch(h.base + path);
      const html = await res.text();
      expect(res.status).toBe(409);
      expect(html).toContain('This request is closed');
      expect(html).not.toMatch(/<form|<button/i);
      return html;
    };

    // cancelled
    sent.length = 0;
    const cancelled = await h.start('approve-any', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    const open = await fetch(h.base + linkOf('ann', 'approve'));
    expect(await open.text()).toMatch(/<form/);
    await h.api('POST', `/api/runs/${cancelled.id}/cancel`, {});
    expect(await closedPage(linkOf('ann', 'approve'))).toMatch(/the run was cancelled by admin at \d{4}-\d\d-\d\dT/);

    // decided by someone else
    sent.length = 0;
    const decided = await h.start('approve-any', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    await h.api('POST', `/api/runs/${decided.id}/confirm`, { option: 'reject' }, as('bob'));
    await h.waitFor(decided.id, (r) => r.status === 'completed');
    expect(await closedPage(linkOf('ann', 'approve'))).toMatch(/decided with &#34;reject&#34; by bob at \d{4}-/);

    // timed out (onTimeout: reject)
    sent.length = 0;
    const timed = await h.start('approve-timeout', { model: { approvers: ['ann'] } }, '?wait=5000');
    await h.waitFor(timed.id, (r) => r.status === 'completed');
    expect(await closedPage(linkOf('ann', 'approve'))).toMatch(/timed out at \d{4}-.*&#34;reject&#34;/);

    // answering a timed-out link is refused as expired (its deadline was the timeout); nothing changes
    const post = await fetch(h.base + linkOf('ann', 'approve'), { method: 'POST', headers: { accept: 'application/json' } });
    expect(post.status).toBe(403);
    expect((await h.api('GET', `/api/runs/${timed.id}`)).body.model.decision).toBe('reject');

    // a principal who may no longer read the run (the workflow was restricted since) learns only that it closed
    sent.length = 0;
    await h.saveWorkflow(approval('approve-later-restricted'));
    const hidden = await h.start('approve-later-restricted', { model: { approvers: ['ann'] } }, '?wait=5000');
    await h.saveWorkflow({ ...approval('approve-later-restricted'), restrictAccess: true, access: { operate: ['bob'] } });
    await h.api('POST', `/api/runs/${hidden.id}/cancel`, {});
    const vague = await closedPage(linkOf('ann', 'approve'));
    expect(vague).toMatch(/no longer waiting for an answer/);
    expect(vague).not.toMatch(/cancelled|admin/);
  });

  it('reminds only the recipients who have not answered, until the wait ends', async () => {
    const run = await h.start('approve-remind', { model: { approvers: ['ann', 'bob'] } }, '?wait=5000');
    await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('ann'));
    sent.length = 0;
    const end = Date.now() + 8000;
    while (sent.filter((m) => m.data?.runId === run.id).length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    const reminders = sent.filter((m) => m.data?.runId === run.id);
    expect(reminders.length).toBeGreaterThanOrEqual(2);
    expect(new Set(reminders.map((m) => m.recipients[0]!.id))).toEqual(new Set(['bob']));
    const reminded = (await history(run.id)).filter((e) => e.type === 'confirmation.reminded');
    expect(reminded[0]).toMatchObject({ stepId: 'decide', detail: { n: 1, recipients: ['bob'] } });
    await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('bob'));
    await h.waitFor(run.id, (r) => r.status === 'completed');
    sent.length = 0;
    await new Promise((r) => setTimeout(r, 1300));
    expect(sent.filter((m) => m.data?.runId === run.id)).toEqual([]);
  });

  it('resetToDraft and cancel close an open confirmation', async () => {
    const run = await h.start('approve-any', { model: {} }, '?wait=5000');
    await h.api('POST', `/api/runs/${run.id}/cancel`, {});
    expect((await h.api('POST', `/api/runs/${run.id}/confirm`, { option: 'approve' }, as('ann'))).status).toBe(409);
    expect((await h.api('GET', '/api/tasks', undefined, as('ann'))).body.items.map((t: any) => t.runId)).not.toContain(run.id);
  });
});
