import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { getStepType, stepTypeNames, stepTypes } from '../../src/steps/registry.ts';
import { finishStep } from '../../src/steps/finish.ts';
import { ifConditionStep } from '../../src/steps/if-condition.ts';
import { resetToDraftStep } from '../../src/steps/reset-to-draft.ts';
import { switchCaseStep } from '../../src/steps/switch-case.ts';
import { NonRetryableError, type Model, type StepContext, type StepType } from '../../src/steps/types.ts';
import { updateModelStep } from '../../src/steps/update-model.ts';
import { updateModelFieldStep } from '../../src/steps/update-model-field.ts';
import { sendTemplatedNotificationStep } from '../../src/steps/send-templated-notification.ts';
import { buildStepSchema } from '../../src/steps/step-schema.ts';
import type { z } from 'zod';
import type { StepServices } from '../../src/steps/services.ts';

const log = pino({ enabled: false });

/** Runs a handler with params parsed by its own schema, as the engine does. */
async function run<S extends z.ZodType>(step: StepType<S>, params: z.input<S>, model: Model = {}) {
  const ctx: StepContext<z.infer<S>> = {
    runId: 'r1',
    workflow: 'wf',
    version: 1,
    stepId: 's1',
    seq: 3,
    attempt: 1,
    effectKey: 'r1/s1/3',
    params: step.params.parse(params),
    model,
    signal: new AbortController().signal,
    log,
    // control steps use no services; a handler that reached for one would throw here
    services: {} as StepServices,
  };
  return step.execute(ctx);
}

describe('updateModelField', () => {
  it('writes a literal value (null included)', async () => {
    expect(await run(updateModelFieldStep, { field: 'a.b', value: { x: 1 } })).toEqual({
      writes: [{ path: 'a.b', value: { x: 1 } }],
      outcome: { kind: 'next' },
    });
    expect((await run(updateModelFieldStep, { field: 'a', value: null })).writes).toEqual([{ path: 'a', value: null }]);
  });

  it('copies a deep clone of the source field; a missing source becomes null', async () => {
    const model = { src: { list: [1, 2] } };
    const result = await run(updateModelFieldStep, { field: 'dst', sourceField: 'src' }, model);
    expect(result.writes).toEqual([{ path: 'dst', value: { list: [1, 2] } }]);
    expect(result.writes?.[0]?.value).not.toBe(model.src);
    const missing = await run(updateModelFieldStep, { field: 'dst', sourceField: 'nope.deeper' }, model);
    expect(missing.writes).toEqual([{ path: 'dst', value: null }]);
  });

  it('declares both field paths', () => {
    expect(updateModelFieldStep.fieldPaths?.({ field: 'a', sourceField: 'b' })).toEqual(['a', 'b']);
  });
});

describe('updateModel, finish, resetToDraft', () => {
  it('updateModel asks the engine to save the entry', async () => {
    expect(await run(updateModelStep, {})).toEqual({ saveEntry: true, outcome: { kind: 'next' } });
  });

  it('finish ends the run, with its outcome label when given', async () => {
    expect(await run(finishStep, {})).toEqual({ outcome: { kind: 'finish' } });
    expect(await run(finishStep, { outcome: 'approved' })).toEqual({ outcome: { kind: 'finish', outcome: 'approved' } });
    expect(finishStep.terminal).toBe(true);
  });

  it('resetToDraft returns the draft outcome', async () => {
    expect(await run(resetToDraftStep, {})).toEqual({ outcome: { kind: 'draft' } });
    expect(resetToDraftStep.terminal).toBe(true);
  });
});

describe('ifCondition', () => {
  const base = { field: 'amount', operator: 'less' as const, value: 100 };

  it('takes then when the comparison holds and else otherwise', async () => {
    expect((await run(ifConditionStep, base, { amount: 50 })).outcome).toEqual({ kind: 'branch', key: 'then' });
    expect((await run(ifConditionStep, base, { amount: 150 })).outcome).toEqual({ kind: 'branch', key: 'else' });
    expect((await run(ifConditionStep, base, { amount: '50' })).outcome).toEqual({ kind: 'branch', key: 'else' });
  });

  it('compareWithNull tests for a missing or null field', async () => {
    const isNull = { field: 'a.b', operator: 'equal' as const, compareWithNull: true };
    expect((await run(ifConditionStep, isNull, {})).outcome).toEqual({ kind: 'branch', key: 'then' });
    expect((await run(ifConditionStep, isNull, { a: { b: 0 } })).outcome).toEqual({ kind: 'branch', key: 'else' });
  });

  it('describes both branches as rejoining, with their gotos', () => {
    const then = [{ id: 'x', type: 'finish' }];
    expect(ifConditionStep.branches?.(ifConditionStep.params.parse({ ...base, then, elseGoto: 'later' }))).toEqual([
      { key: 'then', label: 'then', steps: then, rejoin: true, goto: undefined, path: 'then', gotoPath: 'thenGoto' },
      { key: 'else', label: 'else', steps: [], rejoin: true, goto: 'later', path: 'else', gotoPath: 'elseGoto' },
    ]);
  });
});

describe('switchCase', () => {
  const params = {
    sourceField: 'decision',
    cases: [
      { value: 'approve', steps: [] },
      { value: null, steps: [] },
      { value: 1, steps: [] },
    ],
  };

  it('picks the case with the strictly equal value', async () => {
    expect((await run(switchCaseStep, params, { decision: 'approve' })).outcome).toEqual({ kind: 'branch', key: 'case:0' });
    expect((await run(switchCaseStep, params, { decision: 1 })).outcome).toEqual({ kind: 'branch', key: 'case:2' });
  });

  it('null and a missing field match the null case', async () => {
    expect((await run(switchCaseStep, params, { decision: null })).outcome).toEqual({ kind: 'branch', key: 'case:1' });
    expect((await run(switchCaseStep, params, {})).outcome).toEqual({ kind: 'branch', key: 'case:1' });
  });

  it('falls back to the default branch', async () => {
    const withDefault = { ...params, default: { steps: [] } };
    expect((await run(switchCaseStep, withDefault, { decision: '1' })).outcome).toEqual({ kind: 'branch', key: 'default' });
  });

  it('fails without retries when nothing matches and there is no default', async () => {
    const attempt = run(switchCaseStep, params, { decision: 'maybe' });
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow('no case matches field "decision" (value "maybe")');
  });

  it('branches never rejoin and ends its stage', () => {
    const specs = switchCaseStep.branches?.(switchCaseStep.params.parse({ ...params, default: { steps: [], goto: 's9' } }));
    expect(specs?.map((s) => [s.key, s.rejoin, s.goto])).toEqual([
      ['case:0', false, undefined],
      ['case:1', false, undefined],
      ['case:2', false, undefined],
      ['default', false, 's9'],
    ]);
    expect(switchCaseStep.endsStage).toBe(true);
  });

  it('rejects duplicate case values', () => {
    const parsed = switchCaseStep.params.safeParse({
      sourceField: 'x',
      cases: [
        { value: 'a', steps: [] },
        { value: 'a', steps: [] },
      ],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['cases', 1, 'value']);
  });
});

describe('registry', () => {
  it('holds the ten step types under their own names', () => {
    expect([...stepTypeNames].sort()).toEqual(
      [
        'executeDataflow',
        'finish',
        'getUserConfirmation',
        'ifCondition',
        'resetToDraft',
        'sendNotification',
        'sendTemplatedNotification',
        'switchCase',
        'updateModel',
        'updateModelField',
      ].sort(),
    );
    for (const [name, stepType] of Object.entries(stepTypes)) expect(stepType.type).toBe(name);
  });

  it('looks up own entries only', () => {
    expect(getStepType('finish')).toBe(finishStep);
    expect(getStepType('constructor')).toBeUndefined();
    expect(getStepType('toString')).toBeUndefined();
  });
});

describe('sendTemplatedNotification', () => {
  it('has no routing parameter (it never did anything): a saved step naming one is refused as an unknown field', () => {
    const schema = buildStepSchema([sendTemplatedNotificationStep]);
    const step = { id: 't', type: 'sendTemplatedNotification', template: 'x', channel: 'inbox', users: ['ann'] };
    expect(schema.safeParse(step).success).toBe(true);
    expect(sendTemplatedNotificationStep.references?.({ ...step, channel: 'inbox' } as never)).toEqual([
      { kind: 'template', name: 'x', path: 'template' },
      { kind: 'principal', name: 'ann', path: 'users[0]' },
    ]);
    const parsed = schema.safeParse({ ...step, routing: ['role:manager'] });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('routing');
  });
});
