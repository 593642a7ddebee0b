/**
 * Attempts count deliveries: a worker process is SIGKILLed while it holds an http-dataflow step;
 * after its lock expires the step is delivered again, and that delivery says attempt 2 — in the
 * x-stageflow-attempt header the receiver sees and in the run's history — so a receiver or an
 * operator can tell a redelivery from a first try. The retry budget still counts failures only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataflowRegistry } from '../../src/dataflows/registry.ts';
import { setEgressAllowlist } from '../../src/http/egress.ts';
import { TEST_EGRESS_ALLOWLIST } from '../helpers/harness.ts';
import { Engine } from '../../src/engine/engine.ts';
import { waitUntilReady } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { WorkerPool } from '../helpers/worker-pool.ts';
import { cleanupTestPrefix, engineTestOptions, redisEnv } from '../helpers/harness.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const prefix = uniquePrefix('redeliver');
const options = engineTestOptions(prefix);
let engine: Engine;
let receiver: Server;
let receiverUrl = '';
const seen: Array<{ attempt: string | undefined; res: ServerResponse }> = [];
const pool = new WorkerPool({
  ...redisEnv(options),
  STAGEFLOW_PREFIX: prefix,
  WORKER_CONCURRENCY: '2',
  WORKER_LOCK_DURATION_MS: '1000',
  WORKER_STALLED_INTERVAL_MS: '300',
  WORKER_MAX_STALLED_COUNT: '5',
  LOG_LEVEL: 'warn',
  // The receiver listens on loopback, which the egress policy refuses unless allowed.
  EGRESS_ALLOWLIST: TEST_EGRESS_ALLOWLIST,
});

beforeAll(async () => {
  receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      seen.push({ attempt: req.headers['x-stageflow-attempt'] as string | undefined, res });
      // The first delivery is left hanging: its worker is killed while it waits for this answer.
      if (seen.length > 1) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;

  engine = Engine.open(options, createLogger({ level: 'silent' }), { failFast: true });
  await waitUntilReady(engine.redis, 5000);
  setEgressAllowlist(TEST_EGRESS_ALLOWLIST);
  await new DataflowRegistry(engine.redis, prefix).put({ name: 'hook', kind: 'http', url: receiverUrl, timeoutMs: 20_000 });
  await engine.saveWorkflow('redeliver', {
    name: 'redeliver',
    stages: [{ id: 'a', name: 'A', steps: [{ id: 'call', type: 'executeDataflow', dataflow: 'hook', resultField: 'answer' }] }],
  });
});

afterAll(async () => {
  pool.killAll();
  for (const s of seen) s.res.destroy();
  await new Promise<void>((r) => receiver.close(() => r()));
  await engine.close();
  await cleanupTestPrefix(prefix, options);
});

describe('a delivery after a worker died holding the step', () => {
  it('is attempt 2 for the receiver and in history', async () => {
    const victim = pool.spawn();
    const { run } = await engine.startRun('redeliver', { model: {} });
    await pool.until('the first delivery', () => seen.length >= 1, 20_000);
    expect(seen[0]!.attempt).toBe('1');
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    pool.spawn();

    await pool.until('the run to complete', async () => (await engine.getRun(run.id)).status === 'completed', 30_000);
    expect(seen.map((s) => s.attempt)).toEqual(['1', '2']);
    const done = await engine.getRun(run.id);
    expect(done.model.answer).toEqual({ ok: true });
    const history = await engine.history(run.id);
    const commits = history.filter((e) => e.type === 'step.completed' && e.stepId === 'call');
    expect(commits).toHaveLength(1);
    expect(commits[0]!.attempt).toBe(2);
    // a stall is not a failure: nothing was recorded as a failed or retried attempt
    expect(history.filter((e) => e.type === 'step.retrying' || e.type === 'step.failed')).toEqual([]);
  }, 60_000);
});
