/**
 * The operators' tools in a real browser: the run page's diagnosis in plain words with its
 * Repair button, and the builder's Test panel showing a simulated path.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepJobId } from '../../src/engine/scheduler.ts';
import { ADMIN_KEY, keyOf, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, openSession, screenshot, type Session } from './browser.ts';

let h: Harness;
let browser: Browser;
const sessions: Session[] = [];
const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

async function session(key: string) {
  const s = await openSession(browser, key);
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  // No worker: runs stay at their first step, so their job can be taken away.
  [h, browser] = await Promise.all([startHarness({ worker: false }), launchBrowser()]);
  await h.saveWorkflow(linearWorkflow('ui-stuck', 2));
  await h.saveWorkflow({
    name: 'ui-sim',
    stages: [
      {
        id: 'intake',
        name: 'Intake',
        steps: [{ id: 'tell', type: 'sendNotification', channel: 'inbox', users: ['ann'], message: 'Order {{id}} arrived' }],
      },
      {
        id: 'review',
        name: 'Review',
        steps: [
          {
            id: 'ask',
            type: 'getUserConfirmation',
            confirmationField: 'decision',
            options: ['approve', 'reject'],
            routing: ['role:manager'],
          },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('run page diagnosis', () => {
  it('says in plain words that the run has no job; Repair puts it back in the queue; no Repair for a non-operator', async () => {
    const run = await h.start('ui-stuck', { model: {} });
    const { page, errors } = await session(ADMIN_KEY);
    await page.goto(`${h.base}/runs/${run.id}`);
    await until(() => page.locator('#diagnosis-summary').textContent()).toMatch(/queued behind \d+ job/);

    await h.engine.queues.stepsOf(run.id).remove(stepJobId(run.id, 0));
    await until(() => page.locator('#diagnosis-summary').textContent()).toMatch(/Nothing will run step "s1": it has no job/);
    const ann = await session(keyOf('ann'));
    await ann.page.goto(`${h.base}/runs/${run.id}`);
    await until(() => ann.page.locator('#diagnosis-summary').textContent()).toMatch(/no job/);
    expect(await ann.page.locator('#repair-run').count()).toBe(0);

    await screenshot(page, 'diagnosis-no-job');
    await page.locator('#repair-run').click();
    await until(() => page.locator('.diagnosis-status').textContent()).toMatch(/Repaired/);
    await until(() => page.locator('#diagnosis-summary').textContent()).toMatch(/queued/);
    expect(await h.engine.queues.stepsOf(run.id).getJobState(stepJobId(run.id, 1))).toBe('waiting');
    expect(errors).toEqual([]);
    expect(ann.errors).toEqual([]);
  });
});

describe('builder Test panel', () => {
  it('simulates the saved version on a model and shows the path, the effects and the model', async () => {
    const { page, errors } = await session(ADMIN_KEY);
    await page.goto(`${h.base}/builder/ui-sim`);
    const panel = page.locator('#simulate-panel');
    await panel.getByLabel('Model (JSON)').fill('{"id": 7}');
    await panel.getByLabel('Stubs (JSON)').fill('{"ask": "reject"}');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await until(() => page.locator('#simulate-path li').allTextContents()).toEqual([
      'intake › tell (sendNotification)',
      'review › ask (getUserConfirmation)',
    ]);
    expect(await page.locator('#simulate-effects').textContent()).toContain('to ann: “Order 7 arrived”');
    expect(JSON.parse((await page.locator('#simulate-model').textContent())!)).toEqual({ id: 7, decision: 'reject' });
    // bad JSON is said, and nothing is sent
    await panel.getByLabel('Model (JSON)').fill('{nope');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await until(() => page.locator('#simulate-result').textContent()).toMatch(/The model is not JSON/);
    await screenshot(page, 'builder-test-panel');
    // no side effect: ann's inbox is empty, no run exists
    expect((await h.api('GET', '/api/me/notifications', undefined, { authorization: `Bearer ${keyOf('ann')}` })).body.items).toEqual([]);
    expect((await h.api('GET', '/api/runs?workflow=ui-sim')).body.items).toEqual([]);
    expect(errors).toEqual([]);
  });
});
