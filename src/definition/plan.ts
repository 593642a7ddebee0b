/**
 * The executable form of a workflow version. Compiled once by `compile()` (pure) and cached by
 * the engine; every routing decision at run time is a lookup in this structure.
 */
import type { RetryPolicy, StepDefinition, WorkflowDefinition } from './schema.ts';

/** A step id, or `null` for "the end of the workflow" (the run completes). */
export type Target = string | null;

export interface PlanStep {
  id: string;
  type: string;
  /** Display name: the step's `name`, else its id. */
  name: string;
  stageId: string;
  stageIndex: number;
  /** The validated step definition (its own parameters included). */
  def: StepDefinition;
  /** Where a plain completion of this step goes. */
  next: Target;
  /** Branch key (as returned by the step's handler) → where that branch starts. */
  branches: Record<string, Target>;
  /** Retry policy after falling back to the workflow defaults and the engine default. */
  retry: RetryPolicy;
  timeoutMs?: number;
}

export interface PlanStage {
  id: string;
  name: string;
  index: number;
  /** First step to run when execution enters this stage (skips empty stages); null = end. */
  entry: Target;
}

export interface Plan {
  workflow: string;
  version: number;
  start: Target;
  stages: PlanStage[];
  steps: Record<string, PlanStep>;
  definition: WorkflowDefinition;
}
