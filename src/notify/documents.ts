/**
 * Rendered documents: one per effect key (runId/stepId/seq), stored as bytes in Redis with the
 * run's retention, so a redelivered notification step attaches the document the first attempt
 * rendered instead of rendering (and storing) a second, and inbox downloads and webhook links
 * serve the same bytes until the run expires.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Keyspace } from '../engine/keyspace.ts';

export interface DocumentMeta {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  template: string;
  effectKey: string;
  createdAt: string;
  expiresAt: string;
}

export interface StoredDocument {
  meta: DocumentMeta;
  bytes: Buffer;
}

const STORE_SCRIPT = readFileSync(new URL('./lua/store-document.lua', import.meta.url), 'utf8');
const COMMAND = 'sfStoreDocument';

/** The document id of an effect key: stable, so every attempt of one step finds the same document. */
export function documentId(effectKey: string): string {
  return createHash('sha256').update(`document\n${effectKey}`).digest('base64url').slice(0, 32);
}

const ID = /^[A-Za-z0-9_-]{32}$/;

export class DocumentStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** How long a rendered document is kept: the run retention (RUN_RETENTION_DAYS). */
    readonly ttlSec = 30 * 86_400,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: STORE_SCRIPT });
  }

  async get(id: string): Promise<StoredDocument | undefined> {
    if (!ID.test(id)) return undefined;
    const [bytes, meta] = await this.redis.hmgetBuffer(this.keys.document(id), 'bytes', 'meta');
    if (!bytes || !meta) return undefined;
    return { bytes, meta: JSON.parse(meta.toString('utf8')) as DocumentMeta };
  }

  /**
   * The document of this effect key: the stored one if any, else `render()`'s, stored first-wins
   * (a concurrent attempt that lost the race gets the winner's). `rendered` says whether this
   * call's rendering is the one kept.
   */
  async once(
    effectKey: string,
    render: () => Promise<{ bytes: Buffer; fileName: string; contentType: string; template: string }>,
    now = new Date(),
  ): Promise<StoredDocument & { rendered: boolean }> {
    const id = documentId(effectKey);
    const existing = await this.get(id);
    if (existing) return { ...existing, rendered: false };
    const out = await render();
    const meta: DocumentMeta = {
      id,
      fileName: out.fileName,
      contentType: out.contentType,
      size: out.bytes.length,
      template: out.template,
      effectKey,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.ttlSec * 1000).toISOString(),
    };
    const run = (this.redis as unknown as Record<string, (...a: Array<string | number | Buffer>) => Promise<number>>)[COMMAND]!;
    const stored = await run.call(this.redis, this.keys.document(id), out.bytes, JSON.stringify(meta), this.ttlSec);
    if (stored === 1) return { meta, bytes: out.bytes, rendered: true };
    const winner = await this.get(id);
    if (!winner) throw new Error(`the document of ${effectKey} vanished right after it was stored`);
    return { ...winner, rendered: false };
  }
}
