/**
 * The pages' pure helpers (plain ES modules, no DOM needed): designer wording for validation
 * messages and paths, step summaries, run ids, answer intents, history sentences, undo history.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS modules of the web pages
import { describePath, issueLine, plainMessage } from '../../src/web/static/js/builder-messages.js';
// @ts-expect-error plain JS modules of the web pages
import { describeStep } from '../../src/web/static/js/builder-look.js';
// @ts-expect-error plain JS modules of the web pages
import { History } from '../../src/web/static/js/builder-history.js';
// @ts-expect-error plain JS modules of the web pages
import { describeEvent, optionClass, relativeTime, shortId } from '../../src/web/static/js/words.js';
import { describeStepTypes } from '../../src/api/routes/step-types.ts';

const types = new Map((describeStepTypes() as { type: string }[]).map((t) => [t.type, t]));

describe('plain messages', () => {
  it.each([
    ['Invalid input: expected string, received undefined', 'Field is required'],
    ['Invalid input: expected number, received string', 'Must be a number (found text)'],
    ['Too small: expected array to have >=1 items', 'Add at least one entry'],
    ['Invalid option: expected one of "text"|"html"', 'Choose one of "text", "html"'],
    ['unknown key "to"', '“to” is not a setting of this step'],
    ['duplicate step id "x"', 'Duplicate step id "x"'],
  ])('%s → %s', (raw, plain) => {
    expect(plainMessage(raw)).toBe(plain);
  });

  it('names paths by stage and step, not by index', () => {
    const def = {
      stages: [
        { id: 's1', name: 'Intake', steps: [] },
        {
          id: 's2',
          name: 'Approval',
          steps: [
            {
              id: 'check',
              type: 'ifCondition',
              field: 'a',
              operator: 'equal',
              value: 1,
              then: [{ id: 'inner', type: 'updateModelField', field: 'b', value: 1 }],
            },
          ],
        },
      ],
    };
    expect(describePath(def, types, '$.stages[1].steps[0].then[0].field')).toBe(
      'Stage “Approval” › step “check” › then › step “inner” › Field',
    );
    expect(describePath(def, types, '$.stages[0].name')).toBe('Stage “Intake” › Name');
    expect(describePath(def, types, '$.name')).toBe('Workflow › Name');
    expect(issueLine({ rel: '.routing[1]', message: 'Invalid input: expected string, received undefined' })).toBe(
      'Routing › #2: Field is required',
    );
  });
});

describe('step summaries', () => {
  it('reads like a sentence', () => {
    expect(describeStep({ type: 'ifCondition', field: 'amount', operator: 'greater', value: 100 }, types.get('ifCondition'))).toBe(
      'amount > 100',
    );
    expect(describeStep({ type: 'sendNotification', channel: 'email', users: ['mary'] })).toBe('notify mary by e-mail');
    expect(describeStep({ type: 'getUserConfirmation', options: ['yes', 'no'], routing: ['role:manager'] })).toBe(
      'asks role:manager in the inbox: yes / no',
    );
    expect(describeStep({ type: 'getUserConfirmation', options: ['yes'], routing: ['role:x'], users: ['ann'], channel: 'email' })).toBe(
      'asks ann by e-mail: yes',
    );
  });
});

describe('run words', () => {
  it('shortens ids and keeps the distinguishing end', () => {
    expect(shortId('01a23446-c0fd-77c9-af0c-d0aac07fa0ab')).toBe('01a234…7fa0ab');
    expect(shortId('short')).toBe('short');
  });

  it('styles options by intent', () => {
    expect(['approve', 'reject', 'later'].map(optionClass)).toEqual(['primary', 'danger', '']);
    expect(optionClass('Decline', 0)).toBe('danger');
  });

  it('tells relative times and events in words', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime('2026-01-01T11:58:00Z', now)).toBe('2 minutes ago');
    expect(relativeTime('2026-01-01T11:59:58Z', now)).toBe('just now');
    expect(describeEvent({ type: 'confirmation.answered', by: 'bob', detail: { option: 'approve', comment: 'ok' } })).toBe(
      'Answered “approve” by bob: ok',
    );
    expect(describeEvent({ type: 'step.retrying', stepId: 's', attempt: 2, detail: { error: { message: 'boom' } } })).toBe(
      'Step “s” failed (attempt 2), will retry: boom',
    );
  });
});

describe('undo history', () => {
  it('undoes and redoes, groups typing, and drops redo on a new edit', () => {
    const hist = new History('a');
    hist.record('b');
    hist.record('c', { group: true });
    hist.record('cd', { group: true });
    expect(hist.undo()).toBe('b');
    expect(hist.undo()).toBe('a');
    expect(hist.undo()).toBeNull();
    expect(hist.redo()).toBe('b');
    hist.record('x');
    expect(hist.canRedo()).toBe(false);
    expect(hist.undo()).toBe('b');
  });
});
