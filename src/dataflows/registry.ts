/**
 * Registered dataflows: zod-validated definitions (discriminated by `kind`) stored in Redis, one
 * hash per name plus a name index (keys from src/engine/keyspace.ts).
 * A dataflow has no versions: saving a changed definition replaces it, and the next step that
 * runs it uses the new one.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Logger } from 'pino';
import { createKeyspace, type Keyspace } from '../engine/keyspace.ts';
import { configure } from 'safe-stable-stringify';
import { z } from 'zod';
import { IDENTIFIER_PATTERN } from '../definition/ids.ts';
import { egressProblem } from '../http/egress.ts';
import { fromZodError } from '../definition/issues.ts';
import { EngineError, type FieldProblem } from '../engine/errors.ts';

const canonical = configure({ deterministic: true }) as (v: unknown) => string;

export const DATAFLOW_NAME_PATTERN = IDENTIFIER_PATTERN;
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

const NAME_MESSAGE = "must be 1-64 characters of letters, digits, '_' or '-', starting with a letter or digit";
export const DataflowName = z.string().regex(DATAFLOW_NAME_PATTERN, { message: NAME_MESSAGE });

/** A request (HTTP, module call) is bounded by an hour; a child workflow may wait a year. */
const CallTimeoutMs = z.int().min(1).max(3_600_000);
const WaitTimeoutMs = z
  .int()
  .min(1)
  .max(365 * 24 * 3600 * 1000);

/** Headers stageflow sets itself on every call; a definition may not override them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'idempotency-key',
  'x-stageflow-run',
  'x-stageflow-step',
  'x-stageflow-attempt',
  'content-type',
  'content-length',
  'host',
  'transfer-encoding',
  'connection',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const Headers = z
  .record(
    z.string().regex(HEADER_NAME, { message: 'must be a valid HTTP header name' }),
    z
      .string()
      .max(8192)
      .refine((v) => !/[\r\n\0]/.test(v), { message: 'header values cannot contain CR, LF or NUL' }),
  )
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (RESERVED_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({ code: 'custom', path: [name], message: `header ${name} is set by stageflow and cannot be configured` });
      }
    }
  });

export const HttpDataflow = z.strictObject({
  name: DataflowName,
  kind: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  method: z.literal('POST').default('POST'),
  headers: Headers.optional(),
  timeoutMs: CallTimeoutMs.default(DEFAULT_HTTP_TIMEOUT_MS),
});

export const ModuleDataflow = z.strictObject({
  name: DataflowName,
  kind: z.literal('module'),
  /** File name (without `.ts`) under workers/dataflows/. */
  module: z.string().regex(DATAFLOW_NAME_PATTERN, {
    message: `must name a file of workers/dataflows/ without the .ts extension and without path separators (${NAME_MESSAGE})`,
  }),
  timeoutMs: CallTimeoutMs.optional(),
});

export const WorkflowDataflow = z.strictObject({
  name: DataflowName,
  kind: z.literal('workflow'),
  workflow: z.string().regex(DATAFLOW_NAME_PATTERN, { message: NAME_MESSAGE }),
  timeoutMs: WaitTimeoutMs.optional(),
});

export const DataflowDefinition = z.discriminatedUnion('kind', [HttpDataflow, ModuleDataflow, WorkflowDataflow], {
  error: (issue) => (issue.code === 'invalid_union' ? 'kind must be one of "http", "module", "workflow"' : undefined),
});

export type DataflowDefinition = z.infer<typeof DataflowDefinition>;
export type HttpDataflowDefinition = z.infer<typeof HttpDataflow>;
export type ModuleDataflowDefinition = z.infer<typeof ModuleDataflow>;

export interface PutResult {
  /** True when no dataflow of this name existed before. */
  created: boolean;
  /** True when something was written (created, or an existing definition replaced by a different one). */
  changed: boolean;
}

export interface LoadDirResult {
  loaded: Array<{ file: string; name: string } & PutResult>;
  failed: Array<{ file: string; error: string }>;
}

/** Thrown by `put` for a definition the schema rejects; `errors` name the fields as JSON paths. */
export class InvalidDataflowError extends EngineError {
  override name = 'InvalidDataflowError';
  constructor(message: string, errors: FieldProblem[]) {
    super('invalid', message, errors);
  }
}

/** A stored definition that no longer passes the schema (saved by an older version, or edited by hand). */
export class StoredDataflowInvalidError extends Error {
  override name = 'StoredDataflowInvalidError';
}

/**
 * Returns 0 when the stored definition is identical, 1 when it was replaced, 2 when it is new.
 * KEYS[1] dataflow hash  KEYS[2] name index; ARGV[1] name  ARGV[2] canonical JSON  ARGV[3] now (ms)
 */
const PUT_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'def')
if current == ARGV[2] then return 0 end
if not current then redis.call('HSET', KEYS[1], 'createdAt', ARGV[3]) end
redis.call('HSET', KEYS[1], 'def', ARGV[2], 'updatedAt', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if current then return 1 end
return 2
`;

export class DataflowRegistry {
  private readonly keys: Keyspace;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly log?: Logger,
  ) {
    this.keys = createKeyspace(prefix);
  }

  private key(name: string): string {
    return this.keys.dataflow(name);
  }

  private get indexKey(): string {
    return this.keys.dataflowIndex;
  }

  /** Validates and saves a definition; an identical one is left alone (`changed: false`). */
  async put(input: unknown): Promise<PutResult> {
    const parsed = DataflowDefinition.safeParse(input);
    if (!parsed.success) {
      throw new InvalidDataflowError('the dataflow definition is invalid', issuesOf(parsed.error));
    }
    const def = parsed.data;
    // Checked on save, not in the schema: a stored dataflow stays readable if the allowlist
    // shrinks later (its calls are refused at connect time then).
    const denied = def.kind === 'http' ? egressProblem(def.url) : undefined;
    if (denied) throw new InvalidDataflowError('the dataflow definition is invalid', [{ path: '$.url', message: denied }]);
    const code = Number(await this.redis.eval(PUT_SCRIPT, 2, this.key(def.name), this.indexKey, def.name, canonical(def), Date.now()));
    return { created: code === 2, changed: code !== 0 };
  }

  async get(name: string): Promise<DataflowDefinition | null> {
    if (!DATAFLOW_NAME_PATTERN.test(name)) return null;
    return this.decode(name, await this.redis.hget(this.key(name), 'def'));
  }

  async exists(name: string): Promise<boolean> {
    if (!DATAFLOW_NAME_PATTERN.test(name)) return false;
    return (await this.redis.hexists(this.key(name), 'def')) === 1;
  }

  /** Every registered dataflow, by name. */
  async list(): Promise<DataflowDefinition[]> {
    const names = await this.redis.zrange(this.indexKey, 0, -1);
    if (names.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const name of names) pipeline.hget(this.key(name), 'def');
    const replies = (await pipeline.exec()) ?? [];
    const out: DataflowDefinition[] = [];
    names.forEach((name, i) => {
      const [err, json] = replies[i] ?? [null, null];
      if (err) throw err;
      const def = this.decode(name, json as string | null);
      if (def) out.push(def);
    });
    return out;
  }

  /**
   * Saves every `*.json` of `dir` (each one definition; `name` defaults to the file name). A bad
   * file is logged and reported, never fatal; a missing directory loads nothing.
   */
  async loadDir(dir = 'config/dataflows'): Promise<LoadDirResult> {
    const result: LoadDirResult = { loaded: [], failed: [] };
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
      throw err;
    }
    for (const file of files) {
      try {
        const json: unknown = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
        const body = isObject(json) && json.name === undefined ? { ...json, name: path.basename(file, '.json') } : json;
        const saved = await this.put(body);
        const name = (body as { name: string }).name;
        result.loaded.push({ file, name, ...saved });
        this.log?.info({ dataflow: name, file, ...saved }, 'dataflow loaded');
      } catch (err) {
        const error =
          err instanceof InvalidDataflowError
            ? `${err.message}: ${err.errors.map((i) => `${i.path}: ${i.message}`).join('; ')}`
            : err instanceof Error
              ? err.message
              : String(err);
        result.failed.push({ file, error });
        this.log?.error({ file, error }, 'dataflow not loaded');
      }
    }
    return result;
  }

  private decode(name: string, json: string | null): DataflowDefinition | null {
    if (json === null) return null;
    const parsed = DataflowDefinition.safeParse(JSON.parse(json));
    // Only reachable if a stored definition predates a stricter schema or was edited by hand.
    if (!parsed.success)
      throw new StoredDataflowInvalidError(
        `the stored dataflow ${name} no longer passes validation: ${parsed.error.issues[0]?.message}; save it again`,
      );
    return parsed.data;
  }
}

/** zod issues as field errors; an unknown key is reported at that key's own path. */
function issuesOf(error: z.ZodError): FieldProblem[] {
  return fromZodError(error, '$', () => 'unknown field (check the spelling; allowed fields depend on kind)');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
