import type { Model } from '../steps/types.ts';

export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'draft';
export const RUN_STATUSES: readonly RunStatus[] = ['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft'];

export interface RunError {
  message: string;
  stepId?: string;
  attempt?: number;
  code?: string;
}

export interface RunState {
  id: string;
  workflow: string;
  version: number;
  status: RunStatus;
  seq: number;
  /** The cursor: the step to run next (running), the step waited on (waiting), the failed step. */
  stepId: string | null;
  model: Model;
  entryId: string;
  entryVersion: number;
  transitions: number;
  createdAt: number;
  updatedAt: number;
  error?: RunError;
  outcome?: string;
  callbackUrl?: string;
  startedBy?: string;
  /** Set on a child run started by a parent's executeDataflow step. */
  parent?: ParentLink;
  /** What a waiting run waits for. */
  wait?: Wait;
  /** How the wait was decided (an answer, a timeout), recorded before the run resumes. */
  resolution?: Resolution;
}

export interface ParentLink {
  runId: string;
  stepId: string;
  /** The seq at which the parent waits for this child. */
  seq: number;
}

/**
 * What a waiting run waits for. The engine reads only this envelope; everything else on a wait
 * belongs to the wait kind (WaitKind in src/steps/types.ts) that parked it, which declares its own
 * extension (ConfirmationWait, ChildWait) and is found by `kind` (src/steps/registry.ts getWaitKind).
 */
export interface Wait {
  /** The WaitKind that parked the run (its `kind`). */
  kind: string;
  stepId: string;
  /** The seq the run parked at: every hook and timer is fenced on it. */
  seq: number;
  /** The wait's deadline (ms), if any: its kind's `expire` runs then; the reconciler repairs a lost timer. */
  timeoutAt?: number;
  /** Plug-in-owned data. */
  [data: string]: unknown;
}

export interface Resolution {
  seq: number;
  /** The chosen option, or absent when the wait failed (timeout with onTimeout: fail, child failure). */
  option?: string;
  by: string;
  at: string;
  error?: RunError;
}

export interface HistoryEvent {
  seq: number;
  at: string;
  type: string;
  stepId?: string;
  attempt?: number;
  durationMs?: number;
  by?: string;
  detail?: unknown;
}

export type NewHistoryEvent = Omit<HistoryEvent, 'seq' | 'at'> & { at?: string };

export interface Entry {
  id: string;
  version: number;
  model: Model;
  updatedAt: number;
  /** The workflow whose run created the entry: its access rules govern reading it. */
  workflow?: string;
}
