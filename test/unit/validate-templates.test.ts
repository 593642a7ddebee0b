/** The lint's template hook, pure: tags the workflow never mentions are warnings, known ones are not. */
import { describe, expect, it } from 'vitest';
import { validateDefinition } from '../../src/definition/validate.ts';

const def = (steps: unknown[]) => ({ name: 'wf', stages: [{ id: 's', name: 'S', steps }] });
const send = { id: 'send', type: 'sendTemplatedNotification', template: 'order', channel: 'email', userInfoField: 'requester' };
const tags: Record<string, string[]> = { order: ['customer.name', 'items', 'items.qty', 'requester'] };
const options = { templateExists: (n: string) => n in tags, templateTags: (n: string) => tags[n] };

describe('template fields in the lint', () => {
  it('warns once per step, naming each unknown root field', () => {
    const r = validateDefinition(def([send]), options);
    expect(r.valid).toBe(true);
    expect(r.warnings).toEqual([
      {
        path: '$.stages[0].steps[0].template',
        message: expect.stringMatching(/^template "order" reads model fields "customer", "items" that no step/),
      },
    ]);
  });

  it('is quiet when other steps set or read those fields, wherever they are', () => {
    const r = validateDefinition(
      def([
        { id: 'a', type: 'updateModelField', field: 'customer.name', value: 'x' },
        { id: 'b', type: 'ifCondition', field: 'items', operator: 'exists', then: [send] },
      ]),
      options,
    );
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('says nothing without the hook, or for a template it does not know', () => {
    expect(validateDefinition(def([send])).warnings).toEqual([]);
    expect(validateDefinition(def([{ ...send, template: 'other' }]), { templateTags: () => undefined }).warnings).toEqual([]);
  });
});
