/**
 * The /templates page in Chromium: a designer writes a Liquid template and previews it, uploads a
 * docx, sees its tags and downloads a preview rendered against the sample model, which mammoth
 * reads back.
 */
import { readFileSync } from 'node:fs';
import mammoth from 'mammoth';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderDocx } from '../helpers/document-fixtures.ts';
import { ADMIN_KEY, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, openSession, screenshot, type Session } from './browser.ts';

let h: Harness;
let browser: Browser;
const sessions: Session[] = [];

beforeAll(async () => {
  [h, browser] = await Promise.all([startHarness(), launchBrowser()]);
});

afterAll(async () => {
  for (const s of sessions) await s.context.close();
  await browser?.close();
  await h?.close();
});

const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

describe('/templates', () => {
  it('creates a Liquid template and previews it; uploads a docx, shows its tags and downloads a preview', async () => {
    const s = await openSession(browser, ADMIN_KEY);
    sessions.push(s);
    const { page, errors } = s;
    const res = await fetch(`${h.base}/templates`);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    await page.goto(`${h.base}/templates`);
    await until(() => page.getByRole('heading', { name: 'Templates', level: 1 }).count()).toBe(1);
    await expect(page.getByRole('link', { name: 'Templates' }).getAttribute('aria-current')).resolves.toBe('page');

    // a Liquid html template
    await page.getByLabel('Template name', { exact: true }).fill('greeting');
    await page.getByLabel('Render type').selectOption('html');
    await page.getByLabel('Subject', { exact: true }).fill('Hi {{ customer.name }}');
    await page.getByLabel('Body', { exact: true }).fill('<b>{{ customer.name }}</b> owes {{ total }}');
    await page.getByRole('button', { name: 'Save template' }).click();
    await until(() => page.getByRole('status').first().textContent()).toBe('Saved greeting.');
    await until(() => page.locator('#template-tags li').allTextContents()).toEqual(['customer.name', 'total']);
    await page.getByLabel('Sample model (JSON)').fill(JSON.stringify({ customer: { name: 'Ann <3' }, total: 12 }));
    await page.getByLabel('Template to preview').selectOption('greeting');
    await page.getByRole('button', { name: 'Render preview' }).click();
    await until(() => page.locator('#preview-subject').textContent()).toBe('Hi Ann <3');
    expect(await page.locator('#preview-body').textContent()).toBe('<b>Ann &lt;3</b> owes 12');

    // a broken upload names the tag
    await page.getByLabel('Document template name').fill('order');
    await page.getByLabel('Document type').selectOption('docx');
    await page
      .getByLabel('Template file')
      .setInputFiles({ name: 'broken.docx', mimeType: 'application/octet-stream', buffer: Buffer.from('not a zip') });
    await page.getByRole('button', { name: 'Upload template' }).click();
    await until(() => page.getByRole('alert').textContent()).toMatch(/not a docx file/);

    // the real one
    await page.getByLabel('Template file').setInputFiles({ name: 'order.docx', mimeType: 'application/octet-stream', buffer: orderDocx() });
    await page.getByLabel('File name of the rendered document').fill('order-{{ customer.name }}');
    await page.getByRole('button', { name: 'Upload template' }).click();
    await until(() => page.locator('#template-tags li').allTextContents()).toEqual([
      'customer.name',
      'total',
      'orderedAt',
      'vip',
      'items',
      'items.name',
      'items.qty',
      'items.price',
    ]);
    await until(() => page.locator('table.list tbody tr').count()).toBe(2);

    await page.getByLabel('Template to preview').selectOption('order');
    await page.getByLabel('Sample model (JSON)').fill(
      JSON.stringify({
        customer: { name: 'Ada' },
        total: 99,
        orderedAt: '2026-01-02',
        vip: false,
        items: [{ name: 'Bolt', qty: 3, price: 1.5 }],
      }),
    );
    await page.getByRole('button', { name: 'Render preview' }).click();
    const link = page.getByRole('link', { name: 'Download order-Ada.docx' });
    await until(() => link.count()).toBe(1);
    await screenshot(page, 'templates', { docs: 'templates.png' });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('order-Ada.docx');
    const text = (await mammoth.extractRawText({ buffer: readFileSync((await download.path())!) })).value;
    expect(text).toContain('Order for Ada');
    expect(text).toContain('Bolt');
    expect(text).not.toContain('VIP');
    expect(errors).toEqual([]);
  }, 60_000);
});
