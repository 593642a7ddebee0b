/**
 * WORKER_CONCURRENCY is the process's figure, but BullMQ's concurrency belongs to one Worker and a
 * process has one Worker per partition. A fixed split caps a busy partition at total/partitions
 * while the other Workers idle (runs of one entry all live in its partition; 20 slots over 12
 * partitions left a hot partition 2). The balancer moves the slots to where the work is: a Worker
 * whose queue ran dry and that holds no job keeps one slot, enough to see new work at once (its
 * blocking fetch wakes on the queue's marker); the Workers with work share the figure.
 *
 * It is judged synchronously on BullMQ's 'active' and 'drained' events and on every finished job:
 * 'active' is emitted as a job is fetched, before the Worker's loop checks its concurrency again,
 * so a raised share is used by the very next fetch. A lowered share takes effect as the Worker's
 * jobs finish (BullMQ never aborts a running job for it), and an idle Worker's watching slot can
 * take a job before it is judged busy, so a process may hold up to one job per partition more
 * than the figure for a moment.
 */
import type { Worker } from 'bullmq';

export class ConcurrencyBalancer {
  private readonly workers: Worker[] = [];
  private readonly held: number[] = [];
  /** Ran dry since its last fetched job. */
  private readonly dry: boolean[] = [];
  private readonly shares: number[];

  constructor(
    private readonly total: number,
    parts: number,
  ) {
    this.shares = splitConcurrency(total, parts);
  }

  /** The concurrency a Worker starts with: an even share, as before any work was seen. */
  initial(i: number): number {
    return this.shares[i]!;
  }

  attach(i: number, worker: Worker): void {
    this.workers[i] = worker;
    this.held[i] = 0;
    this.dry[i] = false;
    worker.on('active', () => {
      this.dry[i] = false;
      this.judge();
    });
    worker.on('drained', () => {
      this.dry[i] = true;
      this.judge();
    });
  }

  /** Call around each job a Worker runs, so a dry Worker still running jobs counts as busy. */
  started(i: number): void {
    this.held[i] = (this.held[i] ?? 0) + 1;
  }

  finished(i: number): void {
    this.held[i] = Math.max(0, (this.held[i] ?? 0) - 1);
    if (this.held[i] === 0 && this.dry[i]) this.judge();
  }

  /** Which Workers were busy when shares were last set ('1'/'0' per Worker). */
  private lastBusy = '';

  private judge(): void {
    const busy = this.workers.map((_, i) => !(this.dry[i] && this.held[i] === 0));
    // Judged on every fetched job: shares change only when the set of busy Workers does.
    const key = busy.map((b) => (b ? '1' : '0')).join('');
    if (key === this.lastBusy) return;
    this.lastBusy = key;
    const nBusy = busy.filter(Boolean).length;
    // Nothing to do anywhere: back to the even split, so the next burst finds every partition served.
    const next =
      nBusy === 0
        ? this.shares
        : (() => {
            // An idle Worker's one slot only watches for work, so it is not taken from the figure.
            const split = splitConcurrency(Math.max(nBusy, this.total), nBusy, 0);
            let k = 0;
            return busy.map((b) => (b ? split[k++]! : 1));
          })();
    next.forEach((c, i) => {
      const w = this.workers[i];
      if (w && w.concurrency !== c) w.concurrency = c;
    });
  }
}

/**
 * `total` split over `parts`: the shares sum to it (each at least 1, so with fewer slots than
 * parts every part still gets one), and the parts that get the larger share start at a random
 * place, so that across processes no partition is always the short one.
 */
export function splitConcurrency(total: number, parts: number, start = Math.floor(Math.random() * Math.max(1, parts))): number[] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  return Array.from({ length: parts }, (_, i) => Math.max(1, base + ((i - start + parts) % parts < extra ? 1 : 0)));
}
