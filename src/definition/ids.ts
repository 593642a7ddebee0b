/**
 * Identifier rules shared by the workflow schema and the step parameter schemas.
 * Kept in a leaf module so step files can use it without importing schema.ts (which imports them).
 */
import { z } from 'zod';

/** Workflow names and stage/step ids appear in URLs, Redis keys and BullMQ job ids. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const Identifier = z.string().regex(IDENTIFIER_PATTERN, {
  message: "must be 1-64 characters of letters, digits, '_' or '-', starting with a letter or digit",
});

/** A user id or `role:<name>`, as used by confirmation routing and workflow access lists. */
export const PrincipalRef = z.string().regex(/^(?:role:)?[^\s:]+$/, { message: 'must be a user id or "role:<name>" without spaces' });
