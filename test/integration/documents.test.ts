/**
 * Document templates (docx, xlsx, pdf) against real components: Redis for the registry and the
 * rendered documents, an in-process SMTP server, a local webhook receiver and the express app.
 * Every rendered file is read back with a reader independent of the library that wrote it:
 * mammoth for docx, exceljs for xlsx, unpdf (pdf.js) for pdf, mailparser for the e-mail.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ExcelJS from 'exceljs';
import { simpleParser } from 'mailparser';
import mammoth from 'mammoth';
import { pino } from 'pino';
import { extractText, getDocumentProxy } from 'unpdf';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createApp } from '../../src/api/app.ts';
import { PrincipalRegistry } from '../../src/api/principals.ts';
import { validateDefinition } from '../../src/definition/validate.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createKeyspace } from '../../src/engine/keyspace.ts';
import { type RedisClient, waitUntilReady } from '../../src/engine/redis.ts';
import { unconfiguredServices } from '../../src/engine/unconfigured-services.ts';
import { DOCUMENT_INFO, documentKind, type DocumentKind } from '../../src/notify/documents/index.ts';
import { DocumentStore, documentId } from '../../src/notify/documents.ts';
import { createNotifyServices, type NotifyServices } from '../../src/notify/index.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { TEST_EGRESS_ALLOWLIST } from '../helpers/harness.ts';
import { sendTemplatedNotificationStep } from '../../src/steps/send-templated-notification.ts';
import type { StepServices } from '../../src/steps/services.ts';
import { NonRetryableError, type Model, type StepContext, type StepType } from '../../src/steps/types.ts';
import { buildDocx, orderDocx, orderModel, orderPdf, orderXlsx } from '../helpers/document-fixtures.ts';
import { cleanupTestPrefix, engineTestOptions, scanKeys, testRedisClient } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { apiWiring } from '../../src/services.ts';

const log = pino({ enabled: false });
const SECRET = `whsec_${Buffer.from('documents-test-secret-0123456789').toString('base64')}`;
const KEYS = { admin: 'docs-admin-key-0123456789', ann: 'docs-ann-key-0123456789', bob: 'docs-bob-key-0123456789' };
const principals = PrincipalRegistry.fromJson(
  [
    { id: 'admin', key: KEYS.admin, roles: ['admin'] },
    { id: 'ann', key: KEYS.ann, roles: ['manager'], email: 'ann@example.test', name: 'Ann' },
    { id: 'bob', key: KEYS.bob, roles: ['manager'], email: 'bob@example.test' },
  ],
  'documents-test',
);
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const MAX = 64 * 1024;

let smtp: SmtpSink;
const hooks = { server: undefined as Server | undefined, base: '', bodies: [] as string[] };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

beforeAll(async () => {
  // The webhook receiver listens on loopback, which the egress policy refuses unless allowed.
  setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
  smtp = await startSmtpSink();
  hooks.server = createServer(async (req, res) => {
    hooks.bodies.push(await readBody(req));
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => hooks.server!.listen(0, '127.0.0.1', () => resolve()));
  hooks.base = `http://127.0.0.1:${(hooks.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await smtp.close();
  await new Promise<void>((resolve) => hooks.server?.close(() => resolve()));
});

let prefix: string;
let redis: RedisClient;
let notify: NotifyServices;

beforeEach(async () => {
  prefix = uniquePrefix('docs');
  redis = testRedisClient();
  await waitUntilReady(redis, 5000);
  smtp.messages.length = 0;
  hooks.bodies.length = 0;
  notify = createNotifyServices({
    redis,
    keys: prefix,
    registry: principals,
    log,
    templateMaxBytes: MAX,
    documentTtlSec: 3600,
    config: {
      notify: { smtpUrl: smtp.url, mailFrom: 'Stageflow <flows@example.test>', webhookSecret: SECRET, webhookUrl: `${hooks.base}/hook` },
      publicUrl: 'http://flows.example.test',
    },
  });
});

afterEach(async () => {
  await notify.close();
  redis.disconnect();
  await cleanupTestPrefix(prefix);
});

// ---- independent readers ----

async function docxText(bytes: Buffer): Promise<string[]> {
  return (await mammoth.extractRawText({ buffer: bytes })).value
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

async function xlsxRows(bytes: Buffer): Promise<unknown[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  const rows: unknown[][] = [];
  wb.worksheets[0]!.eachRow((row, n) => {
    rows[n] = (row.values as unknown[]).slice(1);
  });
  return rows;
}

async function pdfLines(bytes: Buffer): Promise<string[]> {
  const { text } = await extractText(await getDocumentProxy(new Uint8Array(bytes)), { mergePages: true });
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

const model = orderModel(100);
const documentKinds = {} as Record<'docx' | 'xlsx' | 'pdf', DocumentKind>;
beforeAll(async () => {
  for (const t of ['docx', 'xlsx', 'pdf'] as const) {
    documentKinds[t] = await documentKind(t);
    // the table known without loading a renderer says what the renderer says
    expect(DOCUMENT_INFO[t]).toEqual({ contentType: documentKinds[t].contentType, extension: documentKinds[t].extension });
  }
});

let runCounter = 0;
function stepCtx<S extends z.ZodType>(
  step: StepType<S>,
  params: z.input<S>,
  m: Model,
  runId = `run-${++runCounter}`,
): StepContext<z.infer<S>> {
  const services: StepServices = {
    ...unconfiguredServices(),
    directory: notify.directory,
    notifier: notify.notifier,
    templates: notify.templates,
    publicUrl: notify.publicUrl,
    links: { forOptions: async () => ({}) },
  };
  return {
    runId,
    workflow: 'wf',
    version: 1,
    stepId: 'send',
    seq: 2,
    attempt: 1,
    effectKey: `${runId}/send/2`,
    params: step.params.parse(params),
    model: m,
    signal: new AbortController().signal,
    log,
    services,
  };
}

async function storedDocuments(): Promise<number> {
  return (await scanKeys(redis, `${prefix}:doc:*`)).length;
}

describe('rendering each type from a fixture with a 100-row table', () => {
  it('docx: text, number, date, condition and every table row land where the tags were (mammoth)', async () => {
    const tpl = orderDocx();
    expect(documentKinds.docx.inspect(tpl)).toEqual([
      'customer.name',
      'total',
      'orderedAt',
      'vip',
      'items',
      'items.name',
      'items.qty',
      'items.price',
    ]);
    const lines = await docxText(await documentKinds.docx.render(tpl, model));
    expect(lines.slice(0, 4)).toEqual([
      'Order for Ada Lovelace & Co',
      'Total: 1234.5',
      'Ordered on 2026-03-14T09:26:53.000Z',
      'Thank you for being a VIP customer',
    ]);
    expect(lines.slice(4, 7)).toEqual(['Item', 'Qty', 'Price']);
    const cells = lines.slice(7, 7 + 300);
    for (let i = 0; i < 100; i++)
      expect(cells.slice(i * 3, i * 3 + 3)).toEqual([`Widget ${i + 1}`, String(i + 1), String(model.items[i]!.price)]);
    expect(lines[307]).toBe('End of order');
    // the condition false: its text is gone
    expect(await docxText(await documentKinds.docx.render(tpl, { ...model, vip: false }))).not.toContain(
      'Thank you for being a VIP customer',
    );
  });

  it('docx: a tag with a Liquid filter formats a date', async () => {
    const tpl = buildDocx(['Due {orderedAt | date: "%d %b %Y"}', 'Sum {total | times: 2}']);
    expect(await docxText(await documentKinds.docx.render(tpl, model))).toEqual(['Due 14 Mar 2026', 'Sum 2469']);
  });

  it('xlsx: values keep their types (number, date) and the table row repeats 100 times (exceljs)', async () => {
    const rows = await xlsxRows(await documentKinds.xlsx.render(await orderXlsx(), model));
    expect(rows[1]).toEqual(['Customer', 'Ada Lovelace & Co']);
    expect(rows[2]).toEqual(['Total', 1234.5]);
    expect(rows[3]![0]).toBe('Ordered on');
    expect(rows[3]![1]).toBeInstanceOf(Date);
    expect((rows[3]![1] as Date).toISOString().slice(0, 10)).toBe('2026-03-14');
    expect(rows[5]).toEqual(['Item', 'Qty', 'Price']);
    for (let i = 0; i < 100; i++) expect(rows[6 + i]).toEqual([`Widget ${i + 1}`, i + 1, model.items[i]!.price]);
    expect(rows[106]).toBeUndefined();
  });

  it('pdf: placeholders and a $repeat table row filled from the model (unpdf text)', async () => {
    const tpl = Buffer.from(JSON.stringify(orderPdf()));
    const lines = await pdfLines(await documentKinds.pdf.render(tpl, model));
    expect(lines.slice(0, 4)).toEqual(['Order for Ada Lovelace & Co', 'Total: 1234.5', 'Ordered on 2026-03-14', 'Item Qty Price']);
    const rows = lines.filter((l) => l.startsWith('Widget '));
    expect(rows).toHaveLength(100);
    for (let i = 0; i < 100; i++) expect(rows[i]).toBe(`Widget ${i + 1} ${i + 1} ${model.items[i]!.price}`);
  });
});

describe('the step: once per effect key, per channel', () => {
  async function register() {
    await notify.templates.put('order-doc', {
      renderType: 'docx',
      content: orderDocx().toString('base64'),
      fileName: 'Order {{ customer.name }}',
      subject: 'Your order, {{ customer.name }}',
      body: 'Total {{ total }}; the order is attached.',
    });
  }

  it('e-mail: the docx arrives over SMTP as an attachment with its content type, file name and content', async () => {
    await register();
    const ctx = stepCtx(
      sendTemplatedNotificationStep,
      { template: 'order-doc', channel: 'email', users: ['ann', 'bob'] },
      { ...model, customer: { name: 'Ada / Co' } },
    );
    const out = await sendTemplatedNotificationStep.execute(ctx);
    expect(out.detail).toMatchObject({ delivered: 2, document: { fileName: 'Order Ada _ Co.docx', rendered: true } });
    expect(smtp.messages).toHaveLength(2);
    for (const received of smtp.messages) {
      const mail = await simpleParser(received.raw);
      expect(mail.subject).toBe('Your order, Ada / Co');
      expect(mail.text?.trim()).toBe('Total 1234.5; the order is attached.');
      expect(mail.attachments).toHaveLength(1);
      const [a] = mail.attachments;
      expect(a!.contentType).toBe(DOCX);
      expect(a!.filename).toBe('Order Ada _ Co.docx');
      const lines = await docxText(a!.content);
      expect(lines[0]).toBe('Order for Ada / Co');
      expect(lines.filter((l) => l.startsWith('Widget '))).toHaveLength(100);
    }
    expect(smtp.messages.flatMap((m) => m.rcptTo).sort()).toEqual(['ann@example.test', 'bob@example.test']);
  });

  it('a redelivered step attaches the stored document: it renders and stores no second one', async () => {
    await register();
    const params = { template: 'order-doc', channel: 'inbox' as const, users: ['ann'] };
    const first = await sendTemplatedNotificationStep.execute(stepCtx(sendTemplatedNotificationStep, params, model, 'run-r'));
    // the template changes between the attempts: the redelivery still sends what was rendered
    await notify.templates.put('order-doc', { renderType: 'docx', content: buildDocx(['changed {total}']).toString('base64') });
    const again = await sendTemplatedNotificationStep.execute(stepCtx(sendTemplatedNotificationStep, params, model, 'run-r'));
    expect(first.detail).toMatchObject({ delivered: 1, document: { id: documentId('run-r/send/2'), rendered: true } });
    expect(again.detail).toMatchObject({ delivered: 0, alreadySent: 1, document: { id: documentId('run-r/send/2'), rendered: false } });
    expect(await storedDocuments()).toBe(1);
    const doc = await notify.documents.get(documentId('run-r/send/2'));
    expect((await docxText(doc!.bytes))[0]).toBe('Order for Ada Lovelace & Co');
    expect(await redis.ttl(createKeyspace(prefix).document(documentId('run-r/send/2')))).toBeGreaterThan(3500);
  });

  it('a render error fails the step at once with a clear message and sends nothing', async () => {
    await notify.templates.put('bad-pdf', { renderType: 'pdf', content: { content: [{ table: { body: '{{ total }}' } }] } });
    const ctx = stepCtx(sendTemplatedNotificationStep, { template: 'bad-pdf', channel: 'email', users: ['ann'] }, model);
    const err = await Promise.resolve(sendTemplatedNotificationStep.execute(ctx)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect((err as Error).message).toMatch(/^template "bad-pdf" could not be rendered as pdf: /);
    expect(smtp.messages).toHaveLength(0);
    expect(await storedDocuments()).toBe(0);
    // the step asking for another document type than the template's is refused too
    await register();
    await expect(
      sendTemplatedNotificationStep.execute(
        stepCtx(sendTemplatedNotificationStep, { template: 'order-doc', renderType: 'xlsx', channel: 'inbox', users: ['ann'] }, model),
      ),
    ).rejects.toThrow(/is a docx template; the step asks for xlsx/);
  });

  it('two attempts storing at once: the first wins and both attach its bytes (both orders)', async () => {
    const store = new DocumentStore(redis, createKeyspace(prefix), 60);
    for (const [a, b] of [
      ['A', 'B'],
      ['B', 'A'],
    ] as const) {
      const key = `race-${a}/s/1`;
      const render = (tag: string, ms: number) => async () => {
        await new Promise((r) => setTimeout(r, ms));
        return { bytes: Buffer.from(tag), fileName: `${tag}.pdf`, contentType: 'application/pdf', template: 't' };
      };
      const [x, y] = await Promise.all([store.once(key, render(a, 5)), store.once(key, render(b, 25))]);
      expect(x.bytes.toString()).toBe(a);
      expect(y.bytes.toString()).toBe(a);
      expect([x.rendered, y.rendered]).toEqual([true, false]);
    }
  });
});

describe('through the API', () => {
  let engine: Engine;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    engine = Engine.open(engineTestOptions(prefix), log, { failFast: true });
    await waitUntilReady(engine.redis, 5000);
    const app = createApp({ engine, principals, log, notify, ...apiWiring(engine) });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await engine.close();
  });

  const auth = (as: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[as]}` });
  async function json(method: string, path: string, as: keyof typeof KEYS, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: { ...auth(as), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    };
  }
  async function upload(name: string, file: Buffer, meta: unknown, as: keyof typeof KEYS = 'admin') {
    const form = new FormData();
    form.append('meta', JSON.stringify(meta));
    form.append('template', new Blob([new Uint8Array(file)]), 'upload.bin');
    const res = await fetch(`${base}/api/templates/${name}`, { method: 'PUT', headers: auth(as), body: form });
    return { status: res.status, body: await res.json() };
  }

  it('registers a docx as JSON/base64 and an xlsx as multipart; GET shows the tags, /file returns the original', async () => {
    const docx = orderDocx();
    const put = await json('PUT', '/api/templates/order', 'admin', {
      renderType: 'docx',
      content: docx.toString('base64'),
      fileName: 'order-{{ total }}',
      subject: 'Order',
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ name: 'order', renderType: 'docx', file: { size: docx.length, contentType: DOCX } });
    expect(put.body.tags).toEqual(expect.arrayContaining(['customer.name', 'items.name', 'total']));
    const got = await json('GET', '/api/templates/order', 'ann');
    expect(got.body).toEqual(put.body);
    expect(got.body).not.toHaveProperty('content');
    const file = await fetch(`${base}/api/templates/order/file`, { headers: auth('ann') });
    expect(file.headers.get('content-type')).toBe(DOCX);
    expect(Buffer.from(await file.arrayBuffer()).equals(docx)).toBe(true);

    const xlsx = await orderXlsx();
    const up = await upload('sheet', xlsx, { renderType: 'xlsx', subject: 'Statement' });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({
      renderType: 'xlsx',
      tags: ['customer.name', 'total', 'orderedAt', 'items.name', 'items.qty', 'items.price'],
      file: { size: xlsx.length, contentType: XLSX },
    });
    expect((await json('GET', '/api/templates', 'ann')).body.items.map((i: { name: string }) => i.name)).toEqual(['order', 'sheet']);
    // a pdf definition as a JSON object
    expect((await json('PUT', '/api/templates/letter', 'admin', { renderType: 'pdf', content: orderPdf() })).status).toBe(201);
    // designers only
    expect((await upload('mine', xlsx, { renderType: 'xlsx' }, 'ann')).status).toBe(403);
  });

  it('a template that does not parse is a 400 naming the tag and where', async () => {
    const docx = await json('PUT', '/api/templates/bad', 'admin', {
      renderType: 'docx',
      content: buildDocx(['Hello {name', '{#items} row']).toString('base64'),
    });
    expect(docx.status).toBe(400);
    expect(docx.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(docx.body.errors).toEqual([
      { path: '$.content', message: 'tag "name" (word/document.xml at offset 6): The tag beginning with "{name" is unclosed' },
      {
        path: '$.content',
        message: expect.stringMatching(/^tag "items" \(word\/document\.xml at offset \d+\): The loop with tag "items" is unclosed$/),
      },
    ]);
    const filter = await json('PUT', '/api/templates/bad', 'admin', {
      renderType: 'docx',
      content: buildDocx(['{total | nope}']).toString('base64'),
    });
    expect(filter.body.errors[0].message).toMatch(/tag "total \| nope".*undefined filter: nope/);

    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('S').getCell('C4').value = 'Name: ${customer';
    const xlsx = await upload('bad', Buffer.from(await wb.xlsx.writeBuffer()), { renderType: 'xlsx' });
    expect(xlsx.status).toBe(400);
    expect(xlsx.body.errors[0].message).toMatch(/tag "\$\{customer" in the cell text "Name: \$\{customer" is not closed/);

    const pdf = await json('PUT', '/api/templates/bad', 'admin', {
      renderType: 'pdf',
      content: { content: ['ok', { text: 'Hi {{ name ' }] },
    });
    expect(pdf.status).toBe(400);
    expect(pdf.body.errors[0].message).toMatch(/^placeholder at \$\.content\[1\]\.text \("Hi \{\{ name "\): /);
    const img = await json('PUT', '/api/templates/bad', 'admin', { renderType: 'pdf', content: { content: [{ image: '/etc/passwd' }] } });
    expect(img.body.errors[0].message).toMatch(/images at \$\.content\[0\]\.image must be data: URLs/);

    expect(
      (await json('PUT', '/api/templates/bad', 'admin', { renderType: 'docx', content: Buffer.from('not a zip').toString('base64') })).body
        .errors[0].message,
    ).toMatch(/not a docx file/);
    expect((await json('PUT', '/api/templates/bad', 'admin', { renderType: 'docx', content: '***' })).body.errors).toEqual([
      { path: '$.content', message: "a docx template's content must be the file as base64" },
    ]);
    expect((await json('PUT', '/api/templates/bad', 'admin', { renderType: 'docx' })).body.errors).toEqual([
      { path: '$.content', message: expect.stringMatching(/needs its file/) },
    ]);
    expect((await upload('bad', Buffer.from('x'), { renderType: 'docx', content: 'x' })).body.errors[0].path).toBe('$.meta.content');
    // nothing half-written
    expect((await json('GET', '/api/templates/bad', 'admin')).status).toBe(404);
  });

  it('a file larger than TEMPLATE_MAX_BYTES is a 413, as JSON and as multipart', async () => {
    const big = Buffer.alloc(MAX + 1, 1);
    const asJson = await json('PUT', '/api/templates/big', 'admin', { renderType: 'docx', content: big.toString('base64') });
    expect(asJson.status).toBe(413);
    expect(asJson.body.detail).toMatch(/TEMPLATE_MAX_BYTES/);
    const asForm = await upload('big', big, { renderType: 'docx' });
    expect(asForm.status).toBe(413);
    expect(asForm.body.detail).toMatch(/TEMPLATE_MAX_BYTES/);
    // far past the JSON limit: the body parser's 413, said the same way
    const huge = await json('PUT', '/api/templates/big', 'admin', {
      renderType: 'docx',
      content: Buffer.alloc(MAX * 2).toString('base64'),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.detail).toMatch(/TEMPLATE_MAX_BYTES/);
    expect((await json('GET', '/api/templates/big', 'admin')).status).toBe(404);
  });

  it('preview: a text template answers subject and body, a docx template the rendered file', async () => {
    await json('PUT', '/api/templates/hello', 'admin', { subject: 'Hi {{ name }}', body: '<b>{{ name }}</b>', renderType: 'html' });
    const text = await json('POST', '/api/templates/hello/preview', 'admin', { model: { name: '<Ann>' } });
    expect(text.body).toEqual({ subject: 'Hi <Ann>', body: '<b>&lt;Ann&gt;</b>', format: 'html' });
    await json('PUT', '/api/templates/order', 'admin', { renderType: 'docx', content: orderDocx().toString('base64') });
    const res = await fetch(`${base}/api/templates/order/preview`, {
      method: 'POST',
      headers: { ...auth('admin'), 'content-type': 'application/json' },
      body: JSON.stringify({ model: orderModel(3) }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(DOCX);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename=order.docx');
    const lines = await docxText(Buffer.from(await res.arrayBuffer()));
    expect(lines).toContain('Widget 3');
    expect((await json('POST', '/api/templates/order/preview', 'ann', { model: {} })).status).toBe(403);
    expect((await json('POST', '/api/templates/order/preview', 'admin', { model: 'x' })).body.errors[0].path).toBe('$.model');
  });

  it('inbox: the item lists its attachment and only its recipient downloads it; webhooks get a signed, expiring link', async () => {
    await notify.templates.put('sheet', { renderType: 'xlsx', content: (await orderXlsx()).toString('base64'), fileName: 'statement' });
    const ctx = stepCtx(sendTemplatedNotificationStep, { template: 'sheet', channel: 'inbox', users: ['ann'] }, model, 'run-inbox');
    await sendTemplatedNotificationStep.execute(ctx);
    const { items } = await notify.inbox.list('ann');
    expect(items).toHaveLength(1);
    expect(items[0]!.attachments).toEqual([
      { n: 1, fileName: 'statement.xlsx', contentType: XLSX, size: expect.any(Number), document: documentId('run-inbox/send/2') },
    ]);
    const path = `/api/me/notifications/${items[0]!.id}/attachments/1`;
    const mine = await fetch(base + path, { headers: auth('ann') });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('content-type')).toBe(XLSX);
    expect(mine.headers.get('content-disposition')).toBe('attachment; filename=statement.xlsx');
    const rows = await xlsxRows(Buffer.from(await mine.arrayBuffer()));
    expect(rows[105]).toEqual(['Widget 100', 100, 250]);
    expect((await fetch(base + path, { headers: auth('bob') })).status).toBe(404);
    expect((await fetch(base + path.replace(/1$/, '2'), { headers: auth('ann') })).status).toBe(404);

    // webhook: the payload carries the link; the link needs no key, and a forged or expired one is refused
    const hookCtx = stepCtx(sendTemplatedNotificationStep, { template: 'sheet', channel: 'webhook', users: ['ann'] }, model, 'run-hook');
    await sendTemplatedNotificationStep.execute(hookCtx);
    expect(hooks.bodies).toHaveLength(1);
    const payload = JSON.parse(hooks.bodies[0]!);
    expect(payload.attachments).toEqual([
      {
        n: 1,
        fileName: 'statement.xlsx',
        contentType: XLSX,
        size: expect.any(Number),
        url: expect.stringMatching(/^http:\/\/flows\.example\.test\/documents\//),
        expiresAt: expect.any(String),
      },
    ]);
    expect(Date.parse(payload.attachments[0].expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const local = payload.attachments[0].url.replace('http://flows.example.test', base);
    const dl = await fetch(local);
    expect(dl.status).toBe(200);
    expect((await xlsxRows(Buffer.from(await dl.arrayBuffer())))[6]).toEqual(['Widget 1', 1, 2.5]);
    const forged = local.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A'));
    expect((await fetch(forged)).status).toBe(403);
    const expired = (await notify.documentLinks.url({ doc: documentId('run-hook/send/2'), exp: Date.now() - 1 })).replace(
      'http://flows.example.test',
      base,
    );
    expect((await fetch(expired)).status).toBe(410);
    // the document gone with its run's retention: the link answers 410
    await redis.del(createKeyspace(prefix).document(documentId('run-hook/send/2')));
    expect((await fetch(local)).status).toBe(410);
  });
});

describe('workflow lint', () => {
  const def = {
    name: 'orders',
    stages: [
      {
        id: 's',
        name: 'S',
        steps: [
          { id: 'set', type: 'updateModelField', field: 'customer.name', value: 'x' },
          { id: 'send', type: 'sendTemplatedNotification', template: 'order', channel: 'email', userInfoField: 'requester' },
        ],
      },
    ],
  };

  it('warns about template fields no step of the workflow sets or reads', async () => {
    await notify.templates.put('order', { renderType: 'docx', content: orderDocx().toString('base64') });
    const tags = await notify.templates.tagIndex();
    const result = validateDefinition(def, { templateExists: (n) => tags.has(n), templateTags: (n) => tags.get(n) });
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      {
        path: '$.stages[0].steps[1].template',
        message:
          'template "order" reads model fields "total", "orderedAt", "vip", "items" that no step of this workflow sets or reads; runs must start with them in the model, or the tag renders empty',
      },
    ]);
    // without the registry hook, nothing to say
    expect(validateDefinition(def).warnings).toEqual([]);
  });
});
