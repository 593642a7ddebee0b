/**
 * The README's worked example, end to end: the shipped purchase-approval workflow e-mails the
 * approver (over SMTP to an in-process server), waits, takes the answer through the signed link
 * in that e-mail, calls the create-order dataflow, saves the entry and tells the requester.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';
import { parseMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

let h: Harness;
let smtp: SmtpSink;
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

beforeAll(async () => {
  smtp = await startSmtpSink();
  h = await startHarness({ notify: { smtpUrl: smtp.url, mailFrom: 'flows@example.test' } });
  expect((await h.api('PUT', '/api/dataflows/create-order', json('config/dataflows/create-order.json'))).status).toBe(201);
  await h.saveWorkflow(json('config/workflows/purchase-approval.json'));
});
afterAll(async () => {
  await h.close();
  await smtp.close();
});

describe('purchase-approval example', () => {
  it('emails the approver, waits, follows the link answer, orders and tells the requester', async () => {
    const run = await h.start(
      'purchase-approval',
      { model: { item: 'laptop', amount: 1500, approver: 'ann', requester: 'eve' }, entryId: 'req-1' },
      '?wait=5000',
    );
    expect(run).toMatchObject({ status: 'waiting', stage: { id: 'approval' }, step: { id: 'ask' } });

    const mail = await (async () => {
      const end = Date.now() + 5000;
      while (smtp.messages.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      return smtp.messages[0]!;
    })();
    expect(mail.rcptTo).toEqual(['ann@example.test']);
    const { headers, body } = parseMail(mail.raw);
    expect(headers.subject).toMatch(/decision is needed/);
    const link = /approve: (\S+)/.exec(body)?.[1];
    expect(link).toBeDefined();

    const path = new URL(link!).pathname;
    // GET only shows what the link does (mail scanners prefetch links).
    const shown = await fetch(h.base + path);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain('Confirm "approve"');
    const answered = await fetch(h.base + path, { method: 'POST', headers: { accept: 'application/json' } });
    expect(answered.status).toBe(200);
    const reused = await fetch(h.base + path);
    expect(reused.status).toBe(409);
    expect(await reused.text()).toContain('already used');
    const forged = await fetch(h.base + path.slice(0, -4) + (path.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('not valid');
    const done = await h.waitFor(run.id, (r) => r.status === 'completed');
    expect(done.outcome).toBe('ordered');
    expect(done.model).toMatchObject({
      decision: 'approve',
      status: 'submitted',
      order: { orderId: expect.stringMatching(/^PO-[0-9A-F]{8}$/), item: 'laptop' },
    });
    expect((await h.api('GET', '/api/entries/req-1')).body.model.order.orderId).toBe(done.model.order.orderId);

    const inbox = await h.api('GET', '/api/me/notifications', undefined, { authorization: `Bearer ${keyOf('eve')}` });
    expect(inbox.body.items[0]).toMatchObject({
      subject: 'Order placed',
      body: `Your request for laptop is ordered as ${done.model.order.orderId}.`,
    });
  });

  it('a small amount skips the approval', async () => {
    const run = await h.start('purchase-approval', { model: { item: 'pen', amount: 3, requester: 'eve' } }, '?wait=5000');
    expect(run).toMatchObject({ status: 'completed', model: { decision: 'approve' } });
  });
});
