import { describe, expect, it } from 'vitest';
import { diagnose, relative, type DiagnosisFacts } from '../../src/engine/diagnose.ts';

const now = Date.parse('2026-01-01T12:00:00Z');
const facts = (over: Partial<DiagnosisFacts> = {}, run: Partial<DiagnosisFacts['run']> = {}): DiagnosisFacts => ({
  now,
  run: { id: 'r1', status: 'running', seq: 3, stepId: 'call', updatedAt: now - 60_000, ...run },
  step: { id: 'call', name: 'Call ERP', type: 'executeDataflow' },
  reconciler: { intervalMs: 30_000, graceMs: 10_000, stalledIntervalMs: 30_000 },
  ...over,
});
const job = (over: Partial<NonNullable<DiagnosisFacts['job']>>) => ({
  id: 'r1-3',
  state: 'waiting' as const,
  attemptsMade: 0,
  attemptsStarted: 0,
  maxAttempts: 3,
  ...over,
});

describe('diagnose (pure)', () => {
  it('no job: repairable, with the time the reconciler repairs it', () => {
    const d = diagnose(facts({ job: job({ state: 'unknown' }) }));
    expect(d).toMatchObject({ state: 'no-job', repairable: true, repairAt: new Date(now + 30_000).toISOString() });
    expect(d.summary).toContain('Call ERP');
  });

  it('a delayed retry: until when, after which error', () => {
    const d = diagnose(facts({ job: job({ state: 'delayed', attemptsMade: 1, delayUntil: now + 5000, lastError: 'ERP answered 503' }) }));
    expect(d).toMatchObject({
      state: 'retry-delayed',
      until: new Date(now + 5000).toISOString(),
      repairable: false,
      job: { delayUntil: new Date(now + 5000).toISOString() },
    });
    expect(d.summary).toMatch(/"ERP answered 503".*in 5 s/);
  });

  it('active with a lock, and stalled once the lock is gone', () => {
    const a = diagnose(facts({ job: job({ state: 'active', attemptsStarted: 1, worker: 'w-1', lockTtlMs: 4000 }) }));
    expect(a).toMatchObject({ state: 'active', job: { worker: 'w-1', lockExpiresAt: new Date(now + 4000).toISOString() } });
    const s = diagnose(facts({ job: job({ state: 'active', attemptsStarted: 1, worker: 'w-1', lockTtlMs: -2 }) }));
    expect(s.state).toBe('stalled');
    expect(s.summary).toMatch(/w-1.*lock has expired/);
  });

  it('queued behind N; a job failed outside the handler is left to the reconciler', () => {
    expect(diagnose(facts({ job: job({ queueAhead: 4 }) }))).toMatchObject({ state: 'queued', job: { queuePosition: 5 } });
    expect(diagnose(facts({ job: job({ state: 'failed', lastError: 'stalled too often' }) }))).toMatchObject({
      state: 'job-failed',
      repairable: false,
    });
  });

  it('a confirmation: who has not answered, since, until, reminders; decided but not resumed', () => {
    const task = {
      options: ['yes', 'no'],
      confirmationField: 'ok',
      routing: ['role:manager'],
      recipients: ['ann', 'bob'],
      policy: 'all' as const,
      timeoutAt: now + 3_600_000,
    };
    const f = facts(
      { waitFacts: { answers: { ann: 'yes' }, reminders: 2 } },
      { status: 'waiting', wait: { kind: 'confirmation', stepId: 'call', seq: 3, timeoutAt: task.timeoutAt, task } },
    );
    const d = diagnose(f);
    expect(d).toMatchObject({
      state: 'waiting-confirmation',
      since: new Date(now - 60_000).toISOString(),
      until: new Date(now + 3_600_000).toISOString(),
    });
    expect(d.summary).toMatch(/from bob/);
    expect(d.details.join(' ')).toMatch(/2 reminder/);
    expect(diagnose({ ...f, run: { ...f.run, resolved: true } }).state).toBe('resuming');
  });

  it('finished: a pending callback with its last error', () => {
    const d = diagnose(
      facts({ callback: { state: 'delayed', attemptsMade: 2, lastError: 'callback answered 503' } }, { status: 'completed', stepId: null }),
    );
    expect(d).toMatchObject({ state: 'finished', callback: { pending: true, attempts: 2, lastError: 'callback answered 503' } });
    expect(diagnose(facts({ callback: { state: 'completed', attemptsMade: 1 } }, { status: 'completed' })).callback!.pending).toBe(false);
  });

  it('relative times read like people write them', () => {
    expect(relative(now + 12_000, now)).toBe('in 12 s');
    expect(relative(now - 180_000, now)).toBe('3 min ago');
  });
});
