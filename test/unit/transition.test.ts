import { describe, expect, it } from 'vitest';
import { compile } from '../../src/definition/compile.ts';
import { WorkflowDefinition } from '../../src/definition/schema.ts';
import { backoffDelay } from '../../src/engine/scheduler.ts';
import { decide, transitionLimitError } from '../../src/engine/transition.ts';
import '../../src/steps/registry.ts';

const plan = compile(
  WorkflowDefinition.parse({
    name: 'w',
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          {
            id: 'if1',
            type: 'ifCondition',
            field: 'x',
            operator: 'exists',
            then: [{ id: 't1', type: 'updateModelField', field: 'y', value: 1 }],
          },
          { id: 'last', type: 'updateModelField', field: 'z', value: 1 },
        ],
      },
    ],
  }),
  1,
);

describe('decide (pure routing)', () => {
  it('follows next, branches, and ends at the end of the workflow', () => {
    expect(decide(plan, plan.steps.if1!, { kind: 'branch', key: 'then' })).toEqual({ status: 'running', next: 't1' });
    expect(decide(plan, plan.steps.if1!, { kind: 'branch', key: 'else' })).toEqual({ status: 'running', next: 'last' });
    expect(decide(plan, plan.steps.t1!, { kind: 'next' })).toEqual({ status: 'running', next: 'last' });
    expect(decide(plan, plan.steps.last!, { kind: 'next' })).toEqual({ status: 'completed' });
  });

  it('maps finish, draft and wait outcomes to run statuses', () => {
    expect(decide(plan, plan.steps.t1!, { kind: 'finish', outcome: 'ok' })).toEqual({ status: 'completed', outcome: 'ok' });
    expect(decide(plan, plan.steps.t1!, { kind: 'draft' })).toEqual({ status: 'draft' });
    expect(decide(plan, plan.steps.t1!, { kind: 'wait', reason: 'confirmation' })).toEqual({ status: 'waiting' });
  });

  it('fails on a branch key the plan does not know', () => {
    const d = decide(plan, plan.steps.if1!, { kind: 'branch', key: 'case:9' });
    expect(d).toMatchObject({ status: 'failed', error: { code: 'UNKNOWN_BRANCH', stepId: 'if1' } });
  });

  it('stops a run at the transition limit', () => {
    expect(transitionLimitError('s', 9, 10)).toBeUndefined();
    expect(transitionLimitError('s', 10, 10)).toMatchObject({ code: 'TRANSITION_LIMIT', stepId: 's' });
  });
});

describe('backoffDelay', () => {
  it('fixed, exponential, capped, and jittered downwards only', () => {
    expect(backoffDelay({ type: 'fixed', delayMs: 200 }, 3)).toBe(200);
    expect([1, 2, 3, 4].map((n) => backoffDelay({ type: 'exponential', delayMs: 100 }, n))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay({ type: 'exponential', delayMs: 100, maxDelayMs: 250 }, 5)).toBe(250);
    expect(backoffDelay({ type: 'fixed', delayMs: 1000, jitter: 0.5 }, 1, () => 1)).toBe(500);
    expect(backoffDelay({ type: 'fixed', delayMs: 1000, jitter: 0.5 }, 1, () => 0)).toBe(1000);
  });
});
