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
}
