/**
 * Shared bench plumbing: settings, Redis INFO snapshots, a client-side command tracer, the
 * prefix memory census, percentiles and printing. Only the bench imports this.
 */
import { Redis } from 'ioredis';
import type { RedisClusterConfig } from '../config/schema.ts';
import { testRedisUrl } from '../test/helpers/redis.ts';

export interface BenchConfig {
  redisUrl: string;
  concurrency: number;
  runs: number;
  stepsPerRun: number;
  warmupRuns: number;
  /** Rounds of (baseline, stageflow); the report is the median round, so one noisy stretch of the host cannot decide it. */
  rounds: number;
  settleMs: number;
  pollMs: number;
  timeoutMs: number;
  /** Set (bench/cluster.ts): the engine connects to this Redis Cluster, as REDIS_CLUSTER_NODES would, and redisUrl is ignored. */
  redisCluster?: RedisClusterConfig;
}

/** An integer of at least `min` (default 1) from the environment, or `fallback` when unset or empty. */
export function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function loadConfig(): BenchConfig {
  return {
    redisUrl: testRedisUrl(),
    concurrency: intEnv('BENCH_CONCURRENCY', 50),
    runs: intEnv('BENCH_RUNS', 300),
    stepsPerRun: 10,
    warmupRuns: intEnv('BENCH_WARMUP_RUNS', 100),
    rounds: intEnv('BENCH_ROUNDS', 3),
    settleMs: intEnv('BENCH_SETTLE_MS', 1000),
    pollMs: 10,
    timeoutMs: intEnv('BENCH_TIMEOUT_MS', 300_000),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const out = (s = '') => void process.stdout.write(`${s}\n`);

/** Polls `cond` every `pollMs` until it holds; throws at `deadline`. */
export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, pollMs: number, deadline: number): Promise<void> {
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

// ---------------------------------------------------------------- client-side command tracer

/**
 * Counts every command this process sends, by name (script calls by their defineCommand name),
 * by patching ioredis' Redis.prototype.sendCommand. The bench's own monitor connection is
 * tagged and counted separately, so its INFO/ZCARD polling can be subtracted from commandstats.
 */
const MONITOR = Symbol('bench-monitor');
type Counts = Map<string, number>;
const appCounts: Counts = new Map();
const monitorCounts: Counts = new Map();
const shaNames = new Map<string, string>();
let installed = false;

function scriptName(client: unknown, sha: string): string {
  const known = shaNames.get(sha);
  if (known) return known;
  const set = (client as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
  for (const [name, s] of Object.entries(set)) shaNames.set(s.sha, name);
  return shaNames.get(sha) ?? `evalsha:${sha.slice(0, 8)}`;
}

/** Every ioredis client this process connects, so connections left open after close() can be found. */
const clients = new Set<Redis>();

export function installTracer(): void {
  if (installed) return;
  installed = true;
  const proto = Redis.prototype as unknown as {
    sendCommand: (this: any, cmd: any, stream?: unknown) => unknown;
    connect: (this: any, ...args: unknown[]) => unknown;
  };
  const connect = proto.connect;
  proto.connect = function (this: any, ...args: unknown[]) {
    clients.add(this);
    return connect.apply(this, args);
  };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: any, cmd: { name: string; args: unknown[] }, stream?: unknown) {
    clients.add(this);
    let name = cmd.name.toLowerCase();
    // ioredis rewrites evalsha→eval on a socket's first use of a script; count both as the script.
    if ((name === 'evalsha' || name === 'eval') && cmd.args.length > 0 && typeof cmd.args[0] === 'string') {
      const first = cmd.args[0] as string;
      name = `script:${scriptName(this, first.length === 40 ? first : '')}`;
    }
    const counts = this[MONITOR] ? monitorCounts : appCounts;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return original.call(this, cmd, stream);
  };
}

/**
 * Disconnects every client (but the bench monitor) still open, and says which: a component whose
 * close() leaves a connection open keeps a process from exiting by itself.
 */
export function sweepOpenClients(): string[] {
  const open: string[] = [];
  for (const c of clients) {
    if ((c as unknown as Record<symbol, boolean>)[MONITOR]) continue;
    if (c.status !== 'end' && c.status !== 'close') {
      open.push(`${c.options.connectionName || '(unnamed)'} [${c.status}]`);
      c.disconnect();
    }
    clients.delete(c);
  }
  return open;
}

export function resetTrace(): void {
  appCounts.clear();
  monitorCounts.clear();
}

export function takeTrace(): { app: Counts; monitor: Counts } {
  return { app: new Map(appCounts), monitor: new Map(monitorCounts) };
}

// ---------------------------------------------------------------- Redis monitor

export interface RedisSnapshot {
  calls: Map<string, number>;
  usec: Map<string, number>;
  usedMemory: number;
  cpuSec: number;
  connectedClients: number;
}

export interface Census {
  total: number;
  keys: number;
  byKind: Map<string, { keys: number; bytes: number }>;
}

export class Monitor {
  readonly redis: Redis;

  constructor(url: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, connectionName: 'bench-monitor' });
    (this.redis as unknown as Record<symbol, boolean>)[MONITOR] = true;
    this.redis.on('error', () => undefined);
  }

  async snapshot(): Promise<RedisSnapshot> {
    const text = await this.redis.info('all');
    const calls = new Map<string, number>();
    const usec = new Map<string, number>();
    let usedMemory = 0;
    let cpu = 0;
    let clients = 0;
    for (const line of text.split('\r\n')) {
      const stat = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
      if (stat) {
        calls.set(stat[1]!.toLowerCase(), Number(stat[2]));
        usec.set(stat[1]!.toLowerCase(), Number(stat[3]));
      } else if (line.startsWith('used_memory:')) usedMemory = Number(line.slice('used_memory:'.length));
      else if (line.startsWith('used_cpu_sys:') || line.startsWith('used_cpu_user:')) cpu += Number(line.split(':')[1]);
      else if (line.startsWith('connected_clients:')) clients = Number(line.split(':')[1]);
    }
    return { calls, usec, usedMemory, cpuSec: cpu, connectedClients: clients };
  }

  /** Sum of MEMORY USAGE over the prefix's keys, grouped by a coarse key kind. */
  async census(prefix: string, kindOf: (key: string) => string): Promise<Census> {
    const byKind = new Map<string, { keys: number; bytes: number }>();
    let total = 0;
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const pipe = this.redis.pipeline();
      for (const k of keys) pipe.memory('USAGE', k, 'SAMPLES', '0');
      const rows = (await pipe.exec()) ?? [];
      rows.forEach(([, bytes], i) => {
        const n = Number(bytes ?? 0);
        const kind = kindOf(keys[i]!);
        const slot = byKind.get(kind) ?? { keys: 0, bytes: 0 };
        slot.keys += 1;
        slot.bytes += n;
        byKind.set(kind, slot);
        total += n;
        count += 1;
      });
    } while (cursor !== '0');
    return { total, keys: count, byKind };
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** after − before, per key kind. */
export function diffCensus(before: Census, after: Census): Census {
  const byKind = new Map<string, { keys: number; bytes: number }>();
  for (const [k, v] of after.byKind) {
    const b = before.byKind.get(k) ?? { keys: 0, bytes: 0 };
    byKind.set(k, { keys: v.keys - b.keys, bytes: v.bytes - b.bytes });
  }
  for (const [k, b] of before.byKind) if (!after.byKind.has(k)) byKind.set(k, { keys: -b.keys, bytes: -b.bytes });
  return { total: after.total - before.total, keys: after.keys - before.keys, byKind };
}

/** after − before, per command, minus the commands the bench monitor itself sent in between. */
export function diffCalls(
  before: Map<string, number>,
  after: Map<string, number>,
  own: Map<string, number> = new Map(),
): Map<string, number> {
  const diff = new Map<string, number>();
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0) - (own.get(cmd) ?? 0);
    if (d > 0) diff.set(cmd, d);
  }
  return diff;
}

export const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

export function top(m: Map<string, number>, n: number): Array<[string, number]> {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

// ---------------------------------------------------------------- stats & results

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export interface SideResult {
  name: string;
  runs: number;
  steps: number;
  elapsedMs: number;
  latencies: number[];
  redisCalls: Map<string, number>;
  redisUsec: Map<string, number>;
  clientCalls: Map<string, number>;
  ownSubtracted: number;
  nodeCpuMs: number;
  /** Share of the window the Node event loop was busy (1 = the process was the bottleneck). */
  eventLoopUtilization: number;
  /** Mean number of jobs active in the worker (sampled every 5 ms); the cap is the concurrency. */
  avgActive: number;
  redisCpuMs: number;
  usedMemoryDiff: number;
  census: Census;
  retention: string;
  connectedClients: number;
}

export interface Summary {
  stepsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  callsPerStep: number;
  roundTripsPerStep: number;
  memPerRun: number;
  censusPerRun: number;
}

export function summarize(r: SideResult): Summary {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return {
    stepsPerSec: r.steps / (r.elapsedMs / 1000),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    callsPerStep: sum(r.redisCalls) / r.steps,
    roundTripsPerStep: sum(r.clientCalls) / r.steps,
    memPerRun: r.usedMemoryDiff / r.runs,
    censusPerRun: r.census.total / r.runs,
  };
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function printReport(cfg: BenchConfig, results: SideResult[]): void {
  const s = results.map(summarize);
  out();
  out(`chains=${cfg.runs} steps/chain=${cfg.stepsPerRun} concurrency=${cfg.concurrency} warmup=${cfg.warmupRuns} chains/side`);
  out(
    table([
      [
        'side',
        'steps',
        'wall ms',
        'steps/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'redis calls/step',
        'client cmds/step',
        'node cpu ms/step',
        'redis cpu ms/step',
        'loop busy',
        'avg active',
        'used_memory B/run',
        'key bytes B/run',
      ],
      ...results.map((r, i) => [
        r.name,
        String(r.steps),
        fmt(r.elapsedMs),
        fmt(s[i]!.stepsPerSec),
        fmt(s[i]!.p50),
        fmt(s[i]!.p90),
        fmt(s[i]!.p99),
        fmt(s[i]!.callsPerStep, 2),
        fmt(s[i]!.roundTripsPerStep, 2),
        fmt(r.nodeCpuMs / r.steps, 3),
        fmt(r.redisCpuMs / r.steps, 3),
        `${fmt(r.eventLoopUtilization * 100)}%`,
        fmt(r.avgActive, 1),
        fmt(s[i]!.memPerRun),
        fmt(s[i]!.censusPerRun),
      ]),
    ]),
  );
  if (results.length === 2) {
    const cost = results.map((r) => (r.nodeCpuMs + r.redisCpuMs) / r.steps);
    out(
      `  CPU cost (node+redis) per step: ${results.map((r, i) => `${r.name} ${fmt(cost[i]!, 3)} ms`).join(', ')} → CPU-normalized ratio ${fmt(cost[0]! / cost[1]!, 2)} (insensitive to host CPU steal; wall ratio is not)`,
    );
  }
  out("  redis calls = INFO commandstats calls diff (includes commands run inside Lua scripts), minus the bench monitor's own INFO/ZCARD");
  out(
    '  client cmds = commands this process sent (one EVALSHA = one command); used_memory diff measured after a settle, connections still open',
  );
  for (const r of results) {
    out();
    out(`[${r.name}] connected_clients=${r.connectedClients}; monitor calls subtracted=${r.ownSubtracted}; retention: ${r.retention}`);
    out(
      `  top 5 redis commands (calls/step): ${top(r.redisCalls, 5)
        .map(([c, n]) => `${c}=${fmt(n / r.steps, 2)}`)
        .join(' ')}`,
    );
    out(
      `  redis time by command (µs/step, scripts include their inner commands): ${top(r.redisUsec, 6)
        .map(([c, n]) => `${c}=${fmt(n / r.steps, 1)}`)
        .join(' ')}`,
    );
    out(
      `  client commands/step: ${top(r.clientCalls, 12)
        .map(([c, n]) => `${c}=${fmt(n / r.steps, 2)}`)
        .join(' ')}`,
    );
    out(
      `  retained keys added (MEMORY USAGE diff): ${r.census.keys} keys, ${fmt(r.census.total / 1024)} KiB — ${[
        ...r.census.byKind.entries(),
      ]
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([k, v]) => `${k}: ${v.keys} keys ${fmt(v.bytes / 1024)} KiB`)
        .join('; ')}`,
    );
  }
  out();
}
