import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_RETRY, reachableSteps } from '../../src/definition/compile.ts';
import type { Plan } from '../../src/definition/plan.ts';
import { WorkflowDefinition } from '../../src/definition/schema.ts';

type Json = Record<string, unknown>;

const set = (id: string): Json => ({ id, type: 'updateModelField', field: 'x', value: 1 });
const fin = (id: string): Json => ({ id, type: 'finish' });
const draft = (id: string): Json => ({ id, type: 'resetToDraft' });
const iff = (id: string, branches: Json = {}): Json => ({ id, type: 'ifCondition', field: 'x', operator: 'exists', ...branches });
const sw = (id: string, cases: Json[], dflt?: Json): Json => ({
  id,
  type: 'switchCase',
  sourceField: 'x',
  cases,
  ...(dflt ? { default: dflt } : {}),
});
const stage = (id: string, steps: Json[]): Json => ({ id, name: id, steps });

function plan(stages: Json[], extra: Json = {}): Plan {
  return compile(WorkflowDefinition.parse({ name: 'wf', stages, ...extra }), 7);
}

/** id → [next, branches] for compact assertions; pass ids to compare only those steps (exactly). */
function allRoutes(p: Plan): Record<string, [string | null, Record<string, string | null>]> {
  return Object.fromEntries(Object.values(p.steps).map((s) => [s.id, [s.next, { ...s.branches }]]));
}

function expectRoutes(p: Plan, expected: Record<string, [string | null, Record<string, string | null>]>): void {
  const actual = allRoutes(p);
  expect(Object.fromEntries(Object.keys(expected).map((id) => [id, actual[id]]))).toEqual(expected);
}

describe('compile: linear flow and stages', () => {
  it('chains steps top to bottom, then left to right, and ends with null', () => {
    const p = plan([stage('s1', [set('a'), set('b')]), stage('s2', [set('c')])]);
    expect(p.start).toBe('a');
    expect(p.workflow).toBe('wf');
    expect(p.version).toBe(7);
    expectRoutes(p, { a: ['b', {}], b: ['c', {}], c: [null, {}] });
    expect(Object.keys(p.steps)).toEqual(['a', 'b', 'c']);
    expect(p.stages).toEqual([
      { id: 's1', name: 's1', index: 0, entry: 'a' },
      { id: 's2', name: 's2', index: 1, entry: 'c' },
    ]);
    expect(p.steps.c).toMatchObject({ stageId: 's2', stageIndex: 1, name: 'c', type: 'updateModelField' });
    expect(p.steps.a?.def).toEqual({ id: 'a', type: 'updateModelField', field: 'x', value: 1 });
  });

  it('skips empty stages at the start, in the middle and at the end', () => {
    const p = plan([stage('e1', []), stage('s1', [set('a')]), stage('e2', []), stage('s2', [set('b')]), stage('e3', [])]);
    expect(p.start).toBe('a');
    expectRoutes(p, { a: ['b', {}], b: [null, {}] });
    expect(Object.keys(p.steps)).toEqual(['a', 'b']);
    expect(p.stages.map((s) => s.entry)).toEqual(['a', 'a', 'b', 'b', null]);
  });

  it('gives a workflow of empty stages a null start', () => {
    const p = plan([stage('e1', []), stage('e2', [])]);
    expect(p.start).toBeNull();
    expect(p.stages.map((s) => s.entry)).toEqual([null, null]);
    expect(Object.keys(p.steps)).toEqual([]);
  });

  it('uses the step name when given, else the id', () => {
    const p = plan([stage('s1', [{ ...set('a'), name: 'Set A' }, set('b')])]);
    expect(p.steps.a?.name).toBe('Set A');
    expect(p.steps.b?.name).toBe('b');
  });
});

describe('compile: ifCondition', () => {
  it('then only: then enters the branch, else goes to the next step; the branch rejoins', () => {
    const p = plan([stage('s1', [set('a'), iff('if', { then: [set('t1'), set('t2')] }), set('b')]), stage('s2', [set('c')])]);
    expectRoutes(p, {
      if: ['b', { then: 't1', else: 'b' }],
      t1: ['t2', {}],
      t2: ['b', {}],
      b: ['c', {}],
    });
  });

  it('else only: then goes straight to the next step', () => {
    const p = plan([stage('s1', [iff('if', { else: [set('e1')] }), set('b')])]);
    expectRoutes(p, { if: ['b', { then: 'b', else: 'e1' }], e1: ['b', {}] });
  });

  it('both branches rejoin after the if', () => {
    const p = plan([stage('s1', [iff('if', { then: [set('t')], else: [set('e')] }), set('b')])]);
    expectRoutes(p, { if: ['b', { then: 't', else: 'e' }], t: ['b', {}], e: ['b', {}] });
  });

  it('an if that ends a stage rejoins at the next stage entry (skipping empty stages)', () => {
    const p = plan([stage('s1', [set('a'), iff('if', { then: [set('t')] })]), stage('e', []), stage('s2', [set('c')])]);
    expectRoutes(p, { if: ['c', { then: 't', else: 'c' }], t: ['c', {}] });
  });

  it('an if that ends the workflow rejoins at the end (null)', () => {
    const p = plan([stage('s1', [iff('if', { then: [set('t')] })])]);
    expectRoutes(p, { if: [null, { then: 't', else: null }], t: [null, {}] });
  });

  it('nested if inside a branch rejoins inside that branch, which rejoins the outer line', () => {
    const p = plan([
      stage('s1', [iff('outer', { then: [iff('inner', { then: [set('x')] }), set('y')] }), set('b')]),
      stage('s2', [set('c')]),
    ]);
    expectRoutes(p, {
      outer: ['b', { then: 'inner', else: 'b' }],
      inner: ['y', { then: 'x', else: 'y' }],
      x: ['y', {}],
      y: ['b', {}],
    });
    expect(p.steps.x).toMatchObject({ stageId: 's1', stageIndex: 0 });
  });

  it('thenGoto / elseGoto continue at the named stage after the branch', () => {
    const p = plan([
      stage('s1', [set('a'), iff('if', { then: [set('t')], thenGoto: 's3', elseGoto: 'e' }), set('b')]),
      stage('s2', [set('c')]),
      stage('e', []),
      stage('s3', [set('d')]),
    ]);
    // An empty else branch with a goto targets the stage entry directly; an empty stage resolves onward.
    expectRoutes(p, { if: ['b', { then: 't', else: 'd' }], t: ['d', {}] });
  });

  it('a goto may point back to an earlier stage (a loop)', () => {
    const p = plan([stage('s1', [set('a'), iff('if', { elseGoto: 's1' })]), stage('s2', [set('c')])]);
    expectRoutes(p, { if: ['c', { then: 'c', else: 'a' }] });
  });
});

describe('compile: switchCase', () => {
  const cases = [
    { value: 'x', steps: [set('c0')] },
    { value: 'y', steps: [] },
  ];

  it('cases and default continue with the next stage; an empty case targets it directly', () => {
    const p = plan([stage('s1', [set('a'), sw('sw', cases, { steps: [set('d0')] })]), stage('s2', [set('b')])]);
    expectRoutes(p, {
      sw: ['b', { 'case:0': 'c0', 'case:1': 'b', default: 'd0' }],
      c0: ['b', {}],
      d0: ['b', {}],
    });
  });

  it('without a default there is no default branch', () => {
    const p = plan([stage('s1', [sw('sw', cases)]), stage('s2', [set('b')])]);
    expect(Object.keys(p.steps.sw?.branches ?? {})).toEqual(['case:0', 'case:1']);
  });

  it('in the last stage the branches end the workflow', () => {
    const p = plan([stage('s1', [sw('sw', cases)])]);
    expectRoutes(p, { sw: [null, { 'case:0': 'c0', 'case:1': null }], c0: [null, {}] });
  });

  it('goto from a case (and from the default) continues at that stage', () => {
    const p = plan([
      stage('s1', [set('a')]),
      stage('s2', [
        sw(
          'sw',
          [
            { value: 1, steps: [set('g')], goto: 's1' },
            { value: 2, steps: [], goto: 's1' },
          ],
          { steps: [], goto: 's3' },
        ),
      ]),
      stage('s3', [set('c')]),
    ]);
    expectRoutes(p, { sw: ['c', { 'case:0': 'g', 'case:1': 'a', default: 'c' }], g: ['a', {}] });
  });

  it('a switch nested in an if branch continues with the next stage, not after the if', () => {
    const p = plan([
      stage('s1', [iff('if', { then: [sw('sw', [{ value: true, steps: [set('c')] }])] }), set('b')]),
      stage('s2', [set('d')]),
    ]);
    expectRoutes(p, { if: ['b', { then: 'sw', else: 'b' }], sw: ['b', { 'case:0': 'c' }], c: ['d', {}] });
  });
});

describe('compile: terminal steps', () => {
  it('finish inside a branch ends there; the other branch rejoins', () => {
    const p = plan([stage('s1', [iff('if', { then: [set('t'), fin('done')] }), set('b')])]);
    expectRoutes(p, { if: ['b', { then: 't', else: 'b' }], t: ['done', {}], done: [null, {}] });
  });

  it('finish and resetToDraft have next = null even with steps after them', () => {
    const p = plan([stage('s1', [draft('back'), set('z')]), stage('s2', [fin('f'), set('y')])]);
    expect(p.steps.back?.next).toBeNull();
    expect(p.steps.f?.next).toBeNull();
    expect(p.steps.z?.next).toBe('f');
  });
});

describe('compile: retry and timeout', () => {
  const own = { attempts: 9, backoff: { type: 'fixed' as const, delayMs: 5 } };
  const wfDefault = { attempts: 2, backoff: { type: 'exponential' as const, delayMs: 10, maxDelayMs: 100 } };

  it('step retry wins over the workflow default, which wins over the engine default', () => {
    const withDefaults = plan([stage('s1', [{ ...set('a'), retry: own }, set('b')])], { defaults: { retry: wfDefault } });
    expect(withDefaults.steps.a?.retry).toEqual(own);
    expect(withDefaults.steps.b?.retry).toEqual(wfDefault);
    const bare = plan([stage('s1', [set('c')])]);
    expect(bare.steps.c?.retry).toEqual(DEFAULT_RETRY);
    expect(DEFAULT_RETRY).toEqual({ attempts: 3, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 60000 } });
  });

  it('step timeout wins over the default; none at all leaves it unset', () => {
    const p = plan([stage('s1', [{ ...set('a'), timeoutMs: 5 }, set('b')])], { defaults: { timeoutMs: 50 } });
    expect(p.steps.a?.timeoutMs).toBe(5);
    expect(p.steps.b?.timeoutMs).toBe(50);
    expect(plan([stage('s1', [set('c')])]).steps.c).not.toHaveProperty('timeoutMs');
  });
});

describe('reachableSteps', () => {
  it('follows next and branches, not past terminal steps nor a branching step’s own next', () => {
    const p = plan([
      stage('s1', [iff('if', { thenGoto: 's2', elseGoto: 's3' }), set('dead')]),
      stage('s2', [set('a'), fin('f'), set('dead2')]),
      stage('s3', [set('b')]),
    ]);
    expect([...reachableSteps(p)].sort()).toEqual(['a', 'b', 'f', 'if']);
  });

  it('is empty for a workflow without steps', () => {
    expect(reachableSteps(plan([stage('s1', [])])).size).toBe(0);
  });
});
