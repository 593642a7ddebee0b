import { describe, expect, it } from 'vitest';
import { compare, deepEqual, evaluateCondition, parseIsoDate } from '../../src/conditions/index.ts';

describe('equal / notEqual', () => {
  it('compares JSON values deeply', () => {
    expect(compare('equal', { a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(compare('equal', { a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(compare('equal', { a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(compare('equal', { a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(compare('equal', [1], { 0: 1 })).toBe(false);
    expect(compare('notEqual', 'a', 'b')).toBe(true);
    expect(compare('notEqual', [1], [1])).toBe(false);
  });

  it('never equates a number with a numeric string, or null with undefined', () => {
    expect(compare('equal', 1, '1')).toBe(false);
    expect(compare('notEqual', 1, '1')).toBe(true);
    expect(compare('equal', null, undefined)).toBe(false);
    expect(compare('equal', null, null)).toBe(true);
    expect(compare('equal', true, 1)).toBe(false);
  });
});

describe('greater / less / greaterOrEqual / lessOrEqual', () => {
  it('compares numbers numerically', () => {
    expect(compare('greater', 10, 9)).toBe(true);
    expect(compare('less', 9, 10)).toBe(true);
    expect(compare('less', 10, 9)).toBe(false);
    expect(compare('greaterOrEqual', 3, 3)).toBe(true);
    expect(compare('lessOrEqual', 3, 3)).toBe(true);
    expect(compare('lessOrEqual', 4, 3)).toBe(false);
    expect(compare('greater', Number.NaN, 1)).toBe(false);
  });

  it('compares ISO dates as instants, offsets included', () => {
    expect(compare('greater', '2024-02-01', '2024-01-31')).toBe(true);
    expect(compare('less', '2024-01-31T23:59:59Z', '2024-02-01')).toBe(true);
    // 10:00+02:00 is 08:00Z, which is before 09:00Z even though "10" > "09" as text.
    expect(compare('less', '2024-01-01T10:00:00+02:00', '2024-01-01T09:00:00Z')).toBe(true);
    expect(compare('greaterOrEqual', '2024-01-01', '2024-01-01T00:00:00.000Z')).toBe(true);
    expect(compare('lessOrEqual', '2024-01-01', '2024-01-01T00:00:00.000Z')).toBe(true);
    expect(compare('greater', '2024-01-01T00:00:00.0000001Z', '2024-01-01T00:00:00Z')).toBe(true);
  });

  it('compares other strings by code units, and a date against a non-date string is false', () => {
    expect(compare('less', 'apple', 'banana')).toBe(true);
    expect(compare('less', 'Z', 'a')).toBe(true);
    expect(compare('greater', '2024-01-01', 'later')).toBe(false);
    expect(compare('less', '2024-01-01', 'later')).toBe(false);
  });

  it('is false for mismatched or non-ordered types, never an exception', () => {
    expect(compare('greater', 10, '9')).toBe(false);
    expect(compare('less', '9', 10)).toBe(false);
    expect(compare('greater', null, 0)).toBe(false);
    expect(compare('less', undefined, 1)).toBe(false);
    expect(compare('greaterOrEqual', true, false)).toBe(false);
    expect(compare('lessOrEqual', [1], [2])).toBe(false);
    expect(compare('greater', { a: 1 }, { a: 0 })).toBe(false);
  });
});

describe('in / contains / exists', () => {
  it('in: the right side is an array holding the left value (deep equality)', () => {
    expect(compare('in', 'b', ['a', 'b'])).toBe(true);
    expect(compare('in', { k: 1 }, [{ k: 1 }])).toBe(true);
    expect(compare('in', 1, ['1'])).toBe(false);
    expect(compare('in', 'a', 'abc')).toBe(false);
    expect(compare('in', undefined, [null])).toBe(false);
  });

  it('contains: a substring of a string, or an element of an array', () => {
    expect(compare('contains', 'hello world', 'o w')).toBe(true);
    expect(compare('contains', 'hello', 'x')).toBe(false);
    expect(compare('contains', 'hello 1', 1)).toBe(false);
    expect(compare('contains', [1, [2, 3]], [2, 3])).toBe(true);
    expect(compare('contains', [1, 2], '1')).toBe(false);
    expect(compare('contains', null, 'x')).toBe(false);
    expect(compare('contains', { a: 'x' }, 'x')).toBe(false);
  });

  it('exists: anything but null and undefined', () => {
    expect(compare('exists', 0, undefined)).toBe(true);
    expect(compare('exists', '', undefined)).toBe(true);
    expect(compare('exists', false, undefined)).toBe(true);
    expect(compare('exists', null, undefined)).toBe(false);
    expect(compare('exists', undefined, undefined)).toBe(false);
  });

  it('an unknown operator is false rather than an exception', () => {
    expect(compare('between' as never, 1, 1)).toBe(false);
  });
});

describe('evaluateCondition with compareWithNull', () => {
  it('equal means null or missing, notEqual means present', () => {
    expect(evaluateCondition({ operator: 'equal', compareWithNull: true }, null)).toBe(true);
    expect(evaluateCondition({ operator: 'equal', compareWithNull: true }, undefined)).toBe(true);
    expect(evaluateCondition({ operator: 'equal', compareWithNull: true }, 0)).toBe(false);
    expect(evaluateCondition({ operator: 'notEqual', compareWithNull: true }, '')).toBe(true);
    expect(evaluateCondition({ operator: 'notEqual', compareWithNull: true }, null)).toBe(false);
  });

  it('without compareWithNull it compares with value', () => {
    expect(evaluateCondition({ operator: 'equal', value: null }, undefined)).toBe(false);
    expect(evaluateCondition({ operator: 'less', value: 100 }, 50)).toBe(true);
    expect(evaluateCondition({ operator: 'less', compareWithNull: false, value: 100 }, 150)).toBe(false);
  });
});

describe('helpers', () => {
  it('parseIsoDate rejects impossible or loose dates', () => {
    expect(parseIsoDate('2024-02-29')).toEqual([Date.UTC(2024, 1, 29), 0]);
    expect(parseIsoDate('2023-02-29')).toBeUndefined();
    expect(parseIsoDate('2024-13-01')).toBeUndefined();
    expect(parseIsoDate('2024-01-01T24:00')).toBeUndefined();
    expect(parseIsoDate('2024-1-1')).toBeUndefined();
    expect(parseIsoDate('01/02/2024')).toBeUndefined();
    expect(parseIsoDate('2024-01-01T10:00')).toEqual([Date.UTC(2024, 0, 1, 10), 0]);
  });

  it('deepEqual survives cyclic input', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    const b: Record<string, unknown> = {};
    b.self = b;
    expect(deepEqual(a, b)).toBe(false);
  });
});
