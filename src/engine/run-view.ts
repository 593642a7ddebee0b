/** The shape of a run as callers see it (DESIGN §6), derived from run state and its plan. */
import type { Plan } from '../definition/plan.ts';
import type { Model } from '../steps/types.ts';
import type { ConfirmationTask, RunError, RunState, RunStatus } from './types.ts';

export interface RunView {
  id: string;
  workflow: string;
  version: number;
  status: RunStatus;
  seq: number;
  stage: { id: string; name: string; index: number; count: number } | null;
  step: { id: string; type: string; name: string } | null;
  model: Model;
  entry: { id: string; version: number };
  error?: RunError;
  /** What a run waiting on a confirmation asks, and of whom. */
  confirmation?: {
    stepId: string;
    options: string[];
    policy: ConfirmationTask['policy'];
    routing: string[];
    recipients: string[];
    timeoutAt?: string;
  };
  outcome?: string;
  startedBy?: string;
  createdAt: string;
  updatedAt: string;
}

export function view(run: RunState, plan: Plan | null): RunView {
  const step = run.stepId ? plan?.steps[run.stepId] : undefined;
  const stage = step && plan ? plan.stages[step.stageIndex] : undefined;
  return {
    id: run.id,
    workflow: run.workflow,
    version: run.version,
    status: run.status,
    seq: run.seq,
    stage: stage && plan ? { id: stage.id, name: stage.name, index: stage.index, count: plan.stages.length } : null,
    step: step ? { id: step.id, type: step.type, name: step.name } : null,
    model: run.model,
    entry: { id: run.entryId, version: run.entryVersion },
    ...(run.error ? { error: run.error } : {}),
    ...(run.status === 'waiting' && run.wait?.kind === 'confirmation'
      ? {
          confirmation: {
            stepId: run.wait.stepId,
            options: run.wait.task.options,
            policy: run.wait.task.policy,
            routing: run.wait.task.routing,
            recipients: run.wait.task.recipients,
            ...(run.wait.task.timeoutAt ? { timeoutAt: new Date(run.wait.task.timeoutAt).toISOString() } : {}),
          },
        }
      : {}),
    ...(run.outcome ? { outcome: run.outcome } : {}),
    ...(run.startedBy ? { startedBy: run.startedBy } : {}),
    createdAt: new Date(run.createdAt).toISOString(),
    updatedAt: new Date(run.updatedAt).toISOString(),
  };
}
