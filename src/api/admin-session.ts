/**
 * Access to Bull Board (treated as Redis access, so admin only): a bearer key, or a session
 * cookie set by signing in with an admin key at /admin/login. The cookie is HttpOnly and
 * SameSite=Strict; state-changing requests carried by the cookie must also come from our origin.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { hasRole } from '../definition/access.ts';
import { bearerToken, sendTooManyFailures } from './auth.ts';
import { noAuthFailureLimit, type AuthFailureLimiter } from './auth-failures.ts';
import type { Principal, PrincipalRegistry } from './principals.ts';
import { sendProblem } from './problem.ts';
import { empty, text } from './responses.ts';
import { Routes } from './route.ts';

const COOKIE = 'sf_admin';
const TTL_MS = 8 * 3600 * 1000;

export interface AdminSessionOptions {
  registry: PrincipalRegistry;
  /** Resolves the server secret the cookie is signed with. */
  secret: () => Promise<string>;
  secureCookie: boolean;
  /** Failed key checks per client address (shared with /api); none when absent. */
  failures?: AuthFailureLimiter;
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const isAdmin = (p: Principal | undefined) => p !== undefined && hasRole(p, 'admin');

async function mac(secret: () => Promise<string>, payload: string) {
  return createHmac('sha256', `admin-session:${await secret()}`)
    .update(payload)
    .digest('base64url');
}

function cookieOf(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

export function adminSession(opts: AdminSessionOptions): { guard: RequestHandler; routes: Router } {
  const failures = opts.failures ?? noAuthFailureLimit;
  const readSession = async (token: string | undefined): Promise<Principal | undefined> => {
    const [payload, sig] = (token ?? '').split('.');
    if (!payload || !sig) return undefined;
    const expected = Buffer.from(await mac(opts.secret, payload));
    const got = Buffer.from(sig);
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) return undefined;
    try {
      const { id, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { id: string; exp: number };
      return exp > Date.now() ? opts.registry.byId(id) : undefined;
    } catch {
      return undefined;
    }
  };

  const guard: RequestHandler = async (req, res, next) => {
    const bearer = bearerToken(req);
    if (bearer) {
      const wait = await failures.blockedFor(req);
      if (wait > 0) return sendTooManyFailures(res, wait);
    }
    let principal = bearer ? opts.registry.authenticate(bearer) : undefined;
    const viaCookie = !principal;
    if (viaCookie) principal = await readSession(cookieOf(req.get('cookie')));
    if (!principal) {
      const wait = bearer ? await failures.failed(req) : 0;
      if (wait > 0) return sendTooManyFailures(res, wait);
      // Browsers (which ask for text/html) go to the sign-in page; API clients get a 401.
      if (req.method === 'GET' && (req.get('accept') ?? '').includes('text/html')) return res.redirect(303, '/admin/login');
      res.setHeader('WWW-Authenticate', 'Bearer realm="stageflow"');
      return sendProblem(res, 401, 'sign in at /admin/login or send Authorization: Bearer <admin key>');
    }
    if (!isAdmin(principal)) return sendProblem(res, 403, 'the queue board is for admins only');
    if (viaCookie && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      if (!sameOrigin(req.get('origin') ?? req.get('referer'), req.get('host'))) return sendProblem(res, 403, 'cross-site request refused');
    }
    res.locals.principal = principal;
    next();
  };

  const routes = adminRoutes.router({ ...opts, failures });
  return { guard, routes };
}

interface AdminDeps extends AdminSessionOptions {
  failures: AuthFailureLimiter;
}

const tags = ['admin'];

/** /admin/login and /admin/logout (the board itself is mounted at /admin/queues behind the guard). */
export const adminRoutes = new Routes<AdminDeps>('/admin')
  .use(() => express.urlencoded({ extended: false, limit: '4kb' }))
  .add(
    {
      method: 'get',
      path: '/admin/login',
      summary: 'Admin sign-in page',
      tags,
      access: 'open',
      responses: { 200: text('the sign-in form') },
    },
    () => (_input, _req, res) => {
      res.setHeader('Content-Security-Policy', LOGIN_CSP);
      res.type('html').send(loginPage(''));
    },
  )
  .add(
    {
      method: 'post',
      path: '/admin/login',
      summary: 'Sign in with an admin key (sets a session cookie)',
      tags,
      access: 'open',
      // A form post read by the handler: a missing or wrong key is a page, not a problem document.
      bodyDoc: { required: true, content: { 'application/x-www-form-urlencoded': z.object({ key: z.string() }) } },
      responses: {
        303: empty('signed in: on to /admin/queues'),
        401: text('the key is not valid'),
        403: text('the key is not an admin key'),
        429: text('too many failed sign-ins from this address; see Retry-After'),
      },
    },
    (opts) => async (_input, req, res) => {
      res.setHeader('Content-Security-Policy', LOGIN_CSP);
      const { failures } = opts;
      const key = typeof req.body?.key === 'string' ? req.body.key : '';
      const tooMany = (wait: number) => {
        res.setHeader('Retry-After', String(wait));
        res.status(429).type('html').send(loginPage('Too many failed sign-ins from this address; try again in a minute.'));
      };
      const blocked = key ? await failures.blockedFor(req) : 0;
      if (blocked > 0) return tooMany(blocked);
      const principal = key ? opts.registry.authenticate(key) : undefined;
      if (!principal && key) {
        const wait = await failures.failed(req);
        if (wait > 0) return tooMany(wait);
      }
      if (!isAdmin(principal)) {
        res
          .status(principal ? 403 : 401)
          .type('html')
          .send(loginPage(principal ? 'That key is not an admin key.' : 'That key is not valid.'));
        return;
      }
      const payload = b64(JSON.stringify({ id: principal!.id, exp: Date.now() + TTL_MS }));
      const value = `${payload}.${await mac(opts.secret, payload)}`;
      res.setHeader(
        'Set-Cookie',
        `${COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${TTL_MS / 1000}${opts.secureCookie ? '; Secure' : ''}`,
      );
      res.redirect(303, '/admin/queues');
    },
  )
  .add(
    {
      method: 'post',
      path: '/admin/logout',
      summary: 'Sign out (clears the session cookie)',
      tags,
      access: 'open',
      responses: { 303: empty('signed out: on to /admin/login') },
    },
    () => (_input, _req, res) => {
      res.setHeader('Set-Cookie', `${COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0`);
      res.redirect(303, '/admin/login');
    },
  );

function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Same look as the web pages (their stylesheet and icon), and as strict a CSP: nothing inline. */
export const LOGIN_CSP =
  "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function loginPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Queue board sign-in · stageflow</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/ui/app.css"></head>
<body><header class="topbar"><a class="brand" href="/runs">stageflow</a><nav aria-label="Pages"><ul><li><a href="/runs">Runs</a></li><li><a href="/builder">Builder</a></li></ul></nav></header>
<main id="main"><form class="signin card-panel" method="post" action="/admin/login">
<h1>Queue board sign-in</h1>
<p>The queue board (Bull Board) shows and changes the step queues directly, so it is for admins. Enter an admin API key; a session cookie keeps you signed in for 8 hours.</p>
${message ? `<p class="msg msg-error" role="alert">${message}</p>` : ''}
<label for="admin-key">Admin API key</label>
<input id="admin-key" name="key" type="password" autocomplete="current-password" required>
<button type="submit" class="primary">Sign in</button>
</form></main></body></html>`;
}
