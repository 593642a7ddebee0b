/**
 * Nested step lists (if/switch branches) need the full step schema, which is built from the
 * registry, which imports the step files. Importing schema.ts from here would be an ESM cycle that
 * breaks whenever a step file is the first module loaded, so schema.ts binds itself here instead.
 */
import { z } from 'zod';

/** What a nested step looks like to the step types; schema.ts validates it as a full StepDefinition. */
export interface NestedStep {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

let bound: z.ZodType<NestedStep> | undefined;

export function bindStepSchema(schema: z.ZodType<NestedStep>): void {
  bound = schema;
}

const NestedStepSchema = z.lazy((): z.ZodType<NestedStep> => {
  if (!bound) throw new Error('nested step schema is not bound: import src/definition/schema.ts first');
  return bound;
});

export const StepList = z.array(NestedStepSchema);
