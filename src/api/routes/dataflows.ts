/**
 * /api/dataflows: register and read dataflows (DESIGN §6). Managing dataflows is for `admin` and
 * `designer` (DESIGN §7): a definition names URLs the workers will call and may hold credentials
 * in its headers, so other principals get 403 on every route here.
 */
import { Router } from 'express';
import { EngineError } from '../../engine/errors.ts';
import { InvalidDataflowError, type DataflowRegistry } from '../../dataflows/registry.ts';
import { designs } from '../../definition/access.ts';
import { principalOf } from '../auth.ts';
import { BadRequest, jsonPath, parseOr400, sendProblem } from '../problem.ts';
import { Name } from '../schemas.ts';

export function dataflowRoutes(registry: DataflowRegistry): Router {
  const r = Router();
  // Reading counts as managing here: definitions may hold credentials.
  r.use((_req, res, next) =>
    designs(principalOf(res)) ? next() : sendProblem(res, 403, 'managing dataflows needs the designer or admin role'),
  );

  r.get('/', async (_req, res) => {
    res.json({ items: await registry.list() });
  });

  r.put('/:name', async (req, res) => {
    const name = parseOr400(Name, req.params.name, '$.name', 'the dataflow name in the URL');
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequest('the dataflow definition must be a JSON object', [{ path: '$', message: 'expected an object' }]);
    }
    const named = body as Record<string, unknown>;
    if (named.name !== undefined && named.name !== name) {
      throw new BadRequest('the body names another dataflow than the URL', [
        { path: '$.name', message: `must be "${name}" (the name in the URL)` },
      ]);
    }
    let saved: Awaited<ReturnType<typeof registry.put>>;
    try {
      saved = await registry.put({ ...named, name });
    } catch (err) {
      if (err instanceof InvalidDataflowError)
        throw new BadRequest(
          err.message,
          err.issues.map((i) => ({ path: jsonPath('$', i.path), message: i.message })),
        );
      throw err;
    }
    const definition = await registry.get(name);
    res.status(saved.created ? 201 : 200).location(`/api/dataflows/${name}`);
    res.json({ name, created: saved.created, changed: saved.changed, definition });
  });

  r.get('/:name', async (req, res) => {
    const name = parseOr400(Name, req.params.name, '$.name', 'the dataflow name in the URL');
    const def = await registry.get(name);
    if (!def) throw new EngineError('not_found', `no dataflow named ${name}`);
    res.json(def);
  });

  return r;
}
