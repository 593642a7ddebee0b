/**
 * Hostile and broken input at every write endpoint (issue 4): hundreds of generated malformed
 * requests — broken JSON, wrong content types, wrong types for every field, missing fields, huge
 * and deeply nested bodies, prototype-pollution keys, unknown step types, absurd numbers, unicode
 * in names, very long strings, null bodies, arrays instead of objects. Every answer must be a 4xx
 * problem+json (the HTML endpoints /admin/login and /confirm/:token may answer 4xx HTML), never a
 * 5xx; the server stays up; and a refused request changes nothing in Redis — checked after every
 * single request by a type-aware snapshot of every key under the harness prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { isCluster, type RedisClient } from '../../src/engine/redis.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ADMIN_KEY, keyOf, scanKeys, startHarness, testRedisClient, type Harness } from '../helpers/harness.ts';

// ---------------------------------------------------------------------------------------------
// Requests and their checks

interface Case {
  label: string;
  method: string;
  path: string;
  /** A string is sent as is; `undefined` sends no body. */
  body?: string;
  /** Default `application/json` when there is a body; `null` sends the body without a content type. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** /admin/login and /confirm/:token answer browsers: a 4xx HTML page is fine there. */
  html?: boolean;
  /**
   * POST /api/workflows/validate answers a well-formed request about a bad definition with
   * 200 {valid: false} (DESIGN §6); only HTTP-level breakage is a 4xx there.
   */
  validate?: boolean;
}

interface Outcome {
  status: number;
  contentType: string;
  text: string;
  setCookie: string | null;
}

let h: Harness;
let redis: RedisClient;

async function send(c: Case): Promise<Outcome> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}`, ...c.headers };
  let body: string | Blob | undefined = c.body;
  if (c.body !== undefined) {
    if (c.contentType === null)
      body = new Blob([c.body]); // a Blob without a type: fetch sends no content type
    else headers['content-type'] ??= c.contentType ?? 'application/json';
  }
  const res = await fetch(h.base + c.path, { method: c.method, headers, body, redirect: 'manual' });
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text: await res.text(),
    setCookie: res.headers.get('set-cookie'),
  };
}

/** What is wrong with an answer, or null. */
function verdict(c: Case, o: Outcome): string | null {
  if (o.status >= 500) return `5xx`;
  if (c.validate) {
    if (o.status === 200) {
      try {
        return JSON.parse(o.text).valid === false ? null : 'validate said valid';
      } catch {
        return 'validate answered 200 without JSON';
      }
    }
  }
  if (o.status < 400 || o.status >= 500) return `not a 4xx`;
  if (/^application\/problem\+json/.test(o.contentType)) {
    const p = JSON.parse(o.text);
    if (p.status !== o.status || typeof p.title !== 'string') return 'problem body does not match';
  } else if (!(c.html && /^text\/html/.test(o.contentType))) return `content-type ${o.contentType}`;
  if (/node_modules|\bat [\w.<>]+ \(|\.ts:\d+:\d+/.test(o.text)) return 'stack trace in the answer';
  if (c.path.startsWith('/admin/login') && o.setCookie) return 'a refused sign-in set a cookie';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Redis snapshots: every key under the prefix, dumped by type. Rate-limit counters, BullMQ's
// event streams and its stalled-check marker (a TTL'd timer key) are bookkeeping, not state a
// request may change.

type Snapshot = Map<string, string>;

function excluded(key: string): boolean {
  return (
    key.startsWith(`${h.prefix}:ratelimit:`) ||
    // BullMQ's keys: under each partition's tag, and the global one.
    (key.startsWith(`${h.prefix}:{`) && /^\{[^}]+\}:[^:]+:(events|stalled-check)$/.test(key.slice(h.prefix.length + 1)))
  );
}

async function snapshot(): Promise<Snapshot> {
  // Every primary's keys on a cluster; the commands go one by one (auto-pipelined there), since a
  // cluster pipeline must keep to one slot.
  const keys = (await scanKeys(redis, `${h.prefix}:*`)).filter((k) => !excluded(k));
  const types = await Promise.all(keys.map((k) => redis.type(k)));
  const values = await Promise.all(
    keys.map((k, i): Promise<unknown> => {
      switch (types[i]) {
        case 'string':
          return redis.get(k);
        case 'hash':
          return redis.hgetall(k);
        case 'list':
          return redis.lrange(k, 0, -1);
        case 'set':
          return redis.smembers(k);
        case 'zset':
          return redis.zrange(k, 0, -1, 'WITHSCORES');
        case 'stream':
          return redis.xrange(k, '-', '+');
        default:
          return redis.dump(k);
      }
    }),
  );
  const snap: Snapshot = new Map();
  keys.forEach((k, i) => {
    let v = values[i];
    if (types[i] === 'set') v = [...(v as string[])].sort();
    if (types[i] === 'hash') v = Object.fromEntries(Object.entries(v as Record<string, string>).sort(([a], [b]) => a.localeCompare(b)));
    snap.set(k, `${types[i]} ${JSON.stringify(v)}`);
  });
  return snap;
}

function diff(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of b)
    if (!a.has(k)) out.push(`+ ${k}`);
    else if (a.get(k) !== v) out.push(`~ ${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`- ${k}`);
  return out.map((line) => line.replace(`${h.prefix}:`, '')).sort();
}

/** Sends every case, checking each answer and the store after each one. */
async function barrage(cases: Case[]): Promise<{ offenders: string[]; count: number }> {
  const offenders: string[] = [];
  let previous = await snapshot();
  for (const c of cases) {
    const o = await send(c);
    const bad = verdict(c, o);
    const now = await snapshot();
    const changed = diff(previous, now);
    previous = now;
    if (bad || changed.length) {
      offenders.push(
        `${c.label}: ${c.method} ${c.path.slice(0, 120)} → ${o.status} ${bad ?? ''}${changed.length ? ` changed ${changed.slice(0, 4).join(', ')}` : ''} ${o.text.slice(0, 160)}`,
      );
    }
  }
  return { offenders, count: cases.length };
}

// ---------------------------------------------------------------------------------------------
// Targets: things that exist, so a malformed request would have something to damage.

const TARGET = 'target';
const NEW_WF = 'bad-target';

/** `mode`: wait → a confirmation (routed to admin, who also gets an inbox item); draft → draft; other → failed. */
const targetDefinition = {
  name: TARGET,
  stages: [
    {
      id: 'main',
      name: 'Main',
      steps: [
        {
          id: 'route',
          type: 'switchCase',
          sourceField: 'mode',
          cases: [
            {
              value: 'wait',
              steps: [
                {
                  id: 'decide',
                  type: 'getUserConfirmation',
                  confirmationField: 'decision',
                  options: ['approve', 'reject'],
                  routing: ['role:admin'],
                  users: ['admin'],
                },
              ],
            },
            { value: 'draft', steps: [{ id: 'back', type: 'resetToDraft' }] },
            { value: 'done', steps: [{ id: 'fin', type: 'finish' }] },
          ],
        },
      ],
    },
  ],
};

interface Targets {
  waiting: string;
  failed: string;
  draft: string;
  completed: string;
  cancelled: string;
  notification: string;
  /** Fresh runs for the cases that are accepted today, one per case. */
  spare: Record<'wait' | 'fail' | 'draft', string[]>;
  /** A validly signed answer link for the completed run (whose confirmation is long closed). */
  staleLink: string;
  expiredLink: string;
}
let t: Targets;

const STATE = { wait: 'waiting', fail: 'failed', draft: 'draft', done: 'completed' } as const;

async function startRun(mode: keyof typeof STATE): Promise<string> {
  const res = await h.api('POST', `/api/workflows/${TARGET}/runs?wait=5000`, { model: { mode } });
  if (res.status !== 201) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.body)}`);
  const run = res.body.status === STATE[mode] ? res.body : await h.waitFor(res.body.id, (r) => r.status === STATE[mode]);
  return run.id;
}

beforeAll(async () => {
  h = await startHarness({ worker: false, app: { rateLimitPerMinute: 0 } });
  redis = testRedisClient();
  // A worker of our own, stopped before the barrage, so nothing moves in the background.
  const worker = Engine.open(h.options, createLogger({ level: 'silent' }), { failFast: false });
  worker.startWorker();
  try {
    await h.saveWorkflow(targetDefinition);
    expect((await h.api('PUT', '/api/dataflows/df', { kind: 'http', url: 'https://dataflows.example.test/x' })).status).toBe(201);
    expect((await h.api('PUT', '/api/templates/tpl', { subject: 'Hi {{ name }}', body: 'Hello {{ name }}' })).status).toBe(201);
    const cancelled = await startRun('wait');
    expect((await h.api('POST', `/api/runs/${cancelled}/cancel`)).status).toBe(200);
    const spare = { wait: [] as string[], fail: [] as string[], draft: [] as string[] };
    for (let i = 0; i < 8; i++) for (const mode of ['wait', 'fail', 'draft'] as const) spare[mode].push(await startRun(mode));
    const completed = await startRun('done');
    t = {
      waiting: await startRun('wait'),
      failed: await startRun('fail'),
      draft: await startRun('draft'),
      completed,
      cancelled,
      notification: '',
      spare,
      staleLink: await h.engine.links.sign({
        runId: completed,
        stepId: 'decide',
        seq: 1,
        principalId: 'admin',
        option: 'approve',
        exp: Date.now() + 3_600_000,
      }),
      expiredLink: await h.engine.links.sign({
        runId: completed,
        stepId: 'decide',
        seq: 1,
        principalId: 'admin',
        option: 'approve',
        exp: Date.now() - 1000,
      }),
    };
    const inbox = await h.api('GET', '/api/me/notifications');
    t.notification = inbox.body.items[0].id;
    expect(t.notification).toMatch(/^[A-Za-z0-9_-]+$/);
  } finally {
    await worker.close();
  }
  // the answer-link secret is created lazily; make sure a refused link does not create it
  await h.engine.links.secretText();
});
afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

// ---------------------------------------------------------------------------------------------
// Generators

const J = (v: unknown) => JSON.stringify(v);
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const longString = (n: number) => 'x'.repeat(n);
const HUGE = J({ stages: [], pad: 'p'.repeat(1024 * 1024 + 64) }); // > 1 MiB (the default limit)

/** Names that are not names: unicode, traversal, control characters, length. */
const BAD_NAMES: Array<[string, string]> = [
  ['emoji', encodeURIComponent('order-😀')],
  ['RTL override', encodeURIComponent('abc\u202Egnp.exe')],
  ['zero-width', encodeURIComponent('a\u200Bb')],
  ['traversal', encodeURIComponent('../etc/passwd')],
  ['backslash traversal', encodeURIComponent('..\\..\\x')],
  ['space', 'a%20b'],
  ['NUL', 'a%00b'],
  ['leading dash', '-abc'],
  ['65 characters', longString(65)],
  ['10,000 characters', longString(10_000)],
  ['broken percent-encoding', '%E0%A4%A'],
  ['Arabic', encodeURIComponent('سير-العمل')],
];

const BAD_RUN_IDS: Array<[string, string]> = [
  ['not a run id', 'not-a-run'],
  ['uppercase', '0190C4A2-0000-7000-8000-000000000000'],
  ['emoji', encodeURIComponent('0190c4a2-0000-7000-8000-00000000000😀')],
  ['traversal', encodeURIComponent('../../admin/queues')],
  ['10,000 characters', longString(10_000)],
  ['NUL', '0190c4a2-0000-7000-8000-000000000000%00'],
  ['suffix', '0190c4a2-0000-7000-8000-000000000000x'],
];
const GHOST_RUN = '0190c4a2-0000-7000-8000-000000000000';

/** HTTP-level breakage: the JSON parser refuses these before any handler runs. */
const BROKEN_JSON: Array<[string, string]> = [
  ['unterminated object', '{'],
  ['unterminated value', '{"a":'],
  ['trailing comma', '{"a":1,}'],
  ['single quotes', "{'a':1}"],
  ['unterminated array', '[1,2'],
  ['leading zero', '{"a":01}'],
  ['bare word', 'nul'],
  ['extra brace', '{"a":1}}'],
  ['NaN literal', '{"a":NaN}'],
  ['Infinity literal', '{"a":Infinity}'],
  ['undefined literal', '{"a":undefined}'],
  ['trailing garbage', '{"a":1} trailing'],
  ['NUL byte', '\u0000'],
  ['bad escape', '{"a":"\\x"}'],
  ['comment', '/* comment */ {}'],
];

function httpLevel(label: string, method: string, path: string): Case[] {
  return [
    ...BROKEN_JSON.map(([what, body]): Case => ({ label: `${label}: broken JSON (${what})`, method, path, body })),
    { label: `${label}: charset koi8-r`, method, path, body: '{}', contentType: 'application/json; charset=koi8-r' },
    { label: `${label}: charset latin1`, method, path, body: '{}', contentType: 'application/json; charset=iso-8859-1' },
    { label: `${label}: gzip that is not gzip`, method, path, body: '{}', headers: { 'content-encoding': 'gzip' } },
    { label: `${label}: unknown content-encoding`, method, path, body: '{}', headers: { 'content-encoding': 'x-squash' } },
    { label: `${label}: body over 1 MiB`, method, path, body: HUGE },
  ];
}

// --- workflow definitions: each is wrong in exactly one way ---

const okStep = { id: 's1', type: 'updateModelField', field: 'f', value: 1 };
const confirmStep = {
  id: 'c1',
  type: 'getUserConfirmation',
  confirmationField: 'decision',
  options: ['a', 'b'],
  routing: ['role:admin'],
  timeoutMs: 60_000,
};
const def = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  name: NEW_WF,
  stages: [{ id: 'a', name: 'A', steps }],
  ...extra,
});
const withStep = (over: Record<string, unknown>, base: Record<string, unknown> = okStep) => def([{ ...base, ...over }]);
const without = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

const ABSURD: Array<[string, unknown]> = [
  ['1e308', 1e308],
  ['-1', -1],
  ['"NaN"', 'NaN'],
  ['2**53+1', 2 ** 53 + 1],
  ['1.5', 1.5],
  ['"1000"', '1000'],
  ['null', null],
];

/** Definition bodies as JSON text (raw strings where JSON.stringify could not say it). */
function badDefinitions(): Array<[string, string]> {
  const out: Array<[string, unknown]> = [
    // arrays, scalars and nothing instead of an object
    ['null', null],
    ['empty array', []],
    ['array of definitions', [def([okStep])]],
    ['string', 'workflow'],
    ['number', 42],
    ['boolean', true],
    ['empty object', {}],
    // missing fields
    ['no stages', { name: NEW_WF }],
    ['empty stages', { name: NEW_WF, stages: [] }],
    ['stage without id', { name: NEW_WF, stages: [{ name: 'A', steps: [okStep] }] }],
    ['stage without name', { name: NEW_WF, stages: [{ id: 'a', steps: [okStep] }] }],
    ['stage without steps', { name: NEW_WF, stages: [{ id: 'a', name: 'A' }] }],
    ['step without id', def([without(okStep, 'id')])],
    ['step without type', def([without(okStep, 'type')])],
    ['updateModelField without field', def([without(okStep, 'field')])],
    ['confirmation without options', def([without(confirmStep, 'options')])],
    ['confirmation without routing', def([without(confirmStep, 'routing')])],
    ['confirmation without confirmationField', def([without(confirmStep, 'confirmationField')])],
    ['ifCondition without operator', def([{ id: 'i', type: 'ifCondition', field: 'f', value: 1, then: [] }])],
    ['switchCase without cases', def([{ id: 'w', type: 'switchCase', sourceField: 'f' }])],
    // wrong types, field by field
    ['name is a number', { ...def([okStep]), name: 1 }],
    ['title is a number', def([okStep], { title: 5 })],
    ['title is empty', def([okStep], { title: '' })],
    ['title of 201 characters', def([okStep], { title: longString(201) })],
    ['title is an array', def([okStep], { title: ['t'] })],
    ['restrictAccess is a string', def([okStep], { restrictAccess: 'yes' })],
    ['restrictAccess is 1', def([okStep], { restrictAccess: 1 })],
    ['access is an array', def([okStep], { restrictAccess: true, access: [] })],
    ['access.read is a string', def([okStep], { access: { read: 'role:x' } })],
    ['access.read holds a number', def([okStep], { access: { read: [1] } })],
    ['access.read holds a space', def([okStep], { access: { read: ['has space'] } })],
    ['access.start holds "role:"', def([okStep], { access: { start: ['role:'] } })],
    ['access has an unknown list', def([okStep], { access: { delete: ['x'] } })],
    ['defaults is a string', def([okStep], { defaults: 'fast' })],
    [
      'defaults.retry.attempts is a string',
      def([okStep], { defaults: { retry: { attempts: '3', backoff: { type: 'fixed', delayMs: 1 } } } }),
    ],
    ['stages is an object', { name: NEW_WF, stages: { a: {} } }],
    ['stages is a string', { name: NEW_WF, stages: 'a' }],
    ['stages holds null', { name: NEW_WF, stages: [null] }],
    ['stage id is a number', { name: NEW_WF, stages: [{ id: 1, name: 'A', steps: [] }] }],
    ['stage name is null', { name: NEW_WF, stages: [{ id: 'a', name: null, steps: [] }] }],
    ['stage name of 201 characters', { name: NEW_WF, stages: [{ id: 'a', name: longString(201), steps: [] }] }],
    ['steps is an object', { name: NEW_WF, stages: [{ id: 'a', name: 'A', steps: { s: okStep } }] }],
    ['step is a string', def(['updateModel'])],
    ['step id is an object', withStep({ id: {} })],
    ['step field is a number', withStep({ field: 1 })],
    ['step name is empty', withStep({ name: '' })],
    ['cases is an object', def([{ id: 'w', type: 'switchCase', sourceField: 'f', cases: {} }])],
    ['options is a string', withStep({ options: 'a,b' }, confirmStep)],
    ['routing is empty', withStep({ routing: [] }, confirmStep)],
    ['routing holds a space', withStep({ routing: ['has space'] }, confirmStep)],
    ['policy is unknown', withStep({ policy: 'most' }, confirmStep)],
    ['quorum is 0', withStep({ policy: { quorum: 0 } }, confirmStep)],
    ['duplicate options', withStep({ options: ['a', 'a'] }, confirmStep)],
    ['onTimeout names no option', withStep({ onTimeout: { option: 'zzz' } }, confirmStep)],
    ['operator is unknown', def([{ id: 'i', type: 'ifCondition', field: 'f', operator: 'resembles', value: 1, then: [] }])],
    ['duplicate step ids', def([okStep, okStep])],
    ['goto to nowhere', def([{ id: 'i', type: 'ifCondition', field: 'f', operator: 'exists', then: [], thenGoto: 'nowhere' }])],
    ['unknown step field', withStep({ colour: 'red' })],
    ['unknown top-level field', def([okStep], { owner: 'me' })],
    ['name differs from the URL', { ...def([okStep]), name: 'other-name' }],
    // unknown step types
    ...[
      'teleport',
      '',
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'UpdateModelField',
      'updateModelField ',
      'update\u200BModelField',
    ].map((type): [string, unknown] => [`step type ${JSON.stringify(type)}`, withStep({ type })]),
    ['step type 123', withStep({ type: 123 })],
    ['step type null', withStep({ type: null })],
    ['step type array', withStep({ type: ['finish'] })],
    // unicode and traversal in names inside the body
    ['stage id emoji', { name: NEW_WF, stages: [{ id: '😀', name: 'A', steps: [] }] }],
    ['step id RTL', withStep({ id: '\u202Eabc' })],
    ['step id zero-width', withStep({ id: 'a\u200Bb' })],
    ['step id traversal', withStep({ id: '../x' })],
    ['step id of 65 characters', withStep({ id: longString(65) })],
    ['name emoji', { ...def([okStep]), name: '😀' }],
    // field paths that reach prototypes
    ...['__proto__.polluted', 'constructor.prototype.polluted', 'a.prototype', 'a..b', '', '.a', 'a.__proto__'].map(
      (field): [string, unknown] => [`field path ${JSON.stringify(field)}`, withStep({ field })],
    ),
    ['sourceField __proto__', def([{ id: 'w', type: 'switchCase', sourceField: '__proto__', cases: [] }])],
    ['ifCondition field constructor', def([{ id: 'i', type: 'ifCondition', field: 'constructor', operator: 'exists', then: [] }])],
    ['confirmationField __proto__', withStep({ confirmationField: '__proto__' }, confirmStep)],
    ['userInfoField prototype', withStep({ userInfoField: 'prototype' }, confirmStep)],
    // absurd numbers
    ...ABSURD.map(([what, v]): [string, unknown] => [`step timeoutMs ${what}`, withStep({ timeoutMs: v })]),
    ...ABSURD.map(([what, v]): [string, unknown] => [
      `retry.attempts ${what}`,
      withStep({ retry: { attempts: v, backoff: { type: 'fixed', delayMs: 10 } } }),
    ]),
    ...ABSURD.map(([what, v]): [string, unknown] => [
      `backoff.delayMs ${what}`,
      withStep({ retry: { attempts: 2, backoff: { type: 'fixed', delayMs: v } } }),
    ]),
    ...ABSURD.map(([what, v]): [string, unknown] => [`confirmation timeoutMs ${what}`, withStep({ timeoutMs: v }, confirmStep)]),
    ...ABSURD.filter(([w]) => w !== '1.5').map(([what, v]): [string, unknown] => [
      `quorum ${what}`,
      withStep({ policy: { quorum: v } }, confirmStep),
    ]),
    ['jitter 2', withStep({ retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 10, jitter: 2 } } })],
    ['maxDelayMs below delayMs', withStep({ retry: { attempts: 2, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 1 } } })],
  ];
  const raw: Array<[string, string]> = [
    // prototype-pollution keys as JSON text (JSON.parse makes them own properties)
    ['top-level __proto__', `{"__proto__":{"polluted":true},"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[]}]}`],
    [
      'top-level constructor',
      `{"constructor":{"prototype":{"polluted":true}},"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[]}]}`,
    ],
    ['top-level prototype', `{"prototype":{"polluted":true},"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[]}]}`],
    ['__proto__ in a stage', `{"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[],"__proto__":{"polluted":true}}]}`],
    [
      '__proto__ in a step',
      `{"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[{"id":"s","type":"updateModel","__proto__":{"polluted":true}}]}]}`,
    ],
    [
      '__proto__ in access',
      `{"name":"${NEW_WF}","restrictAccess":true,"access":{"__proto__":["x"]},"stages":[{"id":"a","name":"A","steps":[]}]}`,
    ],
    [
      'constructor in defaults',
      `{"name":"${NEW_WF}","defaults":{"constructor":{"prototype":{}}},"stages":[{"id":"a","name":"A","steps":[]}]}`,
    ],
    [
      '__proto__ in a retry policy',
      `{"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[{"id":"s","type":"updateModel","retry":{"attempts":1,"backoff":{"type":"fixed","delayMs":1},"__proto__":{}}}]}]}`,
    ],
    [
      '__proto__ as a switch case value',
      `{"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[{"id":"w","type":"switchCase","sourceField":"k","cases":[{"value":{"__proto__":1},"steps":[]}]}]}]}`,
    ],
    // deep nesting where the schema does not descend into it
    ['10,000 levels of objects', deepObject(10_000)],
    ['10,000 levels of arrays', deepArray(10_000)],
    ['10,000 levels under an unknown key', `{"name":"${NEW_WF}","stages":[{"id":"a","name":"A","steps":[]}],"x":${deepObject(10_000)}}`],
    ['10,000 levels as the stages', `{"name":"${NEW_WF}","stages":${deepArray(10_000)}}`],
  ];
  return [...out.map(([label, v]): [string, string] => [label, J(v)]), ...raw];
}

// --- start, retry, submit, confirm bodies ---

const BAD_MODELS: Array<[string, string]> = [
  ['number', '1'],
  ['string', '"x"'],
  ['array', '[1,2]'],
  ['boolean', 'true'],
  ['null', 'null'],
  ['__proto__', '{"__proto__":{"polluted":true}}'],
  ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}}}'],
  ['prototype', '{"prototype":1}'],
  ['nested __proto__', '{"a":{"b":{"__proto__":{"polluted":true}}}}'],
  ['__proto__ in an array', '{"list":[{"constructor":{"prototype":{"x":1}}}]}'],
  ['100 levels', deepObject(100)],
  ['10,000 levels of objects', deepObject(10_000)],
  ['10,000 levels of arrays', `{"a":${deepArray(10_000)}}`],
  ['over the 256 KiB model budget', J({ blob: 'b'.repeat(300 * 1024) })],
];

function startCases(): Case[] {
  const path = `/api/workflows/${TARGET}/runs`;
  const c = (label: string, body: string, extra: Partial<Case> = {}): Case => ({
    label: `start: ${label}`,
    method: 'POST',
    path,
    body,
    ...extra,
  });
  return [
    ...['[]', '[{"model":{}}]', '"x"', '42', 'true'].map((b) => c(`body ${b}`, b)),
    ...BAD_MODELS.map(([what, m]) => c(`model ${what}`, `{"model":${m}}`)),
    ...([1, '', 'a b', '../x', '😀', longString(129), '\u202Eabc', 'a\u200Bb', '.hidden', null, ['a'], { id: 'x' }] as unknown[]).map((e) =>
      c(`entryId ${J(e).slice(0, 20)}`, J({ entryId: e })),
    ),
    ...(
      [
        1,
        'ftp://x.test/',
        'javascript:alert(1)',
        'http://',
        'not a url',
        'file:///etc/passwd',
        `https://x.test/${longString(3000)}`,
        null,
        { url: 'https://x.test' },
      ] as unknown[]
    ).map((u) => c(`callbackUrl ${J(u).slice(0, 24)}`, J({ callbackUrl: u }))),
    c('unknown field', J({ surprise: 1 })),
    c('misspelt field', J({ Model: {} })),
    c('top-level __proto__', '{"__proto__":{"polluted":true}}'),
    c('top-level constructor', '{"constructor":{"prototype":{"polluted":true}}}'),
    c('top-level prototype', '{"prototype":{}}'),
    c('10,000 levels', deepObject(10_000)),
    ...['-1', 'abc', '1e308', 'NaN', '9007199254740993', 'Infinity', '60001', '1.5', '1&wait=2'].map((w) => ({
      ...c(`?wait=${w}`, '{}'),
      path: `${path}?wait=${w}`,
    })),
    ...(
      [
        ['empty', ''],
        ['space', 'a b'],
        ['latin-1', 'caf\u00e9'],
        ['201 characters', longString(201)],
        ['8,000 characters', longString(8000)],
        ['tab inside', 'a\tb'],
      ] as const
    ).map(([what, key]) => c(`Idempotency-Key ${what}`, '{}', { headers: { 'idempotency-key': key } })),
    ...BAD_NAMES.map(([what, name]) => ({ ...c(`workflow name ${what}`, '{}'), path: `/api/workflows/${name}/runs` })),
    { ...c('no such workflow', '{}'), path: '/api/workflows/ghost/runs' },
  ];
}

function runIdCases(op: string, body?: string): Case[] {
  return [
    ...BAD_RUN_IDS.map(([what, id]): Case => ({ label: `${op}: run id ${what}`, method: 'POST', path: `/api/runs/${id}/${op}`, body })),
    { label: `${op}: no such run`, method: 'POST', path: `/api/runs/${GHOST_RUN}/${op}`, body },
  ];
}

function retryCases(): Case[] {
  const path = `/api/runs/${t.failed}/retry`;
  const c = (label: string, body: string): Case => ({ label: `retry: ${label}`, method: 'POST', path, body });
  return [
    ...['[]', '"x"', '42', 'true', '[{"fromStepId":"route"}]'].map((b) => c(`body ${b}`, b)),
    ...([1, '', '../x', '😀', longString(65), null, 'no-such-step', '__proto__', 'constructor', 'toString', ['route']] as unknown[]).map(
      (s) => c(`fromStepId ${J(s).slice(0, 20)}`, J({ fromStepId: s })),
    ),
    ...BAD_MODELS.map(([what, m]) => c(`modelPatch ${what}`, `{"modelPatch":${m}}`)),
    c('unknown field', J({ force: true })),
    c('top-level __proto__', '{"__proto__":{"polluted":true}}'),
    c('top-level constructor', '{"constructor":{}}'),
    c('10,000 levels', deepObject(10_000)),
    { label: 'retry: a waiting run', method: 'POST', path: `/api/runs/${t.waiting}/retry`, body: '{}' },
    { label: 'retry: a completed run', method: 'POST', path: `/api/runs/${t.completed}/retry`, body: '{}' },
    { label: 'retry: a draft', method: 'POST', path: `/api/runs/${t.draft}/retry`, body: '{}' },
    { label: 'retry: a cancelled run', method: 'POST', path: `/api/runs/${t.cancelled}/retry`, body: '{}' },
    ...runIdCases('retry', '{}'),
  ];
}

function submitCases(): Case[] {
  const path = `/api/runs/${t.draft}/submit`;
  const c = (label: string, body: string): Case => ({ label: `submit: ${label}`, method: 'POST', path, body });
  return [
    ...['[]', '"x"', '42', 'true'].map((b) => c(`body ${b}`, b)),
    ...BAD_MODELS.map(([what, m]) => c(`modelPatch ${what}`, `{"modelPatch":${m}}`)),
    c('fromStepId (retry only)', J({ fromStepId: 'route' })),
    c('model instead of modelPatch', J({ model: {} })),
    c('top-level __proto__', '{"__proto__":{"polluted":true}}'),
    c('10,000 levels', deepObject(10_000)),
    { label: 'submit: a waiting run', method: 'POST', path: `/api/runs/${t.waiting}/submit`, body: '{}' },
    { label: 'submit: a failed run', method: 'POST', path: `/api/runs/${t.failed}/submit`, body: '{}' },
    { label: 'submit: a completed run', method: 'POST', path: `/api/runs/${t.completed}/submit`, body: '{}' },
    ...runIdCases('submit', '{}'),
  ];
}

function confirmCases(): Case[] {
  const path = `/api/runs/${t.waiting}/confirm`;
  const c = (label: string, body: string, extra: Partial<Case> = {}): Case => ({
    label: `confirm: ${label}`,
    method: 'POST',
    path,
    body,
    ...extra,
  });
  return [
    ...['null', '[]', '"approve"', '42', 'true', '{}', '[{"option":"approve"}]'].map((b) => c(`body ${b}`, b)),
    ...(
      [
        1,
        '',
        null,
        [],
        {},
        true,
        longString(201),
        'maybe',
        'approve ',
        ' approve',
        'APPROVE',
        '\u202Eapprove',
        'appro\u200Bve',
        '__proto__',
        'constructor',
      ] as unknown[]
    ).map((o) => c(`option ${J(o).slice(0, 20)}`, J({ option: o }))),
    ...([1, [], null, longString(4001), { text: 'x' }] as unknown[]).map((m) =>
      c(`comment ${J(m).slice(0, 20)}`, J({ option: 'approve', comment: m })),
    ),
    c('unknown field', J({ option: 'approve', as: 'ann' })),
    c('top-level __proto__', '{"option":"approve","__proto__":{"polluted":true}}'),
    c('constructor', '{"option":"approve","constructor":{"prototype":{}}}'),
    c('10,000 levels', `{"option":${deepObject(10_000)}}`),
    // the body is ignored without a JSON content type, so nothing names an option
    ...['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x'].map((ct) =>
      c(`content-type ${ct}`, '{"option":"approve"}', { contentType: ct }),
    ),
    c('no content-type', '{"option":"approve"}', { contentType: null }),
    { label: 'confirm: a draft', method: 'POST', path: `/api/runs/${t.draft}/confirm`, body: J({ option: 'approve' }) },
    { label: 'confirm: a failed run', method: 'POST', path: `/api/runs/${t.failed}/confirm`, body: J({ option: 'approve' }) },
    { label: 'confirm: a completed run', method: 'POST', path: `/api/runs/${t.completed}/confirm`, body: J({ option: 'approve' }) },
    ...runIdCases('confirm', J({ option: 'approve' })),
  ];
}

function cancelCases(): Case[] {
  return [
    { label: 'cancel: a completed run', method: 'POST', path: `/api/runs/${t.completed}/cancel` },
    { label: 'cancel: a cancelled run', method: 'POST', path: `/api/runs/${t.cancelled}/cancel` },
    ...runIdCases('cancel'),
    ...runIdCases('cancel', '{}').map((c) => ({ ...c, label: `${c.label} (with a body)` })),
  ];
}

function dataflowCases(): Case[] {
  const c = (label: string, body: string, extra: Partial<Case> = {}): Case => ({
    label: `dataflow: ${label}`,
    method: 'PUT',
    path: '/api/dataflows/new-df',
    body,
    ...extra,
  });
  const http = { kind: 'http', url: 'https://x.test/hook' };
  return [
    ...['null', '[]', '[{"kind":"module","module":"echo"}]', '"x"', '42', 'true', '{}'].map((b) => c(`body ${b}`, b)),
    ...([1, null, 'ftp', 'HTTP', '__proto__', 'constructor', ['http']] as unknown[]).map((k) =>
      c(`kind ${J(k)}`, J({ kind: k, url: 'https://x.test/' })),
    ),
    ...([1, null, 'ftp://x.test/', 'not a url', 'javascript:alert(1)', `https://x.test/${longString(3000)}`] as unknown[]).map((u) =>
      c(`url ${J(u).slice(0, 20)}`, J({ kind: 'http', url: u })),
    ),
    c('method GET', J({ ...http, method: 'GET' })),
    ...(
      [
        { 'content-type': 'text/plain' },
        { 'bad header': 'x' },
        { 'x-a': 'a\r\nb' },
        { 'x-a': 1 },
        [],
        'x-a: b',
        { 'Idempotency-Key': 'k' },
      ] as unknown[]
    ).map((hd) => c(`headers ${J(hd).slice(0, 30)}`, J({ ...http, headers: hd }))),
    ...ABSURD.map(([what, v]) => c(`timeoutMs ${what}`, J({ ...http, timeoutMs: v }))),
    c('timeoutMs 0', J({ ...http, timeoutMs: 0 })),
    ...(['../evil', 'a/b', '😀', '', longString(65), 'echo.ts'] as unknown[]).map((m) =>
      c(`module ${J(m).slice(0, 20)}`, J({ kind: 'module', module: m })),
    ),
    c('workflow with a space', J({ kind: 'workflow', workflow: 'a b' })),
    c('name differs from the URL', J({ ...http, name: 'other' })),
    c('unknown field', J({ ...http, retries: 3 })),
    c('top-level __proto__', '{"kind":"module","module":"echo","__proto__":{"polluted":true}}'),
    c('top-level constructor', '{"kind":"module","module":"echo","constructor":{"prototype":{}}}'),
    c('top-level prototype', '{"kind":"module","module":"echo","prototype":{}}'),
    c('10,000 levels', deepObject(10_000)),
    c('10,000 levels in headers', `{"kind":"http","url":"https://x.test/","headers":${deepObject(10_000)}}`),
    ...['text/plain', 'application/x-www-form-urlencoded', 'application/xml'].map((ct) =>
      c(`content-type ${ct}`, J({ kind: 'module', module: 'echo' }), { contentType: ct }),
    ),
    c('no content-type', J({ kind: 'module', module: 'echo' }), { contentType: null }),
    ...BAD_NAMES.map(([what, name]) => ({ ...c(`name ${what}`, J({ kind: 'module', module: 'echo' })), path: `/api/dataflows/${name}` })),
    // the existing one: changing it wrongly changes nothing
    { ...c('existing, kind removed', J({ url: 'https://x.test/' })), path: '/api/dataflows/df' },
  ];
}

function templateCases(): Case[] {
  const c = (label: string, body: string, extra: Partial<Case> = {}): Case => ({
    label: `template: ${label}`,
    method: 'PUT',
    path: '/api/templates/new-tpl',
    body,
    ...extra,
  });
  return [
    ...['null', '[]', '"Hello"', '42', 'true', '{}'].map((b) => c(`body ${b}`, b)),
    ...([1, '', null, [], { text: 'x' }, 'b'.repeat(256 * 1024 + 1)] as unknown[]).map((b) =>
      c(`body field ${J(b).slice(0, 20)}`, J({ body: b })),
    ),
    ...([1, [], longString(999)] as unknown[]).map((s) => c(`subject ${J(s).slice(0, 20)}`, J({ subject: s, body: 'x' }))),
    c('renderType pdf', J({ body: 'x', renderType: 'pdf' })),
    c('unknown field', J({ body: 'x', engine: 'eval' })),
    c('unclosed output', J({ body: 'Hello {{ name' })),
    c('unclosed tag', J({ body: '{% if x %}never closed' })),
    c('unknown filter', J({ body: '{{ x | explode }}' })),
    c('subject does not parse', J({ subject: '{{', body: 'x' })),
    c('top-level __proto__', '{"body":"x","__proto__":{"polluted":true}}'),
    c('top-level constructor', '{"body":"x","constructor":{"prototype":{}}}'),
    c('10,000 levels', deepObject(10_000)),
    ...['text/plain', 'application/x-www-form-urlencoded'].map((ct) => c(`content-type ${ct}`, J({ body: 'x' }), { contentType: ct })),
    ...BAD_NAMES.map(([what, name]) => ({ ...c(`name ${what}`, J({ body: 'x' })), path: `/api/templates/${name}` })),
    { ...c('existing, body removed', J({ subject: 'x' })), path: '/api/templates/tpl' },
  ];
}

function notificationCases(): Case[] {
  const ids: Array<[string, string]> = [
    ['65 characters', longString(65)],
    ['emoji', encodeURIComponent('😀')],
    ['traversal', encodeURIComponent('../x')],
    ['space', 'a%20b'],
    ['NUL', 'a%00b'],
    ['no such item', 'no-such-item'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
  ];
  return ids.map(
    ([what, id]): Case => ({ label: `notification read: id ${what}`, method: 'POST', path: `/api/me/notifications/${id}/read` }),
  );
}

function loginCases(): Case[] {
  const c = (
    label: string,
    body: string | undefined,
    contentType: string | null = 'application/x-www-form-urlencoded',
    extra: Partial<Case> = {},
  ): Case => ({
    label: `admin login: ${label}`,
    method: 'POST',
    path: '/admin/login',
    body,
    contentType,
    html: true,
    headers: { authorization: '' },
    ...extra,
  });
  return [
    c('no body', undefined),
    c('no key field', 'user=admin'),
    c('empty key', 'key='),
    c('wrong key', 'key=not-a-key-0123456789'),
    c('a non-admin key', `key=${keyOf('ann')}`),
    c('key twice', `key[]=${ADMIN_KEY}&key[]=x`),
    c('key twice (repeated)', `key=${ADMIN_KEY}&key=${ADMIN_KEY}`),
    c('key over the 4 KiB limit', `key=${longString(5000)}`),
    c('broken percent-encoding', 'key=%E0%A4%A'),
    c('emoji key', `key=${encodeURIComponent('😀')}`),
    c('JSON body', J({ key: ADMIN_KEY }), 'application/json'),
    c('text/plain', `key=${ADMIN_KEY}`, 'text/plain'),
    c('no content-type', `key=${ADMIN_KEY}`, null),
    c('multipart', `--x\r\nContent-Disposition: form-data; name="key"\r\n\r\n${ADMIN_KEY}\r\n--x--`, 'multipart/form-data; boundary=x'),
    c('charset koi8-r', `key=${ADMIN_KEY}`, 'application/x-www-form-urlencoded; charset=koi8-r'),
    c('__proto__ field', '__proto__[key]=x&__proto__=y'),
    c('constructor field', 'constructor[prototype][key]=x'),
    c('NUL in key', 'key=%00'),
    c('a 3,000-character key', `key=${longString(3000)}`),
  ];
}

function linkCases(): Case[] {
  const valid = (n: number) => `${'a'.repeat(n)}.${'b'.repeat(43)}`;
  const tokens: Array<[string, string]> = [
    ['too short', 'x'],
    ['two short parts', 'a.b'],
    ['bad signature', valid(40)],
    ['three parts', `${valid(20)}.c`],
    ['emoji', encodeURIComponent('😀.😀')],
    ['traversal', encodeURIComponent('../../api/runs')],
    ['2,001-character payload', valid(2001)],
    [
      'forged payload',
      `${Buffer.from(J({ runId: t.waiting, stepId: 'decide', seq: 1, principalId: 'admin', option: 'approve', exp: Date.now() + 60_000, nonce: 'n' })).toString('base64url')}.${'A'.repeat(43)}`,
    ],
    ['tampered signature', `${t.staleLink.slice(0, -4)}${t.staleLink.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`],
    ['tampered payload', `${t.staleLink.slice(0, 10)}${t.staleLink[10] === 'A' ? 'B' : 'A'}${t.staleLink.slice(11)}`],
    ['expired', t.expiredLink],
  ];
  const out: Case[] = [];
  for (const [what, token] of tokens) {
    for (const accept of ['application/json', 'text/html']) {
      out.push({
        label: `answer link: ${what} (${accept})`,
        method: 'POST',
        path: `/confirm/${token}`,
        html: true,
        headers: { accept, authorization: '' },
      });
    }
  }
  out.push(
    {
      label: 'answer link: body over the 16 KiB limit',
      method: 'POST',
      path: `/confirm/${valid(40)}`,
      body: `comment=${longString(20_000)}`,
      contentType: 'application/x-www-form-urlencoded',
      html: true,
    },
    {
      label: 'answer link: broken percent-encoding',
      method: 'POST',
      path: `/confirm/${valid(40)}`,
      body: 'comment=%E0%A4%A',
      contentType: 'application/x-www-form-urlencoded',
      html: true,
    },
    { label: 'answer link: JSON body', method: 'POST', path: `/confirm/${valid(40)}`, body: J({ comment: 'x' }), html: true },
    {
      label: 'answer link: __proto__ field',
      method: 'POST',
      path: `/confirm/${valid(40)}`,
      body: '__proto__[comment]=x',
      contentType: 'application/x-www-form-urlencoded',
      html: true,
    },
  );
  return out;
}

function workflowCases(): Case[] {
  const defs = badDefinitions();
  return [
    ...httpLevel('PUT workflow', 'PUT', `/api/workflows/${NEW_WF}`),
    ...defs.map(([what, body]): Case => ({ label: `PUT workflow: ${what}`, method: 'PUT', path: `/api/workflows/${NEW_WF}`, body })),
    // the existing workflow: a wrong change makes no new version
    ...defs.slice(0, 12).map(
      ([what, body]): Case => ({
        label: `PUT existing workflow: ${what}`,
        method: 'PUT',
        path: `/api/workflows/${TARGET}`,
        body: body.replaceAll(NEW_WF, TARGET),
      }),
    ),
    ...['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x'].map(
      (ct): Case => ({
        label: `PUT workflow: content-type ${ct}`,
        method: 'PUT',
        path: `/api/workflows/${NEW_WF}`,
        body: J(def([okStep])),
        contentType: ct,
      }),
    ),
    { label: 'PUT workflow: no content-type', method: 'PUT', path: `/api/workflows/${NEW_WF}`, body: J(def([okStep])), contentType: null },
    ...BAD_NAMES.map(
      ([what, name]): Case => ({
        label: `PUT workflow: name ${what}`,
        method: 'PUT',
        path: `/api/workflows/${name}`,
        body: J(without(def([okStep]), 'name')),
      }),
    ),
  ];
}

function validateCases(): Case[] {
  return [
    ...httpLevel('validate', 'POST', '/api/workflows/validate'),
    // well-formed requests about bad definitions: 200 {valid: false}
    ...badDefinitions()
      .filter(([what]) => what !== 'name differs from the URL') // validate has no URL name: that one is valid
      .map(([what, body]): Case => ({ label: `validate: ${what}`, method: 'POST', path: '/api/workflows/validate', body, validate: true })),
  ];
}

function allCases(): Case[] {
  return [
    ...workflowCases(),
    ...validateCases(),
    ...httpLevel('start', 'POST', `/api/workflows/${TARGET}/runs`),
    ...startCases(),
    ...httpLevel('cancel', 'POST', `/api/runs/${t.waiting}/cancel`),
    ...cancelCases(),
    ...httpLevel('retry', 'POST', `/api/runs/${t.failed}/retry`),
    ...retryCases(),
    ...httpLevel('submit', 'POST', `/api/runs/${t.draft}/submit`),
    ...submitCases(),
    ...httpLevel('confirm', 'POST', `/api/runs/${t.waiting}/confirm`),
    ...confirmCases(),
    ...httpLevel('dataflow', 'PUT', '/api/dataflows/new-df'),
    ...dataflowCases(),
    ...httpLevel('template', 'PUT', '/api/templates/new-tpl'),
    ...templateCases(),
    ...httpLevel('notification read', 'POST', `/api/me/notifications/${t.notification}/read`),
    ...notificationCases(),
    ...loginCases(),
    ...linkCases(),
  ];
}

// ---------------------------------------------------------------------------------------------

describe('malformed requests at every write endpoint', () => {
  it('are refused with a 4xx problem+json (never a 5xx), change nothing, and the server stays up', async () => {
    const cases = allCases();
    const refusals = cases.filter((c) => !c.validate).length;
    // at least 200 requests that must be refused outright (validate's 200 {valid:false} not counted)
    expect(refusals).toBeGreaterThanOrEqual(200);
    const endpoints = new Set(
      cases.map(
        (c) =>
          `${c.method} ${c.path
            .replace(/\/api\/runs\/[^/]+/, '/api/runs/:id')
            .replace(/^(\/api\/(workflows|dataflows|templates))\/(?!validate$)[^/?]+/, '$1/:name')
            .replace(/^\/confirm\/.*/, '/confirm/:token')
            .replace(/notifications\/[^/]+/, 'notifications/:id')
            .replace(/\?.*/, '')}`,
      ),
    );
    expect([...endpoints].sort()).toEqual(
      expect.arrayContaining([
        'POST /admin/login',
        'POST /api/me/notifications/:id/read',
        'POST /api/runs/:id/cancel',
        'POST /api/runs/:id/confirm',
        'POST /api/runs/:id/retry',
        'POST /api/runs/:id/submit',
        'POST /api/workflows/:name/runs',
        'POST /api/workflows/validate',
        'POST /confirm/:token',
        'PUT /api/dataflows/:name',
        'PUT /api/templates/:name',
        'PUT /api/workflows/:name',
      ]),
    );

    const before = await snapshot();
    expect(before.size).toBeGreaterThan(20);
    const { offenders, count } = await barrage(cases);
    expect(offenders, offenders.join('\n')).toEqual([]);
    expect(count).toBe(cases.length);
    console.info(
      `bad-input: ${count} malformed requests (${refusals} refusals, ${count - refusals} validate calls) — all refused, nothing changed`,
    );

    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
    expect((await h.api('GET', `/api/runs/${t.waiting}`)).body.status).toBe('waiting');
    expect(diff(before, await snapshot())).toEqual([]);
    // nothing reached Object.prototype of the server (it runs in this process)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
  }, 120_000);

  /**
   * Regression guard: malformed requests that were accepted (2xx, state changed) or answered 5xx
   * before e7c2f18. Each must be a 4xx with no state change; each acts on its own spare run so one
   * case accepted by mistake cannot disturb another. One soft assertion per former violation.
   */
  it('malformed requests that used to be accepted or answer 5xx (former violations V1-V5)', async () => {
    const spare = { wait: [...t.spare.wait], fail: [...t.spare.fail], draft: [...t.spare.draft] };
    const next = (kind: keyof typeof spare) => spare[kind].shift()!;
    const step = (s: string) => `{"name":"v-wf","stages":[{"id":"a","name":"A","steps":[${s}]}]}`;
    const nestedIf = (n: number) => {
      let inner = '{"id":"leaf","type":"finish"}';
      for (let i = 0; i < n; i++) inner = `{"id":"i${i}","type":"ifCondition","field":"f","operator":"exists","then":[${inner}]}`;
      return inner;
    };
    const groups: Record<string, Case[]> = {
      // V1 (was): a deeply nested value inside a definition overflowed the stack in zod → 500
      'V1 deep definitions → 500': [
        {
          label: 'PUT workflow: 3,000-level value',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step(`{"id":"x","type":"updateModelField","field":"f","value":${deepArray(3000)}}`),
        },
        {
          label: 'PUT workflow: 10,000-level value',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step(`{"id":"x","type":"updateModelField","field":"f","value":${deepObject(10_000)}}`),
        },
        { label: 'PUT workflow: ifCondition nested 2,000 deep', method: 'PUT', path: '/api/workflows/v-wf', body: step(nestedIf(2000)) },
        {
          label: 'validate: 10,000-level value',
          method: 'POST',
          path: '/api/workflows/validate',
          body: step(`{"id":"x","type":"updateModelField","field":"f","value":${deepArray(10_000)}}`),
          validate: true,
        },
        {
          label: 'validate: ifCondition nested 2,000 deep',
          method: 'POST',
          path: '/api/workflows/validate',
          body: step(nestedIf(2000)),
          validate: true,
        },
      ],
      // V2 (was): definitions carried values deeper than the model's 64-level limit and prototype keys in values
      'V2 definitions accept over-deep values and prototype keys': [
        {
          label: 'PUT workflow: 100-level value',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step(`{"id":"x","type":"updateModelField","field":"f","value":${deepArray(100)}}`),
        },
        {
          label: 'PUT workflow: value {"__proto__":…}',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step('{"id":"x","type":"updateModelField","field":"f","value":{"__proto__":{"polluted":true}}}'),
        },
        {
          label: 'PUT workflow: value {"constructor":{"prototype":…}}',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step('{"id":"x","type":"updateModelField","field":"f","value":{"constructor":{"prototype":{"polluted":true}}}}'),
        },
        {
          label: 'PUT workflow: ifCondition value {"__proto__":…}',
          method: 'PUT',
          path: '/api/workflows/v-wf',
          body: step('{"id":"x","type":"ifCondition","field":"a","operator":"equal","value":{"__proto__":{"x":1}},"then":[]}'),
        },
        {
          label: 'PUT dataflow: header named __proto__ (silently dropped)',
          method: 'PUT',
          path: '/api/dataflows/v-df',
          body: '{"kind":"http","url":"https://x.test/","headers":{"__proto__":"x"}}',
        },
      ],
      // V3 (was): a JSON null, or a body in a non-JSON content type, was taken for "no body" and the request acted
      'V3 null / non-JSON bodies treated as empty': [
        { label: 'start: body null', method: 'POST', path: `/api/workflows/${TARGET}/runs`, body: 'null' },
        {
          label: 'start: text/plain',
          method: 'POST',
          path: `/api/workflows/${TARGET}/runs`,
          body: '{"model":{"mode":"fail"}}',
          contentType: 'text/plain',
        },
        {
          label: 'start: form-urlencoded',
          method: 'POST',
          path: `/api/workflows/${TARGET}/runs`,
          body: 'model=1',
          contentType: 'application/x-www-form-urlencoded',
        },
        {
          label: 'start: no content-type',
          method: 'POST',
          path: `/api/workflows/${TARGET}/runs`,
          body: '{"model":{"mode":"fail"}}',
          contentType: null,
        },
        {
          label: 'start: text/plain over 1 MiB',
          method: 'POST',
          path: `/api/workflows/${TARGET}/runs`,
          body: HUGE,
          contentType: 'text/plain',
        },
        { label: 'retry: body null', method: 'POST', path: `/api/runs/${next('fail')}/retry`, body: 'null' },
        {
          label: 'retry: text/plain modelPatch',
          method: 'POST',
          path: `/api/runs/${next('fail')}/retry`,
          body: '{"modelPatch":{"mode":"done"}}',
          contentType: 'text/plain',
        },
        { label: 'submit: body null', method: 'POST', path: `/api/runs/${next('draft')}/submit`, body: 'null' },
        {
          label: 'submit: text/plain modelPatch',
          method: 'POST',
          path: `/api/runs/${next('draft')}/submit`,
          body: '{"modelPatch":{"mode":"done"}}',
          contentType: 'text/plain',
        },
        {
          label: 'validate: text/plain',
          method: 'POST',
          path: '/api/workflows/validate',
          body: J(def([okStep])),
          contentType: 'text/plain',
        },
      ],
      // V4 (was): cancel and mark-read take no body, and acted whatever body they got
      'V4 body-less endpoints ignore malformed bodies': [
        { label: 'cancel: body [1,2]', method: 'POST', path: `/api/runs/${next('wait')}/cancel`, body: '[1,2]' },
        { label: 'cancel: body null', method: 'POST', path: `/api/runs/${next('wait')}/cancel`, body: 'null' },
        {
          label: 'cancel: body {"__proto__":…}',
          method: 'POST',
          path: `/api/runs/${next('wait')}/cancel`,
          body: '{"__proto__":{"polluted":true}}',
        },
        { label: 'cancel: 10,000 levels', method: 'POST', path: `/api/runs/${next('wait')}/cancel`, body: deepObject(10_000) },
        {
          label: 'cancel: text/plain',
          method: 'POST',
          path: `/api/runs/${next('wait')}/cancel`,
          body: 'please',
          contentType: 'text/plain',
        },
        { label: 'notification read: body [1,2]', method: 'POST', path: `/api/me/notifications/${t.notification}/read`, body: '[1,2]' },
      ],
      // V5 (was, minor): a validly signed link whose confirmation is closed was refused (409) but spent
      'V5 refused answer link is consumed': [
        {
          label: 'answer link: stale (run completed)',
          method: 'POST',
          path: `/confirm/${t.staleLink}`,
          html: true,
          headers: { accept: 'application/json', authorization: '' },
        },
      ],
    };
    for (const [name, cases] of Object.entries(groups)) {
      const { offenders } = await barrage(cases);
      expect.soft(offenders, `${name}:\n${offenders.join('\n')}`).toEqual([]);
    }
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
  }, 60_000);
});

describe('limits', () => {
  it('rate limiting still counts after Redis forgot its scripts (a replica promoted by a failover never loaded them)', async () => {
    const rl = await startHarness({ worker: false, app: { rateLimitPerMinute: 5 } });
    try {
      const redis = rl.engine.redis;
      // Every primary of a cluster: the limiter's key may live on any of them.
      for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) await node.script('FLUSH');
      const as = { authorization: `Bearer ${keyOf('eve')}` };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await rl.api('GET', '/api/workflows', undefined, as)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await rl.close();
    }
  });

  it('rate limiting: the 6th request a minute from one key is 429 problem+json with Retry-After; another key is unaffected', async () => {
    const rl = await startHarness({ worker: false, app: { rateLimitPerMinute: 5 } });
    try {
      const as = (id: string) => ({ authorization: `Bearer ${keyOf(id)}` });
      for (let i = 0; i < 5; i++) expect((await rl.api('GET', '/api/workflows', undefined, as('eve'))).status).toBe(200);
      const limited = await rl.api('GET', '/api/workflows', undefined, as('eve'));
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(limited.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers.get('retry-after')}`).toBe(
        true,
      );
      // writes count against the same budget
      expect((await rl.api('PUT', '/api/workflows/x', { stages: [] }, as('eve'))).status).toBe(429);
      // another principal has its own budget
      expect((await rl.api('GET', '/api/workflows', undefined, as('ann'))).status).toBe(200);
      // no key is still 401, never 429
      expect((await fetch(`${rl.base}/api/workflows`)).status).toBe(401);
      expect((await fetch(`${rl.base}/healthz`)).status).toBe(200);
    } finally {
      await rl.close();
    }
  });

  it('the JSON body limit is configurable: over it → 413 problem+json, under it → accepted', async () => {
    const bl = await startHarness({ worker: false, app: { rateLimitPerMinute: 0, bodyLimit: 2048 } });
    try {
      const small = { stages: [{ id: 'a', name: 'A', steps: [{ id: 's', type: 'updateModelField', field: 'f', value: 'v' }] }] };
      expect((await bl.api('PUT', '/api/workflows/small', small)).status).toBe(201);
      const big = {
        ...small,
        title: 'x'.repeat(100),
        stages: [{ ...small.stages[0], steps: [{ id: 's', type: 'updateModelField', field: 'f', value: 'v'.repeat(3000) }] }],
      };
      const res = await bl.api('PUT', '/api/workflows/big', big);
      expect(res.status).toBe(413);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 413 });
      expect((await bl.api('GET', '/api/workflows/big')).status).toBe(404);
      const start = await bl.api('POST', '/api/workflows/small/runs', { model: { blob: 'b'.repeat(3000) } });
      expect(start.status).toBe(413);
      expect((await bl.api('GET', '/api/runs?workflow=small')).body.items).toEqual([]);
    } finally {
      await bl.close();
    }
  });
});
