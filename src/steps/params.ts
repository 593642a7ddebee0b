/** Parameter schemas shared by several step types. */
import { z } from 'zod';
import { Identifier } from '../definition/ids.ts';
import { isSafePath } from '../definition/paths.ts';
import type { StepReference } from './types.ts';

export const FieldPath = z.string().refine(isSafePath, {
  message: 'must be a dot path of non-empty segments, none of them __proto__, prototype or constructor',
});

/** A stage id named by a goto; its existence is checked by validateDefinition. */
export const StageRef = Identifier;

/** Timeouts a step waits for (confirmation, dataflow); a run may legitimately wait days. */
export const WaitMs = z
  .int()
  .min(1)
  .max(365 * 24 * 3600 * 1000);

export const UserId = z.string().regex(/^\S+$/, { message: 'must be a non-empty user id without spaces' });

export const Channel = z.enum(['inbox', 'email', 'webhook']);

export const Recipients = {
  userInfoField: FieldPath.optional(),
  users: z.array(UserId).optional(),
};

/** `users` and `routing` entries as references, so saving can warn about principals nobody has. */
export function principalRefs(p: { users?: readonly string[]; routing?: readonly string[] }): StepReference[] {
  return (['users', 'routing'] as const).flatMap((field) =>
    (p[field] ?? []).map((name, i) => ({ kind: 'principal' as const, name, path: `${field}[${i}]` })),
  );
}

export function hasRecipients(p: { userInfoField?: unknown; users?: unknown }): boolean {
  return p.userInfoField !== undefined || (Array.isArray(p.users) && p.users.length > 0);
}

export const RECIPIENTS_MESSAGE = 'at least one recipient source is required: userInfoField and/or users';

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Field paths referenced by `{{field.path}}` placeholders of a message. */
export function placeholderPaths(message: string): string[] {
  return [...message.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

export const MessageText = z
  .string()
  .min(1)
  .refine((text) => placeholderPaths(text).every(isSafePath), {
    message: 'every {{placeholder}} must be a safe field path (no __proto__, prototype or constructor)',
  });
