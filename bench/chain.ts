/**
 * Chain benchmark: a naive BullMQ job chain vs stageflow running the same 10-step chain, one after
 * the other in this process, with the same concurrency and the same number of chains.
 *
 *   npm run bench                          # 300 chains × 10 steps, concurrency 50
 *   BENCH_RUNS=600 BENCH_CONCURRENCY=100 npm run bench
 *
 * Env: REDIS_URL, BENCH_RUNS, BENCH_CONCURRENCY, BENCH_WARMUP_RUNS, BENCH_SETTLE_MS, BENCH_TIMEOUT_MS.
 * The last line is machine-readable: `bench: engine_steps_per_s=… baseline_steps_per_s=… ratio=… p50_step_ms=… p99_step_ms=…`.
 */
import type { Job } from 'bullmq';
import { cleanupPrefix, uniquePrefix } from '../test/helpers/redis.ts';
import {
  Monitor, diffCalls, installTracer, loadConfig, out, printReport, resetTrace, sleep, sum, summarize, takeTrace,
  type BenchConfig, type SideResult,
} from './lib.ts';
import { baseline, stageflow, type SideFactory } from './sides.ts';

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, pollMs: number, deadline: number): Promise<void> {
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Runs `runs` chains on a fresh prefix; returns the measurements, or null for a warm-up. */
async function runSide(cfg: BenchConfig, monitor: Monitor, factory: SideFactory, runs: number, measure: boolean, deadline: number): Promise<SideResult | null> {
  const prefix = uniquePrefix(`bench-${factory.name}${measure ? '' : '-warm'}`);
  const steps = runs * cfg.stepsPerRun;
  const side = await factory.open(cfg, prefix, monitor);
  try {
    const latencies: number[] = [];
    side.worker.on('completed', (job: Job) => {
      if (job.finishedOn) latencies.push(job.finishedOn - job.timestamp);
    });
    await sleep(200); // let the worker settle into its blocking fetch

    const before = await monitor.snapshot();
    resetTrace();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const adding = side.startAll(runs);
    let addError: unknown;
    adding.catch((err) => (addError = err));
    await waitFor(`${factory.name} runs`, () => {
      if (addError) throw addError;
      return side.done(runs);
    }, cfg.pollMs, deadline);
    const elapsedMs = performance.now() - t0;
    await adding;
    // The clock stops when every run is complete; the last jobs' completion may land just after.
    await waitFor(`${factory.name} completed events`, () => latencies.length >= steps, 5, deadline);
    const cpu = process.cpuUsage(cpu0);
    const trace = takeTrace();
    const after = await monitor.snapshot();
    if (!measure) return null;

    const own = new Map(trace.monitor);
    own.set('info', (own.get('info') ?? 0) + 1); // the "before" INFO is counted in the "after" stats
    const redisCalls = diffCalls(before.calls, after.calls, own);
    await sleep(cfg.settleMs);
    const settled = await monitor.snapshot();
    const census = await monitor.census(prefix, (k) => factory.kindOf(prefix, k));
    return {
      name: factory.name, runs, steps, elapsedMs, latencies,
      redisCalls, clientCalls: trace.app, ownSubtracted: sum(own),
      nodeCpuMs: (cpu.user + cpu.system) / 1000,
      redisCpuMs: (after.cpuSec - before.cpuSec) * 1000,
      usedMemoryDiff: settled.usedMemory - before.usedMemory,
      census, retention: factory.retention, connectedClients: before.connectedClients,
    };
  } finally {
    await side.close();
    await cleanupPrefix(cfg.redisUrl, prefix);
  }
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  const deadline = Date.now() + cfg.timeoutMs;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: aborted after ${cfg.timeoutMs} ms\n`);
    process.exit(2);
  }, cfg.timeoutMs);
  watchdog.unref();

  installTracer();
  const monitor = new Monitor(cfg.redisUrl);
  const results: SideResult[] = [];
  try {
    for (const factory of [baseline, stageflow]) {
      out(`bench: ${factory.name}: warm-up (${cfg.warmupRuns} chains)…`);
      await runSide(cfg, monitor, factory, cfg.warmupRuns, false, deadline);
      await sleep(300); // let UNLINK's lazy free finish before the memory baseline
      out(`bench: ${factory.name}: ${cfg.runs} chains × ${cfg.stepsPerRun} steps, concurrency ${cfg.concurrency}…`);
      results.push((await runSide(cfg, monitor, factory, cfg.runs, true, deadline))!);
      await sleep(300);
    }
  } finally {
    monitor.close();
  }

  printReport(cfg, results);
  const [base, engine] = results.map(summarize) as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
  out(
    `bench: engine_steps_per_s=${Math.round(engine.stepsPerSec)} baseline_steps_per_s=${Math.round(base.stepsPerSec)} ` +
      `ratio=${(engine.stepsPerSec / base.stepsPerSec).toFixed(2)} p50_step_ms=${Math.round(engine.p50)} p99_step_ms=${Math.round(engine.p99)}`,
  );
  clearTimeout(watchdog);
}

main().catch((err) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
