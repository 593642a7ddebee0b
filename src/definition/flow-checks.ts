/** Checks on the compiled control flow: endless loops and steps that can never run. */
import { getStepType } from '../steps/registry.ts';
import { reachableSteps, successors } from './compile.ts';
import type { Issue } from './issues.ts';
import { allSteps, type StageNode, type StepNode } from './outline.ts';
import type { Plan } from './plan.ts';

/** Steps from which some execution reaches an end: a terminal step or past the last stage. */
function stepsThatCanEnd(plan: Plan): Set<string> {
  const predecessors = new Map<string, string[]>();
  const canEnd = new Set<string>();
  const queue: string[] = [];
  for (const step of Object.values(plan.steps)) {
    const targets = successors(plan, step);
    if (getStepType(step.type)?.terminal || targets.includes(null)) {
      canEnd.add(step.id);
      queue.push(step.id);
    }
    for (const target of targets) {
      if (target === null) continue;
      const list = predecessors.get(target);
      if (list) list.push(step.id);
      else predecessors.set(target, [step.id]);
    }
  }
  while (queue.length > 0) {
    for (const previous of predecessors.get(queue.pop() as string) ?? []) {
      if (!canEnd.has(previous)) {
        canEnd.add(previous);
        queue.push(previous);
      }
    }
  }
  return canEnd;
}

export function checkFlow(plan: Plan, stages: readonly StageNode[]): { errors: Issue[]; warnings: Issue[] } {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const pathOf = new Map<string, string>();
  for (const step of allSteps(stages)) if (step.id !== undefined && !pathOf.has(step.id)) pathOf.set(step.id, step.path);

  const reachable = reachableSteps(plan);
  const canEnd = stepsThatCanEnd(plan);
  if (plan.start !== null && !canEnd.has(plan.start)) {
    errors.push({
      path: '$.stages',
      message:
        'every path loops forever: no path from the start reaches a finish, a resetToDraft or the end of the last stage (check the gotos)',
    });
    return { errors, warnings };
  }

  // A trap is reported once, where control enters it from a step that could still end.
  for (const id of reachable) {
    const step = plan.steps[id];
    if (!step || !canEnd.has(id)) continue;
    for (const target of successors(plan, step)) {
      if (target !== null && !canEnd.has(target)) {
        warnings.push({ path: pathOf.get(target) ?? '$', message: `every path from step "${target}" loops forever (check the gotos)` });
      }
    }
  }

  // Within one list, once a step is unreachable so is everything after it (and inside it):
  // report the first one only.
  const visit = (list: readonly StepNode[]) => {
    for (const [index, step] of list.entries()) {
      if (step.id !== undefined && !reachable.has(step.id)) {
        const rest = list.length - index - 1;
        const tail = rest > 0 ? ` (nor the ${rest} step${rest > 1 ? 's' : ''} after it)` : '';
        warnings.push({ path: step.path, message: `step "${step.id}" can never run${tail}` });
        return;
      }
      for (const branch of step.branches) visit(branch.steps);
    }
  };
  for (const stage of stages) visit(stage.steps);
  return { errors, warnings: dedupe(warnings) };
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\n${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
