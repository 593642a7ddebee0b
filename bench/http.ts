/**
 * The modes that measure stageflow as users run it, over HTTP, against the naive reference
 * (bench/reference-server.ts): end to end (`http`), the start path under wrk (`start`, with batch
 * starts), Redis memory per finished run (`memory`) and a per-start / per-step breakdown
 * (`profile`). Both sides run in their own processes against one private redis-server (or
 * REDIS_URL with BENCH_REDIS=shared), each on its own key prefix, removed afterwards.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { createKeyspace } from '../src/engine/keyspace.ts';
import { linearWorkflow } from '../test/helpers/harness.ts';
import { cleanupPrefix, uniquePrefix } from '../test/helpers/redis.ts';
import {
  type Census,
  diffCalls,
  diffCensus,
  intEnv,
  Monitor,
  median,
  out,
  percentile,
  type RedisSnapshot,
  sleep,
  sum,
  top,
} from './lib.ts';
import { benchKeys, benchRedis, call, closeAgent, type Keys, type Server, startReference, startStageflow } from './procs.ts';
import { baseline, stageflow as stageflowSide } from './sides.ts';

export interface Figure {
  name: string;
  value: string;
  goal: string;
  /** undefined: no goal to meet (a context figure) or not measured. */
  met?: boolean;
}

export interface HttpOptions {
  quick: boolean;
}

export const WORKFLOW = 'bench-chain';
const STEPS = 10;
const IN_FLIGHT = 20;
const WAIT_MS = 60_000;

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const load = () =>
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

// ---------------------------------------------------------------- the one HTTP client both sides get

interface Target {
  name: string;
  pool: Pool;
  /** Path of a start; `?wait=` is appended by the driver. */
  startPath: string;
  headers: Record<string, string>;
}

interface LoopResult {
  elapsedMs: number;
  latencies: number[];
  ids: string[];
  bad: Array<{ status: number; body: string }>;
}

const pools = new Set<Pool>();
/** Closes every client pool opened so far (their keep-alive sockets would keep the process alive). */
async function closePools(): Promise<void> {
  for (const p of pools) await p.close().catch(() => undefined);
  pools.clear();
  await closeAgent();
}

function target(name: string, server: Server, startPath: string, headers: Record<string, string> = {}): Target {
  // One keep-alive connection per request in flight, as a load balancer or a client library would hold.
  const pool = new Pool(server.url, { connections: IN_FLIGHT, pipelining: 1 });
  pools.add(pool);
  return { name, pool, startPath, headers: { 'content-type': 'application/json', ...headers } };
}

async function post(t: Target, p: string, body: string): Promise<{ status: number; json: any; text: string }> {
  const res = await t.pool.request({ method: 'POST', path: p, headers: t.headers, body });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

/**
 * `total` starts, `inFlight` at a time. With `wait`, each request is one whole run: the start,
 * answered when the run finished (stageflow's own `?wait=`); a run not `completed` counts as bad.
 */
async function closedLoop(t: Target, total: number, inFlight: number, wait: boolean): Promise<LoopResult> {
  const latencies: number[] = [];
  const ids: string[] = [];
  const bad: LoopResult['bad'] = [];
  const p = wait ? `${t.startPath}?wait=${WAIT_MS}` : t.startPath;
  const body = JSON.stringify({ model: {} });
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < total) {
      next += 1;
      const s = performance.now();
      const r = await post(t, p, body);
      latencies.push(performance.now() - s);
      const ok = r.status === 201 && (!wait || r.json?.status === 'completed');
      if (ok) ids.push(r.json.id);
      else bad.push({ status: r.status, body: r.text.slice(0, 300) });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { elapsedMs: performance.now() - t0, latencies, ids, bad };
}

async function saveWorkflow(server: Server, keys: Keys): Promise<void> {
  const res = await call(`${server.url}/api/workflows/${WORKFLOW}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${keys.designer}`, 'content-type': 'application/json' },
    body: JSON.stringify(linearWorkflow(WORKFLOW, STEPS)),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`saving the bench workflow: ${res.status} ${res.text}`);
}

const sfTarget = (server: Server, keys: Keys) =>
  target('stageflow', server, `/api/workflows/${WORKFLOW}/runs`, { authorization: `Bearer ${keys.client}` });
const refTarget = (server: Server) => target('reference', server, '/runs');

interface Window {
  cpu0: number;
  snap: RedisSnapshot;
}
const openWindow = async (server: Server, monitor: Monitor): Promise<Window> => ({ cpu0: server.cpuMs(), snap: await monitor.snapshot() });
async function closeWindow(server: Server, monitor: Monitor, w: Window) {
  const nodeCpuMs = server.cpuMs() - w.cpu0;
  const after = await monitor.snapshot();
  // the window's closing INFO is not in `after`'s counts, its opening one is
  const calls = diffCalls(w.snap.calls, after.calls, new Map([['info', 1]]));
  return { nodeCpuMs, redisCpuMs: (after.cpuSec - w.snap.cpuSec) * 1000, calls, usec: diffCalls(w.snap.usec, after.usec) };
}

function assertGood(side: string, r: LoopResult): void {
  if (r.bad.length > 0)
    throw new Error(`${side}: ${r.bad.length} of ${r.bad.length + r.ids.length} requests failed, e.g. ${JSON.stringify(r.bad[0])}`);
}

// ---------------------------------------------------------------- mode: http (end to end)

interface HttpRound {
  side: string;
  stepsPerSec: number;
  p50: number;
  loadedP50: number;
  nodeUsPerStep: number;
  redisUsPerStep: number;
  redisCallsPerStep: number;
}

export async function httpMode(o: HttpOptions): Promise<Figure[]> {
  const runs = intEnv('BENCH_HTTP_RUNS', o.quick ? 200 : 1000);
  const warmup = intEnv('BENCH_HTTP_WARMUP', o.quick ? 20 : 100);
  const rounds = intEnv('BENCH_HTTP_ROUNDS', o.quick ? 1 : 3);
  const samples = intEnv('BENCH_HTTP_P50_RUNS', o.quick ? 20 : 50);
  out(
    `\n== http: ${runs} runs × ${STEPS} steps, ${IN_FLIGHT} requests in flight (each a start with ?wait), ${rounds} round(s); p50 of ${samples} single runs; ${load()}`,
  );
  const redis = await benchRedis();
  const monitor = new Monitor(redis.url);
  const keys = benchKeys();
  const prefixes = { ref: uniquePrefix('bench-ref'), sf: uniquePrefix('bench-sf') };
  const servers: Server[] = [];
  const results: HttpRound[][] = [];
  try {
    const ref = await startReference(redis.url, prefixes.ref, true);
    servers.push(ref);
    const sf = await startStageflow('all', redis.url, prefixes.sf, keys);
    servers.push(sf);
    await saveWorkflow(sf, keys);
    const sides = [
      { server: ref, t: refTarget(ref) },
      { server: sf, t: sfTarget(sf, keys) },
    ];
    for (const s of sides) assertGood(s.t.name, await closedLoop(s.t, warmup, IN_FLIGHT, true));
    for (let round = 1; round <= rounds; round++) {
      const row: HttpRound[] = [];
      for (const { server, t } of sides) {
        await sleep(500);
        const w = await openWindow(server, monitor);
        const r = await closedLoop(t, runs, IN_FLIGHT, true);
        const c = await closeWindow(server, monitor, w);
        assertGood(t.name, r);
        const single = await closedLoop(t, samples, 1, true);
        assertGood(t.name, single);
        const steps = runs * STEPS;
        row.push({
          side: t.name,
          stepsPerSec: steps / (r.elapsedMs / 1000),
          p50: percentile(
            [...single.latencies].sort((a, b) => a - b),
            50,
          ),
          loadedP50: percentile(
            [...r.latencies].sort((a, b) => a - b),
            50,
          ),
          nodeUsPerStep: (c.nodeCpuMs * 1000) / steps,
          redisUsPerStep: (c.redisCpuMs * 1000) / steps,
          redisCallsPerStep: sum(c.calls) / steps,
        });
      }
      const [a, b] = row as [HttpRound, HttpRound];
      out(
        `  round ${round}: ${row
          .map(
            (x) =>
              `${x.side} ${fmt(x.stepsPerSec)} steps/s (run p50 ${fmt(x.p50, 1)} ms alone, ${fmt(x.loadedP50, 1)} ms at ${IN_FLIGHT} in flight; server node ${fmt(x.nodeUsPerStep)} + redis ${fmt(x.redisUsPerStep)} µs cpu/step, ${fmt(x.redisCallsPerStep, 1)} redis cmds/step incl. inside scripts)`,
          )
          .join(', ')} → steps/s ratio ${fmt(b.stepsPerSec / a.stepsPerSec, 2)}, p50 ratio ${fmt(b.p50 / a.p50, 2)}; ${load()}`,
      );
      results.push(row);
    }
  } finally {
    await closePools();
    for (const s of servers.reverse()) await s.stop();
    monitor.close();
    for (const p of Object.values(prefixes)) await cleanupPrefix(redis.url, p).catch(() => 0);
    await redis.stop();
  }
  const ratio = median(results.map((r) => r[1]!.stepsPerSec / r[0]!.stepsPerSec));
  const p50 = median(results.map((r) => r[1]!.p50 / r[0]!.p50));
  const cpu = median(results.map((r) => (r[0]!.nodeUsPerStep + r[0]!.redisUsPerStep) / (r[1]!.nodeUsPerStep + r[1]!.redisUsPerStep)));
  out(
    `  median of ${results.length} round(s): steps/s ratio ${fmt(ratio, 2)} (goal ≥ 0.75), p50 ratio ${fmt(p50, 2)} (goal ≤ 1.2), CPU-normalised ratio ${fmt(cpu, 2)}`,
  );
  out(
    `bench-http: stageflow_steps_per_s=${fmt(median(results.map((r) => r[1]!.stepsPerSec)))} reference_steps_per_s=${fmt(median(results.map((r) => r[0]!.stepsPerSec)))} ratio=${fmt(ratio, 2)} p50_ratio=${fmt(p50, 2)}`,
  );
  return [
    {
      name: 'HTTP end to end, steps/s vs reference',
      value: `${fmt(ratio, 2)}× (median of ${results.length})`,
      goal: '≥ 0.75×',
      met: ratio >= 0.75,
    },
    { name: 'HTTP one 10-step run p50 vs reference', value: `${fmt(p50, 2)}×`, goal: '≤ 1.2×', met: p50 <= 1.2 },
    { name: 'HTTP CPU-normalised (node+redis per step)', value: `${fmt(cpu, 2)}×`, goal: '(context)' },
  ];
}

// ---------------------------------------------------------------- mode: start (wrk)

interface WrkResult {
  rps: number;
  requests: number;
  non2xx: number;
  socketErrors: string | undefined;
  latencyP50: string | undefined;
}

function luaString(s: string): string {
  return `[==[${s}]==]`;
}

async function wrk(url: string, body: string, headers: Record<string, string>, seconds: number): Promise<WrkResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stageflow-wrk-'));
  const script = path.join(dir, 'post.lua');
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = ${luaString(body)}`,
      ...Object.entries(headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`),
      '',
    ].join('\n'),
  );
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', ['-t2', `-c${IN_FLIGHT}`, `-d${seconds}s`, '--latency', '-s', script, url], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      child.stdout.on('data', (d) => (buf += String(d)));
      child.stderr.on('data', (d) => (buf += String(d)));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(buf) : reject(new Error(`wrk exited ${code}: ${buf}`))));
    });
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
      requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN),
      non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0),
      socketErrors: /Socket errors:[^\n]*/.exec(text)?.[0],
      latencyP50: /\s50%\s+(\S+)/.exec(text)?.[1],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkWrk(side: string, r: WrkResult): void {
  if (!(r.requests > 0)) throw new Error(`${side}: wrk made no requests`);
  if (r.non2xx > r.requests * 0.01) throw new Error(`${side}: ${r.non2xx} of ${r.requests} answers were not 2xx`);
}

/** Items of a batch answer whose own status is not 2xx, wherever the answer keeps its per-item list. */
function batchItemFailures(body: unknown): number {
  const lists = Array.isArray(body) ? [body] : Object.values((body ?? {}) as Record<string, unknown>).filter(Array.isArray);
  const items = (lists[0] ?? []) as Array<{ status?: unknown }>;
  return items.filter((i) => typeof i?.status === 'number' && (i.status < 200 || i.status >= 300)).length;
}

export async function startMode(o: HttpOptions): Promise<Figure[]> {
  const seconds = intEnv('BENCH_WRK_SECONDS', o.quick ? 3 : 10);
  const rounds = intEnv('BENCH_START_ROUNDS', o.quick ? 1 : 3);
  const batchSize = 100;
  out(
    `\n== start path: the API alone (no worker) under wrk -t2 -c${IN_FLIGHT} -d${seconds}s vs an express handler that only calls queue.add; ${rounds} round(s); ${load()}`,
  );
  const redis = await benchRedis();
  const monitor = new Monitor(redis.url);
  const keys = benchKeys();
  const ratios: number[] = [];
  const batchRates: number[] = [];
  let batchMissing = false;
  try {
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      const rates: number[] = [];
      // A fresh server and prefix per side and round: the queue a round fills is not the next one's.
      for (const side of ['reference', 'stageflow'] as const) {
        const prefix = uniquePrefix(`bench-${side}`);
        const server =
          side === 'reference' ? await startReference(redis.url, prefix, false) : await startStageflow('api', redis.url, prefix, keys);
        try {
          const body = JSON.stringify({ model: {} });
          const headers: Record<string, string> = { 'Content-Type': 'application/json' };
          if (side === 'stageflow') {
            await saveWorkflow(server, keys);
            headers.Authorization = `Bearer ${keys.client}`;
          }
          const url = side === 'reference' ? `${server.url}/runs` : `${server.url}/api/workflows/${WORKFLOW}/runs`;
          await wrk(url, body, headers, 1); // warm-up
          const w = await openWindow(server, monitor);
          const r = await wrk(url, body, headers, seconds);
          const c = await closeWindow(server, monitor, w);
          checkWrk(side, r);
          rates.push(r.rps);
          line.push(
            `${side} ${fmt(r.rps)} starts/s (p50 ${r.latencyP50}; node ${fmt((c.nodeCpuMs * 1000) / r.requests)} µs cpu/start, ${fmt(sum(c.calls) / r.requests, 1)} redis calls/start${r.socketErrors ? `; ${r.socketErrors}` : ''})`,
          );
          if (side === 'stageflow') {
            const batchUrl = `${server.url}/api/workflows/${WORKFLOW}/runs/batch`;
            const batchBody = JSON.stringify({ runs: Array.from({ length: batchSize }, () => ({ model: {} })) });
            const probe = await call(batchUrl, { method: 'POST', headers, body: batchBody });
            if (probe.status === 404 || probe.status === 405) {
              batchMissing = true;
              line.push('batch: endpoint missing');
            } else if (probe.status >= 300) {
              throw new Error(`batch: probe answered ${probe.status}: ${probe.text.slice(0, 300)}`);
            } else {
              // A 2xx can still carry failed items (a result per item); the bench must not count those as starts.
              const failed = batchItemFailures(probe.json());
              if (failed > 0)
                throw new Error(`batch: ${failed} of ${batchSize} items of the probe did not start: ${probe.text.slice(0, 300)}`);
              const b = await wrk(batchUrl, batchBody, headers, seconds);
              checkWrk('stageflow batch', b);
              batchRates.push(b.rps * batchSize);
              line.push(`batch of ${batchSize}: ${fmt(b.rps * batchSize)} starts/s (${fmt(b.rps, 1)} requests/s, p50 ${b.latencyP50})`);
            }
          }
        } finally {
          await closePools();
          await server.stop();
          await cleanupPrefix(redis.url, prefix).catch(() => 0);
        }
      }
      ratios.push(rates[1]! / rates[0]!);
      out(`  round ${round}: ${line.join(', ')} → ratio ${fmt(rates[1]! / rates[0]!, 2)}; ${load()}`);
    }
  } finally {
    monitor.close();
    await redis.stop();
  }
  const ratio = median(ratios);
  out(
    `  median of ${ratios.length} round(s): start path ratio ${fmt(ratio, 2)} (goal ≥ 0.85)${batchMissing ? '; batch: endpoint missing' : ''}`,
  );
  return [
    { name: 'start path (wrk -c20) vs queue.add-only', value: `${fmt(ratio, 2)}×`, goal: '≥ 0.85×', met: ratio >= 0.85 },
    batchMissing
      ? { name: 'batch starts/s (batches of 100)', value: 'endpoint missing', goal: '(report starts/s)' }
      : { name: 'batch starts/s (batches of 100)', value: `${fmt(median(batchRates))} starts/s`, goal: '(report starts/s)' },
  ];
}

// ---------------------------------------------------------------- mode: memory

const kb = (b: number) => `${fmt(b / 1024, 2)} KB`;

function censusLines(c: Census, runs: number): string {
  return [...c.byKind.entries()]
    .filter(([, v]) => v.keys !== 0 || v.bytes !== 0)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([k, v]) => `${k}: ${fmt(v.keys / runs, 2)} keys ${fmt(v.bytes / runs)} B`)
    .join('; ');
}

const isRunState = (kind: string) => !kind.startsWith('bull ');

export async function memoryMode(o: HttpOptions): Promise<Figure[]> {
  const runs = intEnv('BENCH_MEMORY_RUNS', o.quick ? 200 : 1000);
  out(
    `\n== memory: Redis bytes per finished ${STEPS}-step run (MEMORY USAGE over the prefix's keys, after − before, ÷ runs), ${runs} runs, default retention; ${load()}`,
  );
  const redis = await benchRedis();
  const monitor = new Monitor(redis.url);
  const keys = benchKeys();
  const per: Record<string, number> = {};
  const usedPer: Record<string, number> = {};
  let runState = NaN;
  let historyNote = '';
  try {
    for (const side of ['reference', 'stageflow'] as const) {
      const prefix = uniquePrefix(`bench-mem-${side}`);
      const server =
        side === 'reference' ? await startReference(redis.url, prefix, true) : await startStageflow('all', redis.url, prefix, keys);
      try {
        if (side === 'stageflow') await saveWorkflow(server, keys);
        const t = side === 'reference' ? refTarget(server) : sfTarget(server, keys);
        const kindOf = (k: string) => (side === 'reference' ? baseline : stageflowSide).kindOf(prefix, k);
        const before = await monitor.census(prefix, kindOf);
        const usedBefore = (await monitor.snapshot()).usedMemory;
        const r = await closedLoop(t, runs, IN_FLIGHT, true);
        assertGood(side, r);
        await sleep(1500); // the last jobs' own completion lands after the answer
        // used_memory counts allocator overhead and buffers MEMORY USAGE leaves out; on a private Redis it is this side's alone
        const used = ((await monitor.snapshot()).usedMemory - usedBefore) / runs;
        const c = diffCensus(before, await monitor.census(prefix, kindOf));
        per[side] = c.total / runs;
        usedPer[side] = used;
        if (side === 'stageflow') {
          runState = [...c.byKind.entries()].filter(([k]) => isRunState(k)).reduce((a, [, v]) => a + v.bytes, 0) / runs;
          // History intact: the first run (its job hashes long gone) still reads back every event.
          const id = r.ids[0]!;
          const res = await call(`${server.url}/api/runs/${id}/history`, { headers: { authorization: `Bearer ${keys.client}` } });
          const items = (res.json() as { items: Array<{ type: string }> }).items;
          const completed = items.filter((i) => i.type === 'step.completed').length;
          historyNote = `history of the first run: ${items.length} events, ${completed} step.completed`;
          if (completed !== STEPS) throw new Error(`memory: the first run's history lost events (${historyNote})`);
          const ttl = await monitor.redis.ttl(createKeyspace(prefix).run(id));
          if (ttl > 0) historyNote += `, run hash TTL ${fmt(ttl / 86_400, 1)} days`;
        }
        out(`  ${side}: ${kb(c.total / runs)}/run over ${c.keys} keys (used_memory diff ${kb(used)}/run) — ${censusLines(c, runs)}`);
      } finally {
        await closePools();
        await server.stop();
        await cleanupPrefix(redis.url, prefix).catch(() => 0);
      }
    }
  } finally {
    monitor.close();
    await redis.stop();
  }
  const sfPer = per.stageflow!;
  if (runs !== 1000)
    out(
      '  note: BullMQ keeps the last 1,000 completed jobs, so their share per run depends on the run count; the goal is judged at 1,000 runs',
    );
  out(
    `  stageflow ${kb(sfPer)}/run (goal ≤ 8 KB), of which run state ${kb(runState)} and BullMQ job hashes/queues the rest (kept: last 1,000 completed jobs, 1 h); reference ${kb(per.reference!)}/run; ${historyNote}`,
  );
  return [
    { name: `memory per finished run (${runs} runs)`, value: kb(sfPer), goal: '≤ 8 KB', met: sfPer <= 8 * 1024 },
    { name: '  of which run state (run, history, entry, indexes)', value: kb(runState), goal: '(context)' },
    { name: '  reference (bare chain) per run', value: kb(per.reference!), goal: '(context)' },
    {
      name: '  used_memory diff per run, stageflow / reference',
      value: `${kb(usedPer.stageflow!)} / ${kb(usedPer.reference!)}`,
      goal: '(context)',
    },
  ];
}

// ---------------------------------------------------------------- mode: profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function groupOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native/internal)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src\/[^/]+|workers|config)\//.exec(url);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return 'node:*';
  return path.basename(url);
}

/**
 * Self time per group (npm package, src/<dir>, node internals) after the first sample whose stack
 * reaches the function `marker` names (so module loading at start-up is left out: a file's URL
 * alone is reached when the file is imported); µs per unit of work.
 */
export function summarizeProfile(
  file: string,
  marker: { url: RegExp; fn: string },
  cpuUsPerUnit: number,
): { lines: string[]; totalUs: number } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const reaches = (id: number) => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.functionName === marker.fn && marker.url.test(f.url)) return true;
    }
    return false;
  };
  const groups = new Map<string, number>();
  let started = false;
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (!started && reaches(id)) started = true;
    if (!started) return;
    // Native frames and node internals are charged to the nearest caller in a package or src/
    // directory: a socket write made for ioredis counts as ioredis.
    let n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') return;
    if (!n.callFrame.functionName.startsWith('(')) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const url = byId.get(cur)!.callFrame.url;
        if (url && !url.startsWith('node:')) {
          n = byId.get(cur)!;
          break;
        }
      }
    }
    const g = groupOf(n.callFrame.url, n.callFrame.functionName);
    groups.set(g, (groups.get(g) ?? 0) + dt);
    total += dt;
  });
  // Sample intervals are wall time (a descheduled process stretches them), so the shares are
  // what the profile tells; µs are the share of the CPU time /proc measured per unit of work.
  const lines = top(groups, 14).map(([g, us]) => `${g} ${fmt((us / total) * 100, 1)}% ≈ ${fmt((us / total) * cpuUsPerUnit)} µs`);
  return { lines, totalUs: total };
}

function profileFile(dir: string): string | undefined {
  // With --import tsx, the loader's hooks thread writes a profile too; the main thread's is thread 0.
  const files = readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'));
  const f = files.find((x) => /\.0\.\d+\.cpuprofile$/.test(x)) ?? files[0];
  return f ? path.join(dir, f) : undefined;
}

function breakdown(calls: Map<string, number>, usec: Map<string, number>, units: number): string[] {
  return [
    `redis calls: ${fmt(sum(calls) / units, 2)} (${top(calls, 10)
      .map(([c, n]) => `${c} ${fmt(n / units, 2)}`)
      .join(', ')})`,
    `redis µs: ${fmt(sum(usec) / units, 1)} by command, scripts include their inner calls (${top(usec, 8)
      .map(([c, n]) => `${c} ${fmt(n / units, 1)}`)
      .join(', ')})`,
  ];
}

/**
 * Every command Redis runs while `during` runs, from MONITOR: those a client sent (one round trip
 * each; a script by its sha) and those run inside scripts. Background work (an idle worker's
 * blocking fetch, stalled checks) lands here too.
 */
async function traceCommands(redisUrl: string, during: () => Promise<void>): Promise<string> {
  // Not conn.monitor(): ioredis enters monitoring mode a microtask after MONITOR's +OK, so lines
  // arriving in the same read as the +OK (a busy Redis) hit "Command queue state error" before
  // monitor() has returned the connection to attach a listener to, and crash the bench. The same
  // error can come at the end, parsing lines while the connection is dropped. Both fall outside
  // the traced window (the sleeps below), so the listener is on from the start and ignores them.
  const mon = new Redis(redisUrl, { monitor: true, lazyConnect: true, maxRetriesPerRequest: 1 });
  mon.on('error', () => undefined);
  const monitoring = new Promise<void>((resolve) => mon.once('monitoring', () => resolve()));
  await mon.connect();
  await monitoring;
  const client = new Map<string, number>();
  const lua = new Map<string, number>();
  mon.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    const label = name === 'evalsha' ? `evalsha:${String(args[1]).slice(0, 7)}` : name;
    const m = source === 'lua' ? lua : client;
    m.set(label, (m.get(label) ?? 0) + 1);
  });
  try {
    await sleep(50);
    await during();
    await sleep(200);
  } finally {
    mon.disconnect();
  }
  const list = (m: Map<string, number>) =>
    top(m, 30)
      .map(([c, n]) => `${c}×${n}`)
      .join(' ');
  return `${sum(client)} sent by clients (${list(client)}); ${sum(lua)} inside scripts (${list(lua)})`;
}

export async function profileMode(o: HttpOptions): Promise<Figure[]> {
  const runs = intEnv('BENCH_PROFILE_RUNS', o.quick ? 200 : 1000);
  out(
    `\n== profile: ${runs} starts through \`npm run api\` alone, then \`npm run worker\` alone runs their ${runs * STEPS} steps; ${load()}`,
  );
  const redis = await benchRedis();
  if (!redis.private) out('  (BENCH_REDIS=shared: commandstats include every other client of that Redis)');
  const monitor = new Monitor(redis.url);
  const keys = benchKeys();
  const prefix = uniquePrefix('bench-prof');
  const keep = process.env.BENCH_PROFILE_DIR;
  const apiDir = keep ? path.join(keep, 'api') : mkdtempSync(path.join(tmpdir(), 'stageflow-prof-api-'));
  const workerDir = keep ? path.join(keep, 'worker') : mkdtempSync(path.join(tmpdir(), 'stageflow-prof-worker-'));
  const servers: Server[] = [];
  const figures: Figure[] = [];
  try {
    const idx = createKeyspace(prefix);
    // Runs live in every partition's indexes: a status count is the sum over them.
    const parts = Array.from({ length: idx.partitions }, (_, p) => idx.partition(p));
    const running = parts.map((k) => k.runIndex({ workflow: WORKFLOW, status: 'running' }));
    const completed = parts.map((k) => k.runIndex({ workflow: WORKFLOW, status: 'completed' }));
    const count = async (keys: string[]) => (await Promise.all(keys.map((k) => monitor.redis.zcard(k)))).reduce((a, b) => a + b, 0);
    const api = await startStageflow('api', redis.url, prefix, keys, { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${apiDir}`] });
    servers.push(api);
    await saveWorkflow(api, keys);
    const t = sfTarget(api, keys);
    assertGood('warm-up', await closedLoop(t, 50, IN_FLIGHT, false));
    const w = await openWindow(api, monitor);
    const starts = await closedLoop(t, runs, IN_FLIGHT, false);
    const c = await closeWindow(api, monitor, w);
    assertGood('stageflow starts', starts);
    out(
      `  per start (${IN_FLIGHT} in flight, ${fmt(runs / (starts.elapsedMs / 1000))} starts/s): node ${fmt((c.nodeCpuMs * 1000) / runs)} µs cpu (API process)`,
    );
    for (const l of breakdown(c.calls, c.usec, runs)) out(`    ${l}`);

    const oneStart = await traceCommands(redis.url, async () => assertGood('traced start', await closedLoop(t, 1, 1, false)));
    out(`    one start, command by command (MONITOR): ${oneStart}`);
    const total = runs + 51;
    // The API stops first, so its profile holds only the starts; the bench then watches the run
    // indexes itself (ZCARDs on its monitor connection, subtracted below).
    await closePools();
    await api.stop();
    servers.length = 0;
    const wSnap = await monitor.snapshot();
    const worker = await startStageflow('worker', redis.url, prefix, keys, { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${workerDir}`] });
    servers.push(worker);
    const cpuReady = worker.cpuMs();
    const t0 = performance.now();
    let polls = 0;
    for (;;) {
      polls += 2;
      const [left, doneRuns] = await Promise.all([count(running), count(completed)]);
      if (left === 0 && doneRuns >= total) break;
      if (performance.now() - t0 > 600_000) throw new Error(`profile: runs did not finish in 10 min (${left} running)`);
      await sleep(50);
    }
    const elapsed = performance.now() - t0;
    const stepCpu = worker.cpuMs() - cpuReady;
    const after = await monitor.snapshot();
    const steps = total * STEPS;
    const calls = diffCalls(
      wSnap.calls,
      after.calls,
      new Map([
        ['info', 1],
        ['zcard', polls],
      ]),
    );
    const usec = diffCalls(wSnap.usec, after.usec);
    out(
      `  per step (${total} runs drained by one worker, concurrency 20, ${fmt(steps / (elapsed / 1000))} steps/s): node ${fmt((stepCpu * 1000) / steps)} µs cpu (worker process, from its ready line), redis cpu ${fmt(((after.cpuSec - wSnap.cpuSec) * 1e6) / steps)} µs`,
    );
    for (const l of breakdown(calls, usec, steps)) out(`    ${l}`);
    // One whole run, traced: an API (unprofiled) starts it with ?wait while the worker is idle otherwise.
    const api2 = await startStageflow('api', redis.url, prefix, keys);
    servers.push(api2);
    const t2 = sfTarget(api2, keys);
    const oneRun = await traceCommands(redis.url, async () => assertGood('traced run', await closedLoop(t2, 1, 1, true)));
    out(`    one ${STEPS}-step run (start with ?wait, its steps, the answer), command by command (MONITOR): ${oneRun}`);
    // The same for the reference, for comparison (its own prefix; stageflow's worker idles meanwhile).
    const refPrefix = uniquePrefix('bench-prof-ref');
    const ref = await startReference(redis.url, refPrefix, true);
    try {
      const rt = refTarget(ref);
      assertGood('reference warm-up', await closedLoop(rt, 5, 1, true));
      const refRun = await traceCommands(redis.url, async () => assertGood('traced reference run', await closedLoop(rt, 1, 1, true)));
      out(`    the reference's ${STEPS}-step run, likewise (stageflow's idle worker included): ${refRun}`);
    } finally {
      await ref.stop();
      await cleanupPrefix(redis.url, refPrefix).catch(() => 0);
    }
    const slow = (await monitor.redis.call('SLOWLOG', 'GET', '10')) as Array<[number, number, number, string[]]>;
    out(
      `  SLOWLOG (≥ 1 ms${redis.private ? '' : ', shared server'}): ${
        slow.length === 0
          ? 'empty'
          : slow
              .map(
                (e) =>
                  `${e[3]
                    .slice(0, 2)
                    .map((a) => (a.length > 48 ? `${a.slice(0, 48).replace(/\s+/g, ' ')}…` : a))
                    .join(' ')} ${e[2]} µs`,
              )
              .join('; ')
      }`,
    );
    for (const s of servers.reverse()) await s.stop();
    servers.length = 0;
    const apiProf = profileFile(apiDir);
    const workerProf = profileFile(workerDir);
    if (apiProf) {
      const p = summarizeProfile(apiProf, { url: /\/src\/engine\/run-service\.ts$/, fn: 'startRun' }, (c.nodeCpuMs * 1000) / runs);
      out(
        `  node cpu per start by package (--cpu-prof of the API from its first request; natives charged to their caller): ${p.lines.join(', ')}`,
      );
    } else out('  (no API cpu profile written)');
    if (workerProf) {
      const p = summarizeProfile(workerProf, { url: /\/src\/engine\/step-processor\.ts$/, fn: 'process' }, (stepCpu * 1000) / steps);
      out(
        `  node cpu per step by package (--cpu-prof of the worker from its first step; natives charged to their caller): ${p.lines.join(', ')}`,
      );
    } else out('  (no worker cpu profile written)');
    if (keep) out(`  cpu profiles kept in ${keep} (open in Chrome DevTools › Performance, or speedscope)`);
    figures.push(
      {
        name: 'profile: redis calls per start / per step',
        value: `${fmt(sum(c.calls) / runs, 1)} / ${fmt(sum(calls) / steps, 1)}`,
        goal: '(context)',
      },
      {
        name: 'profile: node cpu µs per start / per step',
        value: `${fmt((c.nodeCpuMs * 1000) / runs)} / ${fmt((stepCpu * 1000) / steps)}`,
        goal: '(context)',
      },
    );
  } finally {
    await closePools();
    for (const s of servers.reverse()) await s.stop();
    monitor.close();
    await cleanupPrefix(redis.url, prefix).catch(() => 0);
    await redis.stop();
    if (!keep) for (const d of [apiDir, workerDir]) rmSync(d, { recursive: true, force: true });
  }
  return figures;
}
