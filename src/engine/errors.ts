/**
 * Errors the engine, its stores and the API report to their callers. A domain error carries a
 * `kind` (what went wrong, in the caller's terms) and field errors `{path, message}`; the API maps
 * the kind to an HTTP status in one place (src/api/problem.ts), so no route translates errors.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'too_large'
  | 'unsupported'
  | 'rate_limited'
  | 'upstream'
  | 'unavailable';

/**
 * One bad field. `path` names where: `$` is a JSON body's root and `$.stages[0].id` a field in it
 * (keys that are not identifiers are quoted: `$.headers["Idempotency-Key"]`); `path.<name>`,
 * `query.<name>` and `header.<Name>` name URL path parameters, query parameters and headers.
 */
export interface FieldProblem {
  path: string;
  message: string;
}

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(message);
  }
}

/** A step attempt that ran longer than its timeoutMs; retried like any other failure. */
export class StepTimeoutError extends Error {
  override name = 'StepTimeoutError';
}

/**
 * A start named an entry that belongs to another workflow (decided atomically by create-run.lua).
 * `owner` lets the API answer 404 instead to a caller who may not know that workflow exists.
 */
export class EntryOwnedError extends EngineError {
  override name = 'EntryOwnedError';
  constructor(
    readonly entryId: string,
    readonly owner: string,
  ) {
    super('conflict', `entry ${entryId} belongs to workflow ${owner}`, [{ path: '$.entryId', message: 'belongs to another workflow' }]);
  }
}
