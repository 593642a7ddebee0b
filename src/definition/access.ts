/**
 * The security-context rules of DESIGN §7, as pure functions of a principal and a workflow
 * definition. The API asks them before every run operation; the engine asks them for answers
 * that arrive through signed links.
 *
 * - `admin` may do everything.
 * - A workflow without `restrictAccess` is open: every principal may read, start and answer;
 *   operating (cancel, retry, submit) needs the `operator` role.
 * - With `restrictAccess`, `access.{read,start,confirm,operate}` name user ids and `role:<name>`.
 *   Whoever may start, confirm or operate may also read. An `operator` operates the runs it can read.
 */
import type { WorkflowDefinition } from './schema.ts';

export type Action = 'read' | 'start' | 'confirm' | 'operate';

export interface Caller {
  id: string;
  roles: readonly string[];
}

export const hasRole = (caller: Caller, role: string) => caller.roles.includes(role);

/** True when one of `refs` is the caller's id or `role:<one of its roles>`. */
export function named(caller: Caller, refs: readonly string[] | undefined): boolean {
  return (refs ?? []).some((ref) => (ref.startsWith('role:') ? caller.roles.includes(ref.slice(5)) : ref === caller.id));
}

type Policy = Pick<WorkflowDefinition, 'restrictAccess' | 'access'>;

export function can(caller: Caller, action: Action, wf: Policy): boolean {
  if (hasRole(caller, 'admin')) return true;
  if (!wf.restrictAccess) return action === 'operate' ? hasRole(caller, 'operator') : true;
  const a = wf.access ?? {};
  const reads = named(caller, a.read) || named(caller, a.start) || named(caller, a.confirm) || named(caller, a.operate);
  switch (action) {
    case 'read':
      return reads;
    case 'start':
      return named(caller, a.start);
    case 'confirm':
      return named(caller, a.confirm);
    case 'operate':
      return named(caller, a.operate) || (reads && hasRole(caller, 'operator'));
  }
}

/** Designers and admins see and save every definition, restricted or not. */
export const designs = (caller: Caller) => hasRole(caller, 'admin') || hasRole(caller, 'designer');
