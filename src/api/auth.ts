/** Bearer-key authentication for /api and /admin. The principal lands in res.locals.principal. */
import type { Request, RequestHandler, Response } from 'express';
import type { Principal, PrincipalRegistry } from './principals.ts';
import { sendProblem } from './problem.ts';

/** The token of an `Authorization: Bearer <token>` header, if the request sent one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
}

export function requireKey(registry: PrincipalRegistry): RequestHandler {
  return (req, res, next) => {
    const token = bearerToken(req);
    const principal = token ? registry.authenticate(token) : undefined;
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="stageflow"');
      return sendProblem(res, 401, token ? 'the API key is not valid' : 'send Authorization: Bearer <api key>');
    }
    res.locals.principal = principal;
    next();
  };
}

export const principalOf = (res: Response): Principal => res.locals.principal as Principal;
