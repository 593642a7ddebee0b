/**
 * The README's screenshots, taken from one set of sample data: the builder (1280×800) on a
 * 3-stage workflow, the runs list, a run page, tasks, and the builder at 390 px. Written to
 * docs/screenshots only with UPDATE_SCREENSHOTS=1 (SCREENSHOT_DIR picks another folder, as the
 * "before" set in docs/screenshots/before was taken), else to test-results.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, keyOf, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, openSession } from './browser.ts';

let h: Harness;
let browser: Browser;
const DIR = path.resolve(
  process.env.UPDATE_SCREENSHOTS === '1' ? (process.env.SCREENSHOT_DIR ?? 'docs/screenshots') : 'test-results/screens',
);

beforeAll(async () => {
  [h, browser] = await Promise.all([startHarness(), launchBrowser()]);
  mkdirSync(DIR, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(DIR, name), fullPage: false });
const settle = (page: Page) => page.waitForLoadState('networkidle').then(() => page.waitForTimeout(300));

const SAMPLE = {
  name: 'purchase',
  title: 'Purchase approval',
  stages: [
    {
      id: 'intake',
      name: 'Intake',
      steps: [
        { id: 'mark', type: 'updateModelField', field: 'status', value: 'submitted' },
        {
          id: 'large',
          type: 'ifCondition',
          field: 'amount',
          operator: 'greater',
          value: 100,
          then: [{ id: 'flag', type: 'updateModelField', field: 'review', value: true }],
          else: [{ id: 'auto', type: 'updateModelField', field: 'review', value: false }],
        },
        { id: 'save', type: 'updateModel' },
      ],
    },
    {
      id: 'approval',
      name: 'Approval',
      steps: [
        {
          id: 'ask',
          type: 'getUserConfirmation',
          confirmationField: 'decision',
          options: ['approve', 'reject'],
          routing: ['role:manager'],
          timeoutMs: 600_000,
        },
        {
          id: 'route',
          type: 'switchCase',
          sourceField: 'decision',
          cases: [
            { value: 'approve', steps: [{ id: 'approved', type: 'updateModelField', field: 'status', value: 'approved' }] },
            { value: 'reject', steps: [{ id: 'rejected', type: 'finish', outcome: 'rejected' }] },
          ],
        },
      ],
    },
    {
      id: 'notify',
      name: 'Notify',
      steps: [
        { id: 'tell', type: 'sendNotification', channel: 'email', users: ['ann'], message: 'Purchase {{ model.item }} approved' },
        { id: 'done', type: 'finish', outcome: 'approved' },
      ],
    },
  ],
};

describe('screenshots', () => {
  it('takes the README screenshots of every page', async () => {
    await h.saveWorkflow(SAMPLE);
    const waiting = await h.start('purchase', { model: { amount: 250, item: 'laptop' } });
    await h.waitFor(waiting.id, (r) => r.status === 'waiting');
    await h.start('purchase', { model: { amount: 50, item: 'pens' } });

    const admin = await openSession(browser, ADMIN_KEY);
    await admin.page.goto(`${h.base}/builder/purchase`);
    await admin.page.locator('.card[data-step-id="ask"]').first().waitFor();
    await settle(admin.page);
    await shot(admin.page, 'builder.png');

    await admin.page.goto(`${h.base}/runs`);
    await admin.page.locator(`[data-run-id="${waiting.id}"]`).first().waitFor();
    await settle(admin.page);
    await shot(admin.page, 'runs.png');

    await admin.page.goto(`${h.base}/runs/${waiting.id}`);
    await admin.page.locator('#run-status[data-status="waiting"]').waitFor();
    await settle(admin.page);
    await shot(admin.page, 'run.png');

    const bob = await openSession(browser, keyOf('bob'));
    await bob.page.goto(`${h.base}/tasks`);
    await bob.page.locator(`article.task[data-run-id="${waiting.id}"]`).waitFor();
    await settle(bob.page);
    await shot(bob.page, 'tasks.png');

    const phone = await openSession(browser, ADMIN_KEY, { width: 390, height: 844 });
    await phone.page.goto(`${h.base}/builder/purchase`);
    await phone.page.locator('.card[data-step-id="ask"]').first().waitFor();
    await settle(phone.page);
    await shot(phone.page, 'builder-390.png');
    await phone.page.goto(`${h.base}/runs`);
    await phone.page.locator(`[data-run-id="${waiting.id}"]`).first().waitFor();
    await settle(phone.page);
    await shot(phone.page, 'runs-390.png');
    expect([...admin.errors, ...bob.errors, ...phone.errors]).toEqual([]);
  });
});
