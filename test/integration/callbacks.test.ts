import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnrecoverableError } from 'bullmq';
import { callbackRetryDelay, sendCallback } from '../../src/engine/callbacks.ts';
import type { RunView } from '../../src/engine/run-view.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { retryAfterMsOf } from '../../src/http/retry-after.ts';
import { verify } from '../../src/notify/signing.ts';
import { linearWorkflow, startHarness, TEST_EGRESS_ALLOWLIST, type Harness } from '../helpers/harness.ts';
import { jobsIn } from '../helpers/queues.ts';

const SECRET = `whsec_${Buffer.from('callback-test-secret-0123456789').toString('base64')}`;
let h: Harness;
let server: Server;
let url = '';
const received: Array<{ path: string; headers: Record<string, string>; body: string; status: number; at: number }> = [];
let failNext = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // /status/<n>/…: always answer <n>
      const forced = /^\/status\/(\d+)\//.exec(req.url ?? '');
      // /retry-after/…: a 503 asking for 3 s the first time, then accepted
      const askOnce = (req.url ?? '').startsWith('/retry-after/') && !received.some((r) => r.path === req.url);
      const status = forced ? Number(forced[1]) : askOnce || failNext > 0 ? 503 : 204;
      if (!forced && failNext > 0) failNext--;
      received.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body, status, at: Date.now() });
      res.statusCode = status;
      if (status === 503 && forced) res.setHeader('retry-after', '90');
      if (askOnce) res.setHeader('retry-after', '3');
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  h = await startHarness({ engine: { webhookSecret: SECRET } });
  await h.saveWorkflow(linearWorkflow('cb-linear', 2));
  await h.saveWorkflow({
    name: 'cb-draft',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          {
            id: 'gate',
            type: 'ifCondition',
            field: 'ok',
            operator: 'exists',
            then: [{ id: 'fin', type: 'finish' }],
            else: [{ id: 'back', type: 'resetToDraft' }],
          },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await h.close();
  await new Promise((r) => server.close(r));
});

const accepted = (path: string) => received.filter((r) => r.path === path && r.status === 204);
async function until(pred: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out; received ${JSON.stringify(received.map((r) => [r.path, r.status]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('completion callbacks', () => {
  it('POSTs one signed summary when the run completes, verifiable with the secret', async () => {
    const run = await h.start('cb-linear', { model: { x: 1 }, callbackUrl: `${url}/done` }, '?wait=5000');
    expect(run.status).toBe('completed');
    await until(() => accepted('/done').length === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.path === '/done')).toHaveLength(1);
    const [cb] = accepted('/done');
    expect(verify(SECRET, cb!.headers, cb!.body)).toBe(true);
    expect(verify(SECRET, cb!.headers, cb!.body.replace('"x":1', '"x":2'))).toBe(false);
    expect(JSON.parse(cb!.body)).toMatchObject({
      type: 'run.completed',
      run: { id: run.id, status: 'completed', model: { x: 1, f1: 1, f2: 2 } },
    });
  });

  it('one summary per terminal state: draft, then completed after submit; retried after a 503 with the same webhook-id', async () => {
    failNext = 1;
    const run = await h.start('cb-draft', { model: {}, callbackUrl: `${url}/draft` }, '?wait=5000');
    expect(run.status).toBe('draft');
    await until(() => accepted('/draft').length === 1);
    const attempts = received.filter((r) => r.path === '/draft');
    expect(attempts.map((r) => r.status)).toEqual([503, 204]);
    expect(attempts[0]!.headers['webhook-id']).toBe(attempts[1]!.headers['webhook-id']);
    await h.api('POST', `/api/runs/${run.id}/submit`, { modelPatch: { ok: true } });
    await until(() => accepted('/draft').length === 2);
    expect(accepted('/draft').map((r) => JSON.parse(r.body).type)).toEqual(['run.draft', 'run.completed']);
  });

  it('a cancelled run reports cancelled', async () => {
    const run = await h.start('cb-draft', { model: {}, callbackUrl: `${url}/cancel` }, '?wait=5000');
    await h.api('POST', `/api/runs/${run.id}/cancel`, {});
    await until(() => accepted('/cancel').length === 2);
    expect(accepted('/cancel').map((r) => JSON.parse(r.body).type)).toEqual(['run.draft', 'run.cancelled']);
  });

  it("the event job waits the receiver's Retry-After before the next try, not its own 1 s", async () => {
    const run = await h.start('cb-linear', { model: { x: 1 }, callbackUrl: `${url}/retry-after/one` }, '?wait=5000');
    expect(run.status).toBe('completed');
    await until(() => accepted('/retry-after/one').length === 1, 15_000);
    const tries = received.filter((r) => r.path === '/retry-after/one');
    expect(tries.map((r) => r.status)).toEqual([503, 204]);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(2900);
  });

  it('a 400 is not retried: one POST, and the event job fails at once', async () => {
    const run = await h.start('cb-linear', { model: { x: 1 }, callbackUrl: `${url}/status/400/bad` }, '?wait=5000');
    expect(run.status).toBe('completed');
    await until(() => received.some((r) => r.path === '/status/400/bad'));
    let job: Awaited<ReturnType<(typeof h.engine.eventQueue)[number]['getJobs']>>[number] | undefined;
    for (let i = 0; i < 100 && !job; i++) {
      job = (await jobsIn(h.engine.eventQueue, (q) => q.getJobs(['failed']))).find((j) => j.data.runId === run.id);
      if (!job) await new Promise((r) => setTimeout(r, 50));
    }
    expect(job?.failedReason).toMatch(/callback answered 400/);
    expect(job?.attemptsMade).toBe(1);
    await new Promise((r) => setTimeout(r, 1500)); // a retry would be due after 1 s
    expect(received.filter((r) => r.path === '/status/400/bad')).toHaveLength(1);
  });
});

describe('sendCallback', () => {
  const view = { id: 'run-x', seq: 3, status: 'completed' } as unknown as RunView;

  it('POSTs once: a 503 throws for the event job retry with its Retry-After, a 4xx or an egress refusal gives up', async () => {
    const busy = await sendCallback(`${url}/status/503/busy`, view, SECRET).catch((e: unknown) => e);
    expect(busy).not.toBeInstanceOf(UnrecoverableError);
    expect(retryAfterMsOf(busy)).toBe(90_000);
    expect(received.filter((r) => r.path === '/status/503/busy')).toHaveLength(1);
    expect(await sendCallback(`${url}/status/404/gone`, view, SECRET).catch((e: unknown) => e)).toBeInstanceOf(UnrecoverableError);
    setEgressAllowlist('');
    try {
      const refused = await sendCallback(`${url}/internal`, view, SECRET).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UnrecoverableError);
      expect((refused as Error).message).toMatch(/refused: loopback address/);
    } finally {
      setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
    }
    expect(received.filter((r) => r.path === '/internal')).toHaveLength(0);
  });

  it('callbackRetryDelay doubles from 1 s to an hour and believes a longer Retry-After, within the hour', () => {
    expect([1, 2, 3, 13, 25].map((n) => callbackRetryDelay(n))).toEqual([1000, 2000, 4000, 3_600_000, 3_600_000]);
    expect(callbackRetryDelay(1, Object.assign(new Error('x'), { retryAfterMs: 90_000 }))).toBe(90_000);
    expect(callbackRetryDelay(5, Object.assign(new Error('x'), { retryAfterMs: 10 }))).toBe(16_000);
    expect(callbackRetryDelay(1, Object.assign(new Error('x'), { retryAfterMs: 86_400_000 }))).toBe(3_600_000);
  });
});
