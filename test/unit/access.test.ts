import { describe, expect, it } from 'vitest';
import { can, designs, named } from '../../src/definition/access.ts';

const open = { restrictAccess: false };
const restricted = {
  restrictAccess: true,
  access: { read: ['role:auditor'], start: ['role:buyer', 'sam'], confirm: ['role:manager'], operate: ['role:ops'] },
};
const who = (id: string, ...roles: string[]) => ({ id, roles });

describe('access rules', () => {
  it('admin may do everything, on open and restricted workflows', () => {
    for (const action of ['read', 'start', 'confirm', 'operate'] as const) {
      expect(can(who('a', 'admin'), action, restricted)).toBe(true);
      expect(can(who('a', 'admin'), action, open)).toBe(true);
    }
  });

  it('open workflows: everyone reads, starts, answers; only operators operate', () => {
    expect(['read', 'start', 'confirm'].every((a) => can(who('x'), a as never, open))).toBe(true);
    expect(can(who('x'), 'operate', open)).toBe(false);
    expect(can(who('x', 'operator'), 'operate', open)).toBe(true);
  });

  it('restricted workflows follow the access lists; acting implies reading', () => {
    expect(can(who('x'), 'read', restricted)).toBe(false);
    expect(can(who('x', 'designer'), 'read', restricted)).toBe(false);
    expect(can(who('x', 'auditor'), 'read', restricted)).toBe(true);
    expect(can(who('x', 'auditor'), 'start', restricted)).toBe(false);
    expect(can(who('sam'), 'start', restricted)).toBe(true);
    expect(can(who('sam'), 'read', restricted)).toBe(true);
    expect(can(who('m', 'manager'), 'confirm', restricted)).toBe(true);
    expect(can(who('m', 'manager'), 'start', restricted)).toBe(false);
    expect(can(who('o', 'ops'), 'operate', restricted)).toBe(true);
  });

  it('an operator operates the restricted runs it can read, and only those', () => {
    expect(can(who('o', 'operator'), 'operate', restricted)).toBe(false);
    expect(can(who('o', 'operator', 'auditor'), 'operate', restricted)).toBe(true);
  });

  it('restrictAccess without access lists admits only admin', () => {
    expect(can(who('x', 'operator', 'designer'), 'read', { restrictAccess: true })).toBe(false);
  });

  it('names match ids and role: refs, never role names as ids', () => {
    expect(named(who('role:x'), ['role:x'])).toBe(false);
    expect(named(who('u', 'x'), ['role:x'])).toBe(true);
    expect(named(who('x'), ['role:x'])).toBe(false);
    expect(designs(who('d', 'designer'))).toBe(true);
    expect(designs(who('d', 'operator'))).toBe(false);
  });
});
