/**
 * Definition → Plan. Pure: every routing decision the engine makes later is a lookup in the plan,
 * so all control-flow rules live (and are tested) here.
 */
import { getStepType } from '../steps/registry.ts';
import type { StepType } from '../steps/types.ts';
import type { RetryPolicy } from './common.ts';
import type { Plan, PlanStage, PlanStep, Target } from './plan.ts';
import type { StepDefinition, WorkflowDefinition } from './schema.ts';

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 60000 },
};

function requireStepType(type: string): StepType {
  const stepType = getStepType(type);
  if (!stepType) throw new Error(`compile: unknown step type "${type}" (validate the definition first)`);
  return stepType;
}

export function compile(def: WorkflowDefinition, version: number): Plan {
  // Right to left: an empty stage is entered at the next stage's entry; after the last, the end.
  const entries: Target[] = [];
  for (let i = def.stages.length - 1; i >= 0; i--) {
    entries[i] = def.stages[i]?.steps[0]?.id ?? entries[i + 1] ?? null;
  }
  const stageIndex = new Map(def.stages.map((stage, i) => [stage.id, i]));
  const stageEntry = (stageId: string): Target => {
    const index = stageIndex.get(stageId);
    if (index === undefined) throw new Error(`compile: goto names unknown stage "${stageId}"`);
    return entries[index] ?? null;
  };

  // Null prototype: a step id such as "constructor" must not collide with Object members.
  const steps: Record<string, PlanStep> = Object.create(null);
  const retryDefault = def.defaults?.retry ?? DEFAULT_RETRY;

  const compileList = (list: readonly StepDefinition[], continuation: Target, stage: { id: string; index: number }) => {
    const afterStage = entries[stage.index + 1] ?? null;
    list.forEach((step, i) => {
      if (Object.hasOwn(steps, step.id)) throw new Error(`compile: duplicate step id "${step.id}"`);
      const stepType = requireStepType(step.type);
      const next: Target = stepType.terminal ? null : (list[i + 1]?.id ?? continuation);
      const planStep: PlanStep = {
        id: step.id,
        type: step.type,
        name: step.name ?? step.id,
        stageId: stage.id,
        stageIndex: stage.index,
        def: step,
        next,
        branches: Object.create(null),
        retry: step.retry ?? retryDefault,
      };
      const timeoutMs = step.timeoutMs ?? def.defaults?.timeoutMs;
      if (timeoutMs !== undefined) planStep.timeoutMs = timeoutMs;
      steps[step.id] = planStep;
      for (const branch of stepType.branches?.(step) ?? []) {
        const branchContinuation = branch.goto !== undefined ? stageEntry(branch.goto) : branch.rejoin ? next : afterStage;
        // Branch lists were validated by the same step schema (see steps/step-list.ts).
        const branchSteps = branch.steps as StepDefinition[];
        planStep.branches[branch.key] = branchSteps[0]?.id ?? branchContinuation;
        compileList(branchSteps, branchContinuation, stage);
      }
    });
  };

  const stages: PlanStage[] = def.stages.map((stage, index) => {
    compileList(stage.steps, entries[index + 1] ?? null, { id: stage.id, index });
    return { id: stage.id, name: stage.name, index, entry: entries[index] ?? null };
  });

  return { workflow: def.name, version, start: entries[0] ?? null, stages, steps, definition: def };
}

/**
 * Where control can go after a step. A step with branches always leaves through one of them (its
 * `next` is only their rejoin point); a terminal step goes nowhere. `null` is the end of the workflow.
 */
export function successors(_plan: Plan, step: PlanStep): Target[] {
  const stepType = getStepType(step.type);
  if (stepType?.terminal) return [];
  const branchTargets = Object.values(step.branches);
  return branchTargets.length > 0 ? branchTargets : [step.next];
}

/** Ids of the steps some execution can reach from the start. */
export function reachableSteps(plan: Plan): Set<string> {
  const seen = new Set<string>();
  const queue: Target[] = [plan.start];
  while (queue.length > 0) {
    const id = queue.pop();
    if (id === null || id === undefined || seen.has(id)) continue;
    const step = plan.steps[id];
    if (!step) continue;
    seen.add(id);
    queue.push(...successors(plan, step));
  }
  return seen;
}
