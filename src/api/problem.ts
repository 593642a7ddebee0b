/** RFC 9457 problem+json responses, and the mapping from every error we know to one. */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { EngineError, type FieldProblem } from '../engine/errors.ts';

export interface Problem {
  type?: string;
  status: number;
  title: string;
  detail?: string;
  errors?: FieldProblem[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(res: Response, status: number, detail?: string, errors?: FieldProblem[]): void {
  const body: Problem = {
    type: 'about:blank',
    status,
    title: TITLES[status] ?? 'Error',
    ...(detail ? { detail } : {}),
    errors: errors ?? [],
  };
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

/** A zod issue path as a JSON path: ['stages', 0, 'id'] → $.stages[0].id */
export function jsonPath(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${String(seg)}`), base);
}

export class BadRequest extends Error {
  constructor(
    message: string,
    readonly errors: FieldProblem[],
  ) {
    super(message);
  }
}

/** Parses `value` with `schema` or throws a 400 naming every bad field under `base` ($ for a body, query, header). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, base = '$', what = 'the request body'): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new BadRequest(
    `${what} is invalid`,
    r.error.issues.map((i) => ({ path: jsonPath(base, i.path), message: i.message })),
  );
}

const KIND_STATUS = { not_found: 404, conflict: 409, invalid: 400, forbidden: 403, unavailable: 503 } as const;

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof BadRequest) return sendProblem(res, 400, err.message, err.errors);
    if (err instanceof EngineError) return sendProblem(res, KIND_STATUS[err.kind], err.message, err.errors);
    // body-parser marks its own failures with a type and an http status.
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed')
      return sendProblem(res, 400, 'the body is not valid JSON', [{ path: '$', message: 'malformed JSON' }]);
    if (e.type === 'entity.too.large') return sendProblem(res, 413, 'the body is larger than the limit');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return sendProblem(res, 415, e.message);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendProblem(res, e.status, e.message);
    if (isRedisDown(err)) {
      log.warn({ err, path: req.path }, 'redis unavailable');
      res.setHeader('Retry-After', '5');
      return sendProblem(res, 503, 'the store is unavailable; try again shortly');
    }
    log.error({ err, path: req.path, method: req.method }, 'unhandled error');
    return sendProblem(res, 500, 'an internal error occurred');
  };
}

function isRedisDown(err: unknown): boolean {
  const m = err instanceof Error ? err.message : '';
  return /Stream isn't writeable|Connection is closed|ECONNREFUSED|Command timed out|enableOfflineQueue|MaxRetriesPerRequest/i.test(m);
}
