/**
 * A lenient walk of a (possibly invalid) definition: stages, steps and branch lists with their
 * JSON paths. Structural rules run on it so they are reported together with schema errors
 * instead of only after every schema error is fixed.
 */
import { getStepType } from '../steps/registry.ts';
import type { BranchSpec, StepType } from '../steps/types.ts';
import { joinPath } from './issues.ts';

export interface StepNode {
  path: string;
  id?: string;
  stepType?: StepType;
  /** The step's parameters after parsing, when they are valid. */
  params?: unknown;
  branches: BranchNode[];
}

export interface BranchNode {
  key: string;
  path: string;
  steps: StepNode[];
  goto?: unknown;
  gotoPath: string;
}

export interface StageNode {
  path: string;
  id?: string;
  steps: StepNode[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function branchSpecs(stepType: StepType, params: unknown): BranchSpec[] {
  try {
    return stepType.branches?.(params) ?? [];
  } catch {
    // Malformed branch parameters (already a schema error): nothing to walk into.
    return [];
  }
}

function stepNode(raw: unknown, path: string): StepNode | undefined {
  if (!isRecord(raw)) return undefined;
  const node: StepNode = { path, branches: [] };
  if (typeof raw.id === 'string') node.id = raw.id;
  const stepType = typeof raw.type === 'string' ? getStepType(raw.type) : undefined;
  if (!stepType) return node;
  node.stepType = stepType;
  const parsed = stepType.params.safeParse(raw);
  if (parsed.success) node.params = parsed.data;
  node.branches = branchSpecs(stepType, parsed.success ? parsed.data : raw).map((spec) => {
    const listPath = joinPath(path, spec.path ?? spec.key);
    return {
      key: spec.key,
      path: listPath,
      steps: stepList(spec.steps, listPath),
      goto: spec.goto,
      gotoPath: joinPath(path, spec.gotoPath ?? `${spec.key}Goto`),
    };
  });
  return node;
}

export function stepList(raw: unknown, path: string): StepNode[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((step, i) => stepNode(step, `${path}[${i}]`) ?? []);
}

export function outline(input: unknown): StageNode[] {
  if (!isRecord(input) || !Array.isArray(input.stages)) return [];
  return input.stages.flatMap((stage, i): StageNode[] => {
    if (!isRecord(stage)) return [];
    const path = `$.stages[${i}]`;
    const node: StageNode = { path, steps: stepList(stage.steps, `${path}.steps`) };
    if (typeof stage.id === 'string') node.id = stage.id;
    return [node];
  });
}

/** Every step list (stage lists and branch lists), outer lists before the lists nested in them. */
export function* allLists(stages: readonly StageNode[]): Generator<StepNode[]> {
  const visit = function* (list: StepNode[]): Generator<StepNode[]> {
    yield list;
    for (const step of list) for (const branch of step.branches) yield* visit(branch.steps);
  };
  for (const stage of stages) yield* visit(stage.steps);
}

/** Every step in document order (a step before the steps of its branches). */
export function* allSteps(stages: readonly StageNode[]): Generator<StepNode> {
  const visit = function* (list: StepNode[]): Generator<StepNode> {
    for (const step of list) {
      yield step;
      for (const branch of step.branches) yield* visit(branch.steps);
    }
  };
  for (const stage of stages) yield* visit(stage.steps);
}
