import { z } from 'zod';
import { getPath } from '../definition/paths.ts';
import { FieldPath } from './params.ts';
import type { StepType } from './types.ts';

export const UpdateModelFieldParams = z
  .object({
    field: FieldPath,
    /** A literal JSON value (null included). */
    value: z.json().optional(),
    sourceField: FieldPath.optional(),
  })
  // `when` makes the rule report even when another parameter is also invalid.
  .superRefine(
    (p, ctx) => {
      const hasValue = p?.value !== undefined;
      const hasSource = p?.sourceField !== undefined;
      if (hasValue && hasSource) {
        ctx.addIssue({ code: 'custom', message: 'set exactly one of value or sourceField, not both', path: [] });
      } else if (!hasValue && !hasSource) {
        ctx.addIssue({ code: 'custom', message: 'set exactly one of value or sourceField', path: [] });
      }
    },
    { when: () => true },
  );

export const updateModelFieldStep: StepType<typeof UpdateModelFieldParams> = {
  type: 'updateModelField',
  group: 'Common',
  pure: true,
  description: "Sets one field of the working model to a literal or to another field's value.",
  params: UpdateModelFieldParams,
  fieldPaths: (p) => (p.sourceField === undefined ? [p.field] : [p.field, p.sourceField]),
  execute: ({ params, model }) => {
    // Clone so a later write to either field never shows through the other.
    const value = params.sourceField === undefined ? params.value : structuredClone(getPath(model, params.sourceField) ?? null);
    return { writes: [{ path: params.field, value }], outcome: { kind: 'next' } };
  },
};
