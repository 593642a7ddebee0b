/**
 * Recipient references of a notifying step: the value of `userInfoField` in the model (a user
 * id, an e-mail address, a URL, `role:<name>`, or a list of those) together with `users`. The
 * directory (ctx.services.directory) turns them into recipients.
 */
import { getPath } from '../definition/paths.ts';
import { NonRetryableError, type Model } from './types.ts';

const SHAPE = 'a user id, e-mail address, URL or "role:<name>", or a list of them';

function refOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new NonRetryableError(`${where} must hold ${SHAPE} (found ${value === null ? 'null' : typeof value})`);
}

/** With `required: false` (confirmations, which are also listed to everyone routed) no recipient is fine. */
export function recipientRefs(
  model: Readonly<Model>,
  params: { userInfoField?: string; users?: readonly string[] },
  { required = true } = {},
): string[] {
  const refs: string[] = [];
  if (params.userInfoField !== undefined) {
    const where = `the field "${params.userInfoField}"`;
    const value = getPath(model, params.userInfoField);
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) refs.push(refOf(v, `${where}[${i}]`));
    } else if (value !== undefined && value !== null) refs.push(refOf(value, where));
  }
  refs.push(...(params.users ?? []));
  const out = refs.filter((r) => r !== '');
  if (out.length === 0 && required) {
    throw new NonRetryableError(
      params.userInfoField === undefined
        ? 'no recipients: users is empty'
        : `no recipients: the field "${params.userInfoField}" is empty or missing${params.users?.length ? '' : ' and no users are given'}`,
    );
  }
  return out;
}
