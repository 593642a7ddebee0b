/**
 * DESIGN §2: saving (PUT /api/workflows/{name}) and POST /api/workflows/validate warn about
 * dataflows and templates that are not registered and users/roles the principals directory does
 * not know, each with its JSON path; registered ones give no warning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ worker: false });
  expect((await h.api('PUT', '/api/dataflows/known-flow', { name: 'known-flow', kind: 'module', module: 'sleep' })).status).toBeLessThan(
    300,
  );
  expect((await h.api('PUT', '/api/templates/known-tpl', { body: 'Hello {{ name }}' })).status).toBeLessThan(300);
});
afterAll(() => h.close());

function definition(name: string, refs: { dataflow: string; template: string; routing: string[]; users: string[]; notifyUsers: string[] }) {
  return {
    name,
    stages: [
      {
        id: 'a',
        name: 'A',
        steps: [
          { id: 'call', type: 'executeDataflow', dataflow: refs.dataflow, resultField: 'r' },
          {
            id: 'tell',
            type: 'sendTemplatedNotification',
            template: refs.template,
            renderType: 'text',
            channel: 'inbox',
            users: refs.notifyUsers,
          },
          {
            id: 'ask',
            type: 'getUserConfirmation',
            confirmationField: 'd',
            options: ['yes', 'no'],
            routing: refs.routing,
            users: refs.users,
            timeoutMs: 60_000,
          },
        ],
      },
    ],
  };
}

const unknownRefs = {
  dataflow: 'ghost-flow',
  template: 'ghost-tpl',
  routing: ['ann', 'ghost-router', 'role:nobody-has-this'],
  users: ['ghost-user', 'bob'],
  notifyUsers: ['ann', 'someone@example.test', 'ghost-reader'],
};
const knownRefs = {
  dataflow: 'known-flow',
  template: 'known-tpl',
  routing: ['ann', 'role:manager'],
  users: ['bob'],
  notifyUsers: ['ann', 'someone@example.test'],
};

const expected = [
  { path: '$.stages[0].steps[0].dataflow', message: expect.stringMatching(/dataflow "ghost-flow" is not registered/) },
  { path: '$.stages[0].steps[1].template', message: expect.stringMatching(/template "ghost-tpl" is not registered/) },
  { path: '$.stages[0].steps[1].users[2]', message: expect.stringMatching(/"ghost-reader"/) },
  { path: '$.stages[0].steps[2].routing[1]', message: expect.stringMatching(/"ghost-router"/) },
  { path: '$.stages[0].steps[2].routing[2]', message: expect.stringMatching(/role "nobody-has-this"/) },
  { path: '$.stages[0].steps[2].users[0]', message: expect.stringMatching(/"ghost-user"/) },
];
const sorted = (w: Array<{ path: string }>) => [...w].sort((a, b) => a.path.localeCompare(b.path));

describe('warnings at save', () => {
  it('PUT /api/workflows/{name} warns about unregistered dataflows/templates and unknown users and roles', async () => {
    const res = await h.api('PUT', '/api/workflows/warned', definition('warned', unknownRefs));
    expect(res.status).toBe(201);
    expect(sorted(res.body.warnings)).toEqual(expected);
  });

  it('POST /api/workflows/validate gives the same warnings', async () => {
    const res = await h.api('POST', '/api/workflows/validate', definition('warned-v', unknownRefs));
    expect(res.status).toBe(200);
    expect(res.body.valid).toBe(true);
    expect(sorted(res.body.warnings)).toEqual(expected);
  });

  it('registered dataflows and templates, known users, roles with members and addresses give none', async () => {
    const saved = await h.api('PUT', '/api/workflows/clean', definition('clean', knownRefs));
    expect(saved.status).toBe(201);
    expect(saved.body.warnings).toEqual([]);
    const validated = await h.api('POST', '/api/workflows/validate', definition('clean-v', knownRefs));
    expect(validated.body.warnings).toEqual([]);
  });
});
