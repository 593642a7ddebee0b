/** Operating stageflow: Redis down answers 503 quickly, /metrics reports steps, runs and queues. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startApiWithRedisDown, linearWorkflow, startHarness, type Harness } from '../helpers/harness.ts';

describe('when Redis is down', () => {
  let api: Awaited<ReturnType<typeof startApiWithRedisDown>>;
  let base = '';
  beforeAll(async () => {
    api = await startApiWithRedisDown('down');
    base = api.base;
  });
  afterAll(() => api.close());

  it('the API answers 503 problem+json at once instead of hanging, and readyz says not ready', async () => {
    const t0 = Date.now();
    const res = await fetch(`${base}/api/runs`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(Date.now() - t0).toBeLessThan(3000);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ redis: false });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('/metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.saveWorkflow(linearWorkflow('metered', 3));
  });
  afterAll(() => h.close());

  it('counts steps by type and result, and reports runs by status and queue depth', async () => {
    const run = await h.start('metered', {}, '?wait=5000');
    expect(run.status).toBe('completed');
    const text = await (await fetch(`${h.base}/metrics`)).text();
    const completed = /stageflow_steps_total\{type="updateModelField",result="completed"\} (\d+)/.exec(text);
    expect(Number(completed?.[1])).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/stageflow_step_duration_seconds_bucket\{le="[^"]+",type="updateModelField"\} \d+/);
    expect(text).toMatch(/stageflow_runs\{status="completed"\} [1-9]/);
    expect(text).toMatch(/stageflow_queue_jobs\{queue="steps",state="waiting"\} 0/);
  });
});
