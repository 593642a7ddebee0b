/**
 * Notification channels against real components: Redis (inbox, ledger, templates), an in-process
 * SMTP server (smtp-server), a local HTTP server as webhook receiver, and the express app for
 * the inbox API and its SSE stream. Each test runs under its own key prefix, deleted afterwards.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createApp } from '../../src/api/app.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createKeyspace } from '../../src/engine/keyspace.ts';
import { type RedisClient, waitUntilReady } from '../../src/engine/redis.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { emailMessageId } from '../../src/notify/email.ts';
import { inboxItemId } from '../../src/notify/inbox.ts';
import { createNotifyServices, type NotifyServices, type NotifyServicesOptions } from '../../src/notify/index.ts';
import { verify } from '../../src/notify/signing.ts';
import { renderMessage } from '../../src/notify/templates.ts';
import { webhookId } from '../../src/notify/webhook.ts';
import { sendNotificationStep } from '../../src/steps/send-notification.ts';
import { sendTemplatedNotificationStep } from '../../src/steps/send-templated-notification.ts';
import type { EffectContext, OutgoingMessage, StepServices } from '../../src/steps/services.ts';
import { NonRetryableError, type Model, type StepContext, type StepType } from '../../src/steps/types.ts';
import { cleanupTestPrefix, engineTestOptions, TEST_EGRESS_ALLOWLIST, testRedisClient } from '../helpers/harness.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { parseMail, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { apiWiring } from '../../src/services.ts';

const log = pino({ enabled: false });
const SECRET = `whsec_${Buffer.from('notify-test-secret-0123456789').toString('base64')}`;
const KEYS = {
  admin: 'notify-admin-key-0123456789',
  ann: 'notify-ann-key-0123456789',
  bob: 'notify-bob-key-0123456789',
  cid: 'notify-cid-key-0123456789',
};
const principals = PrincipalRegistry.fromJson(
  [
    { id: 'admin', key: KEYS.admin, roles: ['admin'] },
    { id: 'ann', key: KEYS.ann, roles: ['manager'], email: 'ann@example.test', name: 'Ann' },
    { id: 'bob', key: KEYS.bob, roles: ['manager'], email: 'bob@example.test' },
    // no e-mail address: inbox only
    { id: 'cid', key: KEYS.cid, roles: ['clerk'] },
  ],
  'notify-test',
);

// ---- an SMTP server that keeps what it receives (test/helpers/smtp.ts) ----

let smtp: SmtpSink;

// ---- a webhook receiver ----

interface Hook {
  /** When it arrived (ms). */
  at: number;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
}

type HookReply = { status: number; headers?: Record<string, string>; body?: string };

const hooks = {
  server: undefined as Server | undefined,
  base: '',
  requests: [] as Hook[],
  /** Replies for the next requests, in order; then 204. */
  replies: [] as HookReply[],
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  // The webhook receiver listens on loopback, which the default egress policy refuses.
  setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
  smtp = await startSmtpSink();

  hooks.server = createServer(async (req, res) => {
    const body = await readBody(req);
    hooks.requests.push({ at: Date.now(), path: req.url ?? '', headers: req.headers as Record<string, string | undefined>, body });
    const reply = hooks.replies.shift() ?? { status: 204 };
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => hooks.server!.listen(0, '127.0.0.1', () => resolve()));
  hooks.base = `http://127.0.0.1:${(hooks.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await smtp.close();
  await new Promise<void>((resolve) => hooks.server?.close(() => resolve()));
});

// ---- per test: fresh prefix and services ----

let prefix: string;
let redis: RedisClient;
let notify: NotifyServices;
const opened: NotifyServices[] = [];

function services(over: Partial<NotifyServicesOptions['config']['notify']> = {}): NotifyServices {
  const s = createNotifyServices({
    redis,
    keys: prefix,
    config: {
      notify: {
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        mailFrom: 'Stageflow <flows@example.test>',
        webhookSecret: SECRET,
        webhookUrl: `${hooks.base}/default`,
        ...over,
      },
      publicUrl: 'http://flows.example.test/',
    },
    registry: principals,
    log,
    webhook: { timeoutMs: 2000 },
  });
  opened.push(s);
  return s;
}

beforeEach(async () => {
  prefix = uniquePrefix('notify');
  redis = testRedisClient();
  await waitUntilReady(redis, 5000);
  smtp.messages.length = 0;
  smtp.refuse.clear();
  hooks.requests.length = 0;
  hooks.replies.length = 0;
  notify = services();
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  redis.disconnect();
  await cleanupTestPrefix(prefix);
});

let runCounter = 0;
function effect(stepId = 'tell', seq = 3): EffectContext {
  const runId = `run-${++runCounter}`;
  return { effectKey: `${runId}/${stepId}/${seq}`, runId, stepId, seq, attempt: 1, signal: new AbortController().signal };
}

function message(channel: OutgoingMessage['channel'], refs: string[], over: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    channel,
    recipients: notify.directory.resolve(refs),
    subject: 'Hello',
    body: 'Body text',
    format: 'text',
    data: { runId: 'r' },
    ...over,
  };
}

/** A step context like the engine builds, with the real notify services. */
function stepCtx<S extends z.ZodType>(step: StepType<S>, params: z.input<S>, model: Model, fx = effect()): StepContext<z.infer<S>> {
  const stepServices: StepServices = {
    ...unconfiguredServices(),
    directory: notify.directory,
    notifier: notify.notifier,
    templates: notify.templates,
    publicUrl: notify.publicUrl,
    links: { forOptions: async () => ({}) },
  };
  return {
    runId: fx.runId,
    workflow: 'wf',
    version: 1,
    stepId: fx.stepId,
    seq: fx.seq,
    attempt: 1,
    effectKey: fx.effectKey,
    params: step.params.parse(params),
    model,
    signal: fx.signal,
    log,
    services: stepServices,
  };
}

describe('directory', () => {
  it('resolves ids, roles, addresses and URLs, deduplicated by id', () => {
    const got = notify.directory.resolve(['ann', 'role:manager', 'x@y.test', 'bob@example.test', 'https://hooks.test/a', 'ghost', 'ann']);
    expect(got).toEqual([
      { id: 'ann', email: 'ann@example.test', name: 'Ann' },
      { id: 'bob', email: 'bob@example.test' },
      { id: 'x@y.test', email: 'x@y.test' },
      { id: 'https://hooks.test/a', webhookUrl: 'https://hooks.test/a' },
      { id: 'ghost' },
    ]);
    expect(notify.directory.resolve(['role:nobody'])).toEqual([]);
    // an address list or header syntax is not an address
    expect(notify.directory.resolve(['a@b.test, c@d.test'])).toEqual([{ id: 'a@b.test, c@d.test' }]);
  });

  it('matches a principal by id or role', () => {
    const ann = { id: 'ann', roles: ['manager'] };
    expect(notify.directory.matches(ann, ['role:manager'])).toBe(true);
    expect(notify.directory.matches(ann, ['ann'])).toBe(true);
    expect(notify.directory.matches(ann, ['bob', 'role:clerk'])).toBe(false);
  });
});

describe('email over SMTP', () => {
  it('delivers a templated HTML e-mail with the model escaped, once per effect key', async () => {
    await notify.templates.put('order-placed', {
      subject: 'Order {{ order.id }} placed',
      body: '<p>Hello {{ requester }},</p><p>Note: {{ order.note }}</p>',
      renderType: 'html',
    });
    const model = { requester: 'ann', order: { id: 'A-7', note: '<script>alert("x")</script>' } };
    const fx = effect();
    const params = { template: 'order-placed', renderType: 'html' as const, channel: 'email' as const, userInfoField: 'requester' };
    const first = await sendTemplatedNotificationStep.execute(stepCtx(sendTemplatedNotificationStep, params, model, fx));
    expect(first).toEqual({ outcome: { kind: 'next' }, detail: { channel: 'email', delivered: 1, alreadySent: 0, unreachable: [] } });

    expect(smtp.messages).toHaveLength(1);
    const received = smtp.messages[0]!;
    expect(received.rcptTo).toEqual(['ann@example.test']);
    const mail = parseMail(received.raw);
    expect(mail.headers.subject).toBe('Order A-7 placed');
    expect(mail.headers.to).toBe('Ann <ann@example.test>');
    expect(mail.headers.from).toBe('Stageflow <flows@example.test>');
    expect(mail.headers['content-type']).toMatch(/^text\/html/);
    expect(mail.headers['message-id']).toBe(emailMessageId(fx.effectKey, 'ann', 'flows@example.test'));
    expect(mail.headers['x-stageflow-effect-key']).toBe(fx.effectKey);
    expect(mail.body).toContain('Note: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;');
    expect(mail.body).not.toContain('<script>');

    // the same step redelivered (same runId/stepId/seq): nothing is sent again
    const again = await sendTemplatedNotificationStep.execute(stepCtx(sendTemplatedNotificationStep, params, model, fx));
    expect(again.detail).toEqual({ channel: 'email', delivered: 0, alreadySent: 1, unreachable: [] });
    expect(smtp.messages).toHaveLength(1);
  });

  it('reports recipients without an address and fails without retry when nobody is reachable', async () => {
    const report = await notify.notifier.deliver(message('email', ['role:manager', 'cid', 'raw@else.test']), effect());
    expect(report.delivered).toBe(3);
    expect(report.unreachable).toEqual([{ id: 'cid', reason: expect.stringMatching(/no e-mail address/) }]);
    expect(smtp.messages.flatMap((m) => m.rcptTo).sort()).toEqual(['ann@example.test', 'bob@example.test', 'raw@else.test']);

    await expect(notify.notifier.deliver(message('email', ['cid', 'ghost']), effect())).rejects.toThrow(NonRetryableError);
    await expect(notify.notifier.deliver(message('email', ['cid']), effect())).rejects.toThrow(
      /no recipient could be reached on the email channel/,
    );
  });

  it('treats a permanent SMTP refusal as unreachable, and an unconfigured channel too', async () => {
    smtp.refuse.add('bob@example.test');
    const report = await notify.notifier.deliver(message('email', ['ann', 'bob']), effect());
    expect(report.delivered).toBe(1);
    expect(report.unreachable).toEqual([{ id: 'bob', reason: expect.stringMatching(/refused/) }]);

    const off = services({ smtpUrl: undefined });
    await expect(off.notifier.deliver(message('email', ['ann']), effect())).rejects.toThrow(/SMTP_URL/);
  });

  it('retries what failed for a transient reason and skips what was sent', async () => {
    // a server that is not there: connection refused is worth a retry
    const down = services({ smtpUrl: 'smtp://127.0.0.1:1' });
    const fx = effect();
    const err = await down.notifier.deliver(message('email', ['ann']), fx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NonRetryableError);
    // the retry (same effect key) with the server reachable sends it
    expect((await notify.notifier.deliver(message('email', ['ann']), fx)).delivered).toBe(1);
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('inbox', () => {
  it('stores an item once per effect key, newest first, with an unread flag', async () => {
    const fx1 = effect('a');
    const fx2 = effect('b');
    expect(await notify.notifier.deliver(message('inbox', ['ann', 'role:manager'], { body: 'first' }), fx1)).toEqual({
      delivered: 2,
      alreadySent: 0,
      unreachable: [],
    });
    expect(await notify.notifier.deliver(message('inbox', ['ann'], { body: 'first' }), fx1)).toEqual({
      delivered: 0,
      alreadySent: 1,
      unreachable: [],
    });
    await notify.notifier.deliver(message('inbox', ['ann'], { body: 'second', format: 'html' }), fx2);

    const { items, unreadCount } = await notify.inbox.list('ann');
    expect(unreadCount).toBe(2);
    expect(items.map((i) => i.body)).toEqual(['second', 'first']);
    expect(items[1]).toEqual({
      id: inboxItemId(fx1.effectKey),
      at: expect.any(String),
      subject: 'Hello',
      body: 'first',
      format: 'text',
      read: false,
      data: { runId: 'r' },
    });
    expect((await notify.inbox.list('bob')).items).toHaveLength(1);

    expect(await notify.inbox.markRead('ann', items[1]!.id)).toBe(true);
    expect(await notify.inbox.markRead('bob', 'no-such-item')).toBe(false);
    expect((await notify.inbox.list('ann', { unread: true })).items.map((i) => i.body)).toEqual(['second']);
    expect((await notify.inbox.list('ann')).items.map((i) => i.read)).toEqual([false, true]);
  });

  it('keeps at most maxItems per user, dropping the oldest', async () => {
    const small = createNotifyServices({
      redis,
      keys: prefix,
      config: { notify: { smtpUrl: undefined, mailFrom: 'a@b', webhookSecret: undefined, webhookUrl: undefined }, publicUrl: 'http://x' },
      registry: principals,
      log,
      inbox: { maxItems: 3 },
    });
    opened.push(small);
    for (let i = 1; i <= 5; i++) await small.inbox.add('cid', { body: `n${i}`, format: 'text' }, `r/s/${i}`);
    const { items, unreadCount } = await small.inbox.list('cid');
    expect(items.map((i) => i.body)).toEqual(['n5', 'n4', 'n3']);
    expect(unreadCount).toBe(3);
    // the ledger outlives trimming: a redelivery of a dropped item does not bring it back
    expect((await small.inbox.add('cid', { body: 'n1', format: 'text' }, 'r/s/1')).added).toBe(false);
  });
});

describe('webhook', () => {
  it('POSTs a signed message that verify() accepts', async () => {
    const fx = effect();
    const report = await notify.notifier.deliver(message('webhook', ['ann']), fx);
    expect(report).toEqual({ delivered: 1, alreadySent: 0, unreachable: [] });
    expect(hooks.requests).toHaveLength(1);
    const req = hooks.requests[0]!;
    expect(req.path).toBe('/default');
    expect(req.headers['webhook-id']).toBe(webhookId(fx.effectKey, 'ann'));
    expect(req.headers['idempotency-key']).toBe(req.headers['webhook-id']);
    expect(verify(SECRET, req.headers, req.body)).toBe(true);
    expect(verify(SECRET, req.headers, req.body.replace('Body', 'body'))).toBe(false);
    expect(JSON.parse(req.body)).toEqual({
      type: 'notification',
      subject: 'Hello',
      body: 'Body text',
      format: 'text',
      recipient: { id: 'ann', name: 'Ann', email: 'ann@example.test' },
      data: { runId: 'r' },
    });

    // redelivered: the ledger stops a second POST
    expect((await notify.notifier.deliver(message('webhook', ['ann']), fx)).alreadySent).toBe(1);
    expect(hooks.requests).toHaveLength(1);
  });

  it('goes to a URL given as recipient', async () => {
    await notify.notifier.deliver(message('webhook', [`${hooks.base}/own?x=1`]), effect());
    expect(hooks.requests.map((r) => r.path)).toEqual(['/own?x=1']);
  });

  it('POSTs once per call: 503 and 429 throw for the step retry (with Retry-After), the retry sends the same webhook-id', async () => {
    hooks.replies.push({ status: 503 }, { status: 429, headers: { 'retry-after': '3' } }, { status: 200, body: 'ok' });
    const fx = effect();
    const first = await notify.notifier.deliver(message('webhook', ['bob']), fx).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Error);
    expect(first).not.toBeInstanceOf(NonRetryableError);
    expect(hooks.requests).toHaveLength(1);
    const second = await notify.notifier.deliver(message('webhook', ['bob']), { ...fx, attempt: 2 }).catch((e: unknown) => e);
    expect(second).not.toBeInstanceOf(NonRetryableError);
    expect((second as { retryAfterMs?: number }).retryAfterMs).toBe(3000);
    expect(hooks.requests).toHaveLength(2);
    expect((await notify.notifier.deliver(message('webhook', ['bob']), { ...fx, attempt: 3 })).delivered).toBe(1);
    expect(hooks.requests).toHaveLength(3);
    expect(hooks.requests.map((r) => r.headers['x-stageflow-attempt'])).toEqual(['1', '2', '3']);
    const ids = new Set(hooks.requests.map((r) => r.headers['webhook-id']));
    expect([...ids]).toEqual([webhookId(fx.effectKey, 'bob')]);
    for (const r of hooks.requests) expect(verify(SECRET, r.headers, r.body)).toBe(true);
  });

  it('hands a Retry-After up to the step retry, on the error it throws, without waiting in the call', async () => {
    hooks.replies.push({ status: 503, headers: { 'retry-after': '120' } });
    const err = await notify.notifier.deliver(message('webhook', ['ann']), effect()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NonRetryableError);
    expect((err as { retryAfterMs?: number }).retryAfterMs).toBe(120_000);
    expect(hooks.requests).toHaveLength(1);
  });

  it('throws for a retry when the receiver fails, after one POST; a 400 fails at once without retry', async () => {
    hooks.replies.push({ status: 500 }, { status: 204 });
    const err = await notify.notifier.deliver(message('webhook', ['ann']), effect()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NonRetryableError);
    expect(hooks.requests).toHaveLength(1);

    hooks.requests.length = 0;
    hooks.replies.length = 0;
    hooks.replies.push({ status: 400, body: 'bad payload' });
    const bad = await notify.notifier.deliver(message('webhook', ['ann']), effect()).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(NonRetryableError);
    expect((bad as Error).message).toMatch(/answered 400 Bad Request \(http:\/\/127\.0\.0\.1:\d+\/default\): bad payload/);
    expect(hooks.requests).toHaveLength(1);
  });

  it('is off without a secret; a recipient without a URL is unreachable', async () => {
    const unsigned = services({ webhookSecret: undefined });
    await expect(unsigned.notifier.deliver(message('webhook', ['ann']), effect())).rejects.toThrow(/WEBHOOK_SECRET/);
    const noDefault = services({ webhookUrl: undefined });
    const report = await noDefault.notifier.deliver(message('webhook', ['ann', `${hooks.base}/x`]), effect());
    expect(report.delivered).toBe(1);
    expect(report.unreachable).toEqual([{ id: 'ann', reason: expect.stringMatching(/no webhook URL/) }]);
  });
});

describe('templates', () => {
  it('stores, replaces and lists templates; refuses one that does not parse', async () => {
    expect((await notify.templates.put('t1', { body: 'Hi {{ name }}' })).created).toBe(true);
    const replaced = await notify.templates.put('t1', { subject: 'S', body: 'Hi {{ name }}!', renderType: 'html' });
    expect(replaced.created).toBe(false);
    expect(await notify.templates.get('t1')).toMatchObject({ name: 't1', subject: 'S', body: 'Hi {{ name }}!', renderType: 'html' });
    expect(await notify.templates.list()).toEqual([expect.objectContaining({ name: 't1', subject: 'S', renderType: 'html' })]);
    await expect(notify.templates.put('t2', { body: 'x {{ a | no_such_filter }}' })).rejects.toThrow(/undefined filter/);
    await expect(notify.templates.put('t3', { body: '{% if %}' })).rejects.toThrow(/does not parse/);
  });

  it('escapes values in html and leaves text alone', async () => {
    await notify.templates.put('both', { subject: 'For {{ who }}', body: 'Hi {{ who }}, {{ safe | raw }}' });
    const model = { who: '<b>Tom & Jerry</b>', safe: '<i>ok</i>' };
    expect(await notify.templates.render('both', 'html', model)).toEqual({
      subject: 'For <b>Tom & Jerry</b>',
      body: 'Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;, <i>ok</i>',
    });
    expect(await notify.templates.render('both', 'text', model)).toEqual({
      subject: 'For <b>Tom & Jerry</b>',
      body: 'Hi <b>Tom & Jerry</b>, <i>ok</i>',
    });
  });

  it('is sandboxed: no file system, own properties only, bounded work', async () => {
    expect(await renderMessage('{{ a.constructor }}{{ a.__proto__ }}|{{ a.toString }}', { a: {} })).toBe('|');
    await expect(renderMessage('{% include "/etc/passwd" %}', {})).rejects.toThrow(/Failed to lookup/);
    await expect(renderMessage('{% for i in (1..100000000) %}{{ i }}{% endfor %}', {})).rejects.toThrow(NonRetryableError);
  });

  it('fails without retry for a missing template or a render error', async () => {
    const missing = await notify.templates.render('nope', 'text', {}).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NonRetryableError);
    expect((missing as Error).message).toMatch(/template "nope" does not exist/);

    await notify.templates.put('huge', { body: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' });
    const broken = await notify.templates.render('huge', 'text', {}).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(NonRetryableError);
    expect((broken as Error).message).toMatch(/template "huge" could not be rendered: .*limit/);

    // a template stored before a filter went away (bypassing the save-time check)
    await redis.set(
      createKeyspace(prefix).template('old'),
      JSON.stringify({ name: 'old', body: '{{ x | gone }}', renderType: 'text', createdAt: '', updatedAt: '' }),
    );
    await expect(notify.templates.render('old', 'text', { x: 1 })).rejects.toThrow(NonRetryableError);

    // through the step: the missing template fails it without retry
    const ctx = stepCtx(sendTemplatedNotificationStep, { template: 'nope', renderType: 'text', channel: 'inbox', users: ['ann'] }, {});
    await expect(sendTemplatedNotificationStep.execute(ctx)).rejects.toThrow(NonRetryableError);
  });
});

describe('sendNotification step', () => {
  it('renders {{field.path}} placeholders and reaches userInfoField ∪ users, once per effect key', async () => {
    const model = { approvers: ['ann', 'role:manager'], order: { id: 42, items: [{ name: 'pen' }] }, who: '<x>' };
    const params = {
      channel: 'inbox' as const,
      userInfoField: 'approvers',
      users: ['cid'],
      subject: 'Order {{ order.id }}',
      message: '{{ who }} ordered {{ order.items.0.name }} ({{ order.missing }})',
    };
    const fx = effect('notify');
    const result = await sendNotificationStep.execute(stepCtx(sendNotificationStep, params, model, fx));
    expect(result).toEqual({ outcome: { kind: 'next' }, detail: { channel: 'inbox', delivered: 3, alreadySent: 0, unreachable: [] } });
    for (const user of ['ann', 'bob', 'cid']) {
      const { items } = await notify.inbox.list(user);
      expect(items).toEqual([
        {
          id: inboxItemId(fx.effectKey),
          at: expect.any(String),
          subject: 'Order 42',
          body: '<x> ordered pen ()',
          format: 'text',
          read: false,
          data: { runId: fx.runId, stepId: 'notify', workflow: 'wf' },
        },
      ]);
    }
    const again = await sendNotificationStep.execute(stepCtx(sendNotificationStep, params, model, fx));
    expect(again.detail).toEqual({ channel: 'inbox', delivered: 0, alreadySent: 3, unreachable: [] });
  });

  it('takes a single id or address from userInfoField and fails without retry when there is nobody', async () => {
    const mailed = await sendNotificationStep.execute(
      stepCtx(sendNotificationStep, { channel: 'email', userInfoField: 'to', message: 'hi' }, { to: 'someone@else.test' }),
    );
    expect(mailed.detail).toMatchObject({ delivered: 1 });
    expect(smtp.messages[0]?.rcptTo).toEqual(['someone@else.test']);
    expect(parseMail(smtp.messages[0]!.raw).body.trim()).toBe('hi');

    await expect(
      sendNotificationStep.execute(stepCtx(sendNotificationStep, { channel: 'inbox', userInfoField: 'to', message: 'hi' }, {})),
    ).rejects.toThrow(/no recipients/);
    await expect(
      sendNotificationStep.execute(
        stepCtx(sendNotificationStep, { channel: 'inbox', userInfoField: 'to', message: 'hi' }, { to: { id: 1 } }),
      ),
    ).rejects.toThrow(NonRetryableError);
    await expect(
      sendNotificationStep.execute(stepCtx(sendNotificationStep, { channel: 'inbox', users: ['role:nobody'], message: 'hi' }, {})),
    ).rejects.toThrow(NonRetryableError);
  });
});

// ---- through the API and a real run ----

describe('API and runs', () => {
  let engine: Engine;
  let worker: Engine;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    const options = engineTestOptions(prefix, {
      services: () => ({
        ...unconfiguredServices(),
        directory: notify.directory,
        notifier: notify.notifier,
        templates: notify.templates,
        publicUrl: notify.publicUrl,
      }),
    });
    engine = Engine.open(options, log, { failFast: true });
    await waitUntilReady(engine.redis, 5000);
    worker = Engine.open(options, log, { failFast: false });
    worker.startWorker();
    const app = createApp({ engine, principals, log, notify, ...apiWiring(engine) });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await worker.close();
    await engine.close();
  });

  async function api(method: string, path: string, as: keyof typeof KEYS, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${KEYS[as]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (ok(v)) return v;
      if (Date.now() > until) throw new Error(`condition not met: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('PUT/GET /api/templates with 201/200, 400 for a broken template, 403 without the designer role', async () => {
    const t = { subject: 'Order {{ order.id }} placed', body: '<p>{{ order.note }}</p>', renderType: 'html' };
    const created = await api('PUT', '/api/templates/order-placed', 'admin', t);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/templates/order-placed');
    expect((await api('PUT', '/api/templates/order-placed', 'admin', t)).status).toBe(200);
    expect((await api('GET', '/api/templates/order-placed', 'ann')).body).toMatchObject({ name: 'order-placed', ...t });
    expect((await api('GET', '/api/templates', 'ann')).body.items.map((i: any) => i.name)).toEqual(['order-placed']);
    expect((await api('GET', '/api/templates/nope', 'ann')).status).toBe(404);

    const broken = await api('PUT', '/api/templates/broken', 'admin', { body: '{{ x | nope }}' });
    expect(broken.status).toBe(400);
    expect(broken.body.errors).toEqual([{ path: '$.body', message: expect.stringMatching(/undefined filter/) }]);
    expect((await api('PUT', '/api/templates/x', 'admin', { body: 'x', extra: 1 })).status).toBe(400);
    expect((await api('PUT', '/api/templates/bad%20name', 'admin', { body: 'x' })).status).toBe(400);
    expect((await api('PUT', '/api/templates/mine', 'ann', { body: 'x' })).status).toBe(403);
  });

  it('a run e-mails the rendered template over SMTP and rings the inbox; the inbox API lists and marks read', async () => {
    await api('PUT', '/api/templates/order-placed', 'admin', {
      subject: 'Order {{ order.id }} placed',
      body: '<p>Note: {{ order.note }}</p>',
      renderType: 'html',
    });
    const wf = {
      stages: [
        {
          id: 'tell',
          name: 'Tell',
          steps: [
            {
              id: 'mail',
              type: 'sendTemplatedNotification',
              template: 'order-placed',
              renderType: 'html',
              channel: 'email',
              userInfoField: 'requester',
            },
            {
              id: 'bell',
              type: 'sendNotification',
              channel: 'inbox',
              userInfoField: 'requester',
              users: ['bob'],
              subject: 'Order {{ order.id }}',
              message: 'Order {{ order.id }} was placed',
            },
          ],
        },
      ],
    };
    expect((await api('PUT', '/api/workflows/order-mail', 'admin', wf)).status).toBe(201);
    const started = await api('POST', '/api/workflows/order-mail/runs', 'admin', {
      model: { requester: 'ann', order: { id: 'A-7', note: '<script>alert(1)</script>' } },
    });
    expect(started.status).toBe(201);
    const run = await waitFor(
      () => api('GET', `/api/runs/${started.body.id}`, 'admin'),
      (r) => r.body.status !== 'running',
    );
    expect(run.body.status).toBe('completed');

    expect(smtp.messages).toHaveLength(1);
    const mail = parseMail(smtp.messages[0]!.raw);
    expect(smtp.messages[0]!.rcptTo).toEqual(['ann@example.test']);
    expect(mail.headers.subject).toBe('Order A-7 placed');
    expect(mail.body).toContain('<p>Note: &lt;script&gt;alert(1)&lt;/script&gt;</p>');

    const history = (await api('GET', `/api/runs/${started.body.id}/history`, 'admin')).body.items as any[];
    expect(history.find((e) => e.type === 'step.completed' && e.stepId === 'mail')?.detail).toMatchObject({ delivered: 1, alreadySent: 0 });

    const inbox = await api('GET', '/api/me/notifications', 'ann');
    expect(inbox.status).toBe(200);
    expect(inbox.body.items).toEqual([
      {
        id: expect.any(String),
        at: expect.any(String),
        subject: 'Order A-7',
        body: 'Order A-7 was placed',
        format: 'text',
        read: false,
        data: { runId: started.body.id, stepId: 'bell', workflow: 'order-mail' },
      },
    ]);
    const id = inbox.body.items[0].id as string;
    expect((await api('POST', `/api/me/notifications/${id}/read`, 'bob')).status).toBe(200);
    expect((await api('POST', `/api/me/notifications/${id}/read`, 'cid')).status).toBe(404);
    expect((await api('POST', `/api/me/notifications/${id}/read`, 'ann')).body).toEqual({ id, read: true });
    expect((await api('GET', '/api/me/notifications?unread=true', 'ann')).body.items).toEqual([]);
    expect((await api('GET', '/api/me/notifications?limit=0', 'ann')).status).toBe(400);
  });

  /** Runs a one-step workflow that sends a webhook to ann (NOTIFY_WEBHOOK_URL) with `attempts` step attempts. */
  async function webhookRun(name: string, attempts: number) {
    const step = { id: 'hook', type: 'sendNotification', channel: 'webhook', users: ['ann'], subject: 'S', message: 'M' };
    const wf = { stages: [{ id: 's', name: 'S', steps: [{ ...step, retry: { attempts, backoff: { type: 'fixed', delayMs: 20 } } }] }] };
    expect((await api('PUT', `/api/workflows/${name}`, 'admin', wf)).status).toBe(201);
    const started = await api('POST', `/api/workflows/${name}/runs`, 'admin', { model: {} });
    expect(started.status).toBe(201);
    const run = await waitFor(
      () => api('GET', `/api/runs/${started.body.id}`, 'admin'),
      (r) => r.body.status !== 'running',
      15_000,
    );
    const history = (await api('GET', `/api/runs/${started.body.id}/history`, 'admin')).body.items as any[];
    return { run: run.body, history };
  }

  it('a webhook answering 503 with Retry-After gets one POST per step attempt (attempts in all, not a retry loop per attempt), each after the asked wait', async () => {
    hooks.replies.push(...Array.from({ length: 12 }, () => ({ status: 503, headers: { 'retry-after': '1' } })));
    const { run, history } = await webhookRun('hook-busy', 3);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'hook', attempt: 3 });
    expect(run.error.message).toMatch(/answered 503 .*retry after 1000 ms/);
    expect(hooks.requests).toHaveLength(3);
    // the step's backoff (20 ms) gave way to the receiver's Retry-After (1 s)
    const gaps = hooks.requests.slice(1).map((r, i) => r.at - hooks.requests[i]!.at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);
    expect(new Set(hooks.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(history.filter((e) => e.type === 'step.retrying').map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('a webhook answering 400 fails the step after one POST, without retry', async () => {
    hooks.replies.push(...Array.from({ length: 3 }, () => ({ status: 400, body: 'bad payload' })));
    const { run, history } = await webhookRun('hook-bad', 3);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ stepId: 'hook', attempt: 1, code: 'NON_RETRYABLE' });
    expect(run.error.message).toMatch(/answered 400 Bad Request .*bad payload/);
    expect(hooks.requests).toHaveLength(1);
    expect(history.filter((e) => e.type === 'step.retrying')).toEqual([]);
  });

  /** Reads an SSE response until `pred` holds for what arrived so far. */
  function sseReader(res: Response) {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    return {
      get text() {
        return text;
      },
      async until(pred: (text: string) => boolean, ms = 5000): Promise<string> {
        const deadline = Date.now() + ms;
        while (!pred(text)) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`stream did not deliver in time; got: ${text}`);
          const chunk = await Promise.race([
            reader.read(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`stream timeout; got: ${text}`)), left)),
          ]);
          if (chunk.done) throw new Error(`stream ended; got: ${text}`);
          text += decoder.decode(chunk.value, { stream: true });
        }
        return text;
      },
    };
  }

  const events = (text: string) =>
    text
      .split('\n\n')
      .filter((b) => b.includes('event: notification'))
      .map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]!));

  it('streams new inbox items over SSE and cleans up the subscription on close', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/me/notifications/stream`, { headers: { authorization: `Bearer ${KEYS.ann}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = sseReader(res);
    await stream.until((t) => t.includes(': connected'));
    expect(notify.feed.size).toBe(1);

    const fx = effect('live');
    await notify.notifier.deliver(message('inbox', ['ann', 'bob'], { body: 'live one' }), fx);
    await stream.until((t) => events(t).length === 1);
    expect(stream.text).toContain(`id: ${inboxItemId(fx.effectKey)}\nevent: notification\n`);
    expect(events(stream.text)[0]).toEqual({
      id: inboxItemId(fx.effectKey),
      at: expect.any(String),
      subject: 'Hello',
      body: 'live one',
      format: 'text',
      read: false,
      data: { runId: 'r' },
    });

    // a redelivery adds nothing and announces nothing; another user's item is not ours
    await notify.notifier.deliver(message('inbox', ['ann'], { body: 'live one' }), fx);
    await notify.notifier.deliver(message('inbox', ['bob'], { body: 'for bob' }), effect());
    await notify.notifier.deliver(message('inbox', ['ann'], { body: 'live two' }), effect());
    await stream.until((t) => events(t).length === 2);
    expect(events(stream.text).map((e) => e.body)).toEqual(['live one', 'live two']);

    ac.abort();
    await waitFor(
      async () => notify.feed.size,
      (n) => n === 0,
    );
  });

  it('replays what a client missed when it reconnects with Last-Event-ID', async () => {
    const first = effect('one');
    await notify.notifier.deliver(message('inbox', ['cid'], { body: 'one' }), first);
    await notify.notifier.deliver(message('inbox', ['cid'], { body: 'two' }), effect('two'));
    await notify.notifier.deliver(message('inbox', ['cid'], { body: 'three' }), effect('three'));
    const ac = new AbortController();
    const res = await fetch(`${base}/api/me/notifications/stream`, {
      headers: { authorization: `Bearer ${KEYS.cid}`, 'last-event-id': inboxItemId(first.effectKey) },
      signal: ac.signal,
    });
    const stream = sseReader(res);
    await stream.until((t) => events(t).length === 2);
    expect(events(stream.text).map((e) => e.body)).toEqual(['two', 'three']);
    ac.abort();
  });

  it('ends open streams when the services close, so the server can shut down', async () => {
    const res = await fetch(`${base}/api/me/notifications/stream`, { headers: { authorization: `Bearer ${KEYS.bob}` } });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain(': connected');
    await notify.close();
    for (;;) if ((await reader.read()).done) break;
    // with no stream left open, close() returns (afterEach's second close just reports not running)
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends heartbeats on an idle stream', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const express = (await import('express')).default;
    const { meRoutes } = await import('../../src/api/routes/me.ts');
    const app = express();
    app.use((_req, res, next) => {
      res.locals.principal = { id: 'ann', roles: [] };
      next();
    });
    app.use('/me', meRoutes.router({ inbox: notify.inbox, feed: notify.feed, log, heartbeatMs: 50 }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/me/notifications/stream`, { signal: ac.signal });
    const stream = sseReader(res);
    await stream.until((t) => t.split(': keep-alive').length > 2);
    ac.abort();
  });
});
