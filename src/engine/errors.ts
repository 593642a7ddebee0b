/** Errors the engine reports to its callers; the API maps `kind` to an HTTP status. */
export type EngineErrorKind = 'not_found' | 'conflict' | 'invalid' | 'forbidden' | 'unavailable';

export interface FieldProblem {
  path: string;
  message: string;
}

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly kind: EngineErrorKind,
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
