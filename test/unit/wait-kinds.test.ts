import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagnose, type DiagnosisFacts } from '../../src/engine/diagnose.ts';
import type { Wait } from '../../src/engine/types.ts';
import { getWaitKind, waitKinds } from '../../src/steps/registry.ts';
import type { WaitKind } from '../../src/steps/types.ts';

const now = Date.parse('2026-01-01T12:00:00Z');

/** A test-only wait kind: parks until an external signal, knowing nothing the engine would have to learn. */
interface SignalWait extends Wait {
  kind: 'signal';
  signal: string;
}
const signalWait: WaitKind<unknown, SignalWait> = {
  kind: 'signal',
  label: 'a signal',
  async park(_host, { stepId, seq, detail }) {
    return { kind: 'signal', stepId, seq, signal: String((detail as { signal: string }).signal), timeoutAt: now + 60_000 };
  },
  children: () => ['sub-run'],
  describe: ({ wait, facts, resolved, stepName, at, since, child }) => ({
    summary: `${resolved ? 'Signalled' : `Waiting since ${at(since)} for signal ${wait.signal}`} at ${stepName}${child && !('missing' in child) ? `; sub: ${child.summary}` : ''}`,
    details: [`seen ${(facts as { seen: number }).seen} time(s)`],
  }),
};

describe('the wait contract', () => {
  const facts = (wait: Wait, over: Partial<DiagnosisFacts> = {}): DiagnosisFacts => ({
    now,
    run: { id: 'r1', status: 'waiting', seq: 2, stepId: 'w', updatedAt: now - 5000, wait },
    step: { id: 'w', name: 'Wait for it', type: 'fixture' },
    reconciler: { intervalMs: 30_000, graceMs: 10_000, stalledIntervalMs: 30_000 },
    ...over,
  });
  const kinds = (k: string) => (k === 'signal' ? (signalWait as unknown as WaitKind) : getWaitKind(k));

  it('a new kind is diagnosed through its own describe: state waiting-<kind>, until from the envelope, the child nested', async () => {
    const wait = await signalWait.park({} as never, { runId: 'r1', stepId: 'w', seq: 2, detail: { signal: 'go' } });
    const child = { runId: 'sub-run', missing: true as const };
    const d = diagnose(facts(wait, { waitFacts: { seen: 3 }, child }), kinds);
    expect(d).toMatchObject({
      state: 'waiting-signal',
      since: new Date(now - 5000).toISOString(),
      until: new Date(now + 60_000).toISOString(),
      details: ['seen 3 time(s)'],
      child,
    });
    expect(d.summary).toMatch(/^Waiting since .* for signal go at step "Wait for it"$/);
    const resolved = diagnose({ ...facts(wait, { waitFacts: { seen: 3 } }), run: { ...facts(wait).run, resolved: true } }, kinds);
    expect(resolved).toMatchObject({ state: 'resuming', summary: 'Signalled at step "Wait for it"' });
    expect(resolved.until).toBeUndefined();
    // Without the kind registered the engine does not pretend to know the wait.
    expect(diagnose(facts(wait), getWaitKind).state).not.toBe('waiting-signal');
  });

  it('every registered kind parks with its own kind and the deadline in the envelope', () => {
    expect(Object.keys(waitKinds).sort()).toEqual(['child', 'confirmation']);
    for (const [kind, k] of Object.entries(waitKinds)) {
      expect(k.kind).toBe(kind);
      expect(typeof k.describe).toBe('function');
    }
    expect(waitKinds.child!.children!({ kind: 'child', stepId: 's', seq: 1, childRunId: 'c1' })).toEqual(['c1']);
    expect(waitKinds.confirmation!.children).toBeUndefined();
  });

  it("the engine's generic modules read only the envelope: no wait kind or plug-in field named there", () => {
    const generic = ['diagnose', 'diagnosis', 'reconciler', 'run-view', 'migrations', 'simulate', 'step-processor', 'run-service', 'waits'];
    for (const f of generic) {
      const src = readFileSync(new URL(`../../src/engine/${f}.ts`, import.meta.url), 'utf8');
      expect(src, f).not.toMatch(/wait\??\.(task|childRunId)\b|wait\??\.kind\s*[!=]==\s*'/);
      expect(src, f).not.toMatch(/ConfirmationTask|ChildWait|ConfirmationWait/);
    }
  });
});
