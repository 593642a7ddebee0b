/**
 * Who a message goes to: turns recipient references (user ids, `role:<name>` groups, e-mail
 * addresses, webhook URLs) into recipients, using the principals of the API key configuration.
 */
import type { Principal, PrincipalRegistry } from '../api/principals.ts';
import { named } from '../definition/access.ts';
import type { Directory, Recipient } from '../steps/services.ts';

const ROLE_PREFIX = 'role:';

/**
 * One address, nothing else: no display name, no list, no whitespace or header syntax, so a value
 * taken from a run's model cannot smuggle extra recipients or headers into a message.
 */
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;

export const isEmailAddress = (ref: string): boolean => ref.length <= 254 && EMAIL.test(ref);

export function isWebhookUrl(ref: string): boolean {
  if (!/^https?:\/\//i.test(ref)) return false;
  try {
    return new URL(ref).hostname !== '';
  } catch {
    return false;
  }
}

function fromPrincipal(p: Principal): Recipient {
  return { id: p.id, ...(p.email ? { email: p.email } : {}), ...(p.name ? { name: p.name } : {}) };
}

/**
 * Whether a `users`/`routing` entry reaches anyone, for save-time warnings: a known id, a role
 * someone holds, or an e-mail address / webhook URL (delivered without a principal).
 */
export function principalKnown(registry: PrincipalRegistry, raw: string): 'known' | 'no-user' | 'no-members' {
  const ref = raw.trim();
  if (ref.startsWith(ROLE_PREFIX)) {
    const role = ref.slice(ROLE_PREFIX.length);
    return registry.all().some((p) => p.roles.includes(role)) ? 'known' : 'no-members';
  }
  if (isWebhookUrl(ref) || isEmailAddress(ref) || registry.byId(ref)) return 'known';
  return 'no-user';
}

export function createDirectory(registry: PrincipalRegistry): Directory {
  /** A raw address that is exactly one principal's e-mail reaches that principal (inbox included). */
  function byEmail(address: string): Principal | undefined {
    const lower = address.toLowerCase();
    const found = registry.all().filter((p) => p.email?.toLowerCase() === lower);
    return found.length === 1 ? found[0] : undefined;
  }

  function expand(ref: string): Recipient[] {
    if (ref.startsWith(ROLE_PREFIX)) {
      const role = ref.slice(ROLE_PREFIX.length);
      return registry
        .all()
        .filter((p) => p.roles.includes(role))
        .map(fromPrincipal);
    }
    if (isWebhookUrl(ref)) return [{ id: ref, webhookUrl: ref }];
    const known = registry.byId(ref);
    if (known) return [fromPrincipal(known)];
    if (isEmailAddress(ref)) {
      const owner = byEmail(ref);
      return [owner ? fromPrincipal(owner) : { id: ref, email: ref }];
    }
    // An id no API key names still has an inbox; other channels report it unreachable.
    return [{ id: ref }];
  }

  return {
    resolve(refs) {
      const out = new Map<string, Recipient>();
      for (const raw of refs) {
        const ref = raw.trim();
        if (ref === '' || ref === ROLE_PREFIX) continue;
        for (const r of expand(ref)) if (!out.has(r.id)) out.set(r.id, r);
      }
      return [...out.values()];
    },
    rolesOf(id) {
      return [...(registry.byId(id)?.roles ?? [])];
    },
    // The same rule as the access lists: an id, or role:<one of its roles>.
    matches: (principal, refs) => named(principal, refs),
  };
}
