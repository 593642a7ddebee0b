import { z } from 'zod';
import { evaluateCondition } from '../conditions/evaluate.ts';
import { OPERATORS, ORDERING_OPERATORS } from '../conditions/operators.ts';
import { getPath } from '../definition/paths.ts';
import { FieldPath, StageRef } from './params.ts';
import { StepList } from './step-list.ts';
import type { StepType } from './types.ts';

export const IfConditionParams = z
  .object({
    field: FieldPath,
    operator: z.enum(OPERATORS),
    value: z.json().optional(),
    compareWithNull: z.boolean().optional(),
    then: StepList.optional(),
    else: StepList.optional(),
    thenGoto: StageRef.optional(),
    elseGoto: StageRef.optional(),
  })
  .superRefine(
    (p, ctx) => {
      // Runs even when other parameters failed (see `when`), so read defensively.
      const issue = (message: string, key: string) => ctx.addIssue({ code: 'custom', message, path: [key] });
      const hasValue = p?.value !== undefined;
      if (p?.compareWithNull === true) {
        if (p.operator !== 'equal' && p.operator !== 'notEqual') {
          issue('compareWithNull works only with the operators equal and notEqual', 'operator');
        }
        if (hasValue) issue('value cannot be combined with compareWithNull: true', 'value');
      } else if (p?.operator === 'exists') {
        if (hasValue) issue('the exists operator takes no value', 'value');
      } else if (!hasValue) {
        issue(`value is required for the operator ${String(p?.operator)} (or set compareWithNull: true)`, 'value');
      } else if (p.operator === 'in' && !Array.isArray(p.value)) {
        issue('the in operator needs an array value', 'value');
      } else if (ORDERING_OPERATORS.has(p.operator) && typeof p.value !== 'number' && typeof p.value !== 'string') {
        issue(`the ${p.operator} operator needs a number or a string (ISO date) value`, 'value');
      }
    },
    { when: () => true },
  );

export const ifConditionStep: StepType<typeof IfConditionParams> = {
  type: 'ifCondition',
  group: 'Conditions',
  pure: true,
  description: 'Evaluates one comparison on the model and runs the then or the else branch.',
  params: IfConditionParams,
  branches: (p) => [
    { key: 'then', label: 'then', steps: p.then ?? [], rejoin: true, goto: p.thenGoto, path: 'then', gotoPath: 'thenGoto' },
    { key: 'else', label: 'else', steps: p.else ?? [], rejoin: true, goto: p.elseGoto, path: 'else', gotoPath: 'elseGoto' },
  ],
  fieldPaths: (p) => [p.field],
  execute: ({ params, model }) => {
    const matched = evaluateCondition(params, getPath(model, params.field));
    return { outcome: { kind: 'branch', key: matched ? 'then' : 'else' }, detail: { matched } };
  },
};
