import { describe, expect, it } from 'vitest';
import { compile } from '../../src/definition/compile.ts';
import { WorkflowDefinition } from '../../src/definition/schema.ts';
import { simulate, type SimulationOptions } from '../../src/engine/simulate.ts';
import { createLogger } from '../../src/observability/logger.ts';
import '../../src/steps/registry.ts';

const plan = compile(
  WorkflowDefinition.parse({
    name: 'sim',
    stages: [
      {
        id: 'intake',
        name: 'Intake',
        steps: [
          { id: 'price', type: 'executeDataflow', dataflow: 'pricing', input: 'order', resultField: 'quote' },
          { id: 'tell', type: 'sendNotification', channel: 'inbox', users: ['ann'], message: 'Order {{order.id}} quoted' },
        ],
      },
      {
        id: 'review',
        name: 'Review',
        steps: [
          {
            id: 'ask',
            type: 'getUserConfirmation',
            confirmationField: 'decision',
            options: ['approve', 'reject'],
            routing: ['role:manager'],
          },
          {
            id: 'route',
            type: 'switchCase',
            sourceField: 'decision',
            cases: [
              { value: 'approve', steps: [{ id: 'save', type: 'updateModel' }] },
              { value: 'reject', steps: [{ id: 'stop', type: 'finish', outcome: 'rejected' }] },
            ],
          },
        ],
      },
    ],
  }),
  1,
);

const loop = compile(
  WorkflowDefinition.parse({
    name: 'loop',
    stages: [
      { id: 'a', name: 'A', steps: [{ id: 'again', type: 'ifCondition', field: 'x', operator: 'exists', then: [], thenGoto: 'a' }] },
    ],
  }),
  1,
);

const base = (over: Partial<SimulationOptions> = {}): SimulationOptions => ({
  model: { order: { id: 7 } },
  maxTransitions: 100,
  directory: { resolve: (refs) => refs.map((id) => ({ id })), matches: () => true, rolesOf: () => [] },
  templates: {
    render: async () => {
      throw new Error('no templates here');
    },
    prepare: async () => {
      throw new Error('no templates here');
    },
  },
  publicUrl: (p) => `http://x${p}`,
  log: createLogger({ level: 'silent' }),
  ...over,
});

describe('simulate (pure)', () => {
  it('runs real handlers with recording services: stubs decide dataflow results and options', async () => {
    const r = await simulate(plan, base({ stubs: { price: { total: 12 }, ask: 'approve' } }));
    expect(r.status).toBe('completed');
    expect(r.path.map((p) => p.stepId)).toEqual(['price', 'tell', 'ask', 'route', 'save']);
    expect(r.path[0]).toMatchObject({ stageId: 'intake', type: 'executeDataflow', modelAfter: { order: { id: 7 }, quote: { total: 12 } } });
    expect(r.model).toEqual({ order: { id: 7 }, quote: { total: 12 }, decision: 'approve' });
    expect(r.effects.map((e) => [e.stepId, e.kind])).toEqual([
      ['price', 'dataflow'],
      ['tell', 'notification'],
      ['ask', 'confirmation'],
      ['save', 'entrySave'],
    ]);
    expect(r.effects[0]!.detail).toMatchObject({ dataflow: 'pricing', input: { id: 7 }, stubbed: true });
    expect(r.effects[1]!.detail).toMatchObject({ channel: 'inbox', recipients: ['ann'], body: 'Order 7 quoted' });
    expect(r.notes).toEqual([]);
  });

  it('defaults: the first option, a null result, each noted; the other branch ends with its outcome', async () => {
    const r = await simulate(plan, base({ stubs: { ask: 'reject' } }));
    expect(r).toMatchObject({ status: 'completed', outcome: 'rejected', model: { quote: null, decision: 'reject' } });
    expect(r.notes.join(' ')).toMatch(/no stub for dataflow pricing; quote set to null/);
    const d = await simulate(plan, base());
    expect(d.model.decision).toBe('approve');
    expect(d.notes.join(' ')).toMatch(/first option "approve"/);
  });

  it('a stub that is not an option fails the simulation naming the step', async () => {
    const r = await simulate(plan, base({ stubs: { ask: 'maybe' } }));
    expect(r).toMatchObject({ status: 'failed', error: { code: 'BAD_STUB', stepId: 'ask' } });
  });

  it('a loop stops at the transition bound', async () => {
    const r = await simulate(loop, base({ model: { x: 1 }, maxTransitions: 25 }));
    expect(r).toMatchObject({ status: 'failed', error: { code: 'TRANSITION_LIMIT' } });
    expect(r.path).toHaveLength(25);
  });
});
