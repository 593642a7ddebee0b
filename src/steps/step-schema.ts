/** Builds the schema of one step definition (common fields + a type's parameters) from step types. */
import { z } from 'zod';
import { commonStepShape } from '../definition/common.ts';
import type { StepType } from './types.ts';

/**
 * `type`, the common fields, then the type's own parameters, as a strict object so typos are
 * errors. A parameter the type defines itself (getUserConfirmation's `timeoutMs`) replaces the
 * common one, and the type's cross-field refinements are carried over.
 */
function stepObjectSchema(stepType: StepType) {
  const params = stepType.params;
  if (!(params instanceof z.ZodObject)) throw new Error(`step type ${stepType.type}: params must be a z.object`);
  const object = z.strictObject({ type: z.literal(stepType.type), ...commonStepShape, ...(params.shape as z.ZodRawShape) });
  // The params' checks were written against the params object; the step object is a superset of it.
  const checks = (params._zod.def.checks ?? []) as z.core.$ZodCheck<z.output<typeof object>>[];
  return checks.length > 0 ? object.check(...checks) : object;
}

function unknownTypeMessage(known: readonly string[]) {
  return (issue: { code?: string; input?: unknown }): string | undefined => {
    if (issue.code !== 'invalid_union') return undefined;
    const input = issue.input;
    const type = typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : undefined;
    const list = `known types: ${known.join(', ')}`;
    return type === undefined ? `missing step type; ${list}` : `unknown step type ${JSON.stringify(type)}; ${list}`;
  };
}

/** A discriminated union on `type`; unknown types get a message listing the known ones. */
export function buildStepSchema(types: readonly StepType[]): z.ZodType {
  const options = types.map(stepObjectSchema);
  return z.discriminatedUnion('type', options as unknown as [z.ZodObject, ...z.ZodObject[]], {
    error: unknownTypeMessage(types.map((t) => t.type)),
  });
}
