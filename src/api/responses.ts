/**
 * zod schemas of what the API answers besides the run views (src/engine/run-view.ts): the route
 * declarations name them per status, and the OpenAPI document renders them.
 */
import { z } from 'zod';
import { RENDER_TYPES } from '../notify/templates.ts';
import { RunErrorView, RunStatusSchema, RunView } from '../engine/run-view.ts';

const IsoTime = z.string().meta({ format: 'date-time' });
const JsonObject = z.record(z.string(), z.unknown());

/** RFC 9457 problem details; `errors` names each bad field (src/engine/errors.ts FieldProblem). */
export const FieldProblem = z.object({
  path: z.string().meta({ description: 'where: $ (a JSON body), $.stages[0].id, path.<name>, query.<name> or header.<Name>' }),
  message: z.string(),
});
export const Problem = z
  .object({
    type: z.string().default('about:blank'),
    status: z.int(),
    title: z.string(),
    detail: z.string().optional(),
    errors: z.array(FieldProblem).optional(),
  })
  .meta({ description: 'RFC 9457 problem details' });

/** One item of a batch start answer: the status a single start would have answered, with its run or its problem. */
export const BatchStartResult = z
  .object({
    status: z.int().meta({ description: '201 started, 200 the run of this idempotencyKey, 4xx refused (this item only)' }),
    // On 200 and 201.
    run: RunView.optional(),
    // On 4xx: why this item was refused; its field paths are under $.runs[i].
    problem: Problem.optional(),
  })
  .meta({ description: 'one per item of the batch, in order: the run (200, 201) or the problem (4xx)' });
export const BatchStartAnswer = z.object({ items: z.array(BatchStartResult) });

export const Issue = z.object({ path: z.string(), message: z.string() });
export const ValidationResult = z.object({ valid: z.boolean(), errors: z.array(Issue), warnings: z.array(Issue) });
export const SavedWorkflow = z.object({ name: z.string(), version: z.int(), warnings: z.array(Issue) });
export const WorkflowSummary = z.object({ name: z.string(), title: z.string().optional(), latest: z.int(), updatedAt: IsoTime });
export const WorkflowVersion = z.object({ version: z.int(), savedAt: IsoTime });
export const itemsOf = <S extends z.ZodType>(item: S) => z.object({ items: z.array(item) });

export const BulkDryRun = z.object({
  count: z.int(),
  skipped: z.int().meta({ description: 'matching runs the caller may not act on' }),
  sample: z.array(RunView),
});
export const BulkAccepted = z.object({
  operationId: z.string(),
  created: z.boolean().meta({ description: 'false: this request started the operation before' }),
});
export const MigrationReport = z.object({
  dryRun: z.boolean(),
  movable: z.int(),
  moved: z.array(z.string()),
  blocked: z.array(z.object({ runId: z.string(), reason: z.string() })),
});
export const SimulationResult = z.object({
  status: z.enum(['completed', 'failed', 'draft']),
  outcome: z.string().optional(),
  path: z.array(z.object({ stageId: z.string(), stepId: z.string(), type: z.string(), modelAfter: JsonObject })),
  model: JsonObject,
  effects: z.array(
    z.object({ stepId: z.string(), kind: z.enum(['notification', 'dataflow', 'entrySave', 'confirmation']), detail: JsonObject }),
  ),
  notes: z.array(z.string()),
  error: RunErrorView.optional(),
});

export const SavedDataflowShape = { name: z.string(), created: z.boolean(), changed: z.boolean() };
export const DataflowTestResult = z.object({
  kind: z.string(),
  result: z.unknown().optional(),
  durationMs: z.int().optional(),
  runId: z.string().optional(),
  status: RunStatusSchema.optional(),
  model: JsonObject.optional(),
});
export const PrincipalList = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string().optional(), roles: z.array(z.string()) })),
  roles: z.array(z.string()),
});

const FileInfo = z.object({ size: z.int(), sha256: z.string(), contentType: z.string() });
const templateFields = {
  name: z.string(),
  subject: z.string().optional(),
  renderType: z.enum(RENDER_TYPES),
  fileName: z.string().optional(),
  tags: z.array(z.string()).meta({ description: 'model field paths the tags read (loop children as list.field)' }),
  file: FileInfo.optional(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
};
export const TemplateSummary = z.object(templateFields);
export const StoredTemplate = z.object({ ...templateFields, body: z.string().optional() });
export const PreviewResult = z.object({ subject: z.string().optional(), body: z.string(), format: z.string() });

export const InboxAttachment = z.object({ n: z.int(), fileName: z.string(), contentType: z.string(), size: z.int(), document: z.string() });
export const InboxItem = z.object({
  id: z.string(),
  at: IsoTime,
  subject: z.string().optional(),
  body: z.string(),
  format: z.enum(['text', 'html']),
  read: z.boolean(),
  data: JsonObject,
  attachments: z.array(InboxAttachment).optional(),
});
export const InboxPage = z.object({ items: z.array(InboxItem), unreadCount: z.int() });
export const MarkedRead = z.object({ id: z.string(), read: z.literal(true) });
export const Me = z.object({
  id: z.string(),
  roles: z.array(z.string()),
  name: z.string().optional(),
  designer: z.boolean().meta({ description: 'may save workflows, dataflows and templates' }),
});
export const StepTypeInfo = z.object({
  type: z.string(),
  group: z.string(),
  description: z.string(),
  schema: JsonObject.meta({ description: "JSON Schema of the step's parameters; branch lists are {type: array, x-steps: true}" }),
  common: JsonObject.meta({ description: 'JSON Schema of the common step fields this type does not redefine' }),
});
export const Readiness = z.object({ status: z.enum(['ready', 'not ready']), redis: z.boolean(), workers: z.int() });
export const Liveness = z.object({ status: z.literal('ok') });

/** Non-JSON content, for the document. */
export const text = (description: string, mediaType = 'text/html') => ({ description, content: { [mediaType]: { type: 'string' } } });
export const file = (description: string) => text(description, 'application/octet-stream');
export const empty = (description: string) => ({ description });
