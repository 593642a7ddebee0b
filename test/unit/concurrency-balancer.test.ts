import { EventEmitter } from 'node:events';
import type { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { ConcurrencyBalancer, splitConcurrency } from '../../src/engine/concurrency-balancer.ts';

/** What the balancer uses of a BullMQ Worker: its events and its concurrency field. */
class FakeWorker extends EventEmitter {
  concurrency = 0;
}

function setup(total: number, parts: number) {
  const b = new ConcurrencyBalancer(total, parts);
  const ws = Array.from({ length: parts }, (_, i) => {
    const w = new FakeWorker();
    w.concurrency = b.initial(i);
    b.attach(i, w as unknown as Worker);
    return w;
  });
  return { b, ws, shares: () => ws.map((w) => w.concurrency) };
}

describe('splitConcurrency', () => {
  it('splits the figure exactly, at least 1 each', () => {
    expect(splitConcurrency(20, 12, 0)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]);
    expect(splitConcurrency(20, 12, 5).reduce((a, b) => a + b, 0)).toBe(20);
    expect(splitConcurrency(5, 12, 0)).toEqual(Array(12).fill(1));
    expect(splitConcurrency(10, 1, 0)).toEqual([10]);
  });
});

describe('ConcurrencyBalancer', () => {
  it('starts with the even split', () => {
    const { shares } = setup(20, 4);
    expect(shares()).toEqual([5, 5, 5, 5]);
  });

  it('gives the whole figure to the one partition with work, one watching slot to each dry one', () => {
    const { ws, shares } = setup(20, 4);
    for (const i of [1, 2, 3]) ws[i]!.emit('drained');
    expect(shares()).toEqual([20, 1, 1, 1]);
  });

  it('with fewer slots than partitions, a hot partition still gets the figure', () => {
    const { ws, shares } = setup(10, 12);
    expect(shares()).toEqual(Array(12).fill(1));
    for (const [i, w] of ws.entries()) if (i !== 5) w.emit('drained');
    expect(shares()[5]).toBe(10);
    expect(shares().filter((c) => c === 1)).toHaveLength(11);
  });

  it('a dry Worker still running jobs counts as busy until its last job finishes', () => {
    const { b, ws, shares } = setup(12, 3);
    b.started(0);
    b.started(0);
    ws[0]!.emit('drained');
    ws[1]!.emit('drained');
    expect(shares()).toEqual([6, 1, 6]);
    b.finished(0);
    expect(shares()).toEqual([6, 1, 6]);
    b.finished(0);
    expect(shares()).toEqual([1, 1, 12]);
  });

  it('a Worker that fetches a job again gets its share back at once', () => {
    const { ws, shares } = setup(12, 3);
    ws[0]!.emit('drained');
    ws[1]!.emit('drained');
    expect(shares()).toEqual([1, 1, 12]);
    ws[1]!.emit('active');
    expect(shares()).toEqual([1, 6, 6]);
  });

  it('when every queue is dry, goes back to the even split so the next burst finds each partition served', () => {
    const { ws, shares } = setup(12, 3);
    ws[0]!.emit('drained');
    ws[1]!.emit('drained');
    ws[2]!.emit('drained');
    expect(shares().reduce((a, c) => a + c, 0)).toBe(12);
    expect(Math.min(...shares())).toBe(4);
  });
});
