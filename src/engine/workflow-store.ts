/**
 * Versioned workflow definitions in Redis, and the compiled plans the engine runs. A version is
 * immutable once saved, so plans are cached per (name, version) for the life of the process.
 * The latest version of each workflow is cached too (every start and access check reads it),
 * kept true by a pub/sub message each save sends before it answers (src/engine/invalidation.ts):
 * a start in any process after a save has been answered uses the new version. While the
 * subscriber is not subscribed the cache is bypassed.
 */
import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from './redis.ts';
import { configure } from 'safe-stable-stringify';
import type { Keyspace } from './keyspace.ts';
import type { Scripts } from './scripts.ts';
import type { Plan } from '../definition/plan.ts';
import type { WorkflowDefinition } from '../definition/schema.ts';
import { compile } from '../definition/compile.ts';
import { Invalidation } from './invalidation.ts';

const canonical = configure({ deterministic: true }) as (v: unknown) => string;

export interface WorkflowSummary {
  name: string;
  title?: string;
  latest: number;
  updatedAt: string;
}

export interface StoredWorkflow {
  name: string;
  version: number;
  latest: number;
  savedAt: string;
  definition: WorkflowDefinition;
}

const PLAN_CACHE_LIMIT = 1000;

export class WorkflowStore {
  private readonly plans = new Map<string, Plan>();
  private readonly latest = new Map<string, number>();
  private readonly saved: Invalidation;

  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keyspace,
  ) {
    this.saved = new Invalidation(
      redis,
      keys.workflowSaved,
      (name) => this.latest.delete(name),
      () => this.latest.clear(),
    );
  }

  close(): void {
    this.saved.close();
  }

  /** Saves a validated definition; unchanged content keeps its version. */
  async save(def: WorkflowDefinition): Promise<{ version: number; created: boolean }> {
    const json = canonical(def);
    const hash = createHash('sha256').update(json).digest('hex');
    const [version, created] = (await this.scripts.run(
      'saveWorkflow',
      [this.keys.workflow(def.name), this.keys.workflowIndex],
      [def.name, json, hash, Date.now()],
    )) as [number, number];
    // Before answering: whoever hears of this save and starts a run must get the new version.
    if (created === 1) await this.saved.publish(def.name);
    return { version: Number(version), created: created === 1 };
  }

  async latestVersion(name: string): Promise<number | null> {
    const live = this.saved.live;
    const hit = live ? this.latest.get(name) : undefined;
    if (hit !== undefined) return hit;
    const epoch = this.saved.epoch;
    const v = await this.redis.hget(this.keys.workflow(name), 'latest');
    // A save or a reset heard during the read may make this answer stale: then it is not kept.
    if (v && live && this.saved.live && epoch === this.saved.epoch) {
      if (this.latest.size >= PLAN_CACHE_LIMIT) this.latest.delete(this.latest.keys().next().value!);
      this.latest.set(name, Number(v));
    }
    return v ? Number(v) : null;
  }

  async get(name: string, version?: number): Promise<StoredWorkflow | null> {
    const key = this.keys.workflow(name);
    const latest = Number((await this.redis.hget(key, 'latest')) ?? 0);
    const v = version ?? latest;
    if (!latest || v < 1 || v > latest) return null;
    const [def, at] = await this.redis.hmget(key, `def:${v}`, `at:${v}`);
    if (!def) return null;
    return { name, version: v, latest, savedAt: new Date(Number(at)).toISOString(), definition: JSON.parse(def) };
  }

  async list(): Promise<WorkflowSummary[]> {
    const names = await this.redis.zrange(this.keys.workflowIndex, 0, -1);
    const out: WorkflowSummary[] = [];
    for (const name of names) {
      const wf = await this.get(name);
      if (wf) out.push({ name, title: wf.definition.title, latest: wf.latest, updatedAt: wf.savedAt });
    }
    return out;
  }

  async versions(name: string): Promise<Array<{ version: number; savedAt: string }>> {
    const key = this.keys.workflow(name);
    const latest = Number((await this.redis.hget(key, 'latest')) ?? 0);
    if (!latest) return [];
    const fields = Array.from({ length: latest }, (_, i) => `at:${i + 1}`);
    const ats = await this.redis.hmget(key, ...fields);
    return ats.map((at, i) => ({ version: i + 1, savedAt: new Date(Number(at)).toISOString() }));
  }

  async plan(name: string, version: number): Promise<Plan | null> {
    const id = `${name}@${version}`;
    const cached = this.plans.get(id);
    if (cached) return cached;
    const wf = await this.get(name, version);
    if (!wf) return null;
    const plan = compile(wf.definition, version);
    if (this.plans.size >= PLAN_CACHE_LIMIT) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(id, plan);
    return plan;
  }
}
