// Validation messages in a designer's words, and JSON paths as stage and step names.
import { humanize } from './dom.js';
import { walkSteps } from './definition.js';

const TYPE_WORDS = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'yes or no',
  array: 'a list',
  object: 'a group of settings',
};

const RULES = [
  [/^Invalid input: expected \w+, received undefined$/i, () => 'Field is required'],
  [/^Required$/i, () => 'Field is required'],
  [/^Too small: expected string to have >=1 characters?$/i, () => 'Field is required'],
  [/^Invalid input: expected (\w+), received (\w+)$/i, (m) => `Must be ${TYPE_WORDS[m[1]] ?? m[1]} (found ${TYPE_WORDS[m[2]] ?? m[2]})`],
  [
    /^Too small: expected array to have >=(\d+) items?$/i,
    (m) => (m[1] === '1' ? 'Add at least one entry' : `Add at least ${m[1]} entries`),
  ],
  [/^Too small: expected number to be >=(\S+)$/i, (m) => `Must be at least ${m[1]}`],
  [/^Too big: expected number to be <=(\S+)$/i, (m) => `Must be at most ${m[1]}`],
  [/^Too big: expected string to have <=(\d+) characters?$/i, (m) => `Use at most ${m[1]} characters`],
  [/^Invalid option: expected one of (.+)$/i, (m) => `Choose one of ${m[1].replace(/\|/g, ', ')}`],
  [/^Unrecognized keys?: (.+)$/i, (m) => `${m[1]} is not a setting of this step`],
  [/^unknown key "(.+)"$/i, (m) => `“${m[1]}” is not a setting of this step`],
  [/^Invalid string: must match pattern .*$/i, () => 'Use letters, digits, _ and - only'],
  [/^Invalid input$/i, () => 'This value is not valid here'],
];

/** "Invalid input: expected string, received undefined" → "Field is required". */
export function plainMessage(message) {
  const text = String(message ?? '').trim();
  for (const [re, fn] of RULES) {
    const m = re.exec(text);
    if (m) return fn(m);
  }
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `$.stages[1].steps[0].then[0].field` → "Stage “Approval” › step “ask” › then › step “x” › Field". */
export function describePath(def, types, path) {
  if (!path || path === '$') return 'Workflow';
  const steps = walkSteps(def, types).sort((a, b) => b.path.length - a.path.length);
  const hit = steps.find((e) => path === e.path || path.startsWith(`${e.path}.`) || path.startsWith(`${e.path}[`));
  const parts = [];
  let rest;
  if (hit) {
    parts.push(`Stage “${hit.stage?.name || hit.stage?.id || hit.stageIndex + 1}”`);
    const chain = [];
    for (let e = hit; e; e = e.parent) chain.unshift(e);
    chain.forEach((e, i) => {
      if (i > 0 && e.slot) parts.push(e.slot.label);
      parts.push(`step “${e.step.name || e.step.id || '?'}”`);
    });
    rest = path.slice(hit.path.length);
  } else {
    const m = /^\$\.stages\[(\d+)\]/.exec(path);
    if (m) {
      const stage = def.stages?.[Number(m[1])];
      parts.push(`Stage “${stage?.name || stage?.id || Number(m[1]) + 1}”`);
      rest = path.slice(m[0].length);
    } else {
      parts.push('Workflow');
      rest = path.slice(1);
    }
  }
  const words = rest
    .replace(/^\./, '')
    .split(/[.[\]]+/)
    .filter(Boolean)
    .map((w) => (/^\d+$/.test(w) ? `#${Number(w) + 1}` : humanize(w)));
  return [...parts, ...words].join(' › ');
}

/** The field part of an issue on a card: "Field: Field is required", or the message alone. */
export function issueLine(issue) {
  const rel = (issue.rel ?? '').replace(/^\./, '');
  const field = rel
    ? rel
        .split(/[.[\]]+/)
        .filter(Boolean)
        .map((w) => (/^\d+$/.test(w) ? `#${Number(w) + 1}` : humanize(w)))
        .join(' › ')
    : '';
  return field ? `${field}: ${plainMessage(issue.message)}` : plainMessage(issue.message);
}
