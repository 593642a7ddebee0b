/**
 * Comparison operators of ifCondition. `compare` never throws: a definition author cannot know the
 * runtime shape of the model, so comparing mismatched types yields false instead of failing the run.
 */

export const OPERATORS = ['equal', 'notEqual', 'greater', 'less', 'greaterOrEqual', 'lessOrEqual', 'in', 'contains', 'exists'] as const;

export type Operator = (typeof OPERATORS)[number];

export const ORDERING_OPERATORS: ReadonlySet<string> = new Set(['greater', 'less', 'greaterOrEqual', 'lessOrEqual']);

/** Deeper than any sane model; stops a cyclic (non-JSON) value from overflowing the stack. */
const MAX_DEPTH = 256;

/** Structural equality of JSON values. A number never equals a numeric string. */
export function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > MAX_DEPTH) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i], depth + 1));
  }
  if (Object.getPrototypeOf(a) !== Object.prototype && Object.getPrototypeOf(a) !== null) return false;
  if (Object.getPrototypeOf(b) !== Object.prototype && Object.getPrototypeOf(b) !== null) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && deepEqual(left[key], right[key], depth + 1));
}

// Date, or date-time with optional seconds, fraction and offset. A date-time without an offset is
// read as UTC (not local time) so a comparison never depends on the server's time zone.
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** An instant as [epoch milliseconds, nanoseconds within the millisecond], or undefined. */
export function parseIsoDate(text: string): [number, number] | undefined {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (day > daysInMonth(year, month)) return undefined;
  const fraction = (m[7] ?? '').padEnd(9, '0');
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [oh, om] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const utc = new Date(0);
  // setUTCFullYear keeps years 0-99 literal (Date.UTC would map them to 1900-1999).
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3)));
  return [utc.getTime() - offsetMinutes * 60_000, Number(fraction.slice(3))];
}

/**
 * Orders two values: -1/0/1, or undefined when they are not comparable.
 * Numbers compare numerically; two ISO-8601 dates compare as instants; two other strings compare
 * by UTF-16 code units (deterministic, unlike localeCompare); a date against a non-date string, and
 * every other pairing (null, booleans, objects, mixed types), is not comparable.
 */
export function order(left: unknown, right: unknown): -1 | 0 | 1 | undefined {
  if (typeof left === 'number' && typeof right === 'number') {
    if (Number.isNaN(left) || Number.isNaN(right)) return undefined;
    return left < right ? -1 : left > right ? 1 : 0;
  }
  if (typeof left !== 'string' || typeof right !== 'string') return undefined;
  const leftDate = parseIsoDate(left);
  const rightDate = parseIsoDate(right);
  if (leftDate && rightDate) {
    const diff = leftDate[0] - rightDate[0] || leftDate[1] - rightDate[1];
    return diff < 0 ? -1 : diff > 0 ? 1 : 0;
  }
  if (leftDate || rightDate) return undefined;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function compare(operator: Operator, left: unknown, right: unknown): boolean {
  try {
    switch (operator) {
      case 'equal':
        return deepEqual(left, right);
      case 'notEqual':
        return !deepEqual(left, right);
      case 'greater':
        return order(left, right) === 1;
      case 'less':
        return order(left, right) === -1;
      case 'greaterOrEqual': {
        const o = order(left, right);
        return o === 1 || o === 0;
      }
      case 'lessOrEqual': {
        const o = order(left, right);
        return o === -1 || o === 0;
      }
      case 'in':
        return Array.isArray(right) && right.some((item) => deepEqual(left, item));
      case 'contains':
        if (typeof left === 'string') return typeof right === 'string' && left.includes(right);
        return Array.isArray(left) && left.some((item) => deepEqual(item, right));
      case 'exists':
        return left !== undefined && left !== null;
      default:
        return false;
    }
  } catch {
    // Exotic inputs (proxies, getters that throw) must not fail a run either.
    return false;
  }
}
