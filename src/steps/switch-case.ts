import { z } from 'zod';
import { getPath } from '../definition/paths.ts';
import { FieldPath, StageRef } from './params.ts';
import { StepList } from './step-list.ts';
import { NonRetryableError, type BranchSpec, type StepType } from './types.ts';

const CaseValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const Case = z.strictObject({ value: CaseValue, steps: StepList, goto: StageRef.optional() });
const DefaultCase = z.strictObject({ steps: StepList, goto: StageRef.optional() });

export const SwitchCaseParams = z
  .object({
    sourceField: FieldPath,
    cases: z.array(Case).min(1, { message: 'a switch needs at least one case' }),
    default: DefaultCase.optional(),
  })
  .superRefine(
    (p, ctx) => {
      // A second case with the same value could never be taken.
      const seen = new Set<unknown>();
      (Array.isArray(p?.cases) ? p.cases : []).forEach((c, i) => {
        const value: unknown = c?.value;
        if (value === undefined) return;
        if (seen.has(value)) {
          ctx.addIssue({ code: 'custom', message: `duplicate case value ${JSON.stringify(value)}`, path: ['cases', i, 'value'] });
        }
        seen.add(value);
      });
    },
    { when: () => true },
  );

type Params = z.infer<typeof SwitchCaseParams>;

function describe(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export const switchCaseStep: StepType<typeof SwitchCaseParams> = {
  type: 'switchCase',
  group: 'Conditions',
  pure: true,
  description: "Jumps into the branch whose value equals the field's value; execution then continues with the next stage.",
  params: SwitchCaseParams,
  endsStage: true,
  branches: (p: Params) => {
    const specs: BranchSpec[] = p.cases.map((c, i) => ({
      key: `case:${i}`,
      label: `case ${describe(c.value)}`,
      steps: c.steps,
      rejoin: false,
      goto: c.goto,
      path: `cases[${i}].steps`,
      gotoPath: `cases[${i}].goto`,
    }));
    if (p.default) {
      specs.push({
        key: 'default',
        label: 'default',
        steps: p.default.steps,
        rejoin: false,
        goto: p.default.goto,
        path: 'default.steps',
        gotoPath: 'default.goto',
      });
    }
    return specs;
  },
  fieldPaths: (p) => [p.sourceField],
  warnings: (p) => (p.default ? [] : ['no default branch: a value that matches no case fails the run']),
  execute: ({ params, model, stepId }) => {
    const raw = getPath(model, params.sourceField);
    // A missing field behaves as null so a `null` case can catch "not set yet".
    const value = raw === undefined ? null : raw;
    const index = params.cases.findIndex((c) => c.value === value);
    if (index >= 0) return { outcome: { kind: 'branch', key: `case:${index}` } };
    if (params.default) return { outcome: { kind: 'branch', key: 'default' } };
    throw new NonRetryableError(
      `switchCase "${stepId}": no case matches field "${params.sourceField}" (value ${describe(raw)}) and there is no default`,
    );
  },
};
