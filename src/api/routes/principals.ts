/**
 * GET /api/principals: who can be named in access lists, routings and recipients, for the
 * builder's pickers. Designers and admins only (it lists everyone); ids, names and roles, never
 * keys, key digests or e-mail addresses. GET /api/me: who the key belongs to, so the pages can
 * sign in and show only fitting actions.
 */
import { designs } from '../../definition/access.ts';
import { EngineError } from '../../engine/errors.ts';
import { principalOf } from '../auth.ts';
import type { PrincipalRegistry } from '../principals.ts';
import { Me, PrincipalList } from '../responses.ts';
import { Routes } from '../route.ts';

export const principalRoutes = new Routes<PrincipalRegistry>('/api/principals').add(
  {
    method: 'get',
    path: '/api/principals',
    summary: 'Principals and roles for pickers (admin, designer); never keys',
    tags: ['principals'],
    responses: { 200: PrincipalList },
    problems: [403],
  },
  (registry) => (_input, _req, res) => {
    if (!designs(principalOf(res))) throw new EngineError('forbidden', 'listing principals needs the designer or admin role');
    const items = registry.all().map((p) => ({ id: p.id, ...(p.name ? { name: p.name } : {}), roles: [...p.roles] }));
    items.sort((a, b) => a.id.localeCompare(b.id));
    const roles = [...new Set(items.flatMap((p) => p.roles))].sort();
    res.json({ items, roles });
  },
);

export const whoamiRoutes = new Routes('/api/me').add(
  { method: 'get', path: '/api/me', summary: 'Who the key belongs to', tags: ['me'], responses: { 200: Me } },
  () => (_input, _req, res) => {
    const p = principalOf(res);
    res.json({ id: p.id, roles: p.roles, ...(p.name ? { name: p.name } : {}), designer: designs(p) });
  },
);
