/**
 * Failed authentications are limited per client address (AUTH_FAILURES_PER_MINUTE), counted in
 * Redis: beyond the budget an address gets 429 with Retry-After before any key is hashed, while
 * valid keys from other addresses go on as before.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

const LIMIT = 5;
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ worker: false, app: { authFailuresPerMinute: LIMIT } });
});
afterAll(() => h.close());

/** GET `path` from a chosen loopback source address (Linux answers the whole 127/8 on lo). */
function getFrom(
  localAddress: string,
  path: string,
  token: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  const url = new URL(h.base + path);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, localAddress, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function postFrom(
  localAddress: string,
  path: string,
  form: string,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const url = new URL(h.base + path);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method: 'POST',
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(form);
  });
}

describe('failed authentications per client address', () => {
  it('valid keys are not counted: many successes, then a few failures stay 401', async () => {
    for (let i = 0; i < LIMIT * 3; i++) expect((await getFrom('127.0.0.3', '/api/workflows', keyOf('eve'))).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) expect((await getFrom('127.0.0.3', '/api/workflows', `bad-key-${i}-0123456789`)).status).toBe(401);
  });

  it('a flood of bad keys from one address hits 429 with Retry-After; a valid key from another address still works', async () => {
    const flood = await Promise.all(
      Array.from({ length: 40 }, (_, i) => getFrom('127.0.0.2', '/api/workflows', `flood-key-${i}-0123456789`)),
    );
    expect(flood.filter((r) => r.status === 401)).toHaveLength(LIMIT);
    const limited = flood.filter((r) => r.status === 429);
    expect(limited).toHaveLength(40 - LIMIT);
    for (const r of limited) {
      expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
      const retryAfter = Number(r.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${r.headers['retry-after']}`).toBe(true);
    }
    // further bad keys from that address: still 429, not 401
    expect((await getFrom('127.0.0.2', '/api/workflows', 'yet-another-bad-key-0123')).status).toBe(429);
    // meanwhile valid keys from other addresses work, and are not slowed into 429
    for (let i = 0; i < 10; i++) expect((await getFrom('127.0.0.1', '/api/workflows', keyOf('ann'))).status).toBe(200);
    expect((await getFrom('127.0.0.4', '/api/workflows', 'one-bad-key-elsewhere-0123')).status).toBe(401);
    // the sign-in form is the same door: the flooded address is refused there too
    const login = await postFrom('127.0.0.2', '/admin/login', 'key=guess-0123456789');
    expect(login.status).toBe(429);
    expect(Number(login.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(login.text).toMatch(/Too many failed sign-ins/);
    expect((await postFrom('127.0.0.5', '/admin/login', 'key=guess-0123456789')).status).toBe(401);
  });
});
