/**
 * The web pages (builder, runs, tasks): one static HTML shell and plain ES modules from
 * src/web/static, served without auth; every piece of data comes from /api with the caller's key.
 * They run under a strict Content-Security-Policy: no inline scripts or styles, same-origin only.
 */
import express, { Router } from 'express';
import helmet from 'helmet';
import { fileURLToPath } from 'node:url';

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
  r.get('/', (_req, res) => res.redirect(302, '/runs'));
  // One icon for our pages, Bull Board and browsers that ask for /favicon.ico by themselves.
  r.get(['/favicon.ico', '/favicon.svg'], (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('image/svg+xml').sendFile(FAVICON);
  });
  r.get(PAGE_PATHS, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(SHELL);
  });
  return r;
}
