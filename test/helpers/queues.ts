/** Reads over every partition's queue of a kind (engine.queue / engine.eventQueue hold one per partition). */
import type { Job, JobType, Queue } from 'bullmq';

/** Job counts summed over the partitions' queues. */
export async function jobCounts(queues: readonly Queue[], ...types: JobType[]): Promise<Record<string, number>> {
  const all = await Promise.all(queues.map((q) => q.getJobCounts(...types)));
  const out: Record<string, number> = {};
  for (const counts of all) for (const [k, n] of Object.entries(counts)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** The jobs each partition's queue gives, together. */
export async function jobsIn<T = any>(queues: readonly Queue<T>[], read: (q: Queue<T>) => Promise<Job<T>[]>): Promise<Job<T>[]> {
  return (await Promise.all(queues.map(read))).flat();
}
