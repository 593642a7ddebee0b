/**
 * /api/dataflows: register and read dataflows (DESIGN §6). Managing dataflows is for `admin` and
 * `designer` (DESIGN §7): a definition names URLs the workers will call and may hold credentials
 * in its headers, so other principals get 403 on every route here.
 */
import { Router } from 'express';
import { z } from 'zod';
import { EngineError } from '../../engine/errors.ts';
import { designs } from '../../definition/access.ts';
import { principalOf } from '../auth.ts';
import type { DataflowRegistryPort } from '../ports.ts';
import { parseInput } from '../problem.ts';
import { Name } from '../schemas.ts';

/** A definition is an object; its fields are the registry's to check. `name` may be left to the URL. */
const DataflowBody = z.looseObject({ name: z.unknown().optional() });

export function dataflowRoutes(registry: DataflowRegistryPort): Router {
  const r = Router();
  // Reading counts as managing here: definitions may hold credentials.
  r.use((_req, res, next) => {
    if (!designs(principalOf(res))) throw new EngineError('forbidden', 'managing dataflows needs the designer or admin role');
    next();
  });

  r.get('/', async (_req, res) => {
    res.json({ items: await registry.list() });
  });

  r.put('/:name', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const named = parseInput(DataflowBody, req.body);
    if (named.name !== undefined && named.name !== name) {
      throw new EngineError('invalid', 'the body names another dataflow than the URL', [
        { path: '$.name', message: `must be "${name}" (the name in the URL)` },
      ]);
    }
    // The registry validates the definition itself (InvalidDataflowError is an `invalid` error).
    const saved = await registry.put({ ...named, name });
    const definition = await registry.get(name);
    res.status(saved.created ? 201 : 200).location(`/api/dataflows/${name}`);
    res.json({ name, created: saved.created, changed: saved.changed, definition });
  });

  r.get('/:name', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const def = await registry.get(name);
    if (!def) throw new EngineError('not_found', `no dataflow named ${name}`);
    res.json(def);
  });

  return r;
}
