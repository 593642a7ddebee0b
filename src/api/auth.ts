/** Bearer-key authentication for /api and /admin. The principal lands in res.locals.principal. */
import type { RequestHandler, Response } from 'express';
import type { Principal, PrincipalRegistry } from './principals.ts';
import { sendProblem } from './problem.ts';

export function requireKey(registry: PrincipalRegistry): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = match ? registry.authenticate(match[1]!) : undefined;
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="stageflow"');
      return sendProblem(res, 401, match ? 'the API key is not valid' : 'send Authorization: Bearer <api key>');
    }
    res.locals.principal = principal;
    next();
  };
}

export const principalOf = (res: Response): Principal => res.locals.principal as Principal;
