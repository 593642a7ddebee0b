import { describe, expect, it } from 'vitest';
import { getPath, isSafePath, mergePatch, parsePath, PathError, setPath } from '../../src/definition/paths.ts';

describe('parsePath / isSafePath', () => {
  it('splits dot paths', () => {
    expect(parsePath('a')).toEqual(['a']);
    expect(parsePath('a.b.0.c')).toEqual(['a', 'b', '0', 'c']);
  });

  it('rejects empty segments and prototype-reaching segments', () => {
    for (const bad of ['', '.', 'a.', '.a', 'a..b', '__proto__', 'a.__proto__.b', 'constructor', 'x.prototype']) {
      expect(() => parsePath(bad), bad).toThrow(PathError);
      expect(isSafePath(bad), bad).toBe(false);
    }
    expect(isSafePath(42)).toBe(false);
    expect(isSafePath('proto.constructors')).toBe(true);
  });
});

describe('getPath', () => {
  const model = { a: { b: [10, { c: 'deep' }] }, n: null };

  it('reads nested objects and array indexes', () => {
    expect(getPath(model, 'a.b.1.c')).toBe('deep');
    expect(getPath(model, 'a.b.0')).toBe(10);
    expect(getPath(model, 'n')).toBeNull();
  });

  it('is undefined for missing paths, through primitives, and for inherited members', () => {
    expect(getPath(model, 'a.x.y')).toBeUndefined();
    expect(getPath(model, 'n.y')).toBeUndefined();
    expect(getPath(model, 'a.b.01')).toBeUndefined();
    expect(getPath(model, 'a.b.length')).toBeUndefined();
    expect(getPath(model, 'toString')).toBeUndefined();
    expect(getPath(model, 'a.hasOwnProperty')).toBeUndefined();
  });

  it('throws on forbidden paths', () => {
    expect(() => getPath(model, '__proto__')).toThrow(PathError);
  });
});

describe('setPath', () => {
  it('returns a new object, copying only along the path', () => {
    const input = { a: { b: 1, keep: { x: 1 } }, other: { y: 2 } };
    const snapshot = structuredClone(input);
    const out = setPath(input, 'a.b', 2);
    expect(out).toEqual({ a: { b: 2, keep: { x: 1 } }, other: { y: 2 } });
    expect(input).toEqual(snapshot);
    expect(out).not.toBe(input);
    expect(out.a).not.toBe(input.a);
    expect(out.other).toBe(input.other);
    expect((out.a as { keep: unknown }).keep).toBe(input.a.keep);
  });

  it('creates missing intermediates and replaces non-objects on the way', () => {
    expect(setPath({}, 'a.b.c', 1)).toEqual({ a: { b: { c: 1 } } });
    expect(setPath({ a: 'text' }, 'a.b', 1)).toEqual({ a: { b: 1 } });
    expect(setPath({ a: null }, 'a.b', 1)).toEqual({ a: { b: 1 } });
  });

  it('sets array elements by index without mutating the array', () => {
    const input = { list: [1, 2] };
    const out = setPath(input, 'list.1', 'two');
    expect(out).toEqual({ list: [1, 'two'] });
    expect(input.list).toEqual([1, 2]);
    expect(setPath(input, 'list.3', 4)).toEqual({ list: [1, 2, null, 4] });
  });

  it('refuses forbidden segments and never pollutes prototypes', () => {
    expect(() => setPath({}, '__proto__.polluted', true)).toThrow(PathError);
    expect(() => setPath({}, 'a.constructor.prototype', true)).toThrow(PathError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('mergePatch (RFC 7386)', () => {
  it('merges objects recursively, null deletes, arrays and scalars replace', () => {
    const target = { a: 'b', c: { d: 'e', f: 'g' }, list: [1, 2], keep: true };
    expect(mergePatch(target, { a: 'z', c: { f: null, h: 1 }, list: [3], gone: null })).toEqual({
      a: 'z',
      c: { d: 'e', h: 1 },
      list: [3],
      keep: true,
    });
  });

  it('passes the RFC 7386 appendix examples', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, expected] of cases) expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('mutates neither input and does not alias the patch', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: [1] }, d: { e: 1 } };
    const [t0, p0] = [structuredClone(target), structuredClone(patch)];
    const out = mergePatch(target, patch);
    expect(target).toEqual(t0);
    expect(patch).toEqual(p0);
    expect((out.a as { c: unknown }).c).not.toBe(patch.a.c);
    expect(out.d).not.toBe(patch.d);
  });

  it('rejects forbidden keys anywhere in the patch', () => {
    expect(() => mergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}'))).toThrow(PathError);
    expect(() => mergePatch({}, { a: { constructor: { prototype: 1 } } })).toThrow(PathError);
    expect(() => mergePatch({}, { list: [{ prototype: 1 }] })).toThrow(PathError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
