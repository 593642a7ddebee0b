/** Validation issues as `{path, message}` with JSON paths like `$.stages[0].steps[1].field`. */
import type { z } from 'zod';

export interface Issue {
  path: string;
  message: string;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function jsonPath(segments: readonly PropertyKey[], root = '$'): string {
  return segments.reduce<string>((path, segment) => {
    if (typeof segment === 'number') return `${path}[${segment}]`;
    const key = String(segment);
    return PLAIN_KEY.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
  }, root);
}

/** Appends a relative path such as `then` or `cases[0].steps` to an absolute one. */
export function joinPath(base: string, relative: string): string {
  return relative.startsWith('[') ? `${base}${relative}` : `${base}.${relative}`;
}

/**
 * The one zod-issue → `{path, message}` mapper (definitions, API requests, dataflows): paths are
 * JSON paths under `root` (`$` for a body). One issue per problem: an unrecognized-keys issue
 * becomes one issue per key, at that key; a bad record key is reported with its own message.
 */
export function fromZodError(error: z.ZodError, root = '$', unknownKey = (key: string) => `unknown key "${key}"`): Issue[] {
  return error.issues.flatMap((issue): Issue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: jsonPath([...issue.path, key], root), message: unknownKey(key) }));
    }
    if (issue.code === 'invalid_key') return [{ path: jsonPath(issue.path, root), message: issue.issues[0]?.message ?? issue.message }];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Zod's own message is just "Invalid input"; say what each alternative wanted instead.
      const wanted = issue.errors.map((alternative) => alternative[0]?.message).filter((m) => m !== undefined);
      return [{ path: jsonPath(issue.path, root), message: `matches none of the allowed forms: ${[...new Set(wanted)].join('; or ')}` }];
    }
    return [{ path: jsonPath(issue.path, root), message: issue.message }];
  });
}
