/**
 * Field paths into the run model (`a.b.c`) and JSON merge patch. Every model read/write goes
 * through here so prototype pollution is impossible even if a bad path slipped past validation.
 */

/** Segments that could reach Object.prototype or a constructor when used as property keys. */
export const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

export class PathError extends Error {
  override name = 'PathError';
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const INDEX_PATTERN = /^(?:0|[1-9][0-9]*)$/;

/** Splits a dot path into segments; throws PathError on empty or forbidden segments. */
export function parsePath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new PathError('field path must be a non-empty string');
  const segments = path.split('.');
  for (const segment of segments) {
    if (segment.length === 0) throw new PathError(`field path "${path}" has an empty segment`);
    if (FORBIDDEN_SEGMENTS.has(segment)) throw new PathError(`field path "${path}" uses the forbidden segment "${segment}"`);
  }
  return segments;
}

export function isSafePath(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  try {
    parsePath(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a value by path; only own properties count, so `a.toString` is undefined, not a function. */
export function getPath(obj: unknown, path: string): unknown {
  let current: unknown = obj;
  for (const segment of parsePath(path)) {
    if (Array.isArray(current)) {
      if (!INDEX_PATTERN.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (isObject(current)) {
      if (!Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/**
 * Returns a copy of `obj` with `value` at `path`, copying only the containers along the path
 * (untouched branches are shared). A missing or non-container intermediate becomes `{}`, the same
 * rule JSON merge patch applies; an index segment on an array sets that element.
 */
export function setPath(obj: Readonly<Record<string, unknown>>, path: string, value: unknown): Record<string, unknown> {
  const segments = parsePath(path);
  return setAt(obj, segments, 0, value) as Record<string, unknown>;
}

function setAt(container: unknown, segments: string[], depth: number, value: unknown): unknown {
  const segment = segments[depth] as string;
  const last = depth === segments.length - 1;
  if (Array.isArray(container) && INDEX_PATTERN.test(segment)) {
    const index = Number(segment);
    const copy: unknown[] = container.slice();
    // Holes would serialise as null anyway; make that explicit so the model stays plain JSON.
    for (let i = copy.length; i < index; i++) copy[i] = null;
    copy[index] = last ? value : setAt(container[index], segments, depth + 1, value);
    return copy;
  }
  const base: JsonObject = isObject(container) ? container : {};
  const child = Object.hasOwn(base, segment) ? base[segment] : undefined;
  return { ...base, [segment]: last ? value : setAt(child, segments, depth + 1, value) };
}

function assertNoForbiddenKeys(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) assertNoForbiddenKeys(item, `${where}[${i}]`);
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_SEGMENTS.has(key)) throw new PathError(`merge patch uses the forbidden key "${key}" at ${where}`);
      assertNoForbiddenKeys(value[key], `${where}.${key}`);
    }
  }
}

/**
 * RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
 * Never mutates `target` or `patch`; values taken from the patch are cloned so the result does not
 * alias the caller's patch.
 */
export function mergePatch(target: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>): Record<string, unknown>;
export function mergePatch(target: unknown, patch: unknown): unknown;
export function mergePatch(target: unknown, patch: unknown): unknown {
  assertNoForbiddenKeys(patch, '$');
  return applyPatch(target, patch);
}

function applyPatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch === undefined ? undefined : structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyPatch(Object.hasOwn(result, key) ? result[key] : undefined, value);
    }
  }
  return result;
}
