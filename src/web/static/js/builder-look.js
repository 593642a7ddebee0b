// How a step looks on the canvas: an icon and colour per group, and a summary in words
// ("amount > 100", "notify mary by e-mail") instead of raw parameters.
import { summarize } from './definition.js';

export const GROUPS = ['Notifications', 'Integrations', 'Common', 'Conditions'];

const ICONS = {
  sendNotification: '✉',
  sendTemplatedNotification: '✉',
  getUserConfirmation: '✓',
  executeDataflow: '⇄',
  updateModel: '⇩',
  updateModelField: '✎',
  finish: '■',
  resetToDraft: '↺',
  ifCondition: '◇',
  switchCase: '≡',
};

export const iconOf = (type) => ICONS[type] ?? '•';
export const groupClass = (info) =>
  `group-${String(info?.group ?? 'other')
    .toLowerCase()
    .replace(/[^a-z]+/g, '-')}`;

const OPS = {
  equal: '=',
  notEqual: '≠',
  greater: '>',
  greaterOrEqual: '≥',
  less: '<',
  lessOrEqual: '≤',
  contains: 'contains',
  notContains: 'does not contain',
  exists: 'is set',
  notExists: 'is not set',
  in: 'is one of',
  notIn: 'is not one of',
};
const CHANNEL = { email: 'by e-mail', inbox: 'in the inbox', webhook: 'by webhook' };

const list = (v) => (Array.isArray(v) ? v.join(', ') : v);
const val = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

function who(step) {
  const bits = [];
  if (Array.isArray(step.users) && step.users.length) bits.push(list(step.users));
  if (step.userInfoField) bits.push(`the people in ${step.userInfoField}`);
  return bits.join(' and ');
}

/** One line in words; falls back to "key: value" for step types it does not know. */
export function describeStep(step, info) {
  switch (step.type) {
    case 'ifCondition': {
      if (!step.field) return 'condition not set';
      const op = OPS[step.operator] ?? step.operator ?? '?';
      return /is set|is not set/.test(op)
        ? `${step.field} ${op}`
        : `${step.field} ${op} ${step.value === undefined ? '?' : val(step.value)}`;
    }
    case 'switchCase': {
      const cases = Array.isArray(step.cases) ? step.cases.map((c) => val(c?.value)).join(' / ') : '';
      return `by ${step.sourceField ?? '?'}${cases ? `: ${cases}` : ''}`;
    }
    case 'updateModelField':
      return `set ${step.field ?? '?'} to ${step.value === undefined ? '?' : val(step.value)}`;
    case 'updateModel':
      return 'save the model as the entry';
    case 'finish':
      return step.outcome ? `end the run: ${step.outcome}` : 'end the run';
    case 'resetToDraft':
      return 'send the run back to draft';
    case 'sendNotification':
      return `notify ${who(step) || 'nobody'} ${CHANNEL[step.channel] ?? ''}`.trim();
    case 'sendTemplatedNotification':
      return `send template ${step.template ?? '?'} to ${who(step) || 'nobody'} ${CHANNEL[step.channel] ?? ''}`.trim();
    case 'getUserConfirmation': {
      const options = Array.isArray(step.options)
        ? step.options.join(' / ')
        : step.optionsField
          ? `options from ${step.optionsField}`
          : '?';
      const asked = who(step) || list(step.routing) || 'nobody';
      const where = who(step) ? (CHANNEL[step.channel ?? 'inbox'] ?? '') : CHANNEL[step.channel ?? 'inbox'];
      return `asks ${asked} ${where}: ${options}`;
    }
    case 'executeDataflow':
      return `run dataflow ${step.dataflow ?? '?'}${step.resultField ? ` → ${step.resultField}` : ''}`;
    default:
      return summarize(step, info);
  }
}
