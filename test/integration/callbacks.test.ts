import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/notify/signing.ts';
import { linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

const SECRET = `whsec_${Buffer.from('callback-test-secret-0123456789').toString('base64')}`;
let h: Harness;
let server: Server;
let url = '';
const received: Array<{ path: string; headers: Record<string, string>; body: string; status: number }> = [];
let failNext = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = failNext > 0 ? 503 : 204;
      if (failNext > 0) failNext--;
      received.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body, status });
      res.statusCode = status;
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
});
