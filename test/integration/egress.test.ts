/**
 * The egress policy with no allowlist (what a deployment gets by default): callbackUrl, http
 * dataflows and webhooks may not reach internal addresses. Literal URLs are refused when given
 * (400 naming the field); names resolving to loopback are refused when the connection is made.
 */
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egressFetch, egressRefusal } from '../../src/http/egress.ts';
import { start } from '../../src/runtime.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';
import { jobsIn } from '../helpers/queues.ts';

/** The SSRF cases the README lists as refused. */
const REFUSED = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://127.0.0.1:6379/',
  'http://[::1]:8080/',
  'http://10.0.0.1/',
  'http://0.0.0.0/',
  'http://2130706433/',
  'http://[::ffff:127.0.0.1]/',
  'http://localhost:3000/',
  'http://172.17.0.1/',
  'http://192.168.0.1/',
  'http://100.64.0.1/',
  'http://[fe80::1]/',
  'http://[fd00::1]/',
];

let h: Harness;
let receiver: Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const a = receiver.address();
  port = typeof a === 'object' && a ? a.port : 0;
  h = await startHarness({ egressAllowlist: '', notify: { webhookSecret: 'egress-test-webhook-secret-0123' } });
  await h.saveWorkflow(linearWorkflow('plain', 1));
});

afterAll(async () => {
  await h.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

describe('literal URLs, refused when given', () => {
  it.each(REFUSED)('a start with callbackUrl %s is a 400 naming $.callbackUrl', async (url) => {
    const res = await h.api('POST', '/api/workflows/plain/runs', { callbackUrl: url });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([{ path: '$.callbackUrl', message: expect.stringMatching(/may not target .*EGRESS_ALLOWLIST/) }]);
  });

  it.each(REFUSED.slice(0, 7))('an http dataflow at %s is a 400 naming $.url', async (url) => {
    const res = await h.api('PUT', '/api/dataflows/internal', { name: 'internal', kind: 'http', url });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: '$.url', message: expect.stringMatching(/may not target/) }]);
    expect((await h.api('GET', '/api/dataflows/internal')).status).toBe(404);
  });

  it('NOTIFY_WEBHOOK_URL at a metadata address stops the process at start, naming the variable', async () => {
    await expect(
      start(
        'worker',
        { REDIS_URL: h.options.redisUrl, STAGEFLOW_PREFIX: h.prefix, NOTIFY_WEBHOOK_URL: 'http://169.254.169.254/hook' },
        createLogger({ level: 'silent' }),
      ),
    ).rejects.toThrow(/NOTIFY_WEBHOOK_URL may not target 169\.254\.169\.254 \(link-local \(cloud metadata\) address\)/);
  });

  it('a public URL is accepted', async () => {
    const res = await h.api('POST', '/api/workflows/plain/runs', { callbackUrl: 'https://hooks.example.com/stageflow' });
    expect(res.status).toBe(201);
  });
});

describe('resolved addresses, refused at connect time', () => {
  it('a name resolving to loopback (localhost) is refused by the dispatcher, and nothing reaches the receiver', async () => {
    const err = await egressFetch(`http://localhost:${port}/direct`, { method: 'POST' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(egressRefusal(err)?.message).toMatch(/egress to localhost \(127\.0\.0\.1\) refused: loopback address/);
    // IP literals too (Node does no lookup for them)
    const literal = await egressFetch(`http://127.0.0.1:${port}/literal`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(egressRefusal(literal)?.message).toMatch(/127\.0\.0\.1 \(127\.0\.0\.1\) refused: loopback/);
    expect(hits).toEqual([]);
  });

  it('a webhook recipient URL from the model is refused when sent; the step fails for good', async () => {
    await h.saveWorkflow({
      name: 'hook-internal',
      stages: [
        {
          id: 's',
          name: 'S',
          steps: [
            {
              id: 'tell',
              type: 'sendNotification',
              channel: 'webhook',
              userInfoField: 'hook',
              subject: 'x',
              message: 'y',
              retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 20 } },
            },
          ],
        },
      ],
    });
    const run = await h.start('hook-internal', { model: { hook: `http://127.0.0.1:${port}/hook` } });
    const done = await h.waitFor(run.id, (r) => r.status !== 'running', 10_000);
    expect(done.status).toBe('failed');
    expect(done.error.message).toMatch(/refused: loopback address/);
    // permanent: the step's three attempts are not spent on it
    expect(done.error).toMatchObject({ attempt: 1, code: 'NON_RETRYABLE' });
    expect(hits).toEqual([]);
  });

  const host = hostname();
  it.runIf(host !== 'localhost')(
    `a callbackUrl naming this machine (${host}), accepted at start, is refused when it resolves to loopback`,
    async () => {
      const resolved = await lookup(host).catch(() => undefined);
      if (!resolved || !/^127\.|^::1$/.test(resolved.address)) return; // the check needs the host name to resolve to loopback
      const run = await h.start('plain', { callbackUrl: `http://${host}:${port}/cb` }, '?wait=5000');
      expect(run.status).toBe('completed');
      await new Promise((r) => setTimeout(r, 1500));
      const failed = await jobsIn(h.engine.eventQueue, (q) => q.getJobs(['failed']));
      const job = failed.find((j) => j.data.runId === run.id);
      expect(job?.failedReason).toMatch(/refused: loopback address/);
      expect(job?.attemptsMade).toBe(1); // refused for good, not retried for 14 hours
      expect(hits).toEqual([]);
    },
  );
});
