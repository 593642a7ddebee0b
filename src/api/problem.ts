/**
 * RFC 9457 problem+json responses, and the one mapping from an error to one: a domain error
 * (src/engine/errors.ts) answers the status of its kind with its field errors; body-parser's
 * own failures and a Redis outage are recognised here too; anything else is a logged 500.
 * Requests are validated with `parseInput`, which names bad fields the same way everywhere.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { fromZodError } from '../definition/issues.ts';
import { EngineError, type ErrorKind, type FieldProblem } from '../engine/errors.ts';

export interface Problem {
  type?: string;
  status: number;
  title: string;
  detail?: string;
  errors?: FieldProblem[];
}

export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export const KIND_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unsupported: 415,
  rate_limited: 429,
  upstream: 502,
  unavailable: 503,
};

/** Writes a problem; middlewares that answer before any route (auth, limits, body checks) use it directly. */
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

/**
 * Parses `value` with `schema` or throws an `invalid` error naming every bad field under `root`:
 * `$` for a JSON body (`$.meta` for a multipart part), `path.<name>` for a URL path parameter,
 * `query` for the query string (so `query.<name>` per parameter), `header.<Name>` for a header.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, root = '$', what = whatOf(root)): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new EngineError('invalid', `${what} is invalid`, fromZodError(r.error, root));
}

function whatOf(root: string): string {
  if (root === 'query') return 'the query';
  if (root.startsWith('path.')) return `the ${root.slice(5)} in the URL`;
  if (root.startsWith('header.')) return `the ${root.slice(7)} header`;
  return 'the request body';
}

/** The problem an error answers as; `undefined` for one that is a bug (500). */
export function problemOf(err: unknown): { status: number; detail?: string; errors?: FieldProblem[]; retryAfter?: number } | undefined {
  if (err instanceof EngineError) return { status: KIND_STATUS[err.kind], detail: err.message, errors: err.errors };
  // body-parser marks its own failures with a type and an http status.
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed')
    return { status: 400, detail: 'the body is not valid JSON', errors: [{ path: '$', message: 'malformed JSON' }] };
  if (e.type === 'entity.too.large') return { status: 413, detail: 'the body is larger than the limit' };
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
    return { status: 415, ...(e.message ? { detail: e.message } : {}) };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return { status: e.status, ...(e.message ? { detail: e.message } : {}) };
  if (isRedisDown(err)) return { status: 503, detail: 'the store is unavailable; try again shortly', retryAfter: 5 };
  return undefined;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const p = problemOf(err);
    if (!p) {
      log.error({ err, path: req.path, method: req.method }, 'unhandled error');
      return sendProblem(res, 500, 'an internal error occurred');
    }
    if (p.retryAfter) {
      if (p.status === 503) log.warn({ err, path: req.path }, 'redis unavailable');
      res.setHeader('Retry-After', String(p.retryAfter));
    }
    sendProblem(res, p.status, p.detail, p.errors);
  };
}

function isRedisDown(err: unknown): boolean {
  const m = err instanceof Error ? err.message : '';
  // The last two are an unreachable Redis Cluster's: a pipeline or MULTI there fails with them.
  return /Stream isn't writeable|Connection is closed|ECONNREFUSED|Command timed out|enableOfflineQueue|MaxRetriesPerRequest|None of startup nodes is available|Failed to refresh slots cache/i.test(
    m,
  );
}
