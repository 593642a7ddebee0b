import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { uuidv7Time } from '../../src/engine/run-transitions.ts';
import { uuidv7 } from '../../src/engine/uuid7.ts';

describe('uuidv7 (pooled random bytes)', () => {
  it('mints valid version-7 ids carrying the current time', () => {
    const before = Date.now();
    const id = uuidv7();
    expect(validate(id)).toBe(true);
    expect(version(id)).toBe(7);
    expect(uuidv7Time(id)).toBeGreaterThanOrEqual(before);
    expect(uuidv7Time(id)).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('keeps minting order within a millisecond and across pool refills', () => {
    // 10,000 ids: many per millisecond, and the 256-id pool refilled about 40 times.
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('draws fresh random bytes for every id', () => {
    const tails = new Set(Array.from({ length: 1_000 }, () => uuidv7().slice(-12)));
    expect(tails.size).toBe(1_000);
  });
});
