/**
 * Who may call the API: principals from STAGEFLOW_API_KEYS or config/api-keys.json, each key one
 * principal. Keys are held only as SHA-256 digests and compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { fromZodError } from '../definition/issues.ts';

export interface Principal {
  id: string;
  roles: string[];
  name?: string;
  email?: string;
}

const KeySchema = z
  .object({
    id: z.string().min(1).max(128),
    key: z.string().min(16, 'keys must be at least 16 characters').optional(),
    keyHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'keyHash must be a hex SHA-256 digest')
      .optional(),
    roles: z.array(z.string().min(1)).default([]),
    name: z.string().optional(),
    email: z.string().email().optional(),
  })
  .strict()
  .refine((k) => Boolean(k.key) !== Boolean(k.keyHash), { message: 'give exactly one of key or keyHash' });

const KeysSchema = z.array(KeySchema);

interface KeyRecord {
  digest: Buffer;
  principal: Principal;
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class PrincipalRegistry {
  private constructor(
    private readonly records: KeyRecord[],
    /** Set only in dev mode: the generated admin key, to be logged once. */
    readonly devKey?: string,
  ) {}

  static fromJson(json: unknown, source: string): PrincipalRegistry {
    const parsed = KeysSchema.safeParse(json);
    if (!parsed.success) {
      const detail = fromZodError(parsed.error)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ');
      throw new Error(`invalid API keys in ${source}: ${detail}`);
    }
    return new PrincipalRegistry(
      parsed.data.map((k) => ({
        digest: k.key ? sha256(k.key) : Buffer.from(k.keyHash!, 'hex'),
        principal: { id: k.id, roles: k.roles, ...(k.name ? { name: k.name } : {}), ...(k.email ? { email: k.email } : {}) },
      })),
    );
  }

  /** A registry with one generated admin key, for `npm start` without configuration. */
  static devMode(): PrincipalRegistry {
    const key = `sf_dev_${randomBytes(18).toString('base64url')}`;
    return new PrincipalRegistry(
      [{ digest: sha256(key), principal: { id: 'dev-admin', roles: ['admin'], name: 'Development admin' } }],
      key,
    );
  }

  get size(): number {
    return this.records.length;
  }

  /** Every record is compared, so the time taken does not depend on which key matched. */
  authenticate(presented: string): Principal | undefined {
    const digest = sha256(presented);
    let found: Principal | undefined;
    for (const r of this.records) if (timingSafeEqual(r.digest, digest)) found = r.principal;
    return found;
  }

  byId(id: string): Principal | undefined {
    return this.records.find((r) => r.principal.id === id)?.principal;
  }

  /** Every principal (no key material), for expanding `role:<name>` recipients. */
  all(): Principal[] {
    return this.records.map((r) => r.principal);
  }
}

/**
 * STAGEFLOW_API_KEYS wins over the file. With neither, dev mode — unless in production, where
 * running without keys would leave the API open, so it refuses.
 */
export function loadPrincipals(env: { STAGEFLOW_API_KEYS?: string; NODE_ENV?: string }, file = 'config/api-keys.json'): PrincipalRegistry {
  if (env.STAGEFLOW_API_KEYS) {
    let json: unknown;
    try {
      json = JSON.parse(env.STAGEFLOW_API_KEYS);
    } catch {
      throw new Error('STAGEFLOW_API_KEYS is not valid JSON (expected an array of {id, key, roles})');
    }
    return PrincipalRegistry.fromJson(json, 'STAGEFLOW_API_KEYS');
  }
  if (existsSync(file)) return PrincipalRegistry.fromJson(JSON.parse(readFileSync(file, 'utf8')), file);
  if (env.NODE_ENV === 'production') {
    throw new Error('no API keys configured: set STAGEFLOW_API_KEYS or write config/api-keys.json (NODE_ENV=production refuses dev mode)');
  }
  return PrincipalRegistry.devMode();
}
