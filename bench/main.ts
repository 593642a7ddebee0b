/**
 * `npm run bench`: every figure issue 13 sets a goal for, each printed with its goal beside it.
 *
 *   npm run bench                        # all modes: inprocess, http, start, memory, profile, cluster, acks, instructions
 *   npm run bench -- --quick             # the same, small (a smoke run; figures only indicative)
 *   npm run bench -- --mode=http,start   # some modes (also BENCH_MODE=…)
 *   npm run bench:http | bench:start | bench:memory | bench:profile | bench:inprocess | bench:cluster | bench:acks | bench:instructions
 *
 * Modes (details and env knobs in each function's file):
 *   inprocess  bench/chain.ts: bare BullMQ chain vs the engine in one process (ratio ≥ 0.9, CPU-normalised beside it)
 *   http       bench/http.ts: the reference server vs `npm start`, one HTTP client, 20 in flight (≥ 0.75× steps/s, p50 ≤ 1.2×)
 *   start      `npm run api` alone vs an express handler that only calls queue.add, wrk -c20 (≥ 0.85×); batch starts of 100
 *   memory     Redis bytes per finished 10-step run, default retention, history checked (≤ 8 KB)
 *   profile    per start and per step: Redis calls and µs by command, Node CPU by package (--cpu-prof), SLOWLOG
 *   cluster    bench/cluster.ts: the in-process engine on its own Redis Cluster of 1 and of 3 primaries (ports 7150-7153),
 *              steps/s side by side and Redis CPU per step on each primary (shares near-equal: each 33% ± 10)
 *   acks       bench/acks.ts: starts acknowledged after a replica 1 ms away holds them (WAIT 1) vs not waiting (WAIT 0)
 *   instructions  bench/instructions.ts: Redis instructions per step (callgrind), bare chain vs stageflow: the noise-free figure
 * The HTTP modes start their own redis-server (BENCH_REDIS=shared uses REDIS_URL instead) and the
 * servers on free ports; each side has its own key prefix, removed at the end.
 */
import { acksMode } from './acks.ts';
import { exitGuard, fail, inProcessMode } from './chain.ts';
import { clusterMode } from './cluster.ts';
import { type Figure, httpMode, load, memoryMode, profileMode, startMode } from './http.ts';
import { instructionsMode } from './instructions.ts';
import { out } from './lib.ts';

const MODES = {
  inprocess: inProcessMode,
  http: httpMode,
  start: startMode,
  memory: memoryMode,
  profile: profileMode,
  cluster: clusterMode,
  acks: acksMode,
  instructions: instructionsMode,
} as const;
type Mode = keyof typeof MODES;

function parseArgs(argv: string[]): { modes: Mode[]; quick: boolean } {
  let modeArg = process.env.BENCH_MODE ?? 'all';
  let quick = process.env.BENCH_QUICK === '1';
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a.startsWith('--mode=')) modeArg = a.slice('--mode='.length);
    else throw new Error(`unknown argument ${a}; use --mode=${Object.keys(MODES).join('|')}|all[,…] and --quick`);
  }
  const names = modeArg === 'all' ? (Object.keys(MODES) as Mode[]) : modeArg.split(',').map((m) => m.trim());
  for (const m of names) if (!(m in MODES)) throw new Error(`unknown mode ${m}; modes: ${Object.keys(MODES).join(', ')}, all`);
  return { modes: names as Mode[], quick };
}

async function main(): Promise<void> {
  const { modes, quick } = parseArgs(process.argv.slice(2));
  out(`bench: modes ${modes.join(', ')}${quick ? ' (quick: small samples, one round — indicative only)' : ''}; ${load()}`);
  const figures: Array<Figure & { mode: string }> = [];
  for (const m of modes) {
    const got = m === 'inprocess' ? await MODES[m](quick) : await MODES[m]({ quick });
    figures.push(...got.map((f) => ({ ...f, mode: m })));
  }
  out('\n== figures (goal beside each)');
  const w = Math.max(...figures.map((f) => f.name.length));
  const v = Math.max(...figures.map((f) => f.value.length));
  for (const f of figures) {
    const mark = f.met === undefined ? '' : f.met ? '  ok' : '  MISSED';
    out(`  ${f.name.padEnd(w)}  ${f.value.padStart(v)}  goal ${f.goal}${mark}`);
  }
  out(`  (${load()}; 2-core shared host figures are noisy: compare medians of alternating rounds)`);
}

main().then(exitGuard, fail);
