/**
 * The workflow definition format (DESIGN §2). The step union is derived from the step registry,
 * so a new step type needs no change here.
 */
import { z } from 'zod';
import { stepDefinitionSchema, type RegisteredStepTypes, type StepTypeName } from '../steps/registry.ts';
import type { StepType } from '../steps/types.ts';
import { RetryPolicy, TimeoutMs, type CommonStepFields } from './common.ts';
import { Identifier, PrincipalRef } from './ids.ts';

export { RetryPolicy, type CommonStepFields } from './common.ts';

export const Defaults = z.strictObject({ retry: RetryPolicy.optional(), timeoutMs: TimeoutMs.optional() });
export type Defaults = z.infer<typeof Defaults>;

// z.object({}) infers Record<string, never>, which would turn every common field into never.
// biome-ignore lint/complexity/noBannedTypes: {} is the neutral element of the intersection these shapes feed
type Shape<T> = string extends keyof T ? {} : T;
type ParamsOut<K extends StepTypeName> = RegisteredStepTypes[K] extends StepType<infer S> ? Shape<z.output<S>> : never;
type ParamsIn<K extends StepTypeName> = RegisteredStepTypes[K] extends StepType<infer S> ? Shape<z.input<S>> : never;

/** Nested branch steps are typed loosely (see steps/step-list.ts) but validated as full steps. */
export type StepDefinition = {
  [K in StepTypeName]: { type: K } & Omit<CommonStepFields, keyof ParamsOut<K>> & ParamsOut<K>;
}[StepTypeName];

export type StepDefinitionInput = {
  [K in StepTypeName]: { type: K } & Omit<CommonStepFields, keyof ParamsIn<K>> & ParamsIn<K>;
}[StepTypeName];

// Assembled at run time from the registry, so its static type is the one declared above.
export const StepDefinition = stepDefinitionSchema as z.ZodType<StepDefinition, StepDefinitionInput>;

export const Stage = z.strictObject({
  id: Identifier,
  name: z.string().min(1).max(200),
  steps: z.array(StepDefinition),
});
export type Stage = z.infer<typeof Stage>;

const AccessList = z.array(PrincipalRef);

/** Who may do what when `restrictAccess` is true: user ids or `role:<name>`. */
export const Access = z.strictObject({
  read: AccessList.optional(),
  start: AccessList.optional(),
  confirm: AccessList.optional(),
  operate: AccessList.optional(),
});
export type Access = z.infer<typeof Access>;

export const WorkflowDefinition = z.strictObject({
  name: Identifier,
  title: z.string().min(1).max(200).optional(),
  restrictAccess: z.boolean().default(false),
  access: Access.optional(),
  defaults: Defaults.optional(),
  stages: z.array(Stage).min(1, { message: 'a workflow needs at least one stage' }),
});
export type WorkflowDefinition = z.infer<typeof WorkflowDefinition>;
