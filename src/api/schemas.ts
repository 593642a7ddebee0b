/** zod schemas of every request the API accepts besides workflow definitions (src/definition). */
import { z } from 'zod';
import { RUN_STATUSES } from '../engine/types.ts';
import { unsafeJson } from './body.ts';
import { egressAllowed } from '../http/egress.ts';

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const Name = z.string().regex(NAME, 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -, starting with a letter or digit');
export const RunId = z.string().regex(RUN_ID, 'must be a run id');
export const EntryId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be 1-128 characters of A-Z, a-z, 0-9, _, . or -');

/**
 * A model is a JSON object; arrays and scalars are not models. The raw value is checked before
 * parsing, because a record parser would silently drop (or apply) a top-level `__proto__`.
 */
export const Model = z
  .unknown()
  .superRefine((raw, ctx) => {
    const bad = unsafeJson(raw);
    if (bad) ctx.addIssue({ code: 'custom', message: bad.message, path: bad.path });
  })
  .pipe(z.record(z.string(), z.unknown()));

export const StartBody = z
  .object({
    model: Model.optional(),
    entryId: EntryId.optional(),
    callbackUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .superRefine(egressAllowed)
      .optional(),
  })
  .strict();

export const StartQuery = z
  .object({
    wait: z.coerce.number().int().min(0).max(60_000).optional(),
  })
  .strict();

export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'must be 1-200 printable ASCII characters without spaces');

/** One item of a batch start: a start body, with its Idempotency-Key in the item (a header cannot be per item). */
export const BatchStartItem = StartBody.extend({ idempotencyKey: IdempotencyKey.optional() })
  .strict()
  .meta({ description: 'a run to start; `idempotencyKey` works as the Idempotency-Key header of a single start' });

/** The envelope, checked before any item so an oversized batch is one 400 naming `$.runs`; items are checked one by one. */
export const batchEnvelope = (max: number) =>
  z.object({ runs: z.array(z.unknown()).min(1, 'must hold at least one run').max(max, `holds at most ${max} runs`) }).strict();

/** What the OpenAPI document shows for the batch body (the item limit is BATCH_START_MAX_RUNS). */
export const BatchStartBody = z.object({ runs: z.array(BatchStartItem).min(1) }).strict();

export const RetryBody = z.object({ fromStepId: Name.optional(), modelPatch: Model.optional() }).strict();
export const SubmitBody = z.object({ modelPatch: Model.optional() }).strict();

export const ListRunsQuery = z
  .object({
    workflow: Name.optional(),
    status: z.enum(RUN_STATUSES as unknown as [string, ...string[]]).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: RunId.optional(),
    // Where runs are: their current stage or step (with workflow), or the entry they work on.
    stageId: Name.optional(),
    stepId: Name.optional(),
    entryId: EntryId.optional(),
  })
  .strict();

/** History is append-only: `from` (a count of events already read) lets a poller fetch only what is new. */
export const HistoryQuery = z.object({ from: z.coerce.number().int().min(0).max(1_000_000).default(0) }).strict();

export const VersionQuery = z.object({ version: z.coerce.number().int().min(1).optional() }).strict();

export const ConfirmBody = z.object({ option: z.string().min(1).max(200), comment: z.string().max(4000).optional() }).strict();
export const TasksQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();
export const LinkToken = z.string().regex(/^[A-Za-z0-9_-]{10,2000}\.[A-Za-z0-9_-]{20,200}$/, 'must be an answer link token');

/** Endpoints that take no parameters accept no body or an empty object, nothing else. */
export const EmptyBody = z.object({}).strict();

// ---- operators' tools (bulk operations, migrations, simulation) ----

const IsoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });
const RunStatusEnum = z.enum(RUN_STATUSES as unknown as [string, ...string[]]);

export const BulkBody = z
  .object({
    action: z.enum(['cancel', 'retry', 'submit']),
    filter: z
      .object({
        workflow: Name,
        version: z.int().min(1).optional(),
        status: RunStatusEnum.optional(),
        stepId: Name.optional(),
        createdBefore: IsoTime.optional(),
        createdAfter: IsoTime.optional(),
      })
      .strict(),
    dryRun: z.boolean().optional(),
  })
  .strict();

export const OperationId = RunId.describe('an operation id');

export const MigrationBody = z
  .object({
    fromVersion: z.int().min(1),
    toVersion: z.int().min(1),
    filter: z
      .object({
        status: z.enum(['waiting', 'draft', 'failed']).optional(),
        stepId: Name.optional(),
        createdBefore: IsoTime.optional(),
        createdAfter: IsoTime.optional(),
      })
      .strict()
      .optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();

export const SimulateBody = z
  .object({
    model: Model.default({}),
    version: z.int().min(1).optional(),
    /** stepId → the option a confirmation takes, or the result a dataflow returns. */
    stubs: z.record(Name, z.unknown()).optional(),
  })
  .strict();
