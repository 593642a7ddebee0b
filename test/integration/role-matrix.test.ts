/**
 * The role matrix of DESIGN §7 through the public API: every endpoint × every kind of caller ×
 * {open, restricted} workflow gets exactly the status the rules say, and lists never leak what
 * the caller may not read. The expectations are written out by hand from the rules (not derived
 * from src/definition/access.ts), so a change of the rules has to change this table.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, keyOf, startHarness, type Harness } from '../helpers/harness.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/**
 * The columns: who calls.
 * - admin          role admin: everything.
 * - designer       `dana`, role designer: saves and reads every definition, reads no restricted run.
 * - operator       `opal`, roles operator + auditor: reads the restricted workflow (role:auditor is
 *                  in its read list), so may operate its runs, but may not start or answer them.
 * - blindOperator  `user-1`, role operator only: operates open runs, cannot even see restricted ones.
 * - allowed        `allowed-user`, no roles: named by id in the restricted workflow's start, confirm
 *                  and operate lists.
 * - other          `other-user`, role staff: named nowhere — though the restricted workflow's
 *                  confirmation *routes* to it, routing alone grants nothing.
 * - none           no Authorization header (and, checked alongside, a key that is not a key).
 */
const WHO = ['admin', 'designer', 'operator', 'blindOperator', 'allowed', 'other', 'none'] as const;
type Who = (typeof WHO)[number];
const PRINCIPAL: Record<Who, string | undefined> = {
  admin: 'admin',
  designer: 'dana',
  operator: 'opal',
  blindOperator: 'user-1',
  allowed: 'allowed-user',
  other: 'other-user',
  none: undefined,
};

const OPEN = 'open-wf';
const RESTRICTED = 'restricted-wf';
const WORKFLOWS = [OPEN, RESTRICTED] as const;
type Wf = (typeof WORKFLOWS)[number];

/** Routed callers on the open workflow: everyone but other-user (so routing's own 403 shows). */
const ROUTING_OPEN = ['allowed-user', 'role:admin', 'role:designer', 'role:operator'];
/** On the restricted workflow other-user is routed too, so its refusal comes from the access lists. */
const ROUTING_RESTRICTED = [...ROUTING_OPEN, 'other-user'];

/** One workflow, three shapes of run: `mode` wait → waiting on a confirmation, draft → draft, anything else → failed. */
function definition(name: Wf) {
  const restricted = name === RESTRICTED;
  return {
    name,
    title: restricted ? 'Restricted' : 'Open',
    ...(restricted
      ? {
          restrictAccess: true,
          access: { read: ['role:auditor'], start: ['allowed-user'], confirm: ['allowed-user'], operate: ['allowed-user'] },
        }
      : {}),
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
                    routing: restricted ? ROUTING_RESTRICTED : ROUTING_OPEN,
                    timeoutMs: 3_600_000,
                  },
                ],
              },
              { value: 'draft', steps: [{ id: 'back', type: 'resetToDraft' }] },
            ],
          },
        ],
      },
    ],
  };
}

const DATAFLOW = { kind: 'http', url: 'https://dataflows.example.test/echo' };
const TEMPLATE = { subject: 'Hello {{ name }}', body: 'Dear {{ name }}' };

let h: Harness;

interface Res {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

interface Req {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function authHeader(who: Who | 'badKey'): Record<string, string> {
  if (who === 'none') return {};
  if (who === 'badKey') return { authorization: 'Bearer not-a-key-of-anyone-0123456789' };
  return { authorization: `Bearer ${keyOf(PRINCIPAL[who]!)}` };
}

async function call(who: Who | 'badKey', req: Req): Promise<Res> {
  const res = await fetch(h.base + req.path, {
    method: req.method,
    redirect: 'manual',
    headers: { ...authHeader(who), ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, text, headers: res.headers };
}

const show = (res: Res) => `${res.status} ${res.text.slice(0, 300)}`;

type Mode = 'wait' | 'draft' | 'fail';
const STATE: Record<Mode, string> = { wait: 'waiting', draft: 'draft', fail: 'failed' };

/** Starts a run and waits until it rests in the state `mode` leads to. */
async function startRun(wf: Wf, mode: Mode, as: Who = 'admin', extra: Record<string, unknown> = {}): Promise<any> {
  const res = await call(as, { method: 'POST', path: `/api/workflows/${wf}/runs?wait=5000`, body: { model: { mode }, ...extra } });
  if (res.status !== 201) throw new Error(`start ${wf} as ${as} failed: ${show(res)}`);
  const run = res.body.status === STATE[mode] ? res.body : await h.waitFor(res.body.id, (r) => r.status === STATE[mode]);
  expect(run.status).toBe(STATE[mode]);
  return run;
}

/** What a cell acts on: a workflow, a run of it and the entry that run created. */
interface Target {
  wf: string;
  runId: string;
  entryId: string;
}
/** The long-lived run of each workflow (waiting, never operated on) that read-only rows use. */
const shared = {} as Record<Wf, Target>;

// ---------------------------------------------------------------------------------------------
// The table. Statuses are in WHO order: admin, designer, operator, blindOperator, allowed, other, none.
// `null` means the cell does not apply.

type Status = number | null;
type Row7 = readonly [Status, Status, Status, Status, Status, Status, Status];

interface Row {
  name: string;
  open: Row7;
  restricted: Row7;
  /** Rows whose endpoint has nothing to do with a workflow run once, as `any`. */
  global?: boolean;
  /** A fresh run per cell, for rows that change the run's state. */
  fresh?: (wf: Wf, who: Who) => Promise<Partial<Target>>;
  req: (t: Target) => Req;
  /** A 404 must look exactly like the 404 for something that does not exist. */
  ghost?: boolean;
}

/** Every authenticated caller gets `s`. */
const anyKey = (s: number): Row7 => [s, s, s, s, s, s, 401];
/** admin and designer only. */
const designers = (s: number): Row7 => [s, s, 403, 403, 403, 403, 401];
/** Restricted reads: admin, operator (role:auditor) and allowed (named in start/confirm/operate); the rest 404. */
const restrictedRead: Row7 = [200, 404, 200, 404, 200, 404, 401];
/** Open operate (cancel, retry, submit): admin and the operator role. */
const openOperate: Row7 = [200, 403, 200, 200, 403, 403, 401];
/** Restricted operate: admin, allowed (operate list) and the operator who can read; the rest cannot read → 404. */
const restrictedOperate: Row7 = [200, 404, 200, 404, 200, 404, 401];

const fresh = (mode: Mode) => async (wf: Wf) => {
  const run = await startRun(wf, mode);
  return { runId: run.id as string, entryId: run.entry.id as string };
};

const ROWS: Row[] = [
  {
    name: 'PUT /api/workflows/:name (same content: 200 unchanged)',
    open: designers(200),
    restricted: designers(200),
    req: (t) => ({ method: 'PUT', path: `/api/workflows/${t.wf}`, body: definition(t.wf as Wf) }),
  },
  {
    name: 'GET /api/workflows/:name',
    open: anyKey(200),
    // designers read every definition, restricted or not
    restricted: [200, 200, 200, 404, 200, 404, 401],
    req: (t) => ({ method: 'GET', path: `/api/workflows/${t.wf}` }),
    ghost: true,
  },
  {
    name: 'GET /api/workflows/:name?version=1',
    open: anyKey(200),
    restricted: [200, 200, 200, 404, 200, 404, 401],
    req: (t) => ({ method: 'GET', path: `/api/workflows/${t.wf}?version=1` }),
    ghost: true,
  },
  {
    name: 'GET /api/workflows/:name/versions',
    open: anyKey(200),
    restricted: [200, 200, 200, 404, 200, 404, 401],
    req: (t) => ({ method: 'GET', path: `/api/workflows/${t.wf}/versions` }),
    ghost: true,
  },
  {
    name: 'GET /api/workflows',
    global: true,
    open: anyKey(200),
    restricted: anyKey(200),
    req: () => ({ method: 'GET', path: '/api/workflows' }),
  },
  {
    name: 'POST /api/workflows/validate',
    open: anyKey(200),
    restricted: anyKey(200),
    req: (t) => ({ method: 'POST', path: '/api/workflows/validate', body: definition(t.wf as Wf) }),
  },
  {
    name: 'POST /api/workflows/:name/runs',
    open: anyKey(201),
    // designer: it reads the restricted definition (GET and the list show it), so the workflow
    // exists for it: "may read but not act" → 403, not 404 (was 404 before 27ba431).
    restricted: [201, 403, 403, 404, 201, 404, 401],
    req: (t) => ({ method: 'POST', path: `/api/workflows/${t.wf}/runs`, body: { model: { mode: 'fail' } } }),
    ghost: true,
  },
  {
    name: 'GET /api/runs/:id',
    open: anyKey(200),
    restricted: restrictedRead,
    req: (t) => ({ method: 'GET', path: `/api/runs/${t.runId}` }),
    ghost: true,
  },
  {
    name: 'GET /api/runs/:id/history',
    open: anyKey(200),
    restricted: restrictedRead,
    req: (t) => ({ method: 'GET', path: `/api/runs/${t.runId}/history` }),
    ghost: true,
  },
  {
    name: 'GET /api/runs?workflow=',
    open: anyKey(200),
    restricted: anyKey(200),
    req: (t) => ({ method: 'GET', path: `/api/runs?workflow=${t.wf}` }),
  },
  {
    name: 'POST /api/runs/:id/cancel (waiting run)',
    open: openOperate,
    restricted: restrictedOperate,
    fresh: fresh('wait'),
    req: (t) => ({ method: 'POST', path: `/api/runs/${t.runId}/cancel` }),
    ghost: true,
  },
  {
    name: 'POST /api/runs/:id/retry (failed run)',
    open: openOperate,
    restricted: restrictedOperate,
    fresh: fresh('fail'),
    req: (t) => ({ method: 'POST', path: `/api/runs/${t.runId}/retry`, body: {} }),
    ghost: true,
  },
  {
    name: 'POST /api/runs/:id/submit (draft started by admin)',
    open: openOperate,
    restricted: restrictedOperate,
    fresh: fresh('draft'),
    req: (t) => ({ method: 'POST', path: `/api/runs/${t.runId}/submit`, body: {} }),
    ghost: true,
  },
  {
    // Whoever started a run may resubmit its draft even without the operator role.
    name: 'POST /api/runs/:id/submit (draft the caller started)',
    open: [200, 200, 200, 200, 200, 200, null],
    restricted: [200, null, null, null, 200, null, null], // only admin and allowed may start it
    fresh: async (wf, who) => {
      const run = await startRun(wf, 'draft', who);
      expect(run.startedBy).toBe(PRINCIPAL[who]);
      return { runId: run.id, entryId: run.entry.id };
    },
    req: (t) => ({ method: 'POST', path: `/api/runs/${t.runId}/submit`, body: {} }),
  },
  {
    name: 'POST /api/runs/:id/confirm (waiting run)',
    // open: everyone may answer, but the step routes only to allowed-user and the admin/designer/operator roles
    open: [200, 200, 200, 200, 200, 403, 401],
    // restricted: only the confirm list (allowed-user) and admin; the operator reads but may not answer (403)
    restricted: [200, 404, 403, 404, 200, 404, 401],
    fresh: fresh('wait'),
    req: (t) => ({ method: 'POST', path: `/api/runs/${t.runId}/confirm`, body: { option: 'approve' } }),
    ghost: true,
  },
  { name: 'GET /api/tasks', global: true, open: anyKey(200), restricted: anyKey(200), req: () => ({ method: 'GET', path: '/api/tasks' }) },
  {
    name: 'GET /api/entries/:id',
    open: anyKey(200),
    restricted: restrictedRead,
    req: (t) => ({ method: 'GET', path: `/api/entries/${t.entryId}` }),
    ghost: true,
  },
  {
    name: 'PUT /api/dataflows/:name (same content: 200)',
    global: true,
    open: designers(200),
    restricted: designers(200),
    req: () => ({ method: 'PUT', path: '/api/dataflows/echo', body: DATAFLOW }),
  },
  {
    name: 'GET /api/dataflows/:name',
    global: true,
    open: designers(200),
    restricted: designers(200),
    req: () => ({ method: 'GET', path: '/api/dataflows/echo' }),
  },
  {
    name: 'GET /api/dataflows',
    global: true,
    open: designers(200),
    restricted: designers(200),
    req: () => ({ method: 'GET', path: '/api/dataflows' }),
  },
  {
    name: 'PUT /api/templates/:name (existing: 200)',
    global: true,
    open: designers(200),
    restricted: designers(200),
    req: () => ({ method: 'PUT', path: '/api/templates/greeting', body: TEMPLATE }),
  },
  {
    name: 'GET /api/templates/:name',
    global: true,
    open: anyKey(200),
    restricted: anyKey(200),
    req: () => ({ method: 'GET', path: '/api/templates/greeting' }),
  },
  {
    name: 'GET /api/templates',
    global: true,
    open: anyKey(200),
    restricted: anyKey(200),
    req: () => ({ method: 'GET', path: '/api/templates' }),
  },
  {
    name: 'GET /api/me/notifications',
    global: true,
    open: anyKey(200),
    restricted: anyKey(200),
    req: () => ({ method: 'GET', path: '/api/me/notifications' }),
  },
  {
    name: 'POST /api/me/notifications/:id/read (no such item)',
    global: true,
    open: anyKey(404),
    restricted: anyKey(404),
    req: () => ({ method: 'POST', path: '/api/me/notifications/no-such-item/read' }),
  },
  {
    name: 'GET /admin/queues (JSON client)',
    global: true,
    open: [200, 403, 403, 403, 403, 403, 401],
    restricted: [200, 403, 403, 403, 403, 403, 401],
    req: () => ({ method: 'GET', path: '/admin/queues', headers: { accept: 'application/json' } }),
  },
  {
    // A metrics token is configured: API keys (even admin's) are not it.
    name: 'GET /metrics (token configured, API key sent)',
    global: true,
    open: [401, 401, 401, 401, 401, 401, 401],
    restricted: [401, 401, 401, 401, 401, 401, 401],
    req: () => ({ method: 'GET', path: '/metrics' }),
  },
];

interface Cell {
  label: string;
  row: Row;
  scope: Wf | 'any';
  who: Who;
  status: number;
}

const CELLS: Cell[] = ROWS.flatMap((row) =>
  (row.global
    ? ([['any', row.open]] as const)
    : ([
        [OPEN, row.open],
        [RESTRICTED, row.restricted],
      ] as const)
  ).flatMap(([scope, statuses]) =>
    WHO.flatMap((who, i) => {
      const status = statuses[i];
      return status === null || status === undefined
        ? []
        : [{ label: `${scope} · ${row.name} · ${who} → ${status}`, row, scope, who, status }];
    }),
  ),
);

const GHOST: Target = { wf: 'ghost-wf', runId: randomUUID(), entryId: 'ghost-entry' };

/** A problem's detail with the ids of the request replaced, to compare a hidden thing's 404 with a missing one's. */
function normalized(res: Res, t: Target) {
  const detail = String(res.body?.detail ?? '')
    .replaceAll(t.runId, '<run>')
    .replaceAll(t.entryId, '<entry>')
    .replaceAll(t.wf, '<workflow>');
  return { status: res.status, title: res.body?.title, detail, errors: res.body?.errors };
}

beforeAll(async () => {
  h = await startHarness({ app: { rateLimitPerMinute: 0, metricsToken: METRICS_TOKEN } });
  for (const wf of WORKFLOWS) await h.saveWorkflow(definition(wf));
  expect((await call('admin', { method: 'PUT', path: '/api/dataflows/echo', body: DATAFLOW })).status).toBe(201);
  expect((await call('admin', { method: 'PUT', path: '/api/templates/greeting', body: TEMPLATE })).status).toBe(201);
  for (const wf of WORKFLOWS) {
    const run = await startRun(wf, 'wait', 'admin', { entryId: `entry-of-${wf}` });
    shared[wf] = { wf, runId: run.id, entryId: run.entry.id };
    expect(run.entry.id).toBe(`entry-of-${wf}`);
  }
});
afterAll(() => h?.close());

describe('role matrix: every endpoint × caller × open/restricted workflow', () => {
  it('covers every row for every caller', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(27);
    expect(CELLS.length).toBeGreaterThanOrEqual(280);
  });

  for (const cell of CELLS)
    it(cell.label, async () => {
      const base: Target = cell.scope === 'any' ? shared[OPEN] : shared[cell.scope];
      const target: Target = { ...base, ...(cell.row.fresh && cell.scope !== 'any' ? await cell.row.fresh(cell.scope, cell.who) : {}) };
      const req = cell.row.req(target);
      const res = await call(cell.who, req);
      expect(res.status, show(res)).toBe(cell.status);

      if (res.status >= 400) {
        expect(res.headers.get('content-type'), show(res)).toMatch(/^application\/problem\+json/);
        expect(res.body).toMatchObject({ status: res.status, title: expect.any(String) });
        expect(res.text).not.toMatch(/\bat [^\s]+ \(|node_modules|\.ts:\d+/); // no stack traces
      }
      if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      if (cell.who === 'none') {
        // a key nobody holds is no better than none
        const bad = await call('badKey', req);
        expect(bad.status, show(bad)).toBe(401);
      }
      if (cell.status === 404 && cell.row.ghost && cell.scope === RESTRICTED) {
        // "as if it did not exist": the same answer as for a workflow, run or entry that does not exist
        const ghost = await call(cell.who, cell.row.req(GHOST));
        expect(normalized(res, target)).toEqual(normalized(ghost, GHOST));
        expect(res.text).not.toContain('mode'); // nothing of the run's model
      }
    });
});

// ---------------------------------------------------------------------------------------------

/** Who may read runs of the restricted workflow, see it in the workflow list, and see its tasks. */
const READS_RESTRICTED_RUNS: Record<Exclude<Who, 'none'>, boolean> = {
  admin: true,
  designer: false,
  operator: true,
  blindOperator: false,
  allowed: true,
  other: false,
};
const LISTS_RESTRICTED_WORKFLOW: Record<Exclude<Who, 'none'>, boolean> = {
  admin: true,
  designer: true,
  operator: true,
  blindOperator: false,
  allowed: true,
  other: false,
};
/** Tasks need the confirm right and routing: other-user is routed but not in the confirm list. */
const RESTRICTED_TASKS: Record<Exclude<Who, 'none'>, boolean> = {
  admin: true,
  designer: false,
  operator: false,
  blindOperator: false,
  allowed: true,
  other: false,
};
/** Open tasks: routed callers (role:admin, role:designer, role:operator, allowed-user). */
const OPEN_TASKS: Record<Exclude<Who, 'none'>, boolean> = {
  admin: true,
  designer: true,
  operator: true,
  blindOperator: true,
  allowed: true,
  other: false,
};
const CALLERS = WHO.filter((w): w is Exclude<Who, 'none'> => w !== 'none');

describe('lists never leak what the caller may not read', () => {
  const restrictedIds = new Set<string>();
  const openIds = new Set<string>();

  beforeAll(async () => {
    // Interleave runs of both workflows in every resting state, so pages mix them.
    for (let i = 0; i < 6; i++) {
      for (const wf of WORKFLOWS) await startRun(wf, (['wait', 'fail', 'draft'] as const)[i % 3]!);
    }
    // Every run in the store, by workflow (admin sees all).
    for (const [wf, ids] of [
      [OPEN, openIds],
      [RESTRICTED, restrictedIds],
    ] as const) {
      const res = await call('admin', { method: 'GET', path: `/api/runs?workflow=${wf}&limit=500` });
      for (const r of res.body.items) ids.add(r.id);
    }
    expect(restrictedIds.size).toBeGreaterThanOrEqual(8);
    expect(openIds.size).toBeGreaterThanOrEqual(8);
  });

  async function allPages(who: Who, query: string, limit: number): Promise<{ ids: string[]; cursors: string[] }> {
    const ids: string[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await call(who, {
        method: 'GET',
        path: `/api/runs?${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      });
      expect(res.status, show(res)).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      ids.push(...res.body.items.map((r: any) => r.id));
      for (const r of res.body.items) expect([OPEN, RESTRICTED]).toContain(r.workflow);
      cursor = res.body.nextCursor;
      if (!cursor) return { ids, cursors };
      cursors.push(cursor);
    }
    throw new Error('paging did not end');
  }

  const QUERIES = [
    '',
    `workflow=${RESTRICTED}`,
    `workflow=${OPEN}`,
    'status=waiting',
    `workflow=${RESTRICTED}&status=draft`,
    'status=failed',
  ];

  it.each(CALLERS)('GET /api/runs for %s: with and without filters, in pages of 1, 2 and 5', async (who) => {
    const reads = READS_RESTRICTED_RUNS[who];
    for (const query of QUERIES) {
      const whole = await call(who, { method: 'GET', path: `/api/runs?${query}${query ? '&' : ''}limit=500` });
      expect(whole.status).toBe(200);
      const ids: string[] = whole.body.items.map((r: any) => r.id);
      const leaked = ids.filter((id) => restrictedIds.has(id));
      if (!reads) expect(leaked, `${who} ${query}`).toEqual([]);
      // positive control: what may be seen is seen, none of the open runs is lost to the filter
      const expected = (await call('admin', { method: 'GET', path: `/api/runs?${query}${query ? '&' : ''}limit=500` })).body.items
        .map((r: any) => r.id)
        .filter((id: string) => reads || !restrictedIds.has(id));
      expect(ids, `${who} ${query}`).toEqual(expected);
      if (query === `workflow=${RESTRICTED}` && !reads) expect(whole.body.nextCursor).toBeUndefined();

      for (const limit of [1, 2, 5]) {
        const paged = await allPages(who, query, limit);
        expect(paged.ids, `${who} ${query} limit=${limit}`).toEqual(expected);
        expect(new Set(paged.ids).size).toBe(paged.ids.length);
        // a cursor is a run id: it must not name a run the caller may not see
        if (!reads)
          expect(
            paged.cursors.filter((c) => restrictedIds.has(c)),
            `${who} ${query} limit=${limit}`,
          ).toEqual([]);
      }
    }
    if (reads) {
      const everything = (await call(who, { method: 'GET', path: '/api/runs?limit=500' })).body.items.map((r: any) => r.id);
      expect(everything).toEqual(expect.arrayContaining([...restrictedIds]));
    }
  });

  it.each(CALLERS)('GET /api/workflows for %s lists the restricted workflow only when allowed', async (who) => {
    const res = await call(who, { method: 'GET', path: '/api/workflows' });
    expect(res.status).toBe(200);
    const names = res.body.items.map((w: any) => w.name).sort();
    expect(names).toEqual(LISTS_RESTRICTED_WORKFLOW[who] ? [OPEN, RESTRICTED] : [OPEN]);
  });

  it.each(CALLERS)('GET /api/tasks for %s shows restricted confirmations only to who may answer them', async (who) => {
    const res = await call(who, { method: 'GET', path: '/api/tasks?limit=500' });
    expect(res.status).toBe(200);
    const workflows = new Set(res.body.items.map((t: any) => t.workflow));
    const runIds: string[] = res.body.items.map((t: any) => t.runId);
    expect(workflows.has(RESTRICTED), who).toBe(RESTRICTED_TASKS[who]);
    expect(workflows.has(OPEN), who).toBe(OPEN_TASKS[who]);
    if (!RESTRICTED_TASKS[who]) expect(runIds.filter((id) => restrictedIds.has(id))).toEqual([]);
    if (!RESTRICTED_TASKS[who]) expect(JSON.stringify(res.body)).not.toContain(RESTRICTED);
  });

  it('a restricted entry cannot be read through a run of another workflow', async () => {
    // allowed-user keeps something in an entry of the restricted workflow…
    const secret = await startRun(RESTRICTED, 'fail', 'allowed', {
      entryId: 'payroll-2026',
      model: { mode: 'fail', salary: 'SECRET-93000' },
    });
    expect(secret.entry.id).toBe('payroll-2026');
    expect((await call('other', { method: 'GET', path: '/api/entries/payroll-2026' })).status).toBe(404);
    // …and other-user starts the open workflow on that entry id: the new run would begin from the
    // saved entry's model (merge patch), handing its content to anyone who may read open runs.
    const before = (await call('admin', { method: 'GET', path: `/api/runs?workflow=${OPEN}&limit=500` })).body.items.length;
    const res = await call('other', {
      method: 'POST',
      path: `/api/workflows/${OPEN}/runs`,
      body: { entryId: 'payroll-2026', model: { mode: 'fail' } },
    });
    // Refused (4xx) with no run; before 27ba431 this answered 201 with model {"salary":"SECRET-93000", …}.
    expect(res.text).not.toContain('SECRET-93000');
    expect(res.status, show(res)).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const after = (await call('admin', { method: 'GET', path: `/api/runs?workflow=${OPEN}&limit=500` })).body.items.length;
    expect(after).toBe(before);
  });

  it('an entry cannot be carried into another workflow, whoever asks', async () => {
    await startRun(RESTRICTED, 'fail', 'allowed', { entryId: 'payroll-2027', model: { mode: 'fail', salary: 'SECRET-94000' } });
    // The operator (opal) may read the restricted workflow (role:auditor) but not start it. Starting
    // the open workflow on the restricted entry copies the entry's model into an open run that every
    // key may read, and an updateModel step there would write the restricted entry.
    const before = (await call('admin', { method: 'GET', path: `/api/runs?workflow=${OPEN}&limit=500` })).body.items.length;
    const res = await call('operator', {
      method: 'POST',
      path: `/api/workflows/${OPEN}/runs`,
      body: { entryId: 'payroll-2027', model: { mode: 'fail' } },
    });
    // Entries belong to the workflow that created them: a reader gets 409, not the entry's data.
    expect(res.status, show(res)).toBe(409);
    const stranger = await call('other', { method: 'POST', path: `/api/workflows/${OPEN}/runs`, body: { entryId: 'payroll-2027' } });
    expect(stranger.status, show(stranger)).toBe(404);
    expect(res.text).not.toContain('SECRET-94000');
    const after = (await call('admin', { method: 'GET', path: `/api/runs?workflow=${OPEN}&limit=500` })).body.items.length;
    expect(after).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Bull Board: admin only, by bearer key or sign-in cookie', () => {
  const board = '/admin/queues';
  const writePath = '/admin/queues/api/queues/no-such-queue/pause';
  let cookie = '';

  it('without credentials: 401 problem+json for API clients, 303 to the sign-in page for browsers', async () => {
    const json = await call('none', { method: 'GET', path: board, headers: { accept: 'application/json' } });
    expect(json.status).toBe(401);
    expect(json.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(json.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const browser = await call('none', { method: 'GET', path: board, headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toBe('/admin/login');
    expect((await call('badKey', { method: 'GET', path: board, headers: { accept: 'application/json' } })).status).toBe(401);
    expect((await call('none', { method: 'GET', path: `${board}/api/queues` })).status).toBe(401);
    for (const who of CALLERS.filter((w) => w !== 'admin')) {
      expect((await call(who, { method: 'GET', path: `${board}/api/queues` })).status, who).toBe(403);
    }
    const ok = await call('admin', { method: 'GET', path: board });
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/<html/i);
  });

  it('sign-in: only an admin key sets the HttpOnly SameSite=Strict cookie, and the cookie opens the board', async () => {
    const login = (key: string) =>
      fetch(`${h.base}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key }),
      });
    expect((await fetch(`${h.base}/admin/login`)).status).toBe(200);
    const wrong = await login('not-a-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    for (const who of ['dana', 'opal', 'user-1', 'allowed-user', 'other-user']) {
      const res = await login(keyOf(who));
      expect(res.status, who).toBe(403);
      expect(res.headers.get('set-cookie'), who).toBeNull();
    }
    const ok = await login(ADMIN_KEY);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/queues');
    const setCookie = ok.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^sf_admin=[^;]+;/);
    expect(setCookie).toMatch(/;\s*HttpOnly/i);
    expect(setCookie).toMatch(/;\s*SameSite=Strict/i);
    expect(setCookie).toMatch(/;\s*Path=\/admin/i);
    cookie = setCookie.split(';')[0]!;

    const page = await call('none', { method: 'GET', path: board, headers: { cookie, accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    expect((await call('none', { method: 'GET', path: `${board}/api/queues`, headers: { cookie } })).status).toBe(200);
    // the cookie is no key for the API
    expect((await call('none', { method: 'GET', path: '/api/workflows', headers: { cookie } })).status).toBe(401);
    // a tampered cookie is no cookie
    const tampered = cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA');
    expect((await call('none', { method: 'GET', path: `${board}/api/queues`, headers: { cookie: tampered } })).status).toBe(401);
  });

  it('cookie-carried writes need a same-origin Origin (or Referer)', async () => {
    expect(cookie).not.toBe('');
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const refused: Record<string, string>[] = [
        {},
        { origin: 'http://evil.example' },
        { referer: 'http://evil.example/page' },
        { origin: h.base.replace('127.0.0.1', '127.0.0.1.evil.example') },
        { origin: 'https://127.0.0.1' },
      ];
      for (const headers of refused) {
        const res = await call('none', { method, path: writePath, headers: { cookie, ...headers } });
        expect(res.status, `${method} ${JSON.stringify(headers)} ${show(res)}`).toBe(403);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
      // same origin passes the guard; Bull Board itself then answers (no such queue)
      for (const headers of [{ origin: h.base }, { referer: `${h.base}/admin/queues` }] as Record<string, string>[]) {
        const res = await call('none', { method, path: writePath, headers: { cookie, ...headers } });
        expect(res.status, `${method} ${JSON.stringify(headers)} ${show(res)}`).not.toBe(403);
        expect(res.status).not.toBe(401);
        expect(res.status).toBeLessThan(500);
      }
    }
    // a bearer admin key is not a cookie: no Origin needed
    const bearer = await call('admin', { method: 'PUT', path: writePath });
    expect(bearer.status).toBe(404);
  });

  it('cookie-carried writes with an opaque or unparsable Origin/Referer are refused, not a 5xx', async () => {
    expect(cookie).not.toBe('');
    // `Origin: null` (sandboxed frames, some redirects) and an Origin/Referer that is not a URL
    // made the guard's `new URL(origin)` throw → 500 before 27ba431; they must be a plain 403.
    for (const headers of [{ origin: 'null' }, { referer: 'not a url' }, { origin: `${h.base}.evil.example` }] as Record<
      string,
      string
    >[]) {
      const res = await call('none', { method: 'PUT', path: writePath, headers: { cookie, ...headers } });
      expect.soft(res.status, `${JSON.stringify(headers)} ${show(res)}`).toBe(403);
    }
  });
});

describe('/metrics', () => {
  it('with a token configured: 401 without it (even with an admin key), 200 with it', async () => {
    const none = await call('none', { method: 'GET', path: '/metrics' });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await call('none', { method: 'GET', path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(
      401,
    );
    const ok = await call('none', { method: 'GET', path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(ok.text).toContain('stageflow_runs');
  });

  it('without a token configured it is open', async () => {
    const open = await startHarness({ worker: false, app: { rateLimitPerMinute: 0 } });
    try {
      const res = await fetch(`${open.base}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('stageflow_runs');
    } finally {
      await open.close();
    }
  });
});
