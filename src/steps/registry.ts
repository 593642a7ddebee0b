/** Every step type the engine knows. Adding a type = one file under src/steps/ + one line here. */
import type { z } from 'zod';
import { executeDataflowStep } from './execute-dataflow.ts';
import { finishStep } from './finish.ts';
import { getUserConfirmationStep } from './get-user-confirmation.ts';
import { ifConditionStep } from './if-condition.ts';
import { resetToDraftStep } from './reset-to-draft.ts';
import { sendNotificationStep } from './send-notification.ts';
import { sendTemplatedNotificationStep } from './send-templated-notification.ts';
import { switchCaseStep } from './switch-case.ts';
import { updateModelStep } from './update-model.ts';
import { updateModelFieldStep } from './update-model-field.ts';
import { bindStepSchema, type NestedStep } from './step-list.ts';
import { buildStepSchema } from './step-schema.ts';
import type { StepType, WaitKind } from './types.ts';

/** Keyed by type with the precise types kept, so schema.ts can derive the StepDefinition union. */
export const registeredStepTypes = {
  sendNotification: sendNotificationStep,
  sendTemplatedNotification: sendTemplatedNotificationStep,
  getUserConfirmation: getUserConfirmationStep,
  executeDataflow: executeDataflowStep,
  updateModel: updateModelStep,
  updateModelField: updateModelFieldStep,
  finish: finishStep,
  resetToDraft: resetToDraftStep,
  switchCase: switchCaseStep,
  ifCondition: ifConditionStep,
} as const;

export type RegisteredStepTypes = typeof registeredStepTypes;
export type StepTypeName = keyof RegisteredStepTypes;

// StepType<any> is the bridge: a handler typed for its own params is not a handler of `unknown`.
// biome-ignore lint/suspicious/noExplicitAny: the one erased bridge between typed handlers and the engine
const erased: Readonly<Record<string, StepType<any>>> = registeredStepTypes;

export const stepTypes: Readonly<Record<string, StepType>> = Object.freeze({ ...erased });

export const stepTypeNames: readonly string[] = Object.freeze(Object.keys(stepTypes));

/** Own-property lookup, so names like "constructor" or "toString" are unknown types, not Object members. */
export function getStepType(type: string): StepType | undefined {
  return Object.hasOwn(stepTypes, type) ? stepTypes[type] : undefined;
}

/** The wait kinds of the step types that park, by `kind`: how the engine reads a stored Wait. */
export const waitKinds: Readonly<Record<string, WaitKind>> = Object.freeze(
  Object.fromEntries(Object.values(stepTypes).flatMap((t) => (t.wait ? [[t.wait.kind, t.wait]] : []))),
);

export function getWaitKind(kind: string): WaitKind | undefined {
  return Object.hasOwn(waitKinds, kind) ? waitKinds[kind] : undefined;
}

/**
 * The runtime schema of one step definition (typed precisely in definition/schema.ts). Bound into
 * the nested step lists here, so any importer of the registry (workers included) can parse steps.
 */
export const stepDefinitionSchema = buildStepSchema(Object.values(stepTypes));
bindStepSchema(stepDefinitionSchema as z.ZodType<NestedStep>);

for (const [key, stepType] of Object.entries(stepTypes)) {
  if (key !== stepType.type) throw new Error(`step registry key "${key}" does not match its type "${stepType.type}"`);
}
