/**
 * Bull Board behind our sign-in page: styled like the web pages, and no request of the sign-in
 * page or the board leaves the host (its CDN fonts are dropped, its CSP allows only 'self').
 * /favicon.ico is served.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, keyOf, startHarness, type Harness } from '../helpers/harness.ts';
import { launchBrowser, openSession, screenshot } from './browser.ts';

let h: Harness;
let browser: Browser;
beforeAll(async () => {
  [h, browser] = await Promise.all([startHarness(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const until = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 50 });

describe('queue board', () => {
  it('signs in on a page styled like ours and loads the board with every request same-origin', async () => {
    const { page, context, errors } = await openSession(browser);
    const requests: string[] = [];
    context.on('request', (req) => requests.push(req.url()));
    await page.goto(`${h.base}/admin/queues`);
    await page.waitForURL(`${h.base}/admin/login`);
    // our stylesheet applies: the primary button has the accent colour
    await until(() => page.getByRole('button', { name: 'Sign in' }).evaluate((b) => getComputedStyle(b).backgroundColor)).toBe(
      'rgb(31, 95, 191)',
    );
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/favicon.svg');
    await screenshot(page, 'admin-login', { docs: 'admin-login.png' });

    await page.getByLabel('Admin API key').fill(keyOf('bob'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(() => page.getByRole('alert').textContent()).toBe('That key is not an admin key.');
    await page.getByLabel('Admin API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${h.base}/admin/queues`);
    await until(() => page.locator('#root').textContent()).toContain('steps0 Jobs');
    await page.waitForLoadState('networkidle');
    expect(requests.length).toBeGreaterThan(5);
    const foreign = requests.filter((u) => new URL(u).origin !== h.base);
    expect(foreign).toEqual([]);
    expect(await page.content()).not.toContain('fonts.googleapis.com');
    expect(errors).toEqual([]);
  });

  it('serves a favicon', async () => {
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const res = await fetch(h.base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('image/svg+xml');
      expect(await res.text()).toContain('<svg');
    }
  });
});
