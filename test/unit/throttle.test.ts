import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createThrottle, errorKind, throttledLog } from '../../src/observability/throttle.ts';

describe('createThrottle', () => {
  it('lets the first occurrence through, then one per interval with the count left out', () => {
    let now = 0;
    const t = createThrottle(1000, () => now);
    expect(t.hit('a')).toEqual({ log: true, suppressed: 0 });
    for (let i = 0; i < 5; i++) expect(t.hit('a').log).toBe(false);
    expect(t.hit('b').log).toBe(true); // another kind is not held back
    now = 999;
    expect(t.hit('a').log).toBe(false);
    now = 1000;
    expect(t.hit('a')).toEqual({ log: true, suppressed: 6 });
    t.reset('a');
    expect(t.hit('a')).toEqual({ log: true, suppressed: 0 });
  });
});

describe('errorKind', () => {
  it('groups by code, Redis error prefix, or message without numbers', () => {
    expect(errorKind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorKind(new Error("READONLY You can't write against a read only replica."))).toBe('READONLY');
    expect(errorKind(new Error('MOVED 3999 127.0.0.1:6381'))).toBe('MOVED');
    expect(errorKind(new Error('could not renew lock for job 17'))).toBe(errorKind(new Error('could not renew lock for job 18')));
  });
});

describe('throttledLog', () => {
  it('writes 1 line for 10 000 identical errors within the interval, with suppressed on the next', () => {
    const lines: any[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const log = pino({ level: 'info' }, sink);
    let now = 0;
    const report = throttledLog(
      log,
      'error',
      'worker error',
      createThrottle(30_000, () => now),
    );
    for (let i = 0; i < 10_000; i++) report(new Error("READONLY You can't write against a read only replica."), { workerId: 'w' });
    now = 30_000;
    report(new Error("READONLY You can't write against a read only replica."), { workerId: 'w' });
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatchObject({ msg: 'worker error', kind: 'READONLY', suppressed: 0, workerId: 'w' });
        expect(lines[1]).toMatchObject({ kind: 'READONLY', suppressed: 9_999 });
        resolve();
      }),
    );
  });
});
