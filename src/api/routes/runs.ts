/** /api/runs and /api/entries: read, list and operate on runs. */
import { Router } from 'express';
import type { Engine } from '../../engine/engine.ts';
import type { RunStatus } from '../../engine/types.ts';
import { principalOf } from '../auth.ts';
import { parseOr400 } from '../problem.ts';
import { ConfirmBody, EntryId, ListRunsQuery, RetryBody, RunId, SubmitBody, TasksQuery } from '../schemas.ts';

export function runRoutes(engine: Engine): Router {
  const r = Router();
  const runId = (raw: unknown) => parseOr400(RunId, raw, '$.id', 'the run id in the URL');

  r.get('/', async (req, res) => {
    const q = parseOr400(ListRunsQuery, req.query, '$', 'the query');
    res.json(await engine.listRuns({ ...q, status: q.status as RunStatus | undefined }));
  });

  r.get('/:id', async (req, res) => {
    res.json(await engine.getRun(runId(req.params.id)));
  });

  r.get('/:id/history', async (req, res) => {
    res.json({ items: await engine.history(runId(req.params.id)) });
  });

  r.post('/:id/cancel', async (req, res) => {
    res.json(await engine.cancel(runId(req.params.id), principalOf(res).id));
  });

  r.post('/:id/retry', async (req, res) => {
    const id = runId(req.params.id);
    res.json(await engine.retry(id, parseOr400(RetryBody, req.body ?? {}), principalOf(res).id));
  });

  r.post('/:id/confirm', async (req, res) => {
    const id = runId(req.params.id);
    const body = parseOr400(ConfirmBody, req.body ?? {});
    const { run, resolved } = await engine.confirm(id, principalOf(res), body.option, body.comment);
    res.json({ resolved, run });
  });

  r.post('/:id/submit', async (req, res) => {
    const id = runId(req.params.id);
    res.json(await engine.submit(id, parseOr400(SubmitBody, req.body ?? {}), principalOf(res).id));
  });

  return r;
}

export function entryRoutes(engine: Engine): Router {
  const r = Router();
  r.get('/:id', async (req, res) => {
    res.json(await engine.getEntry(parseOr400(EntryId, req.params.id, '$.id', 'the entry id in the URL')));
  });
  return r;
}

export function taskRoutes(engine: Engine): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const { limit } = parseOr400(TasksQuery, req.query, '$', 'the query');
    res.json({ items: await engine.tasks(principalOf(res), limit) });
  });
  return r;
}
