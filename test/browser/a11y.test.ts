/**
 * axe-core scans of every page in Chromium (axe's source injected with page.evaluate; the pages'
 * CSP allows no inline script, so the context bypasses CSP): no serious or critical violation.
 * Also the dataflow page end to end, and the runs list at 390 px as cards.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, keyOf, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, screenshot } from './browser.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let h: Harness;
let browser: Browser;
let waitingRun = '';
let failedRun = '';

beforeAll(async () => {
  [h, browser] = await Promise.all([startHarness(), launchBrowser()]);
  await h.saveWorkflow({
    name: 'a11y-flow',
    stages: [
      {
        id: 'in',
        name: 'Intake',
        steps: [
          {
            id: 'check',
            type: 'ifCondition',
            field: 'amount',
            operator: 'greater',
            value: 100,
            then: [{ id: 'flag', type: 'updateModelField', field: 'review', value: true }],
          },
          { id: 'route', type: 'switchCase', sourceField: 'kind', cases: [{ value: 'ask', steps: [] }] },
        ],
      },
      {
        id: 'ask',
        name: 'Ask',
        steps: [
          {
            id: 'decide',
            type: 'getUserConfirmation',
            confirmationField: 'd',
            options: ['approve', 'reject'],
            routing: ['role:manager'],
            timeoutMs: 600_000,
          },
        ],
      },
    ],
  });
  waitingRun = (await h.start('a11y-flow', { model: { amount: 500, kind: 'ask' } }, '?wait=5000')).id;
  failedRun = (await h.start('a11y-flow', { model: { amount: 5, kind: 'other' } }, '?wait=5000')).id;
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

async function page(key: string | undefined, viewport = { width: 1280, height: 800 }): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport, bypassCSP: true });
  context.setDefaultTimeout(10_000);
  if (key) await context.addInitScript((k) => sessionStorage.setItem('stageflow.apiKey', k), key);
  const p = await context.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
      errors.push(m.text());
  });
  return { page: p, errors };
}

async function scan(p: Page): Promise<string[]> {
  await p.evaluate(AXE);
  const result = await p.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')) }));
  });
  return result
    .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: any) => `${v.id} (${v.impact}): ${v.nodes.join(', ')}`);
}

describe('axe scan', () => {
  const pages: [string, string | undefined, () => string, string][] = [
    ['sign-in', undefined, () => '/runs', '#signin-key'],
    ['workflows', ADMIN_KEY, () => '/builder', '#workflow-list'],
    ['builder', ADMIN_KEY, () => '/builder/a11y-flow', '.card[data-step-id="decide"]'],
    ['new workflow', ADMIN_KEY, () => '/builder?new=1', '#wf-name'],
    ['runs', ADMIN_KEY, () => '/runs', `tr[data-run-id]`],
    ['waiting run', ADMIN_KEY, () => `/runs/${waitingRun}`, '#run-status[data-status="waiting"]'],
    ['failed run', ADMIN_KEY, () => `/runs/${failedRun}`, '#run-status[data-status="failed"]'],
    ['tasks', keyOf('bob'), () => '/tasks', 'article.task'],
    ['dataflows', ADMIN_KEY, () => '/dataflows', '#df-name'],
    ['admin sign-in', undefined, () => '/admin/login', '#admin-key'],
  ];
  for (const [name, key, path, ready] of pages) {
    it(`${name}: no serious or critical violations`, async () => {
      const { page: p, errors } = await page(key);
      await p.goto(h.base + path());
      await p.locator(ready).first().waitFor();
      await p.waitForTimeout(150);
      expect(await scan(p)).toEqual([]);
      expect(errors).toEqual([]);
      await p.context().close();
    });
  }

  it('builder with a step selected, and at 390 px with the sheet open', async () => {
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      const { page: p } = await page(ADMIN_KEY, viewport);
      await p.goto(`${h.base}/builder/a11y-flow`);
      await p.locator('.card[data-step-id="decide"] .card-main').click();
      await p.locator('#step-settings input').first().waitFor();
      expect(await scan(p), `${viewport.width}px`).toEqual([]);
      await p.context().close();
    }
  });
});

describe('failed run page', () => {
  it('says Failed and why, in words', async () => {
    const { page: p, errors } = await page(ADMIN_KEY);
    await p.goto(`${h.base}/runs/${failedRun}`);
    await until(() => p.locator('#run-summary').textContent()).toMatch(/^Failed .*at step route/);
    expect(await p.locator('#live').textContent()).toBe('Failed: no more updates');
    expect(await p.locator('.timeline [data-type="run.failed"] .event-text').textContent()).toMatch(/^Run failed: /);
    expect(await p.locator('.timeline [data-type="run.started"] .event-text').textContent()).toBe('Run started by admin');
    // the raw detail is folded
    expect(await p.locator('.timeline [data-type="run.failed"] details').getAttribute('open')).toBeNull();
    expect(await p.locator('#run-extra').count()).toBe(1);
    expect(errors).toEqual([]);
    await p.context().close();
  });
});

describe('tasks', () => {
  it('styles answers by intent: the first primary, a refusal as danger', async () => {
    const { page: p } = await page(keyOf('bob'));
    await p.goto(`${h.base}/tasks`);
    const task = p.locator(`article.task[data-run-id="${waitingRun}"]`);
    expect(await task.getByRole('button', { name: 'approve' }).getAttribute('class')).toBe('option primary');
    expect(await task.getByRole('button', { name: 'reject' }).getAttribute('class')).toBe('option danger');
    await p.context().close();
  });
});

describe('runs list', () => {
  it('shows short ids with the full id in the title, entry and version, relative times; cards at 390 px', async () => {
    const { page: p, errors } = await page(ADMIN_KEY, { width: 390, height: 844 });
    await p.goto(`${h.base}/runs`);
    const link = p.locator(`tr[data-run-id="${waitingRun}"] a.run-link`);
    await link.waitFor();
    expect(await link.getAttribute('title')).toBe(waitingRun);
    expect((await link.textContent())!.length).toBeLessThan(waitingRun.length);
    expect(await p.locator(`tr[data-run-id="${waitingRun}"] td[data-label="Version"]`).textContent()).toBe('v1');
    expect(await p.locator(`tr[data-run-id="${waitingRun}"] td[data-label="Entry"] code`).count()).toBe(1);
    expect(await p.locator(`tr[data-run-id="${waitingRun}"] time`).textContent()).toMatch(/ago|just now/);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await p.locator(`tr[data-run-id="${waitingRun}"]`).evaluate((tr) => getComputedStyle(tr).display)).toBe('block');
    await screenshot(p, 'runs-phone');
    // auto refresh picks up a new run by itself
    const fresh = await h.start('a11y-flow', { model: { amount: 1, kind: 'ask' } }, '?wait=5000');
    await expect.poll(() => p.locator(`tr[data-run-id="${fresh.id}"]`).count(), { timeout: 15_000, interval: 200 }).toBe(1);
    expect(errors).toEqual([]);
    await p.context().close();
  });

  it('has an empty state for filters that match nothing', async () => {
    const { page: p } = await page(ADMIN_KEY);
    await p.goto(`${h.base}/runs?status=draft`);
    await until(() => p.locator('#no-runs').textContent()).toContain('No runs match these filters.');
    await p.context().close();
  });
});

describe('dataflow page', () => {
  it('registers, edits and tests a module dataflow, and tests a workflow dataflow', async () => {
    const { page: p, errors } = await page(ADMIN_KEY);
    await p.goto(`${h.base}/dataflows`);
    await until(() => p.locator('#no-dataflows').count()).toBe(1);
    await p.getByLabel('Name', { exact: true }).fill('echo-ui');
    await p.getByLabel('Kind').selectOption('module');
    await p.getByLabel('Module', { exact: true }).fill('no/such');
    await p.locator('#df-save').click();
    await until(() => p.locator('#df-module-err').textContent()).toContain('must name a file');
    await p.getByLabel('Module', { exact: true }).fill('echo');
    await p.locator('#df-save').click();
    await until(() => p.locator('#df-status').textContent()).toBe('Registered echo-ui.');
    await until(() => p.locator('tr[data-dataflow="echo-ui"]').count()).toBe(1);
    await p.getByLabel('Input (JSON)').fill('{"hello": [1, 2]}');
    await p.locator('#df-test-run').click();
    await until(() => p.locator('#df-test-json').textContent()).toBe(JSON.stringify({ hello: [1, 2] }, null, 2));
    await screenshot(p, 'dataflows', { docs: 'dataflows.png' });

    await p.getByRole('button', { name: 'Edit echo-ui' }).click();
    await p.getByLabel('Timeout ms (optional)').fill('5000');
    await p.locator('#df-save').click();
    await until(() => p.locator('#df-status').textContent()).toBe('Saved echo-ui.');
    expect((await h.api('GET', '/api/dataflows/echo-ui')).body).toMatchObject({ kind: 'module', module: 'echo', timeoutMs: 5000 });

    await p.getByRole('button', { name: 'New dataflow' }).click();
    await p.getByLabel('Name', { exact: true }).fill('child-ui');
    await p.getByLabel('Kind').selectOption('workflow');
    await p.getByLabel('Workflow', { exact: true }).fill('a11y-flow');
    await p.locator('#df-save').click();
    await until(() => p.locator('#df-status').textContent()).toBe('Registered child-ui.');
    await p.getByLabel('Input (JSON)').fill('{"amount": 1, "kind": "ask"}');
    await p.locator('#df-test-run').click();
    await until(() => p.locator('#df-test-result').textContent()).toContain('Run waiting.');
    expect(errors).toEqual([]);
    await p.context().close();
  });

  it('tells non-designers the page is not for them', async () => {
    const { page: p } = await page(keyOf('bob'));
    await p.goto(`${h.base}/dataflows`);
    await until(() => p.locator('#dataflows-forbidden').count()).toBe(1);
    await p.context().close();
  });
});
