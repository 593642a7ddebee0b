/**
 * GET /api/principals: who can be named in access lists, routings and recipients, for the
 * builder's pickers. Designers and admins only (it lists everyone); ids, names and roles, never
 * keys, key digests or e-mail addresses.
 */
import { EngineError } from '../../engine/errors.ts';
import { Router } from 'express';
import { designs } from '../../definition/access.ts';
import { principalOf } from '../auth.ts';
import type { PrincipalRegistry } from '../principals.ts';

export function principalRoutes(registry: PrincipalRegistry): Router {
  const r = Router();
  r.get('/', (_req, res) => {
    if (!designs(principalOf(res))) throw new EngineError('forbidden', 'listing principals needs the designer or admin role');
    const items = registry.all().map((p) => ({ id: p.id, ...(p.name ? { name: p.name } : {}), roles: [...p.roles] }));
    items.sort((a, b) => a.id.localeCompare(b.id));
    const roles = [...new Set(items.flatMap((p) => p.roles))].sort();
    res.json({ items, roles });
  });
  return r;
}
