/**
 * The one outbound HTTP client (src/http/client.ts) against a local receiver: every call is one
 * request, and what went wrong is classified once — retryable (network, timeout, 408/425/429/5xx,
 * with Retry-After) or permanent (other 4xx, redirect, oversized body, bad URL, egress refusal).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCallError, httpCall, isRetryableStatus, PermanentHttpError, RetryableHttpError } from '../../src/http/client.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { retryAfterMsOf } from '../../src/http/retry-after.ts';
import { TEST_EGRESS_ALLOWLIST } from '../helpers/harness.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const handlers = new Map<string, Handler>();
const hits: string[] = [];
let server: Server;
let base = '';

beforeAll(async () => {
  setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push(req.url ?? '');
      const h = handlers.get(req.url ?? '');
      if (h) h(req, res);
      else res.writeHead(404).end('no handler');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function on(path: string, handler: Handler): string {
  handlers.set(path, handler);
  return base + path;
}

const call = (url: string, over: Partial<Parameters<typeof httpCall>[0]> = {}) =>
  httpCall({ url, timeoutMs: 2000, label: 'test call', body: '{}', ...over }).catch((e: unknown) => e);

describe('httpCall', () => {
  it('resolves a 2xx with the body when asked for it, and discards it otherwise', async () => {
    const url = on('/ok', (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}'));
    const read = await httpCall({ url, timeoutMs: 2000, label: 't', maxResponseBytes: 100 });
    expect(read).toMatchObject({ status: 200, statusText: 'OK', text: '{"a":1}' });
    expect((await httpCall({ url, timeoutMs: 2000, label: 't' })).text).toBe('');
  });

  it.each([408, 425, 429, 500, 502, 503, 504])('a %i is retryable, after one request', async (status) => {
    hits.length = 0;
    const url = on(`/s${status}`, (_q, res) => res.writeHead(status).end('busy'));
    const err = await call(url);
    expect(err).toBeInstanceOf(RetryableHttpError);
    expect(err).toMatchObject({ retryable: true, reason: 'status', status, url });
    expect((err as Error).message).toMatch(new RegExp(`^test call answered ${status} .*\\(${url}\\): busy$`));
    expect(hits).toEqual([`/s${status}`]);
  });

  it.each([400, 401, 403, 404, 409, 422])('a %i is permanent, after one request', async (status) => {
    hits.length = 0;
    const url = on(`/p${status}`, (_q, res) => res.writeHead(status).end());
    const err = await call(url);
    expect(err).toBeInstanceOf(PermanentHttpError);
    expect(err).toMatchObject({ retryable: false, reason: 'status', status });
    expect(hits).toHaveLength(1);
  });

  it('carries Retry-After (seconds or a date) as retryAfterMs, which the step backoff reads', async () => {
    const secs = await call(on('/ra', (_q, res) => res.writeHead(503, { 'retry-after': '7' }).end()));
    expect(secs).toMatchObject({ retryAfterMs: 7000 });
    expect(retryAfterMsOf(secs)).toBe(7000);
    expect((secs as Error).message).toMatch(/retry after 7000 ms/);
    const when = new Date(Date.now() + 30_000).toUTCString();
    const dated = (await call(on('/rd', (_q, res) => res.writeHead(429, { 'retry-after': when }).end()))) as RetryableHttpError;
    expect(dated.retryAfterMs).toBeGreaterThan(25_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect((await call(on('/rn', (_q, res) => res.writeHead(503).end()))) as RetryableHttpError).toMatchObject({ retryAfterMs: undefined });
  });

  it('does not follow a redirect: permanent, naming where it pointed, without a query string', async () => {
    hits.length = 0;
    const err = await call(on('/moved', (_q, res) => res.writeHead(302, { location: '/elsewhere?token=s' }).end()));
    expect(err).toMatchObject({ retryable: false, reason: 'redirect', status: 302 });
    expect((err as Error).message).toContain(`to ${base}/elsewhere;`);
    expect((err as Error).message).not.toContain('token');
    expect(hits).toEqual(['/moved']);
  });

  it('a 2xx body over maxResponseBytes is permanent', async () => {
    const url = on('/big', (_q, res) => res.writeHead(200).end('x'.repeat(10_000)));
    expect(await call(url, { maxResponseBytes: 1000 })).toMatchObject({ retryable: false, reason: 'too-large', status: 200 });
  });

  it('a timeout and a refused connection are retryable; the caller abort reason is thrown as is', async () => {
    const hang = on('/hang', () => {});
    expect(await call(hang, { timeoutMs: 100 })).toMatchObject({ retryable: true, reason: 'timeout' });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await call(`http://127.0.0.1:${port}/x?secret=1`);
    expect(refused).toMatchObject({ retryable: true, reason: 'network' });
    expect((refused as Error).message).toMatch(/could not be reached .*ECONNREFUSED/);
    expect((refused as Error).message).not.toContain('secret');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('step timed out')), 50);
    const aborted = await call(hang, { signal: ac.signal });
    expect(aborted).not.toBeInstanceOf(HttpCallError);
    expect((aborted as Error).message).toBe('step timed out');
  });

  it('a bad URL and an egress refusal are permanent, and nothing is sent', async () => {
    expect(await call('ftp://example.test/x')).toMatchObject({ retryable: false, reason: 'url' });
    expect(await call('not a url')).toMatchObject({ retryable: false, reason: 'url' });
    hits.length = 0;
    setEgressAllowlist('');
    try {
      const err = await call(on('/internal', (_q, res) => res.writeHead(204).end()));
      expect(err).toBeInstanceOf(PermanentHttpError);
      expect(err).toMatchObject({ reason: 'egress' });
      expect((err as Error).message).toMatch(/refused: loopback address/);
    } finally {
      setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
    }
    expect(hits).toEqual([]);
  });

  it('isRetryableStatus', () => {
    expect([408, 425, 429, 500, 599].every(isRetryableStatus)).toBe(true);
    expect([200, 302, 400, 404, 410, 413, 451].some(isRetryableStatus)).toBe(false);
  });
});
