/**
 * Instructions mode (`npm run bench -- --mode=instructions`): Redis's share of a step, counted
 * rather than timed. Wall-clock rounds on a shared 2-core host swing 2× between rounds; the
 * instructions a redis-server executes for the same work barely move (the bare chain counted
 * 616,330 and 616,042 per step in two runs; stageflow varies by about 1 %, as the interleaving of
 * its fetches changes). For each side (the bare chain, stageflow), the in-process
 * bench (`--mode=inprocess`, one side, one round) runs twice against a private redis-server under
 * `valgrind --tool=callgrind`: BENCH_INSTR_SMALL chains (default 50) and BENCH_INSTR_BIG (250).
 * The difference over the difference in steps is the Redis instructions one step costs, start-up
 * and warm-up cancelled out. It prices Redis only (the Node side stays timed), and not cache
 * misses. BENCH_PARTITIONS applies as in the in-process mode. Needs valgrind (Debian's package);
 * without it the mode says so and reports nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../test/helpers/redis.ts';
import type { Figure } from './http.ts';
import { intEnv, out, sleep } from './lib.ts';
import { track } from './procs.ts';

const STEPS_PER_RUN = 10;
const fmtK = (n: number) => `${Math.round(n / 1000).toLocaleString('en-US')}k`;

/** Instructions a callgrind'ed redis-server executed while the in-process bench ran `chains` chains of `side`. */
async function countedRun(side: 'baseline' | 'stageflow', chains: number): Promise<number> {
  const port = await freePort();
  const file = path.join(tmpdir(), `stageflow-callgrind-${port}.out`);
  const redis = track(
    spawn(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${file}`, 'redis-server', '--port', String(port), '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    ),
  );
  const exited = new Promise<void>((resolve) => redis.once('exit', () => resolve()));
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    for (let i = 0; ; i++) {
      if (
        await client.ping().then(
          () => true,
          () => false,
        )
      )
        break;
      if (i > 300) throw new Error('redis-server under valgrind did not answer within 60 s');
      await sleep(200);
    }
    const bench = spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--mode=inprocess'], {
      env: {
        ...process.env,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        BENCH_ONLY: side,
        BENCH_ROUNDS: '1',
        BENCH_RUNS: String(chains),
        BENCH_WARMUP_RUNS: '20',
      },
      encoding: 'utf8',
    });
    if (bench.status !== 0 || !/only=/.test(bench.stdout)) {
      throw new Error(`the in-process bench (${side}, ${chains} chains) failed: ${(bench.stdout + bench.stderr).slice(-600)}`);
    }
    await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    await exited;
    const summary = /^summary: (\d+)$/m.exec(readFileSync(file, 'utf8'));
    if (!summary) throw new Error(`callgrind wrote no summary to ${file}`);
    return Number(summary[1]);
  } finally {
    client.disconnect();
    redis.kill('SIGKILL');
    rmSync(file, { force: true });
  }
}

export async function instructionsMode(_o: { quick: boolean }): Promise<Figure[]> {
  const small = intEnv('BENCH_INSTR_SMALL', 50);
  const big = intEnv('BENCH_INSTR_BIG', 250);
  if (big <= small) throw new Error('BENCH_INSTR_BIG must be larger than BENCH_INSTR_SMALL');
  out(`\n== instructions: Redis instructions per step under callgrind, ${big} chains minus ${small}, one side at a time`);
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    out('  valgrind is not installed (apt-get install valgrind): no figure');
    return [];
  }
  const perStep: Record<string, number> = {};
  for (const side of ['baseline', 'stageflow'] as const) {
    const a = await countedRun(side, small);
    const b = await countedRun(side, big);
    perStep[side] = (b - a) / ((big - small) * STEPS_PER_RUN);
    out(`  ${side}: ${fmtK(perStep[side]!)} Redis instructions per step`);
  }
  const ratio = perStep.baseline! / perStep.stageflow!;
  return [
    {
      name: 'redis instructions per step: stageflow / bare chain',
      value: `${fmtK(perStep.stageflow!)} / ${fmtK(perStep.baseline!)} (${ratio.toFixed(2)}×)`,
      goal: '(context: repeatable to ~1 %; the release before partitions: 906k)',
    },
  ];
}
