/**
 * How the confirmation an answer link belongs to closed, read from the run and its history, so
 * the link's page can say so instead of offering a button that would fail.
 */
import type { LinkClaims } from './links.ts';
import type { HistoryEvent, RunState } from './types.ts';

export type Closure =
  | { kind: 'decided'; option?: string; by: string; at: string }
  | { kind: 'timedOut'; at: string; option?: string }
  | { kind: 'cancelled'; by?: string; at: string }
  | { kind: 'movedOn'; status: string };

export type LinkStatus =
  | { open: true; claims: LinkClaims }
  /** `closure` only when the link's principal may read the run. */
  | { open: false; claims: LinkClaims; closure?: Closure };

/** True while the run still waits on the confirmation this link answers. */
export function linkOpen(run: RunState | null, c: LinkClaims): boolean {
  return !!run && run.status === 'waiting' && run.seq === c.seq && run.wait?.stepId === c.stepId && !run.resolution;
}

/**
 * The wait was at seq c.seq: a timeout is recorded at that seq, and whatever ended it (the
 * resume after a decision, a cancel) is the transition to c.seq + 1.
 */
export function closureOf(run: RunState, history: readonly HistoryEvent[], c: LinkClaims): Closure {
  // Resolved but not resumed yet: the resolution on the run says it all.
  if (run.resolution && run.resolution.seq === c.seq) {
    const r = run.resolution;
    if (r.by === 'system:timeout') return { kind: 'timedOut', at: r.at, ...(r.option ? { option: r.option } : {}) };
    return { kind: 'decided', by: r.by, at: r.at, ...(r.option ? { option: r.option } : {}) };
  }
  const timedOut = history.find((e) => e.type === 'confirmation.timedOut' && e.seq === c.seq && e.stepId === c.stepId);
  const next = history.filter((e) => e.seq === c.seq + 1);
  const done = next.find((e) => (e.type === 'step.completed' || e.type === 'step.failed') && e.stepId === c.stepId);
  if (timedOut) {
    const onTimeout = (timedOut.detail as { onTimeout?: unknown } | undefined)?.onTimeout;
    const option = typeof onTimeout === 'object' && onTimeout !== null ? (onTimeout as { option?: string }).option : undefined;
    return { kind: 'timedOut', at: timedOut.at, ...(option ? { option } : {}) };
  }
  const cancelled = next.find((e) => e.type === 'run.cancelled');
  if (cancelled) return { kind: 'cancelled', at: cancelled.at, ...(cancelled.by ? { by: cancelled.by } : {}) };
  const detail = done?.detail as { option?: string; by?: string } | undefined;
  if (done && detail?.by) return { kind: 'decided', by: detail.by, at: done.at, ...(detail.option ? { option: detail.option } : {}) };
  return { kind: 'movedOn', status: run.status };
}
