/**
 * Cluster mode (`npm run bench:cluster`, part of `npm run bench`): stageflow on a Redis Cluster of
 * one primary and of three primaries, side by side, and the Redis CPU each primary spends per step.
 *
 *   npm run bench:cluster                # 3 alternating rounds (1 primary, 3 primaries) of 1,000 runs × 10 steps
 *   npm run bench:cluster -- --quick     # 1 round of 200 runs (a smoke run)
 *
 * The bench starts its own clusters from `redis-server` (never the tests' 7000-7005 or their
 * disruptive clusters on 7100-7115): one node holding all 16,384 slots on BENCH_CLUSTER_PORT
 * (default 7150), and three nodes on the next three ports, the slots split in three equal ranges
 * as `redis-cli --cluster create` would. No replicas, no persistence (`--save '' --appendonly no`):
 * the figures price partitioning, not replication (production's WAIT to a replica is not in them).
 * The nodes' directories are temporary; nodes and directories go at the end, also on a failure or
 * SIGINT/SIGTERM (a SIGKILLed bench leaves them: kill the redis-server children by pid).
 *
 * The load is the in-process `stageflow` side of bench/sides.ts (the 10-step updateModelField
 * workflow, one worker engine and one API engine in this process, worker concurrency
 * BENCH_CONCURRENCY split over the default 12 partitions), pointed at the cluster the way
 * REDIS_CLUSTER_NODES points a deployment at one. Each measurement warms up, then starts every run
 * at once and stops the clock when the last completes. Per primary: INFO cpu
 * (used_cpu_sys + used_cpu_user) and INFO commandstats deltas over that phase, minus the bench's own
 * INFO and ZCARD polling, give Redis CPU µs per step and each primary's share; the keys each
 * primary holds are counted by partition afterwards, to check that every primary got its 4 of the
 * 12 partitions. Node CPU per step is this process's (both engines).
 *
 * On the 2-core development host one Node process runs both engines; on 3 primaries its event loop
 * is 90-100% busy, so the 3-primary vs 1-primary throughput ratio is bounded by Node CPU (and by
 * whatever else the host runs), not by Redis. The figure that shows what three primaries buy is the
 * per-primary CPU share (each ~1/3 of the total); the figures print each cluster's loop busy share.
 * BENCH_CLUSTER_CPU=0.1 gives each primary a CPU budget of its own (a tenth of a core, in a cgroup,
 * bench/cpu-cap.ts; needs root), as if each ran on its own small machine: Redis is then the bound,
 * and the 3-vs-1 ratio shows what the partitions buy a Redis-bound deployment.
 *
 * Env: BENCH_CLUSTER_PORT (first port, default 7150; uses PORT..PORT+3 and their bus ports +10000,
 * all within 7100-7199), BENCH_CLUSTER_RUNS (1000; quick 200), BENCH_CLUSTER_WARMUP_RUNS (100;
 * quick 20), BENCH_CLUSTER_ROUNDS (3; quick 1), BENCH_CLUSTER_CPU (unset: no cap), BENCH_CONCURRENCY (50), BENCH_PARTITIONS (12),
 * BENCH_SETTLE_MS, BENCH_TIMEOUT_MS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Job } from 'bullmq';
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { parseClusterNodes } from '../config/schema.ts';
import { track } from './procs.ts';
import { type CpuCap, capCpu } from './cpu-cap.ts';
import { partitionTags, SLOTS } from '../src/engine/partition-tags.ts';
import { uniquePrefix } from '../test/helpers/redis.ts';
import { type Figure, load } from './http.ts';
import {
  type BenchConfig,
  diffCalls,
  intEnv,
  installTracer,
  loadConfig,
  median,
  Monitor,
  out,
  type RedisSnapshot,
  sleep,
  sum,
  sweepOpenClients,
  waitFor,
} from './lib.ts';
import { burst, stageflow } from './sides.ts';

const HOST = '127.0.0.1';
/**
 * With each primary's CPU capped (BENCH_CLUSTER_CPU), three primaries have three times the Redis
 * CPU of one; the Node side and the cluster's per-node overhead take some of that, so the goal
 * asks for most of it, not all.
 */
const REDIS_BOUND_GROWTH = 2.5;
const PORT_RANGE: [number, number] = [7100, 7199];
// test/helpers/cluster.ts DISRUPTIVE_CLUSTER_PORTS: 7100-7105 and 7110-7115.
const TESTS_DISRUPTIVE: [number, number] = [7100, 7115];

const fmt = (n: number, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a';

// ---------------------------------------------------------------- the bench's own clusters

interface ClusterNode {
  port: number;
  /** First and last slot this primary serves. */
  slots: [number, number];
  child: ChildProcess;
  /** INFO snapshots and the bench's own ZCARD polling (a plain connection to this node). */
  monitor: Monitor;
}

interface BenchCluster {
  name: string;
  nodes: ClusterNode[];
  seeds: string;
  dir: string;
  /** Each primary's CPU budget (BENCH_CLUSTER_CPU), released once its process is gone. */
  caps: CpuCap[];
}

const running = new Set<BenchCluster>();

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, HOST);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Kills what startCluster started and removes its directory; synchronous, so it can run in an 'exit' handler. */
function killCluster(c: BenchCluster): void {
  for (const n of c.nodes) {
    n.monitor.close();
    if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
  }
  rmSync(c.dir, { recursive: true, force: true });
  for (const cap of c.caps) cap.release();
  running.delete(c);
}

async function stopCluster(c: BenchCluster): Promise<void> {
  const gone = c.nodes.map((n) =>
    n.child.exitCode === null && n.child.signalCode === null ? new Promise((r) => n.child.once('exit', r)) : Promise.resolve(),
  );
  killCluster(c);
  await Promise.all(gone);
  for (const cap of c.caps) cap.release(); // now that the processes are reaped
}

const onExit = () => {
  for (const c of [...running]) killCluster(c);
};
const onSignal = (signal: NodeJS.Signals) => {
  process.stderr.write(`bench: ${signal}: stopping the bench clusters\n`);
  onExit();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};

function guardProcess(on: boolean): void {
  if (on) {
    process.on('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  } else {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function clusterInfo(r: Redis): Promise<Map<string, string>> {
  const text = (await r.call('CLUSTER', 'INFO')) as string;
  return new Map(
    text
      .split('\r\n')
      .filter(Boolean)
      .map((l) => l.split(':') as [string, string]),
  );
}

/**
 * `ports.length` primaries, no replicas, the slots split into equal ranges; resolves when every
 * node reports cluster_state:ok, knows every other node and sees all 16,384 slots served.
 */
async function startCluster(name: string, ports: number[], cpuCap?: number): Promise<BenchCluster> {
  for (const p of ports) {
    if (p < PORT_RANGE[0] || p > PORT_RANGE[1])
      throw new Error(`bench: cluster port ${p} is outside ${PORT_RANGE.join('-')} (BENCH_CLUSTER_PORT)`);
    if (await accepts(p)) throw new Error(`bench: port ${p} is already in use (a stale bench cluster? set BENCH_CLUSTER_PORT)`);
    if (await accepts(p + 10_000)) throw new Error(`bench: cluster bus port ${p + 10_000} is already in use (set BENCH_CLUSTER_PORT)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'stageflow-bench-cluster-'));
  const c: BenchCluster = { name, nodes: [], seeds: ports.map((p) => `${HOST}:${p}`).join(','), dir, caps: [] };
  running.add(c);
  const k = ports.length;
  ports.forEach((port, i) => {
    const nodeDir = path.join(dir, String(port));
    mkdirSync(nodeDir);
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', HOST, '--dir', nodeDir, '--logfile', 'redis.log'],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '15000'],
        // A lone node learns its own address only from a peer; without this it announces "" in CLUSTER SLOTS.
        ...['--cluster-announce-ip', HOST],
        ...['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
      ],
      { stdio: 'ignore' },
    );
    child.on('error', () => undefined);
    track(child);
    if (cpuCap !== undefined && child.pid !== undefined) c.caps.push(capCpu(child.pid, cpuCap, `stageflow-bench-${port}`));
    const slots: [number, number] = [Math.floor((i * SLOTS) / k), Math.floor(((i + 1) * SLOTS) / k) - 1];
    // ioredis retries until the node listens; the monitor exists from the start so killCluster can always close it.
    c.nodes.push({ port, slots, child, monitor: new Monitor(`redis://${HOST}:${port}`) });
  });
  const end = Date.now() + 15_000;
  for (const n of c.nodes) {
    while (!(await accepts(n.port))) {
      if (Date.now() > end || n.child.exitCode !== null) throw new Error(`bench: redis-server on ${n.port} did not start (log in ${dir})`);
      await sleep(50);
    }
  }
  // As redis-cli --cluster create does: distinct config epochs, the slots, then the handshake.
  for (const [i, n] of c.nodes.entries()) {
    await n.monitor.redis.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
    await n.monitor.redis.call('CLUSTER', 'ADDSLOTSRANGE', String(n.slots[0]), String(n.slots[1]));
  }
  for (const n of c.nodes.slice(1)) await c.nodes[0]!.monitor.redis.call('CLUSTER', 'MEET', HOST, String(n.port));
  for (const n of c.nodes) {
    for (;;) {
      const info = await clusterInfo(n.monitor.redis);
      if (
        info.get('cluster_state') === 'ok' &&
        info.get('cluster_known_nodes') === String(k) &&
        info.get('cluster_slots_ok') === String(SLOTS)
      )
        break;
      if (Date.now() > end) throw new Error(`bench: ${name} not ok after 15 s on ${n.port}: ${JSON.stringify(Object.fromEntries(info))}`);
      await sleep(100);
    }
  }
  return c;
}

function nodeOfKey(c: BenchCluster, key: string): number {
  const slot = calculateSlot(key);
  return c.nodes.findIndex((n) => slot >= n.slots[0] && slot <= n.slots[1]);
}

/**
 * What sides.ts asks of its Monitor while it waits (`monitor.redis.pipeline().zcard(k)….exec()`),
 * over the cluster: one pipeline per node on the bench's plain connections (an ioredis Cluster
 * pipeline refuses keys of several nodes). The ZCARDs are counted per node, to subtract.
 */
function clusterPoller(c: BenchCluster, zcards: number[]): Monitor {
  const pipeline = () => {
    const keys: string[] = [];
    const pipe = {
      zcard(key: string) {
        keys.push(key);
        return pipe;
      },
      async exec(): Promise<Array<[Error | null, unknown]>> {
        const byNode = keys.map((k) => nodeOfKey(c, k));
        const replies = await Promise.all(
          c.nodes.map(async (n, i) => {
            const mine = keys.filter((_, j) => byNode[j] === i);
            if (mine.length === 0) return [];
            zcards[i] = (zcards[i] ?? 0) + mine.length;
            const p = n.monitor.redis.pipeline();
            for (const k of mine) p.zcard(k);
            return (await p.exec()) ?? [];
          }),
        );
        const next = c.nodes.map(() => 0);
        return byNode.map((i) => replies[i]![next[i]!++] as [Error | null, unknown]);
      },
    };
    return pipe;
  };
  return { redis: { pipeline } } as unknown as Monitor;
}

// ---------------------------------------------------------------- one measurement

interface NodeResult {
  port: number;
  slots: [number, number];
  cpuUs: number;
  /** Redis CPU of the idle node (cluster bus, cron) in the settle before the phase, µs per second: the floor under cpuUs. */
  idleUsPerSec: number;
  /** INFO commandstats calls, commands inside scripts included (as in the other modes). */
  calls: number;
  /** The default 12 partitions whose keys this node holds, by partition index. */
  partitions: number[];
  keys: number;
  runs: number;
}

interface Measurement {
  cluster: string;
  primaries: number;
  steps: number;
  elapsedMs: number;
  nodeCpuUs: number;
  eventLoopUtilization: number;
  nodes: NodeResult[];
}

const stepsPerSec = (m: Measurement) => m.steps / (m.elapsedMs / 1000);
const redisCpuPerStep = (m: Measurement) => m.nodes.reduce((a, n) => a + n.cpuUs, 0) / m.steps;
const shares = (m: Measurement) => {
  const total = m.nodes.reduce((a, n) => a + n.cpuUs, 0);
  return m.nodes.map((n) => (100 * n.cpuUs) / total);
};

/** The prefix's keys on each node, by the partition tag they carry (SCAN on the node itself). */
async function keysByNode(
  c: BenchCluster,
  prefix: string,
  tags: readonly string[],
): Promise<Array<{ partitions: number[]; keys: number; runs: number }>> {
  const tagIndex = new Map(tags.map((t, i) => [t, i]));
  return Promise.all(
    c.nodes.map(async (n) => {
      const parts = new Set<number>();
      let keys = 0;
      let runs = 0;
      let cursor = '0';
      do {
        const [next, batch] = await n.monitor.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) {
          keys += 1;
          const tag = /^[^{]*\{([^}]+)\}/.exec(key)?.[1];
          const p = tag === undefined ? undefined : tagIndex.get(tag);
          if (p !== undefined) parts.add(p);
          if (/:run:[0-9a-f-]{36}$/.test(key)) runs += 1;
        }
      } while (cursor !== '0');
      return { partitions: [...parts].sort((a, b) => a - b), keys, runs };
    }),
  );
}

async function measure(cfg: BenchConfig, c: BenchCluster, deadline: number): Promise<Measurement> {
  const prefix = uniquePrefix(`bench-cluster${c.nodes.length}`);
  const steps = cfg.runs * cfg.stepsPerRun;
  const zcards = c.nodes.map(() => 0);
  const side = await stageflow.open({ ...cfg, redisCluster: parseClusterNodes(c.seeds) }, prefix, clusterPoller(c, zcards));
  try {
    let finishedSteps = 0;
    side.worker.on('completed', (_job: Job) => void (finishedSteps += 1));
    out(`bench: ${c.name}: warm-up (${cfg.warmupRuns} runs)…`);
    await burst(side, c.name, cfg.warmupRuns, cfg.warmupRuns, cfg.pollMs, deadline);
    await waitFor(`${c.name} warm-up jobs`, () => finishedSteps >= cfg.warmupRuns * cfg.stepsPerRun, 5, deadline);
    await side.cleanFinished();
    const idle0 = await Promise.all(c.nodes.map((n) => n.monitor.snapshot()));
    const idleT0 = performance.now();
    await sleep(cfg.settleMs);
    const idleS = (performance.now() - idleT0) / 1000;

    out(`bench: ${c.name}: ${cfg.runs} runs × ${cfg.stepsPerRun} steps, concurrency ${cfg.concurrency}…`);
    const before: RedisSnapshot[] = await Promise.all(c.nodes.map((n) => n.monitor.snapshot()));
    zcards.fill(0);
    finishedSteps = 0;
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const elapsedMs = await burst(side, c.name, cfg.runs, cfg.warmupRuns + cfg.runs, cfg.pollMs, deadline);
    await waitFor(`${c.name} completed events`, () => finishedSteps >= steps, 5, deadline);
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    const after: RedisSnapshot[] = await Promise.all(c.nodes.map((n) => n.monitor.snapshot()));
    const held = await keysByNode(c, prefix, partitionTags(Number(process.env.BENCH_PARTITIONS ?? 12)));
    return {
      cluster: c.name,
      primaries: c.nodes.length,
      steps,
      elapsedMs,
      nodeCpuUs: cpu.user + cpu.system,
      eventLoopUtilization: elu.utilization,
      nodes: c.nodes.map((n, i) => {
        // The "before" INFO shows up in the "after" stats; the polling ZCARDs are the bench's, not the engine's.
        const own = new Map([
          ['info', 1],
          ['zcard', zcards[i]!],
        ]);
        return {
          port: n.port,
          slots: n.slots,
          cpuUs: (after[i]!.cpuSec - before[i]!.cpuSec) * 1e6,
          idleUsPerSec: ((before[i]!.cpuSec - idle0[i]!.cpuSec) * 1e6) / idleS,
          calls: sum(diffCalls(before[i]!.calls, after[i]!.calls, own)),
          ...held[i]!,
        };
      }),
    };
  } finally {
    await side.close();
    await sleep(200); // disconnect() takes effect when the socket closes
    const leaked = sweepOpenClients();
    if (leaked.length > 0)
      process.stderr.write(`bench: note: ${c.name}: disconnected ${leaked.length} connection(s) left open: ${leaked.join(', ')}\n`);
  }
}

function printMeasurement(m: Measurement): void {
  const s = shares(m);
  out(
    `  ${m.cluster}: ${fmt(stepsPerSec(m))} steps/s (${m.steps} steps in ${fmt(m.elapsedMs)} ms); node ${fmt(m.nodeCpuUs / m.steps)} µs cpu/step, ` +
      `loop busy ${fmt(m.eventLoopUtilization * 100)}%; redis ${fmt(redisCpuPerStep(m))} µs cpu/step in all`,
  );
  m.nodes.forEach((n, i) => {
    out(
      `    primary :${n.port} slots ${n.slots[0]}-${n.slots[1]}: ${fmt(n.cpuUs / m.steps)} µs cpu/step (${fmt(s[i]!, 1)}%), ` +
        `${fmt(n.calls / m.steps, 1)} commands/step (inside scripts included), idle ${fmt(n.idleUsPerSec)} µs cpu/s; ` +
        `holds partitions ${n.partitions.join(',') || '-'} (${n.keys} keys, ${n.runs} run hashes, warm-up included)`,
    );
  });
}

/** Every partition on exactly one primary, and each primary holding its even share (12 over 3: 4 each). */
function checkDistribution(m: Measurement, partitions: number): string | undefined {
  const seen = m.nodes.flatMap((n) => n.partitions);
  if (new Set(seen).size !== seen.length) return `${m.cluster}: a partition's keys are on two primaries`;
  if (seen.length !== partitions) return `${m.cluster}: keys of ${seen.length} of ${partitions} partitions found`;
  const counts = m.nodes.map((n) => n.partitions.length);
  if (Math.max(...counts) - Math.min(...counts) > 1) return `${m.cluster}: partitions per primary ${counts.join('/')}, not even`;
  return undefined;
}

// ---------------------------------------------------------------- the mode

export async function clusterMode(o: { quick: boolean }): Promise<Figure[]> {
  const base = intEnv('BENCH_CLUSTER_PORT', 7150);
  const ports1 = [base];
  const ports3 = [base + 1, base + 2, base + 3];
  for (const p of [...ports1, ...ports3]) {
    if (p >= TESTS_DISRUPTIVE[0] && p <= TESTS_DISRUPTIVE[1]) {
      throw new Error(`bench: BENCH_CLUSTER_PORT ${base} overlaps the tests' disruptive clusters (${TESTS_DISRUPTIVE.join('-')})`);
    }
  }
  const partitions = Number(process.env.BENCH_PARTITIONS ?? 12);
  const cpuCap = process.env.BENCH_CLUSTER_CPU ? Number(process.env.BENCH_CLUSTER_CPU) : undefined;
  if (cpuCap !== undefined && !(cpuCap > 0))
    throw new Error(`bench: BENCH_CLUSTER_CPU=${process.env.BENCH_CLUSTER_CPU} is not a positive core count`);
  const cfg: BenchConfig = {
    ...loadConfig(),
    runs: intEnv('BENCH_CLUSTER_RUNS', o.quick ? 200 : 1000),
    warmupRuns: intEnv('BENCH_CLUSTER_WARMUP_RUNS', o.quick ? 20 : 100),
    rounds: intEnv('BENCH_CLUSTER_ROUNDS', o.quick ? 1 : 3),
  };
  out(
    `\n== cluster: stageflow on 1 primary vs 3 primaries (no replicas), ${partitions} partitions, ${cfg.runs} runs × ${cfg.stepsPerRun} steps, ` +
      `concurrency ${cfg.concurrency}, ${cfg.rounds} round(s)${cpuCap ? `, each primary capped at ${cpuCap} core (BENCH_CLUSTER_CPU)` : ''}; ${load()}`,
  );
  const deadline = Date.now() + cfg.timeoutMs;
  installTracer(); // tracks every connection, so ones left open after close() can be swept
  guardProcess(true);
  const rounds: Array<[Measurement, Measurement]> = [];
  let one: BenchCluster | undefined;
  let three: BenchCluster | undefined;
  try {
    one = await startCluster('1 primary', ports1, cpuCap);
    three = await startCluster('3 primaries', ports3, cpuCap);
    out(`bench: clusters up: 1 primary on ${one.seeds}, 3 primaries on ${three.seeds} (dirs under ${tmpdir()})`);
    for (let round = 1; round <= cfg.rounds; round++) {
      out(`bench: round ${round} of ${cfg.rounds}`);
      const a = await measure(cfg, one, deadline);
      const b = await measure(cfg, three, deadline);
      rounds.push([a, b]);
    }
  } finally {
    if (one) await stopCluster(one);
    if (three) await stopCluster(three);
    guardProcess(false);
  }

  out();
  out('rounds (each: 1 primary, then 3 primaries):');
  rounds.forEach(([a, b], i) => {
    out(`round ${i + 1}: 3 vs 1 primary ${(stepsPerSec(b) / stepsPerSec(a)).toFixed(2)}×`);
    printMeasurement(a);
    printMeasurement(b);
  });
  const problems = rounds.flat().map((m) => checkDistribution(m, partitions));
  for (const p of problems) if (p) out(`bench: WARNING: ${p}`);
  if (problems.every((p) => !p))
    out(`  key distribution as expected: every partition on one primary, ${partitions}/${ports3.length} per primary on 3`);

  const sps1 = median(rounds.map(([a]) => stepsPerSec(a)));
  const sps3 = median(rounds.map(([, b]) => stepsPerSec(b)));
  const ratio = median(rounds.map(([a, b]) => stepsPerSec(b) / stepsPerSec(a)));
  const shareMed = ports3.map((_, i) => median(rounds.map(([, b]) => shares(b)[i]!)));
  const sharesMet = shareMed.every((s) => Math.abs(s - 100 / 3) <= 10);
  const redis1 = median(rounds.map(([a]) => redisCpuPerStep(a)));
  const redis3 = median(rounds.map(([, b]) => redisCpuPerStep(b)));
  const node1 = median(rounds.map(([a]) => a.nodeCpuUs / a.steps));
  const node3 = median(rounds.map(([, b]) => b.nodeCpuUs / b.steps));
  const elu1 = median(rounds.map(([a]) => a.eventLoopUtilization));
  const elu3 = median(rounds.map(([, b]) => b.eventLoopUtilization));
  const perPrimary = ports3.map((_, i) => median(rounds.map(([, b]) => b.nodes[i]!.cpuUs / b.steps)));
  const n = `median of ${rounds.length}`;
  out(
    `bench: cluster_1p_steps_per_s=${Math.round(sps1)} cluster_3p_steps_per_s=${Math.round(sps3)} ratio=${ratio.toFixed(2)} ` +
      `shares_3p=${shareMed.map((s) => s.toFixed(1)).join('/')} redis_cpu_us_per_step_1p=${Math.round(redis1)} redis_cpu_us_per_step_3p=${Math.round(redis3)}`,
  );
  return [
    { name: 'cluster steps/s, 1 primary', value: `${fmt(sps1)} (${n})`, goal: '(context)' },
    { name: 'cluster steps/s, 3 primaries', value: `${fmt(sps3)} (${n})`, goal: '(context)' },
    cpuCap === undefined
      ? {
          name: 'cluster 3 vs 1 primary steps/s',
          value: `${ratio.toFixed(2)}× (${n})`,
          goal: `(context: bounded by Node CPU on this 2-core host; loop busy ${fmt(elu1 * 100)}% on 1, ${fmt(elu3 * 100)}% on 3; BENCH_CLUSTER_CPU makes Redis the bound)`,
        }
      : {
          name: `cluster 3 vs 1 primary steps/s, ${cpuCap} core each`,
          value: `${ratio.toFixed(2)}× (${n}; loop busy ${fmt(elu1 * 100)}% on 1, ${fmt(elu3 * 100)}% on 3)`,
          goal: `grows with primaries when Redis is the bound (≥ ${REDIS_BOUND_GROWTH}×)`,
          met: ratio >= REDIS_BOUND_GROWTH,
        },
    {
      name: 'cluster 3-primary per-primary CPU shares',
      value: `${shareMed.map((s) => `${fmt(s)}%`).join(' / ')} (${perPrimary.map((u) => fmt(u)).join('/')} µs/step, ${n})`,
      goal: 'near-equal (each 33% ± 10)',
      met: sharesMet && problems.every((p) => !p),
    },
    {
      name: 'cluster Redis CPU per step, 1 vs 3 primaries',
      value: `${fmt(redis1)} vs ${fmt(redis3)} µs (all primaries)`,
      goal: '(context)',
    },
    {
      name: 'cluster Node CPU per step, 1 vs 3 primaries',
      value: `${fmt(node1)} vs ${fmt(node3)} µs`,
      goal: cpuCap === undefined ? '(context: the bottleneck here)' : '(context)',
    },
  ];
}
