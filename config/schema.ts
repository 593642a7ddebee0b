import path from 'node:path';
import { z } from 'zod';
import { parseAllowlist } from '../src/http/egress.ts';

/**
 * Every environment variable stageflow reads, described once: the schema, the defaults and the
 * README table come from this table (test/unit/config.test.ts checks the README holds
 * `configDocsMarkdown()` as is), so they cannot drift apart.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;
const DAY_MS = 86_400_000;

interface VarSpec<T> {
  default: string | undefined;
  description: string;
  /** Values of secret variables are never echoed back in error messages. */
  secret?: boolean;
  schema: z.ZodType<T, string | undefined>;
}

function intVar(def: number, min: number, max: number, description: string): VarSpec<number> {
  const reason = `must be an integer from ${min} to ${max}`;
  return {
    default: String(def),
    description,
    schema: z
      .string()
      .regex(/^\d+$/, { error: reason })
      .transform(Number)
      .pipe(z.number().int().min(min, { error: reason }).max(max, { error: reason }))
      .default(def),
  };
}

function enumVar<const T extends readonly [string, ...string[]]>(
  values: T,
  def: T[number],
  description: string,
): VarSpec<T[number]> {
  return {
    default: def,
    description,
    schema: z.enum(values, { error: `must be one of ${values.join(', ')}` }).default(def),
  };
}

/** A string variable: the default is stated once and applied by the schema. */
function strVar(def: string, description: string, schema: z.ZodType<string, string>): VarSpec<string> {
  return { default: def, description, schema: schema.default(def) };
}

const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

function urlWithProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.hostname !== '';
  } catch {
    return false;
  }
}

const isRedisUrl = (value: string) => urlWithProtocol(value, ['redis:', 'rediss:']);
const isSmtpUrl = (value: string) => urlWithProtocol(value, ['smtp:', 'smtps:']);
const isHttpUrl = (value: string) => urlWithProtocol(value, ['http:', 'https:']);

/** Where a Redis Cluster is: seed nodes, plus the credentials and TLS every node shares. */
export interface RedisClusterConfig {
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/**
 * REDIS_CLUSTER_NODES: `host:port,host:port,…`, where any entry may instead be a REDIS_URL-style
 * `redis://[user:password@]host:port` or `rediss://…` (TLS) carrying the credentials for all
 * nodes. Every URL entry must agree (one cluster, one ACL user, TLS on or off throughout).
 */
export function parseClusterNodes(value: string): RedisClusterConfig {
  const nodes: RedisClusterConfig['nodes'] = [];
  let auth: { scheme: string; username: string | undefined; password: string | undefined } | undefined;
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') throw new Error('has an empty entry (two commas or a trailing comma)');
    let host: string;
    let port: string;
    if (/^[a-z]+:\/\//i.test(entry)) {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw new Error(`entry ${nodes.length + 1} is not a valid URL`);
      }
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`entry ${nodes.length + 1} must be redis:// or rediss://`);
      if (url.pathname !== '' && url.pathname !== '/') throw new Error(`entry ${nodes.length + 1} names a database; a cluster has only database 0`);
      const mine = {
        scheme: url.protocol,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        password: url.password ? decodeURIComponent(url.password) : undefined,
      };
      if (auth && (auth.scheme !== mine.scheme || auth.username !== mine.username || auth.password !== mine.password)) {
        throw new Error('entries disagree on redis:// vs rediss:// or on the credentials; the nodes of one cluster share them');
      }
      auth = mine;
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = url.port || '6379';
    } else {
      const m = /^(\[[^\]]+\]|[^:\s/@]+):(\d{1,5})$/.exec(entry);
      if (!m) throw new Error(`entry ${nodes.length + 1} must be host:port or a redis:// URL`);
      host = (m[1] as string).replace(/^\[|\]$/g, '');
      port = m[2] as string;
    }
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error(`entry ${nodes.length + 1} has port ${port}, not 1-65535`);
    if (host === '') throw new Error(`entry ${nodes.length + 1} has no host`);
    nodes.push({ host, port: n });
  }
  return { nodes, username: auth?.username, password: auth?.password, tls: auth?.scheme === 'rediss:' };
}

const MAIL_FROM_PATTERN = /^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;

const vars = {
  REDIS_URL: strVar(
    'redis://127.0.0.1:6379',
    'Redis to use (`redis://` or `rediss://`). If nothing answers on a loopback URL at its start and `redis-server` is installed, `npm start` (outside production) starts one; `npm run api`, `npm run worker` and production wait for it instead.',
    z.string().refine(isRedisUrl, { error: 'must be a redis:// or rediss:// URL with a host' }),
  ),
  REDIS_CLUSTER_NODES: {
    default: undefined,
    // entries may carry the cluster's password
    secret: true,
    description:
      'Seed nodes of a Redis Cluster, `host:port,host:port,…` (any entry may be `redis://[user:password@]host:port`, or `rediss://…` for TLS, to give every node the credentials); when set, `REDIS_URL` is ignored.',
    schema: z
      .string()
      .transform((value, ctx) => {
        try {
          return parseClusterNodes(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional(),
  },
  REDIS_WAIT_REPLICAS: {
    default: 'auto',
    description:
      'Replicas that must hold a start, an answer or an operator action (Redis `WAIT`) before the API acknowledges it; `auto` is 1 when the Redis (or each cluster primary) has a replica, else 0.',
    schema: z
      .string()
      .regex(/^(?:auto|\d+)$/, { error: 'must be auto or an integer from 0 to 16' })
      .transform((v) => (v === 'auto' ? ('auto' as const) : Number(v)))
      .pipe(z.union([z.literal('auto'), z.number().int().min(0).max(16, { error: 'must be auto or an integer from 0 to 16' })]))
      .default('auto'),
  },
  REDIS_WAIT_TIMEOUT_MS: intVar(
    1_000,
    1,
    4_000,
    'How long the API waits for `REDIS_WAIT_REPLICAS` replicas to confirm a write before it answers 503 (the write may still be applied; a retry with the same Idempotency-Key returns it). At most 4000: below the 5 s bound on every API Redis command.',
  ),
  PORT: intVar(3000, 0, 65_535, 'HTTP port of the API (0 picks a free port).'),
  STAGEFLOW_PREFIX: strVar(
    'sf',
    'Prefix of every Redis key stageflow and its BullMQ queues use; lets several deployments or test runs share one Redis.',
    z.string().regex(PREFIX_PATTERN, { error: 'must be 1-32 characters of A-Z, a-z, 0-9, _ or -' }),
  ),
  STAGEFLOW_PARTITIONS: intVar(
    12,
    1,
    256,
    'Partitions of the deployment (each one Redis Cluster hash tag holding its runs, indexes and queues). Fixed when the deployment is created: changing it later re-homes runs. Pick at least the most cluster primaries you may ever run, and a multiple of the likely counts; the default 12 spreads evenly over 1, 2, 3, 4, 6 and 12 primaries.',
  ),
  WORKER_CONCURRENCY: intVar(
    20,
    1,
    1000,
    'Step jobs one worker process runs at once, given to the partitions it consumes that have work (an idle partition keeps one watching slot; see "Scaling past one Redis").',
  ),
  WORKER_PARTITIONS: {
    default: undefined,
    description:
      'The partitions this worker process consumes (step and event queues, outbox, reconciler), e.g. `0,3,5-7`; unset: all of them. Every partition must be consumed by some worker.',
    schema: z
      .string()
      .transform((value, ctx) => {
        const out = new Set<number>();
        for (const part of value.split(',').map((p) => p.trim())) {
          const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
          const from = m ? Number(m[1]) : Number.NaN;
          const to = m?.[2] !== undefined ? Number(m[2]) : from;
          if (!m || to < from || to > 255) {
            ctx.addIssue({ code: 'custom', message: `"${part}" is not a partition number or range (0-255, e.g. 0,3,5-7)` });
            return z.NEVER;
          }
          for (let p = from; p <= to; p++) out.add(p);
        }
        return [...out].sort((a, b) => a - b);
      })
      .optional(),
  },
  WORKER_LOCK_DURATION_MS: intVar(
    30_000,
    100,
    DAY_MS,
    'BullMQ job lock; a worker that dies mid-step hands its job back after about this long.',
  ),
  WORKER_STALLED_INTERVAL_MS: intVar(
    30_000,
    100,
    DAY_MS,
    'How often workers look for stalled (lock-expired) jobs.',
  ),
  WORKER_MAX_STALLED_COUNT: intVar(
    3,
    0,
    1000,
    'Stalls a step job survives before it fails (the reconciler repairs the run after that).',
  ),
  MAX_TRANSITIONS: intVar(
    10_000,
    1,
    10_000_000,
    'Step transitions one run may make before it fails; stops runaway loops.',
  ),
  RUN_RETENTION_DAYS: intVar(
    30,
    1,
    3650,
    'Days a finished run and its history are kept before they expire.',
  ),
  MODEL_MAX_BYTES: intVar(
    262_144,
    1024,
    16 * 1024 * 1024,
    "Largest a run's model may grow (JSON bytes); a start or step that would exceed it fails.",
  ),
  IDEMPOTENCY_TTL_HOURS: intVar(
    24,
    1,
    8760,
    'How long an `Idempotency-Key` on a run start keeps returning the same run.',
  ),
  RECONCILE_INTERVAL_MS: intVar(
    15_000,
    100,
    DAY_MS,
    'How often the reconciler looks for runs whose next step has no job.',
  ),
  SHUTDOWN_TIMEOUT_MS: intVar(
    10_000,
    0,
    DAY_MS,
    'On SIGTERM, how long active steps may finish before they are handed back.',
  ),
  NODE_ENV: enumVar(
    NODE_ENVS,
    'development',
    '`production` refuses to start without API keys; anything else allows the dev mode.',
  ),
  STAGEFLOW_API_KEYS: {
    default: undefined,
    secret: true,
    description:
      'API keys as a JSON array of `{id, key or keyHash, roles, name?, email?}`; else `config/api-keys.json` is read.',
    schema: z.string().optional(),
  },
  LOG_LEVEL: enumVar(LOG_LEVELS, 'info', 'pino log level.'),
  STAGEFLOW_DATA_DIR: strVar('./data', 'Where a Redis started by `npm start` keeps its data (AOF) and log.', z.string()),
  SMTP_URL: {
    default: undefined,
    // may carry a password (smtp://user:pass@host)
    secret: true,
    description:
      'SMTP server for the `email` notification channel (`smtp://` or `smtps://`, credentials in the URL); unset, e-mail recipients are reported unreachable.',
    schema: z.string().refine(isSmtpUrl, { error: 'must be an smtp:// or smtps:// URL with a host' }).optional(),
  },
  MAIL_FROM: strVar(
    'stageflow@localhost',
    'Sender of notification e-mails: `address` or `Name <address>`.',
    z.string().regex(MAIL_FROM_PATTERN, { error: 'must be an e-mail address or "Name <address>"' }),
  ),
  WEBHOOK_SECRET: {
    default: undefined,
    secret: true,
    description:
      'Signs notification webhooks (Standard Webhooks, HMAC-SHA256); `whsec_<base64>` or at least 16 characters. Unset, the `webhook` channel is off.',
    schema: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  },
  NOTIFY_WEBHOOK_URL: {
    default: undefined,
    description:
      'Where `webhook` notifications go for recipients that are not URLs themselves (the recipient id is in the payload).',
    schema: z.string().refine(isHttpUrl, { error: 'must be an http:// or https:// URL' }).optional(),
  },
  PUBLIC_URL: strVar(
    'http://localhost:3000',
    'The URL users reach stageflow at; links in notifications are built from it.',
    z.string().refine(isHttpUrl, { error: 'must be an http:// or https:// URL' }).transform((u) => u.replace(/\/+$/, '')),
  ),
  LINK_SECRET: {
    default: undefined,
    secret: true,
    description:
      'Signs confirmation answer links (HMAC-SHA256), at least 32 characters. Unset, a random one is generated once and kept in Redis for every process.',
    schema: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  },
  TEMPLATE_MAX_BYTES: intVar(
    5 * 1_048_576,
    1024,
    256 * 1_048_576,
    'Largest document template file (docx, xlsx, pdf definition) `PUT /api/templates/{name}` accepts; larger ones get 413.',
  ),
  BODY_LIMIT_BYTES: intVar(1_048_576, 1024, 64 * 1_048_576, 'Largest JSON request body the API reads; larger ones get 413.'),
  RATE_LIMIT_PER_MINUTE: intVar(1200, 0, 1_000_000, 'API requests one principal may make per minute (429 with Retry-After beyond); 0 turns the limit off.'),
  AUTH_FAILURES_PER_MINUTE: intVar(30, 0, 1_000_000, 'Failed authentications (bad API keys, on /api and /admin) one client address may make per minute; beyond it the address gets 429 with Retry-After before any key is checked. 0 turns the limit off.'),
  BATCH_START_MAX_RUNS: intVar(
    1000,
    1,
    100_000,
    'Most runs one `POST /api/workflows/{name}/runs/batch` may start; a larger batch is a 400 naming `$.runs` (the body limit applies too).',
  ),
  METRICS_TOKEN: {
    default: undefined,
    secret: true,
    description: 'When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>`.',
    schema: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  },
  WORKER_HTTP_PORT: {
    default: undefined,
    description:
      'Port of a worker process\'s own `/healthz`, `/readyz` and `/metrics` listener (0 picks a free port, logged); unset, workers listen on nothing.',
    schema: z
      .string()
      .regex(/^\d+$/, { error: 'must be an integer from 0 to 65535' })
      .transform(Number)
      .pipe(z.number().int().min(0).max(65_535, { error: 'must be an integer from 0 to 65535' }))
      .optional(),
  },
  EGRESS_ALLOWLIST: {
    default: undefined,
    description:
      'Comma-separated host names, addresses and CIDRs that callbacks, webhooks and http dataflows may reach although they are loopback, private, link-local or otherwise internal (refused by default), e.g. `10.0.0.0/8,hooks.internal`.',
    schema: z
      .string()
      .superRefine((value, ctx) => {
        try {
          parseAllowlist(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
  },
} satisfies Record<string, VarSpec<unknown>>;

export type ConfigVarName = keyof typeof vars;

const envSchema = z.object(
  Object.fromEntries(Object.entries(vars).map(([name, spec]) => [name, spec.schema])) as {
    [K in ConfigVarName]: (typeof vars)[K]['schema'];
  },
);

type Env = z.output<typeof envSchema>;

/** The environment as stageflow's configuration: the schema's output, so the type cannot drift from it. */
const configSchema = envSchema.transform(toConfig);

export type Config = z.output<typeof configSchema>;
export type WorkerConfig = Config['worker'];
/** Notification channels (src/notify). */
export type NotifyConfig = Config['notify'];

export interface ConfigIssue {
  name: string;
  reason: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.name}: ${i.reason}`);
    super(`Invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function describeValue(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return JSON.stringify(shown);
}

function toConfig(env: Env) {
  return {
    redisUrl: env.REDIS_URL,
    redisCluster: env.REDIS_CLUSTER_NODES,
    redisWaitReplicas: env.REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: env.REDIS_WAIT_TIMEOUT_MS,
    port: env.PORT,
    prefix: env.STAGEFLOW_PREFIX,
    partitions: env.STAGEFLOW_PARTITIONS,
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      partitions: env.WORKER_PARTITIONS,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    },
    maxTransitions: env.MAX_TRANSITIONS,
    runRetentionDays: env.RUN_RETENTION_DAYS,
    modelMaxBytes: env.MODEL_MAX_BYTES,
    idempotencyTtlHours: env.IDEMPOTENCY_TTL_HOURS,
    reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    nodeEnv: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    /** Raw value of STAGEFLOW_API_KEYS; the auth module parses and validates it. */
    apiKeys: env.STAGEFLOW_API_KEYS,
    logLevel: env.LOG_LEVEL,
    /** Absolute, resolved against the working directory at load time. */
    dataDir: path.resolve(env.STAGEFLOW_DATA_DIR),
    /** Notification channels (src/notify). */
    notify: {
      smtpUrl: env.SMTP_URL,
      mailFrom: env.MAIL_FROM,
      webhookSecret: env.WEBHOOK_SECRET,
      webhookUrl: env.NOTIFY_WEBHOOK_URL,
    },
    /** Without a trailing slash. */
    publicUrl: env.PUBLIC_URL,
    linkSecret: env.LINK_SECRET,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    templateMaxBytes: env.TEMPLATE_MAX_BYTES,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
    batchMaxRuns: env.BATCH_START_MAX_RUNS,
    metricsToken: env.METRICS_TOKEN,
    /** Undefined: workers serve no HTTP. */
    workerHttpPort: env.WORKER_HTTP_PORT,
    /** Raw EGRESS_ALLOWLIST (src/http/egress.ts parses it). */
    egressAllowlist: env.EGRESS_ALLOWLIST,
  };
}

/**
 * Reads and validates stageflow's environment. Empty values count as unset, because compose
 * files and CI templates pass `VAR=` for "not configured". Throws a ConfigError naming every bad
 * variable at once so an operator fixes them in one round.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(vars)) {
    const raw = env[name]?.trim();
    input[name] = raw === '' ? undefined : raw;
  }
  const parsed = configSchema.safeParse(input);
  if (parsed.success) return parsed.data;

  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const issue of parsed.error.issues) {
    const name = String(issue.path[0] ?? '(unknown)');
    // One reason per variable is enough; a pipe can report the same value twice.
    if (seen.has(name)) continue;
    seen.add(name);
    const spec = (vars as Record<string, VarSpec<unknown>>)[name];
    const raw = input[name];
    const got = raw === undefined || spec?.secret ? '' : ` (got ${describeValue(raw)})`;
    issues.push({ name, reason: `${issue.message}${got}` });
  }
  throw new ConfigError(issues);
}

export interface ConfigDoc {
  name: ConfigVarName;
  default: string | undefined;
  description: string;
}

export const configDocs: ConfigDoc[] = (Object.keys(vars) as ConfigVarName[]).map((name) => ({
  name,
  default: vars[name].default,
  description: vars[name].description,
}));

/** The README's configuration table, so the docs are regenerated rather than hand-edited. */
export function configDocsMarkdown(): string {
  const rows = configDocs.map(
    (d) => `| \`${d.name}\` | ${d.default === undefined ? '—' : `\`${d.default}\``} | ${d.description} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
