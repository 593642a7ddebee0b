/**
 * What every /api request body must be before a route sees it: JSON (or nothing), no deeper than
 * MAX_DEPTH, free of keys that could pollute prototypes when merged, and free of numbers JSON
 * cannot hold (JSON.parse reads 1e999 as Infinity, which JSON.stringify would store as null, so
 * the value would change silently between request and model). Checked iteratively,
 * so a hostile body cannot overflow the stack of a recursive parser behind it.
 */
import type { RequestHandler } from 'express';
import { jsonPath } from '../definition/issues.ts';
import { sendProblem } from './problem.ts';

const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);
export const MAX_DEPTH = 64;

/** The first prototype-polluting key, over-deep nesting or non-finite number in `value`, or null. */
export function unsafeJson(value: unknown): { path: (string | number)[]; message: string } | null {
  const stack: Array<{ v: unknown; path: (string | number)[] }> = [{ v: value, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v))
      return { path, message: 'a number out of the range JSON can hold (finite doubles only)' };
    if (v === null || typeof v !== 'object') continue;
    if (path.length > MAX_DEPTH) return { path, message: `nested deeper than ${MAX_DEPTH} levels` };
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) stack.push({ v: item, path: [...path, i] });
    } else {
      for (const [k, item] of Object.entries(v)) {
        if (FORBIDDEN_KEYS.has(k)) return { path: [...path, k], message: `the key "${k}" is not allowed` };
        stack.push({ v: item, path: [...path, k] });
      }
    }
  }
  return null;
}

const hasBody = (headers: Record<string, string | string[] | undefined>) =>
  headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;

/** Runs after express.json(): refuses bodies that are not JSON (415) and unsafe JSON (400). */
export const safeJsonBody: RequestHandler = (req, res, next) => {
  // A route that reads its own multipart body (template uploads) says so in res.locals.
  if (
    hasBody(req.headers) &&
    !req.is(['application/json', 'application/*+json']) &&
    !(res.locals.multipart === true && req.is('multipart/form-data'))
  ) {
    return sendProblem(res, 415, 'send the body as application/json');
  }
  const bad = unsafeJson(req.body);
  if (bad) return sendProblem(res, 400, 'the body is not acceptable', [{ path: jsonPath(bad.path), message: bad.message }]);
  next();
};

/** The body of a request that takes an optional JSON object: absent means {}, JSON null does not. */
export const bodyOf = (body: unknown): unknown => (body === undefined ? {} : body);
