/**
 * Routes are declared once: method, path, request schemas (path parameters, query, headers, JSON
 * body) and the responses per status, with the handler. The express registration and the
 * OpenAPI document (src/api/openapi.ts) both come from the declaration, so a route cannot be
 * served without being documented (test/unit/openapi.test.ts walks the express stack to check).
 *
 * Requests are validated before the handler runs, every part at once, so one 400 names every
 * bad field (see FieldProblem for the path of each part); the handler gets the parsed values.
 */
import { type Request, type RequestHandler, type Response, Router } from 'express';
import type { z } from 'zod';
import { fromZodError } from '../definition/issues.ts';
import { EngineError, type FieldProblem } from '../engine/errors.ts';
import { bodyOf } from './body.ts';

type Json = Record<string, unknown>;
type AnyObject = z.ZodObject | undefined;
type Out<S> = S extends z.ZodType ? z.infer<S> : undefined;

/** A response: a zod schema (JSON), or a description with content per media type (schema, JSON Schema or nothing). */
export type ResponseSpec = z.ZodType | { description: string; content?: Record<string, z.ZodType | Json | null> };

export interface RouteSpec<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, H extends AnyObject = AnyObject, B = unknown> {
  method: 'get' | 'put' | 'post';
  /** The full path in OpenAPI form: /api/runs/{id}. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `api` (default): bearer key, rate limit (401, 429); `open`: no key; `admin`: key or admin session. */
  access?: 'api' | 'open' | 'admin';
  params?: P;
  query?: Q;
  /** Header names as sent (Idempotency-Key); matched case-insensitively. */
  headers?: H;
  /** A JSON body, validated (an absent body is `{}`). */
  body?: B;
  /** Whether the body must be sent (documentation only; default: true unless the schema accepts {}). */
  bodyRequired?: boolean;
  /** A body the handler reads itself (multipart, a definition the engine validates): documented, not parsed here. */
  bodyDoc?: { required: boolean; content: Record<string, z.ZodType | Json> };
  responses: Record<number, ResponseSpec>;
  /** Problem statuses this route answers (besides those `access` and a body imply). */
  problems?: number[];
  /** Served but deliberately not in the document (the web pages' other shells, the favicon). */
  hidden?: boolean;
}

export interface Input<P, Q, H, B> {
  params: Out<P>;
  query: Out<Q>;
  headers: Out<H>;
  body: Out<B>;
}

type AnyInput = Input<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;

export type Handle<I> = (input: I, req: Request, res: Response) => unknown;

export interface Declared<D> {
  spec: RouteSpec;
  handle: (deps: D) => Handle<AnyInput>;
}

/** Routes under one base path, with what their handlers need (`D`). */
export class Routes<D = void> {
  readonly declared: Declared<D>[] = [];
  /** Router-level middleware (a role check for every route of the group), applied before validation. */
  private readonly guards: Array<(deps: D) => RequestHandler> = [];

  constructor(readonly base: string) {}

  add<P extends AnyObject, Q extends AnyObject, H extends AnyObject, B extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<P, Q, H, B>,
    handle: (deps: D) => Handle<Input<P, Q, H, B>>,
  ): this {
    if (!spec.path.startsWith(this.base)) throw new Error(`${spec.path} is not under ${this.base}`);
    this.declared.push({ spec: spec as RouteSpec, handle: handle as Declared<D>['handle'] });
    return this;
  }

  use(guard: (deps: D) => RequestHandler): this {
    this.guards.push(guard);
    return this;
  }

  get specs(): RouteSpec[] {
    return this.declared.map((d) => d.spec);
  }

  /** An express router with every declared route (mount it at `base`). */
  router(deps: D, router: Router = Router()): Router {
    for (const guard of this.guards) router.use(guard(deps));
    for (const { spec, handle } of this.declared) {
      const fn = handle(deps);
      router[spec.method](expressPath(spec.path.slice(this.base.length) || '/'), async (req, res) => {
        await fn(parseRequest(spec, req), req, res);
      });
    }
    return router;
  }
}

/** /runs/{id}/cancel → /runs/:id/cancel */
export const expressPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

function parseRequest(spec: RouteSpec, req: Request): AnyInput {
  const errors: FieldProblem[] = [];
  const part = (schema: z.ZodType | undefined, value: unknown, root: string): unknown => {
    if (!schema) return undefined;
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    errors.push(...fromZodError(r.error, root));
    return undefined;
  };
  const params = part(spec.params, req.params, 'path');
  const query = part(spec.query, req.query, 'query');
  // One header at a time, so each is named header.<Name> as sent, not as a quoted key.
  const headers = spec.headers
    ? Object.fromEntries(
        Object.entries(spec.headers.shape).map(([name, schema]) => [name, part(schema as z.ZodType, req.get(name), `header.${name}`)]),
      )
    : undefined;
  const body = part(spec.body as z.ZodType | undefined, bodyOf(req.body), '$');
  if (errors.length) throw new EngineError('invalid', `the request is invalid`, errors);
  return { params, query, headers, body };
}
