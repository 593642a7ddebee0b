/** /api/workflows: save, read, list and validate definitions; start runs. */
import { Router } from 'express';
import type { ApiEngine } from '../ports.ts';
import { designs } from '../../definition/access.ts';
import { EntryOwnedError } from '../../engine/errors.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import type { LintOptions } from '../lint-options.ts';
import { bodyOf } from '../body.ts';
import { parseInput } from '../problem.ts';
import { IdempotencyKey, MigrationBody, Name, SimulateBody, StartBody, StartQuery, VersionQuery } from '../schemas.ts';

export function workflowRoutes(engine: ApiEngine, authz: Authz, lint: LintOptions = async () => ({})): Router {
  const r = Router();

  r.get('/', async (_req, res) => {
    const caller = principalOf(res);
    const all = await engine.listWorkflows();
    const visible = designs(caller) ? all : await filterAsync(all, (w) => authz.readable(caller)({ workflow: w.name }));
    res.json({ items: visible });
  });

  r.post('/validate', async (req, res) => {
    const { valid, errors, warnings } = engine.validateWorkflow(req.body, await lint());
    res.json({ valid, errors, warnings });
  });

  r.put('/:name', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    authz.design(principalOf(res), 'workflows');
    const saved = await engine.saveWorkflow(name, req.body, await lint());
    res.status(saved.created ? 201 : 200).location(`/api/workflows/${name}?version=${saved.version}`);
    res.json({ name, version: saved.version, warnings: saved.warnings });
  });

  r.get('/:name', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const { version } = parseInput(VersionQuery, req.query, 'query');
    await authz.workflow(principalOf(res), name, 'read');
    res.json(await engine.getWorkflow(name, version));
  });

  r.get('/:name/versions', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    await authz.workflow(principalOf(res), name, 'read');
    res.json({ items: await engine.workflowVersions(name) });
  });

  r.post('/:name/runs', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const body = parseInput(StartBody, bodyOf(req.body));
    const { wait } = parseInput(StartQuery, req.query, 'query');
    const header = req.get('idempotency-key');
    const idempotencyKey = header === undefined ? undefined : parseInput(IdempotencyKey, header, 'header.Idempotency-Key');
    await authz.workflow(principalOf(res), name, 'start');
    const { run, created } = await engine.startRun(name, body, { idempotencyKey, by: principalOf(res).id }).catch(async (err: unknown) => {
      throw err instanceof EntryOwnedError ? await authz.entryRefusal(principalOf(res), err) : err;
    });
    const out = wait ? await engine.waitForSettle(run.id, wait) : run;
    res
      .status(created ? 201 : 200)
      .location(`/api/runs/${run.id}`)
      .json(out);
  });

  r.post('/:name/migrations', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const body = parseInput(MigrationBody, bodyOf(req.body));
    await authz.workflow(principalOf(res), name, 'operate');
    res.json(await engine.migrate(name, body, principalOf(res).id));
  });

  r.post('/:name/simulate', async (req, res) => {
    const name = parseInput(Name, req.params.name, 'path.name');
    const body = parseInput(SimulateBody, bodyOf(req.body));
    await authz.workflow(principalOf(res), name, 'start');
    res.json(await engine.simulate(name, body));
  });

  return r;
}

async function filterAsync<T>(items: T[], pred: (t: T) => Promise<boolean>): Promise<T[]> {
  const keep = await Promise.all(items.map(pred));
  return items.filter((_, i) => keep[i]);
}
