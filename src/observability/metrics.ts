/**
 * Prometheus metrics (prom-client). Step counters and durations are per process (scrape every
 * worker, or read them from `npm start`'s single process); run and queue gauges are read from
 * Redis at scrape time, so any API process reports them for the whole deployment.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'stageflow_process_' });

export const stepsProcessed = new Counter({
  name: 'stageflow_steps_total',
  help: 'Step attempts finished by this process, by step type and result (completed, waiting, retrying, failed, stale).',
  labelNames: ['type', 'result'] as const,
  registers: [registry],
});

export const stepDuration = new Histogram({
  name: 'stageflow_step_duration_seconds',
  help: 'How long step handlers ran in this process, by step type.',
  labelNames: ['type'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [registry],
});

export const runsByStatus = new Gauge({
  name: 'stageflow_runs',
  help: 'Runs kept in Redis, by status.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'stageflow_queue_jobs',
  help: 'Jobs in the engine queues, by queue and state.',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});
