/** Bearer-key authentication for /api and /admin. The principal lands in res.locals.principal. */
import type { Request, RequestHandler, Response } from 'express';
import type { Principal, PrincipalRegistry } from './principals.ts';
import { noAuthFailureLimit, type AuthFailureLimiter } from './auth-failures.ts';
import { sendProblem } from './problem.ts';

/** The token of an `Authorization: Bearer <token>` header, if the request sent one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
}

/** Answers 429 with Retry-After for an address that failed to authenticate too often. */
export function sendTooManyFailures(res: Response, seconds: number): void {
  res.setHeader('Retry-After', String(seconds));
  sendProblem(res, 429, 'too many failed authentications from this address; try again later');
}

export function requireKey(registry: PrincipalRegistry, failures: AuthFailureLimiter = noAuthFailureLimit): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token) {
      const wait = await failures.blockedFor(req);
      if (wait > 0) return sendTooManyFailures(res, wait);
    }
    const principal = token ? registry.authenticate(token) : undefined;
    if (!principal) {
      // Only a presented key costs a hash; a request without one is a cheap 401 and not counted.
      const wait = token ? await failures.failed(req) : 0;
      if (wait > 0) return sendTooManyFailures(res, wait);
      res.setHeader('WWW-Authenticate', 'Bearer realm="stageflow"');
      return sendProblem(res, 401, token ? 'the API key is not valid' : 'send Authorization: Bearer <api key>');
    }
    res.locals.principal = principal;
    next();
  };
}

export const principalOf = (res: Response): Principal => res.locals.principal as Principal;
