/**
 * Opt-in what-if experiments for the stageflow side (BENCH_EXPERIMENT=a,b,…); off by default, so
 * `npm run bench` measures the engine as it is. They do not change src/: they patch the bench's
 * own engine instances to estimate what a change in the engine would buy.
 *
 *   autopipeline  the engine's Redis connections (and the worker's duplicate) use ioredis
 *                 enableAutoPipelining: commands issued in the same tick share one socket write.
 *   quiet-child   the processor's per-job `log.child({...})` returns the parent logger.
 *   carry-state   simulates carrying the committed run state from one step to the next in the
 *                 worker process: after a successful fenced transition the new state is cached,
 *                 and the next step's `runs.get` is served from it instead of an HGETALL. The
 *                 fenced transition still rejects a stale state (it checks seq and status).
 */
import type { Logger } from 'pino';
import type { Engine } from '../src/engine/engine.ts';
import type { RunState } from '../src/engine/types.ts';

export type Experiment = 'autopipeline' | 'quiet-child' | 'carry-state';
const ALL: readonly Experiment[] = ['autopipeline', 'quiet-child', 'carry-state'];

export function experiments(): Set<Experiment> {
  const raw = (process.env.BENCH_EXPERIMENT ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of raw) if (!(ALL as readonly string[]).includes(e)) throw new Error(`unknown BENCH_EXPERIMENT ${e}; known: ${ALL.join(', ')}`);
  return new Set(raw as Experiment[]);
}

/** ioredis copies URL query parameters into its options (and duplicate() keeps them). */
export function experimentUrl(url: string, on: Set<Experiment>): string {
  if (!on.has('autopipeline')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}enableAutoPipelining=true`;
}

export function experimentLogger(log: Logger, on: Set<Experiment>): Logger {
  if (!on.has('quiet-child')) return log;
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'child') return () => receiver;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export function applyEngineExperiments(engine: Engine, on: Set<Experiment>): void {
  if (!on.has('carry-state')) return;
  const runs = engine.runs;
  const get = runs.get.bind(runs);
  const transition = runs.transition.bind(runs);
  const lastRead = new Map<string, RunState>();
  const carried = new Map<string, RunState>();
  runs.get = async (runId) => {
    const hit = carried.get(runId);
    carried.delete(runId);
    const run = hit ?? (await get(runId));
    if (run) lastRead.set(runId, run);
    return run;
  };
  runs.transition = async (runId, t) => {
    const prev = lastRead.get(runId);
    lastRead.delete(runId);
    const res = await transition(runId, t);
    if (res.ok && prev && t.advance && (t.status === undefined || t.status === 'running') && t.set?.stepId) {
      carried.set(runId, {
        ...prev, seq: res.seq, stepId: t.set.stepId, transitions: prev.transitions + 1, updatedAt: Date.now(),
        model: t.set.model !== undefined ? JSON.parse(t.set.model) : prev.model,
      });
    }
    return res;
  };
}
