/**
 * One /metrics scrape, shared by the API and the worker listener. It must answer while Redis is
 * down or stalled (that is when it matters most): every Redis read is bounded by a deadline,
 * and when Redis does not answer the process metrics go out with stageflow_redis_up 0.
 */
// 'paused' is not in BullMQ 6's JobType any more, but its count script still reads the paused list.
import type { JobType, Queue } from 'bullmq';
import { QUEUE_STATES, queueDepth, redisUp, registry, runsByStatus } from './metrics.ts';

export interface ScrapeSource {
  ping(): Promise<boolean>;
  /** Deployment-wide gauges; left out by workers (the API reports them). */
  runCounts?: () => Promise<Partial<Record<string, number>>>;
  /** Queues by kind; a partitioned kind (every partition's `steps`) is summed under its name. */
  queues?: (Queue | readonly Queue[])[];
}

export const SCRAPE_BUDGET_MS = 1_500;

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

export async function scrapeMetrics(source: ScrapeSource, budgetMs = SCRAPE_BUDGET_MS): Promise<{ contentType: string; body: string }> {
  const deadline = Date.now() + budgetMs;
  const left = () => Math.max(0, deadline - Date.now());
  const up = (await within(source.ping(), left())) === true;
  redisUp.set(up ? 1 : 0);
  if (!up) {
    // Stale depths would read as a queue that stopped moving; no series says "unknown".
    runsByStatus.reset();
    queueDepth.reset();
  } else {
    const [counts, depths] = await Promise.all([
      source.runCounts ? within(source.runCounts(), left()) : Promise.resolve(undefined),
      Promise.all(
        (source.queues ?? [])
          .flat()
          .map((q) => within(q.getJobCounts(...(QUEUE_STATES as unknown as JobType[])), left()).then((c) => [q.name, c] as const)),
      ),
    ]);
    if (counts) for (const [status, n] of Object.entries(counts)) runsByStatus.set({ status }, n ?? 0);
    // One series per queue name: the partitions' queues of a kind add up.
    const sums = new Map<string, Record<string, number> | undefined>();
    for (const [queue, c] of depths) {
      const sum = sums.has(queue) ? sums.get(queue) : {};
      if (!c || !sum) {
        sums.set(queue, undefined);
        continue;
      }
      for (const state of QUEUE_STATES) sum[state] = (sum[state] ?? 0) + (c[state] ?? 0);
      sums.set(queue, sum);
    }
    for (const [queue, sum] of sums) {
      if (sum) for (const state of QUEUE_STATES) queueDepth.set({ queue, state }, sum[state] ?? 0);
    }
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
