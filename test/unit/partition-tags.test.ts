import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import {
  mintRunId,
  partitionOfKey,
  partitionOfRunId,
  partitionSlot,
  partitionTag,
  partitionTags,
  SLOTS,
} from '../../src/engine/partition-tags.ts';
import { createKeyspace } from '../../src/engine/keyspace.ts';
import { jobRetentionPerPartition, retentionPerPartition } from '../../src/engine/partition-queues.ts';
import { STEP_JOB_RETENTION } from '../../src/engine/scheduler.ts';
import { EVENT_JOB, eventJobPerPartition } from '../../src/engine/waits.ts';

/** redis-cli --cluster create's slot ranges for 3 primaries. */
const THREE_PRIMARIES: Array<[number, number]> = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];

describe('partition hash tags', () => {
  it.each([1, 3, 8, 16, 64, 256])('spreads %i partitions evenly: each in the middle of its share, n/3 per default primary', (n) => {
    const tags = partitionTags(n);
    expect(new Set(tags).size).toBe(n);
    const slots = tags.map((t) => calculateSlot(t));
    expect(new Set(slots).size).toBe(n);
    slots.forEach((slot, i) => {
      const lo = (i * SLOTS) / n;
      const hi = ((i + 1) * SLOTS) / n;
      expect(slot).toBeGreaterThanOrEqual(Math.floor(lo));
      expect(slot).toBeLessThan(Math.floor(hi));
      // within the middle half of the share (ties to the floor for tiny shares)
      expect(Math.abs(slot - (lo + hi) / 2)).toBeLessThanOrEqual((hi - lo) / 4 + 1);
      expect(partitionSlot(i, n)).toBe(slot);
    });
    const perPrimary = THREE_PRIMARIES.map(([a, b]) => slots.filter((s) => s >= a && s <= b).length);
    for (const count of perPrimary) {
      expect(count).toBeGreaterThanOrEqual(Math.floor(n / 3));
      expect(count).toBeLessThanOrEqual(Math.ceil(n / 3));
    }
    for (const t of tags) expect(t).toMatch(/^p\d+(\.[0-9a-z]+)?$/);
  });

  it('is frozen: these tags are in stored keys', () => {
    expect(partitionTags(12)).toEqual([
      'p0.2b',
      'p1.g',
      'p2.2d',
      'p3.23',
      'p4.1',
      'p5.2l',
      'p6.1g',
      'p7.1d',
      'p8.1',
      'p9.n',
      'p10.r',
      'p11.d',
    ]);
    expect(partitionTags(3)).toEqual(['p0.d', 'p1.4', 'p2.4']);
    expect(partitionTag(0, 1)).toBe('p0.3');
  });

  it('refuses partitions outside 0..n-1 and counts outside 1..16384', () => {
    expect(() => partitionTag(3, 3)).toThrow(RangeError);
    expect(() => partitionTag(-1, 3)).toThrow(RangeError);
    expect(() => partitionTag(0, 0)).toThrow(RangeError);
    expect(() => partitionTag(0, 16_385)).toThrow(RangeError);
  });
});

describe('run ids carry their partition', () => {
  it('mints UUIDv7 ids whose partition is derivable from the id alone', () => {
    for (const n of [1, 3, 12, 16, 256]) {
      for (let p = 0; p < n; p += Math.max(1, Math.floor(n / 7))) {
        const id = mintRunId(p, n);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(partitionOfRunId(id, n)).toBe(p);
      }
    }
  });

  it('keeps the time prefix and never overflows the last 16 bits', () => {
    const base = '0192f0c4-1234-7abc-8def-00000000ffff';
    const id = mintRunId(11, 12, base);
    expect(id.slice(0, -4)).toBe(base.slice(0, -4));
    expect(Number.parseInt(id.slice(-4), 16)).toBeLessThanOrEqual(0xffff);
    expect(partitionOfRunId(id, 12)).toBe(11);
    expect(partitionOfRunId(mintRunId(0, 12, '0192f0c4-1234-7abc-8def-000000000000'), 12)).toBe(0);
  });

  it('maps ids minted before partitions to a partition too (the upgrade moves them there)', () => {
    expect(partitionOfRunId('0192f0c4-1234-7abc-8def-0123456789ab', 12)).toBe(0x89ab % 12);
    expect(() => partitionOfRunId('not-an-id', 12)).toThrow(RangeError);
  });
});

describe('entries and idempotency keys choose a partition', () => {
  it('the same key always picks the same partition, different kinds do not collide by name', () => {
    expect(partitionOfKey('entry', 'invoice-42', 12)).toBe(partitionOfKey('entry', 'invoice-42', 12));
    const entry = Array.from({ length: 50 }, (_, i) => partitionOfKey('entry', `k${i}`, 12));
    const idem = Array.from({ length: 50 }, (_, i) => partitionOfKey('idempotency', `k${i}`, 12));
    expect(entry).not.toEqual(idem);
  });

  it('spreads keys over every partition about evenly', () => {
    const n = 12;
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < 12_000; i++) counts[partitionOfKey('entry', `order-${i}`, n)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    for (const c of counts) expect(c).toBeLessThan(1200);
  });
});

describe('job retention per partition', () => {
  it('splits the deployment-wide counts over the partitions, keeping the age and at least one job each', () => {
    const r = retentionPerPartition(STEP_JOB_RETENTION, 12);
    expect(r.keepCompleted).toEqual({ age: STEP_JOB_RETENTION.keepCompleted.age, count: 84 });
    expect(r.keepFailed.count * 12).toBeGreaterThanOrEqual(STEP_JOB_RETENTION.keepFailed.count);
    expect(r.keepFailed.count * 11).toBeLessThan(STEP_JOB_RETENTION.keepFailed.count);
    expect(retentionPerPartition(STEP_JOB_RETENTION, 1)).toEqual(STEP_JOB_RETENTION);
    expect(retentionPerPartition({ keepCompleted: { age: 1, count: 3 }, keepFailed: { age: 1, count: 3 } }, 64).keepCompleted.count).toBe(
      1,
    );
  });

  it("splits job options' retention counts the same way, leaving an age-only retention and the other options as they are", () => {
    expect(eventJobPerPartition(12)).toEqual({ ...EVENT_JOB, removeOnComplete: { age: EVENT_JOB.removeOnComplete.age, count: 84 } });
    expect(eventJobPerPartition(1)).toEqual(EVENT_JOB);
    expect(jobRetentionPerPartition({ attempts: 3, removeOnFail: { count: 10 } }, 4)).toEqual({ attempts: 3, removeOnFail: { count: 3 } });
    expect(jobRetentionPerPartition({ attempts: 3, removeOnComplete: { age: 5 } }, 4)).toEqual({
      attempts: 3,
      removeOnComplete: { age: 5 },
    });
  });
});

describe('keyspace ackMarker', () => {
  const keys = createKeyspace('sf', 12);

  it("lies in the slot of the key it acknowledges: a partition's, an operation's own", () => {
    const run = keys.run(mintRunId(5, 12, '0190a0b0-0000-7000-8000-000000000000'));
    expect(keys.ackMarker(run)).toBe(`sf:{${keys.partition(5).tag}}:ack`);
    expect(calculateSlot(keys.ackMarker(run))).toBe(calculateSlot(run));
    const op = keys.operation('x').hash;
    expect(keys.ackMarker(op)).toBe('sf:{x}:ack');
    expect(calculateSlot(keys.ackMarker(op))).toBe(calculateSlot(op));
  });

  it('refuses a key without a hash tag (it would acknowledge another slot)', () => {
    expect(() => keys.ackMarker('sf:plain')).toThrow(/no hash tag/);
  });
});
