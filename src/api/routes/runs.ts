/** /api/runs, /api/entries and /api/tasks: read, list and operate on runs. */
import { z } from 'zod';
import { EngineError } from '../../engine/errors.ts';
import { ConfirmResult, DiagnosisView, EntryView, HistoryEvent, OperationView, RunPage, RunView, TaskView } from '../../engine/run-view.ts';
import type { RunStatus } from '../../engine/types.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import type { RunService } from '../ports.ts';
import { BulkAccepted, BulkDryRun, itemsOf } from '../responses.ts';
import { Routes } from '../route.ts';
import {
  BulkBody,
  ConfirmBody,
  EmptyBody,
  EntryId,
  HistoryQuery,
  IdempotencyKey,
  ListRunsQuery,
  OperationId,
  RetryBody,
  RunId,
  SubmitBody,
  TasksQuery,
} from '../schemas.ts';

export interface RunDeps {
  engine: RunService;
  authz: Authz;
}

const ById = z.object({ id: RunId.describe('the run id') });
const IdempotencyHeader = z.object({ 'Idempotency-Key': IdempotencyKey.optional() });
const tags = ['runs'];

export const runRoutes = new Routes<RunDeps>('/api/runs')
  .add(
    {
      method: 'get',
      path: '/api/runs',
      summary: 'List runs, newest first',
      tags,
      query: ListRunsQuery,
      responses: { 200: RunPage },
      problems: [400],
    },
    ({ engine, authz }) =>
      async ({ query }, _req, res) => {
        res.json(await engine.listRuns({ ...query, status: query.status as RunStatus | undefined }, authz.readable(principalOf(res))));
      },
  )
  // Bulk: the filter's workflow must be readable (else 404, as for a single run); each run's
  // own operate check happens when the operation reaches it, so unoperable runs are skipped.
  .add(
    {
      method: 'post',
      path: '/api/runs/bulk',
      summary: 'Cancel, retry or submit every matching run, in the background',
      description:
        'dryRun answers 200 with the count and a sample. Otherwise 202 with the operation id; the same Idempotency-Key (24 h), or the same body from the same caller within 60 s, answers the same operation.',
      tags,
      headers: IdempotencyHeader,
      body: BulkBody,
      responses: {
        200: { description: 'the dry run', content: { 'application/json': BulkDryRun } },
        202: { description: 'started (or started before)', content: { 'application/json': BulkAccepted } },
      },
      problems: [404, 409],
    },
    ({ engine, authz }) =>
      async ({ body, headers }, _req, res) => {
        const caller = principalOf(res);
        await authz.workflow(caller, body.filter.workflow, 'read');
        const filter = { ...body.filter, status: body.filter.status as RunStatus | undefined };
        if (body.dryRun) {
          res.json(await engine.bulkDryRun(body.action, filter, caller));
          return;
        }
        const { id, created } = await engine.startBulk(body.action, filter, caller, headers['Idempotency-Key']);
        res.status(202).location(`/api/operations/${id}`).json({ operationId: id, created });
      },
  )
  .add(
    { method: 'get', path: '/api/runs/{id}', summary: 'Read a run', tags, params: ById, responses: { 200: RunView }, problems: [400, 404] },
    ({ authz }) =>
      async ({ params }, _req, res) => {
        res.json(await authz.run(principalOf(res), params.id, 'read'));
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/runs/{id}/history',
      summary: "A run's ordered history (from event `from` on)",
      tags,
      params: ById,
      query: HistoryQuery,
      responses: { 200: itemsOf(HistoryEvent) },
      problems: [400, 404],
    },
    ({ engine, authz }) =>
      async ({ params, query }, _req, res) => {
        const run = await authz.run(principalOf(res), params.id, 'read');
        res.json({ items: await engine.history(run.id, query.from) });
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/runs/{id}/diagnosis',
      summary: 'Why the run is where it is and what happens next',
      tags,
      params: ById,
      responses: { 200: DiagnosisView },
      problems: [400, 404],
    },
    ({ engine, authz }) =>
      async ({ params }, _req, res) => {
        const run = await authz.run(principalOf(res), params.id, 'read');
        res.json(await engine.diagnose(run.id));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/runs/{id}/repair',
      summary: 'Re-add the missing job of the current step now',
      description: '409: nothing to repair (the diagnosis says why).',
      tags,
      params: ById,
      body: EmptyBody,
      responses: { 200: DiagnosisView },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params }, _req, res) => {
        const run = await authz.run(principalOf(res), params.id, 'operate');
        res.json(await engine.repair(run.id, principalOf(res).id));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/runs/{id}/cancel',
      summary: 'Cancel a run',
      tags,
      params: ById,
      body: EmptyBody,
      responses: { 200: RunView },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params }, _req, res) => {
        const run = await authz.run(principalOf(res), params.id, 'operate');
        res.json(await engine.cancel(run.id, principalOf(res).id));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/runs/{id}/retry',
      summary: 'Retry a failed run',
      tags,
      params: ById,
      body: RetryBody,
      responses: { 200: RunView },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params, body }, _req, res) => {
        await authz.run(principalOf(res), params.id, 'operate');
        res.json(await engine.retry(params.id, body, principalOf(res).id));
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/runs/{id}/confirm',
      summary: 'Answer a confirmation',
      description: '400: unknown option; 403: not routed to the caller; 409: nothing (left) to answer.',
      tags,
      params: ById,
      body: ConfirmBody,
      responses: { 200: ConfirmResult },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params, body }, _req, res) => {
        await authz.run(principalOf(res), params.id, 'confirm');
        const { run, resolved } = await engine.confirm(params.id, principalOf(res), body.option, body.comment);
        res.json({ resolved, run });
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/runs/{id}/submit',
      summary: 'Resubmit a draft run',
      description: 'Whoever started the run may resubmit its draft; others need to operate it.',
      tags,
      params: ById,
      body: SubmitBody,
      responses: { 200: RunView },
      problems: [403, 404, 409],
    },
    ({ engine, authz }) =>
      async ({ params, body }, _req, res) => {
        const caller = principalOf(res);
        // Whoever started a run may resubmit its draft; others need to operate it.
        await authz.run(caller, params.id, 'operate', (run) => run.startedBy === caller.id);
        res.json(await engine.submit(params.id, body, caller.id));
      },
  );

export const entryRoutes = new Routes<RunDeps>('/api/entries').add(
  {
    method: 'get',
    path: '/api/entries/{entryId}',
    summary: 'The saved model and its version',
    tags,
    params: z.object({ entryId: EntryId }),
    responses: { 200: EntryView },
    problems: [400, 404],
  },
  ({ engine, authz }) =>
    async ({ params }, _req, res) => {
      const entry = await engine.getEntry(params.entryId);
      // An entry belongs to the workflow whose run created it; without one only admin reads it.
      const readable = entry.workflow
        ? await authz.readable(principalOf(res))({ workflow: entry.workflow })
        : principalOf(res).roles.includes('admin');
      if (!readable) throw new EngineError('not_found', `no entry ${params.entryId}`);
      res.json(entry);
    },
);

export const taskRoutes = new Routes<RunDeps>('/api/tasks').add(
  {
    method: 'get',
    path: '/api/tasks',
    summary: 'Confirmations waiting for the caller',
    tags,
    query: TasksQuery,
    responses: { 200: itemsOf(TaskView) },
    problems: [400],
  },
  ({ engine, authz }) =>
    async ({ query }, _req, res) => {
      const caller = principalOf(res);
      const tasks = await engine.tasks(caller, query.limit);
      const confirmable = authz.allowed(caller, 'confirm');
      const keep = await Promise.all(tasks.map(confirmable));
      res.json({ items: tasks.filter((_, i) => keep[i]) });
    },
);

export const operationRoutes = new Routes<RunDeps>('/api/operations').add(
  {
    method: 'get',
    path: '/api/operations/{id}',
    summary: "A bulk operation's progress",
    tags,
    params: z.object({ id: OperationId }),
    responses: { 200: OperationView },
    problems: [400, 404],
  },
  ({ engine }) =>
    async ({ params }, _req, res) => {
      const caller = principalOf(res);
      const op = await engine.getOperation(params.id);
      // An operation is its caller's (and admins'): others are told it does not exist.
      if (op.by !== caller.id && !caller.roles.includes('admin')) throw new EngineError('not_found', `no operation ${params.id}`);
      res.json(op);
    },
);
