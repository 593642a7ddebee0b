/**
 * A worker SIGKILLed while runs send a docx to two inboxes: every recipient must end up with
 * exactly one notification per run, each attaching the one document stored for that step's
 * effect key, whose content is that run's (a redelivered step attaches what the first attempt
 * rendered, and never stores a second).
 */
import mammoth from 'mammoth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { DocumentStore, documentId } from '../../src/notify/documents.ts';
import { Inbox } from '../../src/notify/inbox.ts';
import { TemplateStore } from '../../src/notify/templates.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { orderDocx, orderModel } from '../helpers/document-fixtures.ts';
import { WorkerPool } from '../helpers/worker-pool.ts';
import { cleanupTestPrefix, engineTestOptions, redisEnv, scanKeys } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { jobCounts, jobsIn } from '../helpers/queues.ts';

const RUNS = 30;
const prefix = uniquePrefix('dcrash');
const options = engineTestOptions(prefix);
const keys = JSON.stringify([
  { id: 'ann', key: 'key-ann-0123456789', roles: ['manager'] },
  { id: 'bob', key: 'key-bob-0123456789', roles: ['manager'] },
]);
let engine: Engine;
const pool = new WorkerPool({
  ...redisEnv(options),
  STAGEFLOW_PREFIX: prefix,
  STAGEFLOW_API_KEYS: keys,
  WORKER_CONCURRENCY: '2',
  WORKER_LOCK_DURATION_MS: '1000',
  WORKER_STALLED_INTERVAL_MS: '300',
  WORKER_MAX_STALLED_COUNT: '10',
  RECONCILE_INTERVAL_MS: '1000',
  LOG_LEVEL: 'info',
});

beforeAll(async () => {
  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  await new TemplateStore(engine.redis, engine.keys).put('order', {
    renderType: 'docx',
    content: orderDocx().toString('base64'),
    subject: 'Order {{ customer.name }}',
  });
  await engine.saveWorkflow('orders', {
    name: 'orders',
    stages: [
      {
        id: 'tell',
        name: 'Tell',
        steps: [{ id: 'send', type: 'sendTemplatedNotification', template: 'order', channel: 'inbox', users: ['ann', 'bob'] }],
      },
    ],
  });
});

afterAll(async () => {
  pool.killAll();
  await engine.close();
  await cleanupTestPrefix(prefix, options);
});

describe('SIGKILL during document notification steps', () => {
  it('delivers exactly one document per recipient and stores one per effect key', async () => {
    for (let i = 0; i < 2; i++) pool.spawn();
    await pool.until('2 live workers', async () => (await engine.liveWorkers(10_000)) >= 2, 20_000);
    for (let i = 0; i < RUNS; i++) await engine.startRun('orders', { model: { ...orderModel(100), customer: { name: `Customer ${i}` } } });
    await pool.until('a few sends', async () => ((await jobCounts(engine.queue, 'completed')).completed ?? 0) >= 3, 60_000);
    const victimId = pool.workerIdOf(0);
    expect(victimId).toBeDefined();
    await pool.until(
      'the victim to hold a job',
      async () => (await jobsIn(engine.queue, (q) => q.getActive())).some((j) => j.processedBy === victimId),
      30_000,
    );
    pool.children[0]!.kill('SIGKILL');
    await new Promise((r) => pool.children[0]!.once('exit', r));
    pool.spawn();
    await pool.until(
      'every run to finish',
      async () => (await engine.listRuns({ workflow: 'orders', status: 'completed', limit: RUNS })).items.length === RUNS,
      90_000,
    );

    const docKeys = await scanKeys(engine.redis, `${prefix}:doc:*`); // every primary on a cluster
    expect(docKeys).toHaveLength(RUNS);
    const documents = new DocumentStore(engine.redis, engine.keys);
    const inbox = new Inbox(engine.redis, engine.keys);
    for (const user of ['ann', 'bob']) {
      const { items } = await inbox.list(user, { limit: 1000 });
      expect(items).toHaveLength(RUNS);
      expect(new Set(items.map((it) => it.data.runId)).size).toBe(RUNS);
      for (const item of items) {
        const effectKey = `${item.data.runId as string}/send/`;
        expect(item.attachments).toHaveLength(1);
        const doc = await documents.get(item.attachments![0]!.document);
        expect(doc?.meta.effectKey.startsWith(effectKey)).toBe(true);
        expect(item.attachments![0]!.document).toBe(documentId(doc!.meta.effectKey));
        // the document is this run's
        const i = item.subject!.replace('Order Customer ', '');
        const text = (await mammoth.extractRawText({ buffer: doc!.bytes })).value;
        expect(text).toContain(`Order for Customer ${i}\n`);
      }
    }
  }, 180_000);
});
