/**
 * Chromium for the browser tests: Debian's /usr/bin/chromium (installed by .ci/run) driven by
 * playwright-core, headless, with a fresh profile per launch.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = path.resolve('test-results');
const DOCS = path.resolve('docs/screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Browser tests need Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does this), or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors seen so far; a test asserts there are none. */
  errors: string[];
}

/**
 * A fresh browser context (its own session storage), optionally already signed in with `key`.
 * Phone-sized when `viewport` says so.
 */
export async function openSession(browser: Browser, key?: string, viewport = { width: 1280, height: 800 }): Promise<Session> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(10_000);
  if (key) await context.addInitScript((k) => sessionStorage.setItem('stageflow.apiKey', k), key);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // 4xx answers the pages handle (a 404 for a run the caller may not see) are logged by Chromium as resource errors
    if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()))
      errors.push(`console: ${msg.text()}`);
  });
  return { context, page, errors };
}

/**
 * Saves test-results/browser-<name>.png (full page). With `docs`, also the README's
 * docs/screenshots/<docs> (the 1280×800 viewport) when it is missing or UPDATE_SCREENSHOTS=1, so
 * an ordinary test run does not rewrite committed images.
 */
export async function screenshot(page: Page, name: string, opts: { docs?: string } = {}): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, `browser-${name}.png`), fullPage: true });
  if (opts.docs && (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(path.join(DOCS, opts.docs)))) {
    mkdirSync(DOCS, { recursive: true });
    await page.screenshot({ path: path.join(DOCS, opts.docs), fullPage: false });
  }
}
