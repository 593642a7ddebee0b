/** /api/runs and /api/entries: read, list and operate on runs. */
import { Router } from 'express';
import type { RunService } from '../ports.ts';
import type { RunStatus } from '../../engine/types.ts';
import { EngineError } from '../../engine/errors.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import { bodyOf } from '../body.ts';
import { parseInput } from '../problem.ts';
import {
  BulkBody,
  ConfirmBody,
  EmptyBody,
  IdempotencyKey,
  EntryId,
  HistoryQuery,
  ListRunsQuery,
  RetryBody,
  RunId,
  SubmitBody,
  TasksQuery,
} from '../schemas.ts';

export function runRoutes(engine: RunService, authz: Authz): Router {
  const r = Router();
  const runId = (raw: unknown) => parseInput(RunId, raw, 'path.id');

  r.get('/', async (req, res) => {
    const q = parseInput(ListRunsQuery, req.query, 'query');
    res.json(await engine.listRuns({ ...q, status: q.status as RunStatus | undefined }, authz.readable(principalOf(res))));
  });

  // Bulk: the filter's workflow must be readable (else 404, as for a single run); each run's
  // own operate check happens when the operation reaches it, so unoperable runs are skipped.
  r.post('/bulk', async (req, res) => {
    const body = parseInput(BulkBody, bodyOf(req.body));
    const header = req.get('idempotency-key');
    const idempotencyKey = header === undefined ? undefined : parseInput(IdempotencyKey, header, 'header.Idempotency-Key');
    const caller = principalOf(res);
    await authz.workflow(caller, body.filter.workflow, 'read');
    const filter = { ...body.filter, status: body.filter.status as RunStatus | undefined };
    if (body.dryRun) {
      res.json(await engine.bulkDryRun(body.action, filter, caller));
      return;
    }
    const { id, created } = await engine.startBulk(body.action, filter, caller, idempotencyKey);
    res.status(202).location(`/api/operations/${id}`).json({ operationId: id, created });
  });

  r.get('/:id', async (req, res) => {
    res.json(await authz.run(principalOf(res), runId(req.params.id), 'read'));
  });

  r.get('/:id/history', async (req, res) => {
    const id = runId(req.params.id);
    const { from } = parseInput(HistoryQuery, req.query, 'query');
    const run = await authz.run(principalOf(res), id, 'read');
    res.json({ items: await engine.history(run.id, from) });
  });

  r.get('/:id/diagnosis', async (req, res) => {
    const run = await authz.run(principalOf(res), runId(req.params.id), 'read');
    res.json(await engine.diagnose(run.id));
  });

  r.post('/:id/repair', async (req, res) => {
    const id = runId(req.params.id);
    parseInput(EmptyBody, bodyOf(req.body));
    const run = await authz.run(principalOf(res), id, 'operate');
    res.json(await engine.repair(run.id, principalOf(res).id));
  });

  r.post('/:id/cancel', async (req, res) => {
    const id = runId(req.params.id);
    parseInput(EmptyBody, bodyOf(req.body));
    const run = await authz.run(principalOf(res), id, 'operate');
    res.json(await engine.cancel(run.id, principalOf(res).id));
  });

  r.post('/:id/retry', async (req, res) => {
    const id = runId(req.params.id);
    const body = parseInput(RetryBody, bodyOf(req.body));
    await authz.run(principalOf(res), id, 'operate');
    res.json(await engine.retry(id, body, principalOf(res).id));
  });

  r.post('/:id/confirm', async (req, res) => {
    const id = runId(req.params.id);
    const body = parseInput(ConfirmBody, bodyOf(req.body));
    await authz.run(principalOf(res), id, 'confirm');
    const { run, resolved } = await engine.confirm(id, principalOf(res), body.option, body.comment);
    res.json({ resolved, run });
  });

  r.post('/:id/submit', async (req, res) => {
    const id = runId(req.params.id);
    const body = parseInput(SubmitBody, bodyOf(req.body));
    const caller = principalOf(res);
    // Whoever started a run may resubmit its draft; others need to operate it.
    await authz.run(caller, id, 'operate', (run) => run.startedBy === caller.id);
    res.json(await engine.submit(id, body, caller.id));
  });

  return r;
}

export function entryRoutes(engine: RunService, authz: Authz): Router {
  const r = Router();
  r.get('/:id', async (req, res) => {
    const id = parseInput(EntryId, req.params.id, 'path.id');
    const entry = await engine.getEntry(id);
    // An entry belongs to the workflow whose run created it; without one only admin reads it.
    const readable = entry.workflow
      ? await authz.readable(principalOf(res))({ workflow: entry.workflow })
      : principalOf(res).roles.includes('admin');
    if (!readable) throw new EngineError('not_found', `no entry ${id}`);
    res.json(entry);
  });
  return r;
}

export function taskRoutes(engine: RunService, authz: Authz): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const { limit } = parseInput(TasksQuery, req.query, 'query');
    const caller = principalOf(res);
    const tasks = await engine.tasks(caller, limit);
    const confirmable = authz.allowed(caller, 'confirm');
    const keep = await Promise.all(tasks.map(confirmable));
    const out = tasks.filter((_, i) => keep[i]);
    res.json({ items: out });
  });
  return r;
}
