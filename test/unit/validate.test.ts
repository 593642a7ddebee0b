import { describe, expect, it } from 'vitest';
import { validateDefinition, type Issue } from '../../src/definition/validate.ts';

type Json = Record<string, unknown>;

const set = (id: string, extra: Json = {}): Json => ({ id, type: 'updateModelField', field: 'x', value: 1, ...extra });
const fin = (id: string): Json => ({ id, type: 'finish' });
const iff = (id: string, extra: Json = {}): Json => ({ id, type: 'ifCondition', field: 'x', operator: 'exists', ...extra });
const stage = (id: string, steps: unknown[]): Json => ({ id, name: id, steps });
const wf = (stages: unknown[], extra: Json = {}): Json => ({ name: 'wf', stages, ...extra });
const ask = (id: string, extra: Json = {}): Json => ({
  id,
  type: 'getUserConfirmation',
  confirmationField: 'decision',
  options: ['approve', 'reject'],
  routing: ['role:manager'],
  timeoutMs: 60_000,
  ...extra,
});

const paths = (issues: Issue[]) => issues.map((i) => i.path);

function errorsOf(input: unknown): Issue[] {
  const result = validateDefinition(input);
  expect(result.valid).toBe(false);
  expect(result.definition).toBeUndefined();
  return result.errors;
}

/** The DESIGN §2 example. */
const designExample = (): Json => ({
  name: 'purchase-approval',
  title: 'Purchase approval',
  restrictAccess: true,
  access: { read: ['role:buyer', 'role:manager'], start: ['role:buyer'], confirm: ['role:manager'], operate: ['role:ops'] },
  defaults: { retry: { attempts: 3, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 60000 } }, timeoutMs: 30000 },
  stages: [
    stage('submit', [
      { id: 'mark', type: 'updateModelField', field: 'status', value: 'submitted' },
      {
        id: 'small',
        type: 'ifCondition',
        field: 'amount',
        operator: 'less',
        value: 100,
        then: [
          { id: 'auto', type: 'updateModelField', field: 'decision', value: 'approve' },
          { id: 'done-small', type: 'finish' },
        ],
      },
    ]),
    stage('approval', [
      {
        id: 'ask',
        type: 'getUserConfirmation',
        confirmationField: 'decision',
        options: ['approve', 'reject'],
        userInfoField: 'approvers',
        routing: ['role:manager'],
        timeoutMs: 172800000,
        onTimeout: { option: 'reject' },
      },
      {
        id: 'route',
        type: 'switchCase',
        sourceField: 'decision',
        cases: [
          { value: 'approve', steps: [{ id: 'save', type: 'updateModel' }] },
          { value: 'reject', steps: [{ id: 'back', type: 'resetToDraft' }] },
        ],
      },
    ]),
    stage('fulfil', [
      { id: 'order', type: 'executeDataflow', dataflow: 'create-order', resultField: 'order' },
      {
        id: 'tell',
        type: 'sendTemplatedNotification',
        template: 'order-placed',
        renderType: 'html',
        channel: 'email',
        userInfoField: 'requester',
      },
      { id: 'end', type: 'finish' },
    ]),
  ],
});

describe('validateDefinition: valid definitions', () => {
  it('accepts the DESIGN example, applies defaults and warns only about the switch without default', () => {
    const result = validateDefinition(designExample());
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      { path: '$.stages[1].steps[1]', message: 'no default branch: a value that matches no case fails the run' },
    ]);
    expect(result.definition?.stages[1]?.steps[0]).toMatchObject({ id: 'ask', policy: 'any' });
  });

  it('defaults restrictAccess to false', () => {
    const result = validateDefinition(wf([stage('s', [])]));
    expect(result.valid).toBe(true);
    expect(result.definition?.restrictAccess).toBe(false);
  });

  it('warns about dataflows and templates the lookups do not know, at the parameter path', () => {
    const result = validateDefinition(designExample(), { dataflowExists: () => false, templateExists: (n) => n === 'order-placed' });
    expect(result.valid).toBe(true);
    expect(result.warnings).toContainEqual({
      path: '$.stages[2].steps[0].dataflow',
      message: 'dataflow "create-order" is not registered yet; the step fails until it is',
    });
    expect(paths(result.warnings)).not.toContain('$.stages[2].steps[1].template');
  });
});

describe('validateDefinition: schema errors with JSON paths', () => {
  it('rejects non-objects and empty stage lists', () => {
    expect(paths(errorsOf('nope'))).toEqual(['$']);
    expect(errorsOf({ name: 'wf', stages: [] })).toEqual([{ path: '$.stages', message: 'a workflow needs at least one stage' }]);
  });

  it('requires URL-safe names and ids', () => {
    const errors = errorsOf(wf([stage('bad id', [set('a/b')])], { name: '-x' }));
    expect(paths(errors)).toEqual(['$.name', '$.stages[0].id', '$.stages[0].steps[0].id']);
    expect(errors[0]?.message).toMatch(/letters, digits/);
  });

  it('names an unknown step type and lists the known ones', () => {
    const errors = errorsOf(wf([stage('s', [iff('if', { then: [{ id: 'x', type: 'sendSms' }] })])]));
    expect(paths(errors)).toEqual(['$.stages[0].steps[0].then[0].type']);
    expect(errors[0]?.message).toMatch(/^unknown step type "sendSms"; known types: .*updateModelField/);
  });

  it('reports each unknown key at its own path', () => {
    const errors = errorsOf(wf([stage('s', [set('a', { vlaue: 2, extra: true })])]));
    expect(errors).toEqual([
      { path: '$.stages[0].steps[0].vlaue', message: 'unknown key "vlaue"' },
      { path: '$.stages[0].steps[0].extra', message: 'unknown key "extra"' },
    ]);
  });

  it('updateModelField needs exactly one of value or sourceField', () => {
    const both = errorsOf(wf([stage('s', [set('a', { sourceField: 'y' })])]));
    expect(both).toEqual([{ path: '$.stages[0].steps[0]', message: 'set exactly one of value or sourceField, not both' }]);
    const neither = errorsOf(wf([stage('s', [{ id: 'a', type: 'updateModelField', field: 'x' }])]));
    expect(neither).toEqual([{ path: '$.stages[0].steps[0]', message: 'set exactly one of value or sourceField' }]);
  });

  it('rejects __proto__, prototype and constructor in field paths, nested ones included', () => {
    const errors = errorsOf(
      wf([
        stage('s', [
          set('a', { field: '__proto__.polluted' }),
          iff('if', { field: 'a.prototype', then: [{ id: 'b', type: 'updateModelField', field: 'x', sourceField: 'constructor' }] }),
          { id: 'n', type: 'sendNotification', channel: 'inbox', users: ['u1'], message: 'hi {{ __proto__.x }}' },
        ]),
      ]),
    );
    expect(paths(errors)).toEqual([
      '$.stages[0].steps[0].field',
      '$.stages[0].steps[1].field',
      '$.stages[0].steps[1].then[0].sourceField',
      '$.stages[0].steps[2].message',
    ]);
  });

  it('getUserConfirmation needs options or optionsField, and onTimeout must pick one of them', () => {
    const missing = errorsOf(wf([stage('s', [ask('a', { options: undefined })])]));
    expect(missing).toEqual([{ path: '$.stages[0].steps[0]', message: 'one of options or optionsField is required' }]);
    const badTimeout = errorsOf(wf([stage('s', [ask('a', { onTimeout: { option: 'maybe' } })])]));
    expect(paths(badTimeout)).toEqual(['$.stages[0].steps[0].onTimeout.option']);
  });

  it('ifCondition checks value against the operator and compareWithNull', () => {
    const errors = errorsOf(
      wf([
        stage('s', [
          iff('a', { operator: 'in', value: 'x' }),
          iff('b', { operator: 'equal' }),
          iff('c', { operator: 'greater', compareWithNull: true }),
          iff('d', { operator: 'equal', compareWithNull: true, value: 1 }),
        ]),
      ]),
    );
    expect(paths(errors)).toEqual([
      '$.stages[0].steps[0].value',
      '$.stages[0].steps[1].value',
      '$.stages[0].steps[2].operator',
      '$.stages[0].steps[3].value',
    ]);
  });

  it('switchCase needs at least one case', () => {
    const errors = errorsOf(wf([stage('s', [{ id: 'sw', type: 'switchCase', sourceField: 'x', cases: [] }])]));
    expect(errors).toEqual([{ path: '$.stages[0].steps[0].cases', message: 'a switch needs at least one case' }]);
  });
});

describe('validateDefinition: workflow rules', () => {
  it('ids are unique: stages among stages, steps across all steps including nested ones', () => {
    const errors = errorsOf(
      wf([
        stage('s', [set('a'), iff('if', { else: [set('a')] })]),
        stage('s', [{ id: 'sw', type: 'switchCase', sourceField: 'x', cases: [{ value: 1, steps: [set('if')] }] }]),
      ]),
    );
    expect(errors).toEqual([
      { path: '$.stages[1].id', message: 'duplicate stage id "s" (first used at $.stages[0])' },
      { path: '$.stages[0].steps[1].else[0].id', message: 'duplicate step id "a" (first used at $.stages[0].steps[0])' },
      { path: '$.stages[1].steps[0].cases[0].steps[0].id', message: 'duplicate step id "if" (first used at $.stages[0].steps[1])' },
    ]);
  });

  it('a stage may share its id with a step', () => {
    expect(validateDefinition(wf([stage('a', [set('a')])])).valid).toBe(true);
  });

  it('gotos must name existing stages', () => {
    const errors = errorsOf(
      wf([
        stage('s1', [iff('if', { thenGoto: 's2', elseGoto: 'nowhere' })]),
        stage('s2', [
          {
            id: 'sw',
            type: 'switchCase',
            sourceField: 'x',
            cases: [{ value: 1, steps: [], goto: 'gone' }],
            default: { steps: [], goto: 'missing' },
          },
        ]),
      ]),
    );
    expect(errors).toEqual([
      { path: '$.stages[0].steps[0].elseGoto', message: 'goto names no stage: "nowhere" (stages: s1, s2)' },
      { path: '$.stages[1].steps[0].cases[0].goto', message: 'goto names no stage: "gone" (stages: s1, s2)' },
      { path: '$.stages[1].steps[0].default.goto', message: 'goto names no stage: "missing" (stages: s1, s2)' },
    ]);
  });

  it('steps after a switch in the same list are an error, in stages and in branches', () => {
    const sw = { id: 'sw', type: 'switchCase', sourceField: 'x', cases: [{ value: 1, steps: [] }], default: { steps: [] } };
    const errors = errorsOf(
      wf([stage('s1', [sw, set('after1'), set('after2')]), stage('s2', [iff('if', { then: [{ ...sw, id: 'sw2' }, set('after3')] })])]),
    );
    expect(paths(errors)).toEqual(['$.stages[0].steps[1]', '$.stages[1].steps[0].then[1]']);
    expect(errors[0]?.message).toMatch(/steps after the switchCase "sw" can never run/);
  });

  it('a workflow whose every path loops forever is an error', () => {
    const errors = errorsOf(
      wf([stage('a', [iff('x', { thenGoto: 'b', elseGoto: 'b' })]), stage('b', [iff('y', { thenGoto: 'a', elseGoto: 'a' })])]),
    );
    expect(errors).toEqual([expect.objectContaining({ path: '$.stages', message: expect.stringMatching(/every path loops forever/) })]);
  });

  it('a loop with an exit is fine; a trap reachable beside it is a warning where control enters it', () => {
    const exit = validateDefinition(wf([stage('a', [set('s'), iff('x', { elseGoto: 'a' })]), stage('b', [set('z')])]));
    expect(exit.valid).toBe(true);
    expect(exit.warnings).toEqual([]);
    const trap = validateDefinition(
      wf([stage('a', [iff('x', { thenGoto: 'trap' }), fin('f')]), stage('trap', [iff('y', { thenGoto: 'trap', elseGoto: 'trap' })])]),
    );
    expect(trap.valid).toBe(true);
    expect(trap.warnings).toEqual([{ path: '$.stages[1].steps[0]', message: 'every path from step "y" loops forever (check the gotos)' }]);
  });

  it('reports every problem at once', () => {
    const result = validateDefinition(
      wf([
        stage('s1', [set('a', { field: 'constructor' }), set('a'), iff('if', { thenGoto: 'zzz' })]),
        stage('s2', [{ id: 'q', type: 'mystery' }, ask('ask', { routing: [] })]),
      ]),
    );
    expect(result.valid).toBe(false);
    expect(paths(result.errors).sort()).toEqual(
      [
        '$.stages[0].steps[0].field',
        '$.stages[0].steps[1].id',
        '$.stages[0].steps[2].thenGoto',
        '$.stages[1].steps[0].type',
        '$.stages[1].steps[1].routing',
      ].sort(),
    );
  });
});

describe('validateDefinition: warnings', () => {
  it('warns once per list about unreachable steps, not about their nested steps', () => {
    const result = validateDefinition(
      wf([stage('s1', [set('a'), fin('f'), set('dead1'), iff('dead2', { then: [set('dead3')] })]), stage('s2', [set('dead4')])]),
    );
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      { path: '$.stages[0].steps[2]', message: 'step "dead1" can never run (nor the 1 step after it)' },
      { path: '$.stages[1].steps[0]', message: 'step "dead4" can never run' },
    ]);
  });

  it('warns when both branches of an if leave the stage', () => {
    const result = validateDefinition(
      wf([stage('s1', [iff('if', { thenGoto: 's2', elseGoto: 's2' }), set('skipped')]), stage('s2', [set('b')])]),
    );
    expect(result.warnings).toEqual([{ path: '$.stages[0].steps[1]', message: 'step "skipped" can never run' }]);
  });

  it('warns about a confirmation without timeout and a switch without default', () => {
    const result = validateDefinition(
      wf([
        stage('s1', [
          ask('ask', { timeoutMs: undefined }),
          { id: 'sw', type: 'switchCase', sourceField: 'decision', cases: [{ value: 'approve', steps: [] }] },
        ]),
      ]),
    );
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      { path: '$.stages[0].steps[0]', message: 'no timeoutMs: the run can wait for an answer forever' },
      { path: '$.stages[0].steps[1]', message: 'no default branch: a value that matches no case fails the run' },
    ]);
  });

  it('warns about access lists that cannot take effect', () => {
    expect(validateDefinition(wf([stage('s', [])], { restrictAccess: true })).warnings).toEqual([
      { path: '$.access', message: 'restrictAccess is true but access names nobody: only admins can use this workflow' },
    ]);
    expect(paths(validateDefinition(wf([stage('s', [])], { access: { read: ['role:x'] } })).warnings)).toEqual(['$.access']);
  });
});
