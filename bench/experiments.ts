/**
 * Opt-in what-if experiments for the stageflow side (BENCH_EXPERIMENT=a,b,…); off by default, so
 * `npm run bench` measures the engine as it is. They do not change src/: they patch the bench's
 * own engine instances to estimate what a change in the engine would buy.
 *
 *   autopipeline  the engine's Redis connections (and the worker's duplicate) use ioredis
 *                 enableAutoPipelining: commands issued in the same tick share one socket write.
 */

export type Experiment = 'autopipeline';
const ALL: readonly Experiment[] = ['autopipeline'];

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

