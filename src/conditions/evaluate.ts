/** The condition of an ifCondition step, evaluated against the value found at its field. */
import { compare, type Operator } from './operators.ts';

export interface Condition {
  operator: Operator;
  value?: unknown;
  /** Compare against null instead of `value`: equal means "is null or missing", notEqual the opposite. */
  compareWithNull?: boolean;
}

export function evaluateCondition(condition: Condition, left: unknown): boolean {
  if (condition.compareWithNull === true) {
    const isNull = left === undefined || left === null;
    if (condition.operator === 'equal') return isNull;
    if (condition.operator === 'notEqual') return !isNull;
    if (condition.operator === 'exists') return !isNull;
    // Ordering against null has no meaning; the schema rejects it, this keeps the function total.
    return false;
  }
  return compare(condition.operator, left, condition.value);
}
