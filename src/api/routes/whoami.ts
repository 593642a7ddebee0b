/** GET /api/me: who the key belongs to, so the pages can sign in and show only fitting actions. */
import type { RequestHandler } from 'express';
import { designs } from '../../definition/access.ts';
import { principalOf } from '../auth.ts';

export const whoami: RequestHandler = (_req, res) => {
  const p = principalOf(res);
  res.json({ id: p.id, roles: p.roles, ...(p.name ? { name: p.name } : {}), designer: designs(p) });
};
