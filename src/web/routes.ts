/**
 * The web pages (builder, runs, tasks): one static HTML shell and plain ES modules from
 * src/web/static, served without auth; every piece of data comes from /api with the caller's key.
 * They run under a strict Content-Security-Policy: no inline scripts or styles, same-origin only.
 */
import express, { Router } from 'express';
import helmet from 'helmet';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { empty, file, text } from '../api/responses.ts';
import { Routes } from '../api/route.ts';

const STATIC_DIR = fileURLToPath(new URL('./static', import.meta.url));
const SHELL = fileURLToPath(new URL('./static/index.html', import.meta.url));
const FAVICON = fileURLToPath(new URL('./static/favicon.svg', import.meta.url));

/** Paths that render the shell; app.js picks the page from location.pathname. */
export const PAGE_PATHS = ['/builder', '/builder/:name', '/runs', '/runs/:id', '/tasks', '/dataflows', '/templates', '/signin'];

export function webRoutes(): Router {
  const r = Router();
  r.use(
    ['/ui', ...PAGE_PATHS],
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  // Served as files so edits show on reload; `no-cache` still lets the browser revalidate cheaply.
  r.use(
    '/ui',
    express.static(STATIC_DIR, { index: false, fallthrough: false, setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') }),
  );
  return webPageRoutes.router(undefined, r);
}

/** The four pages the API document lists; the other shells (a page for one item, sign-in) are served but not documented. */
const DOCUMENTED = new Set(['/builder', '/runs', '/tasks', '/templates']);
const shell = () => (_input: unknown, _req: express.Request, res: express.Response) => {
  res.setHeader('Cache-Control', 'no-cache');
  res.sendFile(SHELL);
};

export const webPageRoutes = new Routes('').add(
  {
    method: 'get',
    path: '/',
    summary: 'On to the runs page',
    tags: ['web'],
    access: 'open',
    hidden: true,
    responses: { 302: empty('to /runs') },
  },
  () => (_i, _req, res) => res.redirect(302, '/runs'),
);
// One icon for our pages, Bull Board and browsers that ask for /favicon.ico by themselves.
for (const path of ['/favicon.ico', '/favicon.svg'])
  webPageRoutes.add(
    { method: 'get', path, summary: 'The icon', tags: ['web'], access: 'open', hidden: true, responses: { 200: file('image/svg+xml') } },
    () => (_i, _req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=86400');
      res.type('image/svg+xml').sendFile(FAVICON);
    },
  );
for (const page of PAGE_PATHS) {
  const path = page.replace(/:(\w+)/g, '{$1}');
  webPageRoutes.add(
    {
      method: 'get',
      path,
      summary: `The ${page.slice(1)} web page`,
      description: 'Static shell; its data comes from /api with the signed-in key.',
      tags: ['web'],
      access: 'open',
      hidden: !DOCUMENTED.has(page),
      ...(page.includes(':') ? { params: z.object({ [page.split(':')[1]!]: z.string() }) } : {}),
      responses: { 200: text('the page') },
    },
    shell,
  );
}
