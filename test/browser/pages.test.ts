/**
 * The web pages in a real browser (Debian Chromium via playwright-core) against an in-process
 * stageflow with a worker: building a workflow by clicks, validation on the right card, a run
 * watched live while it is answered on /tasks, and what a user without access does not see.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, keyOf, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, openSession, screenshot, type Session } from './browser.ts';

let h: Harness;
let browser: Browser;
const sessions: Session[] = [];

async function session(key?: string, viewport?: { width: number; height: number }) {
  const s = await openSession(browser, key, viewport);
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  [h, browser] = await Promise.all([startHarness(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** Waits for the UI (polling, no fixed sleeps): vitest's expect.poll with a browser-sized timeout. */
const until = <T>(fn: () => T | Promise<T>, opts: { timeout?: number } = {}) => expect.poll(fn, { timeout: 10_000, interval: 50, ...opts });
const settings = (page: Page) => page.locator('#step-settings');
const card = (page: Page, stepId: string) => page.locator(`.card[data-step-id="${stepId}"]`);

describe('serving', () => {
  it('serves the pages and their modules without auth under a strict CSP; Bull Board gets a same-origin one', async () => {
    for (const path of ['/builder', '/builder/x', '/runs', '/runs/x', '/tasks', '/signin', '/ui/js/app.js', '/ui/app.css']) {
      const res = await fetch(h.base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy'), path).toMatch(/script-src 'self';style-src 'self'/);
    }
    expect((await fetch(`${h.base}/ui/missing.js`)).status).toBe(404);
    const board = await fetch(`${h.base}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(board.status).toBe(200);
    expect(board.headers.get('content-security-policy')).toContain("font-src 'self'");
    expect((await h.api('GET', '/api/me', undefined, { authorization: `Bearer ${keyOf('bob')}` })).body).toEqual({
      id: 'bob',
      roles: ['manager'],
      name: 'Bob',
      designer: false,
    });
    expect((await fetch(`${h.base}/api/me`)).status).toBe(401);
  });
});

describe('builder', () => {
  it('builds a two-stage workflow by clicks and saves exactly what was built', async () => {
    const { page, errors } = await session();
    await page.goto(`${h.base}/builder`);
    // the sign-in screen: a wrong key is refused; the right one is kept for the tab
    await page.getByLabel('API key').fill('not-a-key-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(() => page.getByRole('alert').textContent()).toBe('That key is not valid.');
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'New workflow' }).click();
    await until(() => page.locator('#builder-title').textContent()).toBe('New workflow');

    await page.getByLabel('Workflow name').fill('browser-built');
    await page.getByLabel('Title').fill('Built in the browser');
    for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Add stage' }).click();
    await until(() => page.locator('.stage').count()).toBe(3);
    const firstName = page.getByLabel('Name of stage 1');
    await firstName.fill('Intake');
    await firstName.press('Tab');

    // stage 1: updateModelField, then an ifCondition with a step in its then branch
    await page.getByRole('button', { name: 'Add step to stage Intake' }).click();
    await page.locator('#toolbox').getByRole('button', { name: 'Update model field' }).click();
    await settings(page).getByLabel('Field', { exact: true }).fill('status');
    await settings(page).getByLabel('Value', { exact: true }).fill('submitted');
    await page.locator('#toolbox').getByRole('button', { name: 'If condition' }).click();
    await settings(page).getByLabel('Field', { exact: true }).fill('amount');
    await settings(page).getByLabel('Operator').selectOption('greater');
    await settings(page).getByLabel('Value', { exact: true }).fill('100');
    await page.getByRole('button', { name: 'Add step to then of if-condition-1' }).click();
    await page.locator('#toolbox').getByRole('button', { name: 'Update model field' }).click();
    await settings(page).getByLabel('Field', { exact: true }).fill('review');
    await settings(page).getByLabel('Value', { exact: true }).fill('true');
    await until(() => page.locator('.branch[aria-label="then branch of if-condition-1"] .card').getAttribute('data-step-id')).toBe(
      'update-model-field-2',
    );

    // stage 2: a finish, and a confirmation that is then moved on to stage 3
    await page.getByRole('button', { name: 'Add step to stage Stage 2' }).click();
    await page.locator('#toolbox').getByRole('button', { name: 'Finish' }).click();
    await page.locator('#toolbox').getByRole('button', { name: 'Get user confirmation' }).click();
    await settings(page).getByLabel('Confirmation field').fill('decision');
    await settings(page).getByLabel('Options', { exact: true }).fill('approve, reject');
    await settings(page).getByLabel('Routing').fill('role:manager');
    await settings(page).getByLabel('Timeout ms').fill('60000');
    // moved on with the keyboard: Alt+→ on the focused card
    await card(page, 'get-user-confirmation-1').locator('.card-main').focus();
    await page.keyboard.press('Alt+ArrowRight');
    await until(() => page.locator('.stage').nth(2).locator('.card').getAttribute('data-step-id')).toBe('get-user-confirmation-1');

    // "X" on a stage with steps asks first; cancelling keeps it
    await page.getByRole('button', { name: 'Delete stage Stage 2' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await until(() => page.locator('.stage').count()).toBe(3);
    await page.getByRole('button', { name: 'Delete stage Stage 2' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete stage' }).click();
    await until(() => page.locator('.stage').count()).toBe(2);

    await until(() => page.locator('#validity').getAttribute('data-state')).toBe('valid');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await until(() => page.locator('#save-status').textContent()).toContain('Saved as version 1.');
    await until(() => page.locator('#version-info').textContent()).toBe('version 1');
    expect(page.url()).toBe(`${h.base}/builder/browser-built`);
    await card(page, 'get-user-confirmation-1').getByRole('button').first().click();
    await screenshot(page, 'builder');

    const saved = await h.api('GET', '/api/workflows/browser-built');
    expect(saved.status).toBe(200);
    expect(saved.body.version).toBe(1);
    expect(saved.body.definition).toEqual({
      name: 'browser-built',
      title: 'Built in the browser',
      restrictAccess: false,
      stages: [
        {
          id: 'stage-1',
          name: 'Intake',
          steps: [
            { id: 'update-model-field-1', type: 'updateModelField', field: 'status', value: 'submitted' },
            {
              id: 'if-condition-1',
              type: 'ifCondition',
              field: 'amount',
              operator: 'greater',
              value: 100,
              then: [{ id: 'update-model-field-2', type: 'updateModelField', field: 'review', value: true }],
            },
          ],
        },
        {
          id: 'stage-3',
          name: 'Stage 3',
          steps: [
            {
              id: 'get-user-confirmation-1',
              type: 'getUserConfirmation',
              confirmationField: 'decision',
              options: ['approve', 'reject'],
              routing: ['role:manager'],
              policy: 'any',
              timeoutMs: 60000,
            },
          ],
        },
      ],
    });
    expect(errors).toEqual([]);
  });

  it('marks an invalid edit on the right (nested) card and refuses to save it', async () => {
    const definition = {
      name: 'invalid-edit',
      stages: [
        {
          id: 'only',
          name: 'Only',
          steps: [
            { id: 'first', type: 'updateModelField', field: 'a', value: 1 },
            {
              id: 'check',
              type: 'ifCondition',
              field: 'a',
              operator: 'equal',
              value: 1,
              then: [{ id: 'inner', type: 'updateModelField', field: 'b', value: 2 }],
            },
          ],
        },
      ],
    };
    await h.saveWorkflow(definition);
    const before = (await h.api('GET', '/api/workflows/invalid-edit')).body.definition;
    const { page, errors } = await session(ADMIN_KEY);
    await page.goto(`${h.base}/builder/invalid-edit`);
    await until(() => page.locator('#validity').getAttribute('data-state')).toBe('valid');

    await card(page, 'inner').getByRole('button').first().click();
    await settings(page).getByLabel('Field', { exact: true }).fill('');
    await until(() => page.locator('#validity').getAttribute('data-state')).toBe('invalid');
    await until(() => card(page, 'inner').getAttribute('class')).toContain('has-error');
    expect(await card(page, 'inner').locator('.card-issues').textContent()).toBe('Error: Field: Field is required');
    expect(await card(page, 'check').getAttribute('class')).not.toContain('has-error');
    expect(await card(page, 'first').getAttribute('class')).not.toContain('has-error');
    await until(() => settings(page).getByLabel('Field', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#problems').textContent()).toContain(
      'Stage “Only” › step “check” › then › step “inner” › Field: Field is required',
    );
    expect(await page.locator('#problems').textContent()).not.toContain('$.');

    // a duplicate id is marked on the step that repeats it
    await card(page, 'first').getByRole('button').first().click();
    await settings(page).getByLabel('Id', { exact: true }).fill('check');
    await until(() => page.locator('#problems').textContent()).toMatch(/duplicate step id "check"/i);
    await until(() => page.locator('.card.has-error').count()).toBe(2);

    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await until(() => page.locator('#save-status').textContent()).toContain('Not saved: the workflow has 2 problems');
    await screenshot(page, 'invalid-edit');
    const versions = await h.api('GET', '/api/workflows/invalid-edit/versions');
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([1]);
    expect((await h.api('GET', '/api/workflows/invalid-edit')).body.definition).toEqual(before);
    expect(errors).toEqual([]);
  });
});

describe('runs and tasks', () => {
  it('shows a run live: waiting, answered on /tasks by a routed user, completed', async () => {
    await h.saveWorkflow({
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
                {
                  value: 'approve',
                  steps: [
                    { id: 'approved', type: 'updateModelField', field: 'status', value: 'approved' },
                    { id: 'store', type: 'updateModel' },
                  ],
                },
                { value: 'reject', steps: [{ id: 'rejected', type: 'finish', outcome: 'rejected' }] },
              ],
            },
          ],
        },
      ],
    });
    const run = await h.start('purchase', { model: { amount: 250, item: 'laptop' } });

    const admin = await session(ADMIN_KEY);
    await admin.page.goto(`${h.base}/runs?workflow=purchase`);
    await admin.page.locator(`tr[data-run-id="${run.id}"] a.run-link`).click();
    await until(() => admin.page.locator('#run-status').getAttribute('data-status')).toBe('waiting');
    await until(() => card(admin.page, 'ask').getAttribute('data-state')).toBe('waiting');
    expect(await card(admin.page, 'flag').getAttribute('data-state')).toBe('done');
    expect(await card(admin.page, 'auto').getAttribute('data-state')).toBe('skipped');
    await screenshot(admin.page, 'run-waiting');

    // bob (role manager) answers on /tasks; the run page follows by itself
    const bob = await session(keyOf('bob'));
    await bob.page.goto(`${h.base}/tasks`);
    const task = bob.page.locator(`article.task[data-run-id="${run.id}"]`);
    await task.getByLabel('Comment (optional)').fill('within budget');
    await task.getByRole('button', { name: 'approve', exact: true }).click();
    await until(() => bob.page.locator('#tasks-status').textContent()).toContain('Answered “approve”');
    await until(() => task.count()).toBe(0);
    await screenshot(bob.page, 'tasks-answered');

    await until(() => admin.page.locator('#run-status').getAttribute('data-status')).toBe('completed');
    await until(() => card(admin.page, 'store').getAttribute('data-state')).toBe('done');
    expect(await card(admin.page, 'rejected').getAttribute('data-state')).toBe('skipped');
    expect(await admin.page.locator('.timeline [data-type="confirmation.answered"]').textContent()).toContain('by bob');
    expect(await admin.page.locator('.timeline [data-type="confirmation.answered"]').textContent()).toContain('within budget');
    await until(() => admin.page.locator('#run-entry-json').textContent()).toContain('"approved"');
    expect(await admin.page.locator('#run-actions').textContent()).toContain('Nothing to do');
    await screenshot(admin.page, 'run');
    expect([...admin.errors, ...bob.errors]).toEqual([]);
  });

  it('shows a user without access neither the restricted workflow nor its runs', async () => {
    await h.saveWorkflow({
      name: 'secret-flow',
      restrictAccess: true,
      access: { read: ['role:manager'], start: ['role:manager'] },
      stages: [{ id: 's', name: 'S', steps: [{ id: 'x', type: 'updateModelField', field: 'x', value: 1 }] }],
    });
    await h.saveWorkflow({
      name: 'open-flow',
      stages: [{ id: 's', name: 'S', steps: [{ id: 'x', type: 'updateModelField', field: 'x', value: 1 }] }],
    });
    const secret = await h.start('secret-flow', { model: {} }, '?wait=5000');
    const open = await h.start('open-flow', { model: {} }, '?wait=5000');

    // eve (role clerk) is named nowhere in secret-flow's access lists
    const { page, errors } = await session(keyOf('eve'), { width: 390, height: 844 });
    await page.goto(`${h.base}/builder`);
    await until(() => page.locator('#workflow-list tr[data-workflow="open-flow"]').count()).toBe(1);
    expect(await page.locator('#workflow-list tr[data-workflow="secret-flow"]').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'New workflow' }).count()).toBe(0);

    await page.goto(`${h.base}/runs`);
    await until(() => page.locator(`tr[data-run-id="${open.id}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-run-id="${secret.id}"]`).count()).toBe(0);
    expect(await page.locator('#filter-workflow option[value="secret-flow"]').count()).toBe(0);

    await page.goto(`${h.base}/runs/${secret.id}`);
    await until(() => page.locator('#run-not-found').textContent()).toBe('Run not found');
    await screenshot(page, 'no-access-run');
    await page.goto(`${h.base}/builder/secret-flow`);
    await until(() => page.locator('h1').textContent()).toBe('Workflow not found');

    // a manager, named in the access list, does see both
    const ann = await session(keyOf('ann'));
    await ann.page.goto(`${h.base}/runs?workflow=secret-flow`);
    await until(() => ann.page.locator(`tr[data-run-id="${secret.id}"]`).count()).toBe(1);
    expect([...errors, ...ann.errors]).toEqual([]);
  });
});

describe('run actions', () => {
  it('retries a failed run from a chosen step with a model patch, resubmits a draft, and cancels a waiting run', async () => {
    await h.saveWorkflow({
      name: 'ui-actions',
      stages: [
        {
          id: 'a',
          name: 'A',
          steps: [
            { id: 'prep', type: 'updateModelField', field: 'prepared', value: true },
            {
              id: 'route',
              type: 'switchCase',
              sourceField: 'kind',
              cases: [
                { value: 'ok', steps: [{ id: 'fine', type: 'updateModelField', field: 'done', value: true }] },
                { value: 'draft', steps: [{ id: 'back', type: 'resetToDraft' }] },
                {
                  value: 'ask',
                  steps: [
                    { id: 'q', type: 'getUserConfirmation', confirmationField: 'answer', options: ['yes'], routing: ['role:manager'] },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const { page, errors } = await session(ADMIN_KEY);
    const status = () => page.locator('#run-status').getAttribute('data-status');

    // failed (no case matches) → retry from "prep" with a patch → completed
    const failed = await h.start('ui-actions', { model: { kind: 'nope' } }, '?wait=5000');
    expect(failed.status).toBe('failed');
    await page.goto(`${h.base}/runs/${failed.id}`);
    await until(status).toBe('failed');
    await page.locator('#retry-from').selectOption('prep');
    await page.locator('#retry-patch').fill('{"kind": "ok"}');
    await page.locator('#retry-run').click();
    await until(status).toBe('completed');
    const retried = (await h.api('GET', `/api/runs/${failed.id}`)).body;
    expect(retried.model).toEqual({ kind: 'ok', prepared: true, done: true });
    const history = (await h.api('GET', `/api/runs/${failed.id}/history`)).body.items as any[];
    expect(history.find((e) => e.type === 'run.retried')).toMatchObject({
      by: 'admin',
      detail: { fromStepId: 'prep', modelPatched: true },
    });

    // draft → submit with a patch → completed
    const draft = await h.start('ui-actions', { model: { kind: 'draft' } }, '?wait=5000');
    expect(draft.status).toBe('draft');
    await page.goto(`${h.base}/runs/${draft.id}`);
    await until(status).toBe('draft');
    await page.locator('#submit-patch').fill('{"kind": "ok"}');
    await page.locator('#submit-run').click();
    await until(status).toBe('completed');

    // waiting → cancel (through the confirm dialog) → cancelled
    const waiting = await h.start('ui-actions', { model: { kind: 'ask' } }, '?wait=5000');
    expect(waiting.status).toBe('waiting');
    await page.goto(`${h.base}/runs/${waiting.id}`);
    await until(status).toBe('waiting');
    await page.locator('#cancel-run').click();
    await page.getByRole('button', { name: 'Cancel run' }).last().click();
    await until(status).toBe('cancelled');
    expect((await h.api('GET', `/api/runs/${waiting.id}`)).body.status).toBe('cancelled');
    await screenshot(page, 'run-actions');
    expect(errors).toEqual([]);
  });

  it('shows a 403 from the API instead of acting when the caller may not operate the run', async () => {
    const run = await h.start('ui-actions', { model: { kind: 'nope' } }, '?wait=5000');
    const { page } = await session(keyOf('eve'));
    await page.goto(`${h.base}/runs/${run.id}`);
    await until(() => page.locator('#run-status').getAttribute('data-status')).toBe('failed');
    await page.locator('#retry-run').click();
    await until(async () => (await page.locator('#action-status').textContent()) ?? '').toMatch(/may not|403|forbidden/i);
    expect((await h.api('GET', `/api/runs/${run.id}`)).body.status).toBe('failed');
  });
});
