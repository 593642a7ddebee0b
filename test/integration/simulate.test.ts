/**
 * POST /api/workflows/{name}/simulate through the API: the path and effects come back, and
 * nothing happens — no inbox item, no entry, no run, no call to the dataflow receiver.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, scanKeys, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let receiver: Server;
let hits = 0;
const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });

beforeAll(async () => {
  h = await startHarness();
  receiver = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"total":99}');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  await h.api('PUT', '/api/dataflows/sim-pricing', {
    kind: 'http',
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/price`,
  });
  await h.saveWorkflow({
    name: 'sim-order',
    restrictAccess: true,
    access: { start: ['role:manager'], read: ['role:clerk'] },
    stages: [
      {
        id: 'intake',
        name: 'Intake',
        steps: [
          { id: 'price', type: 'executeDataflow', dataflow: 'sim-pricing', input: 'order', resultField: 'quote' },
          { id: 'tell', type: 'sendNotification', channel: 'inbox', users: ['ann'], message: 'Order {{order.id}} costs {{quote.total}}' },
          { id: 'save', type: 'updateModel' },
        ],
      },
      {
        id: 'review',
        name: 'Review',
        steps: [
          {
            id: 'ask',
            type: 'getUserConfirmation',
            confirmationField: 'decision',
            options: ['approve', 'reject'],
            routing: ['role:manager'],
            users: ['ann'],
          },
          {
            id: 'route',
            type: 'switchCase',
            sourceField: 'decision',
            cases: [
              { value: 'approve', steps: [{ id: 'ok', type: 'finish', outcome: 'approved' }] },
              { value: 'reject', steps: [{ id: 'no', type: 'finish', outcome: 'rejected' }] },
            ],
          },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await h.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

describe('simulation through the API', () => {
  it('returns the path, the model after each step and the effects, and has none of them', async () => {
    const res = await h.api(
      'POST',
      '/api/workflows/sim-order/simulate',
      { model: { order: { id: 7 } }, stubs: { price: { total: 12 }, ask: 'reject' } },
      as('ann'),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'completed',
      outcome: 'rejected',
      model: { order: { id: 7 }, quote: { total: 12 }, decision: 'reject' },
    });
    expect(res.body.path.map((p: any) => `${p.stageId}/${p.stepId}`)).toEqual([
      'intake/price',
      'intake/tell',
      'intake/save',
      'review/ask',
      'review/route',
      'review/no',
    ]);
    expect(res.body.path[0].modelAfter).toEqual({ order: { id: 7 }, quote: { total: 12 } });
    const kinds = res.body.effects.map((e: any) => `${e.stepId}:${e.kind}`);
    expect(kinds).toEqual(['price:dataflow', 'tell:notification', 'save:entrySave', 'ask:confirmation']);
    expect(res.body.effects[1].detail).toMatchObject({ recipients: ['ann'], body: 'Order 7 costs 12' });

    // nothing happened
    expect(hits).toBe(0);
    expect((await h.api('GET', '/api/me/notifications', undefined, as('ann'))).body.items).toEqual([]);
    expect((await h.api('GET', '/api/runs?workflow=sim-order')).body.items).toEqual([]);
    const entries = await scanKeys(h.engine.redis, `${h.prefix}:entry:*`); // every primary on a cluster
    expect(entries).toEqual([]);
    expect(await scanKeys(h.engine.redis, `${h.prefix}:run:*`)).toEqual([]);
  });

  it('start access is needed (read is not enough); bad stubs and versions are 400s', async () => {
    expect((await h.api('POST', '/api/workflows/sim-order/simulate', { model: {} }, as('eve'))).status).toBe(403);
    expect((await h.api('POST', '/api/workflows/sim-order/simulate', { model: {} }, as('other-user'))).status).toBe(404);
    const badVersion = await h.api('POST', '/api/workflows/sim-order/simulate', { model: {}, version: 9 });
    expect(badVersion.status).toBe(400);
    expect(JSON.stringify(badVersion.body.errors)).toContain('$.version');
    const badModel = await h.api('POST', '/api/workflows/sim-order/simulate', { model: [1] });
    expect(badModel.status).toBe(400);
    const badStub = await h.api('POST', '/api/workflows/sim-order/simulate', { model: {}, stubs: { ask: 'maybe' } });
    expect(badStub.body).toMatchObject({ status: 'failed', error: { code: 'BAD_STUB', stepId: 'ask' } });
  });
});
