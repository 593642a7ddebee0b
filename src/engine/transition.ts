/**
 * Pure routing: given the plan, the step that just ran and what its handler decided, where does
 * the run go? No I/O, so every control-flow rule is unit-tested without Redis.
 */
import type { Plan, PlanStep } from '../definition/plan.ts';
import type { StepOutcome } from '../steps/types.ts';
import type { RunError } from './types.ts';

export type Decision =
  | { status: 'running'; next: string }
  | { status: 'completed'; outcome?: string }
  | { status: 'draft' }
  | { status: 'waiting' }
  | { status: 'failed'; error: RunError };

export function decide(plan: Plan, step: PlanStep, outcome: StepOutcome): Decision {
  switch (outcome.kind) {
    case 'finish':
      return { status: 'completed', outcome: outcome.outcome };
    case 'draft':
      return { status: 'draft' };
    case 'wait':
      return { status: 'waiting' };
    case 'next':
      return toTarget(plan, step.next);
    case 'branch': {
      if (!(outcome.key in step.branches)) {
        return {
          status: 'failed',
          error: { code: 'UNKNOWN_BRANCH', stepId: step.id, message: `step ${step.id} chose unknown branch "${outcome.key}"` },
        };
      }
      return toTarget(plan, step.branches[outcome.key] ?? null);
    }
  }
}

function toTarget(plan: Plan, target: string | null): Decision {
  if (target === null) return { status: 'completed' };
  if (!plan.steps[target]) {
    return { status: 'failed', error: { code: 'BAD_PLAN', message: `plan names unknown step ${target}` } };
  }
  return { status: 'running', next: target };
}

/** A run that has made `maxTransitions` step commits may not run another step: a loop that never ends. */
export function transitionLimitError(stepId: string, transitions: number, maxTransitions: number): RunError | undefined {
  if (transitions < maxTransitions) return undefined;
  return {
    code: 'TRANSITION_LIMIT',
    stepId,
    message: `run reached ${maxTransitions} transitions (a loop that never ends?); raise MAX_TRANSITIONS if this is intended`,
  };
}
