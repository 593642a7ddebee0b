import { describe, expect, it } from 'vitest';
import { describeStepTypes } from '../../src/api/routes/step-types.ts';
import { stepTypeNames } from '../../src/steps/registry.ts';

const types = describeStepTypes();
const byType = new Map(types.map((t) => [t.type, t]));

describe('GET /api/step-types (describeStepTypes)', () => {
  it('describes every registered step type with its toolbox group', () => {
    expect(types.map((t) => t.type).sort()).toEqual([...stepTypeNames].sort());
    for (const t of types) {
      expect(['Notifications', 'Integrations', 'Common', 'Conditions']).toContain(t.group);
      expect(t.description.length).toBeGreaterThan(0);
      expect(t.schema.type).toBe('object');
      // self-contained: no $ref/$defs left for a client to resolve
      expect(JSON.stringify(t)).not.toMatch(/\$ref|\$defs/);
    }
  });

  it('marks branch step lists instead of expanding them, and any-JSON values', () => {
    const ifProps = byType.get('ifCondition')!.schema.properties as Record<string, any>;
    expect(ifProps.then).toEqual({ type: 'array', 'x-steps': true });
    expect(ifProps.else).toEqual({ type: 'array', 'x-steps': true });
    expect(ifProps.value).toEqual({ 'x-any-json': true });
    const sw = byType.get('switchCase')!.schema.properties as Record<string, any>;
    expect(sw.cases.items.properties.steps).toEqual({ type: 'array', 'x-steps': true });
    expect(sw.default.properties.steps).toEqual({ type: 'array', 'x-steps': true });
    expect((byType.get('updateModelField')!.schema.properties as any).value).toEqual({ 'x-any-json': true });
  });

  it('gives the common fields a type does not redefine', () => {
    const common = (t: string) => Object.keys(byType.get(t)!.common.properties as object).sort();
    expect(common('updateModel')).toEqual(['id', 'name', 'retry', 'timeoutMs']);
    // getUserConfirmation's own timeoutMs (how long to wait for answers) replaces the common one
    expect(common('getUserConfirmation')).toEqual(['id', 'name', 'retry']);
    expect(byType.get('getUserConfirmation')!.schema.required).toEqual(['confirmationField', 'routing']);
    expect((byType.get('getUserConfirmation')!.schema.properties as any).policy.default).toBe('any');
  });
});
