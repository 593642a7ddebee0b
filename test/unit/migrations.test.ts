import { describe, expect, it } from 'vitest';
import { compile } from '../../src/definition/compile.ts';
import { WorkflowDefinition } from '../../src/definition/schema.ts';
import { blockedReason } from '../../src/engine/migrations.ts';
import '../../src/steps/registry.ts';

const plan = (version: number, steps: unknown[]) =>
  compile(WorkflowDefinition.parse({ name: 'm', stages: [{ id: 'a', name: 'A', steps }] }), version);
const ask = (options: string[], field = 'ok') => ({
  id: 'ask',
  type: 'getUserConfirmation',
  confirmationField: field,
  options,
  routing: ['role:manager'],
});
const task = { options: ['yes', 'no'], confirmationField: 'ok', routing: ['role:manager'], recipients: [], policy: 'any' as const };
const waiting = { status: 'waiting' as const, stepId: 'ask', wait: { kind: 'confirmation' as const, stepId: 'ask', seq: 1, task } };

describe('blockedReason (pure)', () => {
  const v1 = plan(1, [ask(['yes', 'no'])]);
  it('lets a compatible waiting confirmation move; names what blocks an incompatible one', () => {
    expect(blockedReason(waiting, v1, plan(2, [ask(['yes', 'no', 'maybe'])]))).toBeNull();
    expect(blockedReason(waiting, v1, plan(2, [ask(['yes'])]))).toMatch(/lacks the option\(s\) no/);
    expect(blockedReason(waiting, v1, plan(2, [ask(['yes', 'no'], 'answer')]))).toMatch(/writes the answer to answer/);
    expect(blockedReason(waiting, v1, plan(2, [{ id: 'ask', type: 'updateModelField', field: 'x', value: 1 }]))).toMatch(
      /getUserConfirmation in version 1 but a updateModelField/,
    );
    expect(blockedReason(waiting, v1, plan(2, [{ id: 'other', type: 'updateModel' }]))).toMatch(/does not exist in version 2/);
  });
  it('a failed run needs its failed step; a draft always moves', () => {
    const failed = { status: 'failed' as const, stepId: 'ask', error: { message: 'x', stepId: 'ask' } };
    expect(blockedReason(failed, v1, plan(2, [ask(['yes', 'no'])]))).toBeNull();
    expect(blockedReason(failed, v1, plan(2, [{ id: 'other', type: 'updateModel' }]))).toMatch(/step ask does not exist/);
    expect(blockedReason({ status: 'draft', stepId: null }, v1, plan(2, [{ id: 'other', type: 'updateModel' }]))).toBeNull();
  });
});
