/**
 * Prometheus metrics (prom-client). Counters and histograms are per process: every API and
 * worker process serves its own /metrics (workers on WORKER_HTTP_PORT), and Prometheus sums
 * them. A run's end is counted once, by the process whose transition ended it. The run and
 * queue gauges are read from Redis at scrape time by the API (they describe the whole
 * deployment, so workers leave them out rather than report them N times).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
// Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), so stock Node.js
// dashboards and alerts work as they are.
collectDefaultMetrics({ register: registry });
// prom-client names three gauges *_total, which Prometheus reserves for counters (promtool warns);
// each is the sum over the `type` label of the by-type gauge it sits next to, so nothing is lost.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
  registry.removeSingleMetric(name);
}

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
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const queueWait = new Histogram({
  name: 'stageflow_queue_wait_seconds',
  help: 'Time from a step job becoming ready (created, or its delay over) to a worker of this process starting it (first attempts).',
  labelNames: ['queue'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [registry],
});

export const runsFinished = new Counter({
  name: 'stageflow_runs_finished_total',
  help: 'Runs that ended (completed, failed, cancelled, reset to draft), counted by the process whose transition ended them.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const runDuration = new Histogram({
  name: 'stageflow_run_duration_seconds',
  help: 'Time from a run being created to its end, by final status.',
  labelNames: ['status'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400, 604_800],
  registers: [registry],
});

export const callbacks = new Counter({
  name: 'stageflow_callbacks_total',
  help: 'Completion callback attempts by result (delivered, failed: a failed attempt is retried until its tries run out).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const reconcilerRepairs = new Counter({
  name: 'stageflow_reconciler_repairs_total',
  help: 'Runs the reconciler repaired, by kind (requeued: a lost step job re-added; failed: a dead job failed its run; resumed: a lost wait resumed).',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const stalledJobs = new Counter({
  name: 'stageflow_stalled_jobs_total',
  help: 'Jobs this process found stalled (their worker stopped renewing the lock) and moved back to wait, by queue.',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const redisUp = new Gauge({
  name: 'stageflow_redis_up',
  help: '1 when Redis answered a PING during this scrape, else 0.',
  registers: [registry],
});

export const runsByStatus = new Gauge({
  name: 'stageflow_runs',
  help: 'Runs kept in Redis (within the retention period), by status.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'stageflow_queue_jobs',
  help: 'Jobs in the engine queues, by queue and BullMQ state.',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/** Every state a BullMQ 6 job can be in ('waiting' is the wait list). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed', 'paused'] as const;
