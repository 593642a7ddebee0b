/**
 * Chain benchmark: a naive BullMQ job chain vs stageflow running the same 10-step chain, one after
 * the other in this process, with the same concurrency and the same number of chains.
 *
 *   npm run bench:inprocess                # 3 rounds of 300 chains × 10 steps per side, concurrency 50 (or tsx bench/chain.ts)
 *   BENCH_RUNS=600 BENCH_CONCURRENCY=100 npm run bench:inprocess
 *
 * Each round runs the baseline, then stageflow; the report is the round with the median ratio,
 * after a line per round, so a noisy stretch of a shared 2-core host cannot decide the result.
 * Env: REDIS_URL, BENCH_RUNS, BENCH_CONCURRENCY, BENCH_WARMUP_RUNS, BENCH_ROUNDS, BENCH_SETTLE_MS, BENCH_TIMEOUT_MS;
 * profiling aid: BENCH_ONLY=baseline|stageflow. ioredis options ride on the URL (both sides), e.g.
 * REDIS_URL='redis://127.0.0.1:6379?enableAutoPipelining=true' (measured: no gain, see docs/design-notes.md).
 * The last line is machine-readable: `bench: engine_steps_per_s=… baseline_steps_per_s=… ratio=… p50_step_ms=… p99_step_ms=…`.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import { cleanupPrefix, uniquePrefix } from '../test/helpers/redis.ts';
import {
  Monitor,
  diffCalls,
  diffCensus,
  installTracer,
  sweepOpenClients,
  loadConfig,
  out,
  printReport,
  resetTrace,
  sleep,
  sum,
  summarize,
  takeTrace,
  type BenchConfig,
  type SideResult,
  waitFor,
} from './lib.ts';
import { type Figure, load } from './http.ts';
import { baseline, burst, stageflow, type SideFactory } from './sides.ts';

const WATCHDOG_GRACE_MS = 30_000;

/**
 * Opens one side on a fresh prefix, warms it up (same connections, caches and JIT'd code as the
 * measured phase), then measures `cfg.runs` chains started in one burst.
 */
async function runSide(cfg: BenchConfig, monitor: Monitor, factory: SideFactory, deadline: number): Promise<SideResult> {
  const prefix = uniquePrefix(`bench-${factory.name}`);
  const steps = cfg.runs * cfg.stepsPerRun;
  const side = await factory.open(cfg, prefix, monitor);
  try {
    let finishedSteps = 0;
    let activeNow = 0;
    let latencies: number[] | undefined;
    side.worker.on('active', () => void (activeNow += 1));
    side.worker.on('completed', (job: Job) => {
      finishedSteps += 1;
      activeNow -= 1;
      if (latencies && job.finishedOn) latencies.push(job.finishedOn - job.timestamp);
    });

    out(`bench: ${factory.name}: warm-up (${cfg.warmupRuns} chains)…`);
    await burst(side, factory.name, cfg.warmupRuns, cfg.warmupRuns, cfg.pollMs, deadline);
    await waitFor(`${factory.name} warm-up jobs`, () => finishedSteps >= cfg.warmupRuns * cfg.stepsPerRun, 5, deadline);
    await side.cleanFinished();
    await sleep(cfg.settleMs); // lazy frees, idle worker back in its blocking fetch

    out(`bench: ${factory.name}: ${cfg.runs} chains × ${cfg.stepsPerRun} steps, concurrency ${cfg.concurrency}…`);
    const censusBefore = await monitor.census(prefix, (k) => factory.kindOf(prefix, k));
    const before = await monitor.snapshot();
    resetTrace();
    finishedSteps = 0;
    latencies = [];
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    let samples = 0;
    let activeSum = 0;
    const sampler = setInterval(() => {
      samples += 1;
      activeSum += activeNow;
    }, 5);
    const elapsedMs = await burst(side, factory.name, cfg.runs, cfg.warmupRuns + cfg.runs, cfg.pollMs, deadline);
    // The clock stops when every run is complete; the last jobs' own completion may land just after.
    await waitFor(`${factory.name} completed events`, () => finishedSteps >= steps, 5, deadline);
    clearInterval(sampler);
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    const trace = takeTrace();
    const after = await monitor.snapshot();

    const own = new Map(trace.monitor);
    own.set('info', (own.get('info') ?? 0) + 1); // the "before" INFO is counted in the "after" stats
    await sleep(cfg.settleMs);
    const settled = await monitor.snapshot();
    const censusAfter = await monitor.census(prefix, (k) => factory.kindOf(prefix, k));
    return {
      name: factory.name,
      runs: cfg.runs,
      steps,
      elapsedMs,
      latencies,
      redisCalls: diffCalls(before.calls, after.calls, own),
      redisUsec: diffCalls(before.usec, after.usec),
      clientCalls: trace.app,
      ownSubtracted: sum(own),
      nodeCpuMs: (cpu.user + cpu.system) / 1000,
      eventLoopUtilization: elu.utilization,
      avgActive: samples ? activeSum / samples : NaN,
      redisCpuMs: (after.cpuSec - before.cpuSec) * 1000,
      usedMemoryDiff: settled.usedMemory - before.usedMemory,
      census: diffCensus(censusBefore, censusAfter),
      retention: factory.retention,
      connectedClients: before.connectedClients,
    };
  } finally {
    await side.close();
    await cleanupPrefix(cfg.redisUrl, prefix);
    await sleep(200); // disconnect() takes effect when the socket closes
    const leaked = sweepOpenClients();
    if (leaked.length > 0) {
      process.stderr.write(
        `bench: note: ${factory.name} left ${leaked.length} Redis connection(s) open after close(); disconnected them: ${leaked.join(', ')}\n`,
      );
    }
  }
}

const cpuPerStep = (r: SideResult) =>
  `node ${Math.round((r.nodeCpuMs / r.steps) * 1000)} + redis ${Math.round((r.redisCpuMs / r.steps) * 1000)} µs cpu/step`;

/**
 * The in-process rounds; returns the median round's figures for bench/main.ts. `quick` makes the
 * defaults small (100 chains, 20 warm-up, 1 round) for a smoke run; BENCH_* env still wins.
 */
export async function inProcessMode(quick = false): Promise<Figure[]> {
  if (quick) {
    process.env.BENCH_RUNS ??= '100';
    process.env.BENCH_WARMUP_RUNS ??= '20';
    process.env.BENCH_ROUNDS ??= '1';
  }
  const cfg = loadConfig();
  out(`\n== in-process: ${cfg.runs} chains × ${cfg.stepsPerRun} steps, concurrency ${cfg.concurrency}, ${cfg.rounds} round(s); ${load()}`);
  // runSide's own waits give up at the deadline and clean their prefix; this only ends a hang.
  const deadline = Date.now() + cfg.timeoutMs;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: stuck ${WATCHDOG_GRACE_MS} ms past the ${cfg.timeoutMs} ms deadline; exiting\n`);
    process.exit(2);
  }, cfg.timeoutMs + WATCHDOG_GRACE_MS);
  watchdog.unref();

  installTracer();
  const monitor = new Monitor(cfg.redisUrl);
  // BENCH_ONLY=baseline|stageflow runs one side (a profiling aid, e.g. with --cpu-prof); the summary line then differs.
  const only = process.env.BENCH_ONLY;
  const sides = [baseline, stageflow].filter((f) => !only || f.name === only);
  if (sides.length === 0) throw new Error(`BENCH_ONLY must be baseline or stageflow, got ${only}`);
  const rounds: SideResult[][] = [];
  try {
    // Rounds alternate the sides, so a slow stretch of a shared host hits both alike.
    for (let round = 1; round <= cfg.rounds; round++) {
      out(`bench: round ${round} of ${cfg.rounds}`);
      const results: SideResult[] = [];
      for (const factory of sides) {
        results.push(await runSide(cfg, monitor, factory, deadline));
        await sleep(300); // let the cleanup's lazy frees finish before the next side's memory baseline
      }
      rounds.push(results);
    }
  } finally {
    monitor.close();
  }

  // The report is the median round: by ratio with both sides, by throughput with one.
  const sums = rounds.map((r) => r.map(summarize));
  const keyOf = (i: number) => (sums[i]!.length === 2 ? sums[i]![1]!.stepsPerSec / sums[i]![0]!.stepsPerSec : sums[i]![0]!.stepsPerSec);
  const order = rounds.map((_, i) => i).sort((a, b) => keyOf(a) - keyOf(b));
  const mid = order[Math.floor(order.length / 2)]!;
  out();
  out(`rounds (each: ${sides.map((f) => f.name).join(', then ')}; the report below is the median round, round ${mid + 1}):`);
  rounds.forEach((r, i) => {
    const parts = r.map((x, j) => `${x.name} ${Math.round(sums[i]![j]!.stepsPerSec)} steps/s (${cpuPerStep(x)})`);
    if (r.length === 2) {
      const cpu = r.map((x) => (x.nodeCpuMs + x.redisCpuMs) / x.steps);
      parts.push(`ratio ${keyOf(i).toFixed(2)}, CPU-normalized ratio ${(cpu[0]! / cpu[1]!).toFixed(2)}`);
    }
    out(`  round ${i + 1}: ${parts.join(', ')}`);
  });
  printReport(cfg, rounds[mid]!);
  const s = sums[mid]!;
  const engine = s[s.length - 1]!;
  out(
    s.length === 2
      ? `bench: engine_steps_per_s=${Math.round(engine.stepsPerSec)} baseline_steps_per_s=${Math.round(s[0]!.stepsPerSec)} ` +
          `ratio=${keyOf(mid).toFixed(2)} p50_step_ms=${Math.round(engine.p50)} p99_step_ms=${Math.round(engine.p99)}`
      : `bench: only=${rounds[mid]![0]!.name} steps_per_s=${Math.round(engine.stepsPerSec)} p50_step_ms=${Math.round(engine.p50)} p99_step_ms=${Math.round(engine.p99)}`,
  );
  clearTimeout(watchdog);
  if (s.length !== 2) return [];
  // The CPU-normalised figure is the median of its own per-round values, not the median-ratio round's.
  const cpuRatios = rounds
    .map((r) => r.map((x) => (x.nodeCpuMs + x.redisCpuMs) / x.steps))
    .map((c) => c[0]! / c[1]!)
    .sort((a, b) => a - b);
  const cpuRatio = cpuRatios[Math.floor(cpuRatios.length / 2)]!;
  const sf = rounds[mid]![1]!;
  const runState = [...sf.census.byKind.entries()].filter(([k]) => !k.startsWith('bull ')).reduce((a, [, v]) => a + v.bytes, 0) / sf.runs;
  return [
    {
      name: 'in-process steps/s vs bare chain',
      value: `${keyOf(mid).toFixed(2)}× (median of ${rounds.length})`,
      goal: '≥ 0.9×',
      met: keyOf(mid) >= 0.9,
    },
    {
      name: 'in-process CPU-normalised',
      value: `${cpuRatio.toFixed(2)}× (median of ${rounds.length})`,
      goal: '≥ 0.9×',
      met: cpuRatio >= 0.9,
    },
    { name: 'in-process run state per run (no job hashes)', value: `${(runState / 1024).toFixed(2)} KB`, goal: '(context)' },
  ];
}

/** Everything is closed by now; if some handle still keeps the process alive, say what and leave. */
export function exitGuard(): void {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles().map((h) => {
      const s = h as { constructor: { name: string }; remotePort?: number; localPort?: number; _handle?: { fd?: number } };
      return `${s.constructor.name}${s.remotePort ? ` →${s.remotePort}` : s._handle?.fd !== undefined ? ` fd ${s._handle.fd}` : ''}`;
    });
    process.stderr.write(`bench: warning: still alive 5 s after closing everything (open handles: ${handles.join(', ')}); exiting\n`);
    process.exit(0);
  }, 5000).unref();
}

export function fail(err: unknown): never {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

// `tsx bench/chain.ts` still runs the in-process rounds alone, as before bench/main.ts existed.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  inProcessMode().then(exitGuard, fail);
}
