/**
 * The run service: what the API calls on runs, workflows, confirmations and operator tools. It
 * holds no connection and starts no process (engine.ts wires those); it reads through the stores
 * and changes runs only through the RunTransitions verbs.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { configure } from 'safe-stable-stringify';
import { can } from '../definition/access.ts';
import { mergePatch } from '../definition/paths.ts';
import type { Plan } from '../definition/plan.ts';
import type { WorkflowDefinition } from '../definition/schema.ts';
import { validateDefinition, type ValidateOptions, type ValidationResult } from '../definition/validate.ts';
import type { StepServices } from '../steps/services.ts';
import type { Model } from '../steps/types.ts';
import type { Diagnosis } from './diagnose.ts';
import type { Diagnoser } from './diagnosis.ts';
import { EngineError, EntryOwnedError } from './errors.ts';
import type { Keyspace } from './keyspace.ts';
import { closureOf, linkOpen, type LinkStatus } from './link-status.ts';
import type { LinkClaims, Links } from './links.ts';
import type { MigrationReport, MigrationRequest, Migrations } from './migrations.ts';
import type { BulkAction, BulkFilter, OperationView, Operations } from './operations.ts';
import { createWorkerClient, redisTarget } from './redis.ts';
import type { RedisClusterConfig } from '../../config/schema.ts';
import { mintRunId, partitionOfKey } from './partition-tags.ts';
import type { PartitionQueues } from './partition-queues.ts';
import { RunEvents } from './run-events.ts';
import type { ListQuery, RunStore } from './run-store.ts';
import { modelOverBudget, refusal, type RunTransitions } from './run-transitions.ts';
import { view, type RunView } from './run-view.ts';
import { stepJobId, type Scheduler } from './scheduler.ts';
import { simulate, type SimulationResult } from './simulate.ts';
import type { StepProcessor } from './step-processor.ts';
import type { HistoryEvent, ParentLink, RunStatus } from './types.ts';
import { childrenOf, type Waits } from './waits.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface StartInput {
  model?: Model;
  entryId?: string;
  callbackUrl?: string;
}

export interface StartContext {
  idempotencyKey?: string;
  by?: string;
  parent?: ParentLink;
  /** Answer once the run stops moving (any status but running) or this many ms pass (`?wait=MS`). */
  waitMs?: number;
}

export interface RunServiceOptions {
  redisUrl: string;
  redisCluster?: RedisClusterConfig | undefined;
  maxTransitions: number;
  modelMaxBytes: number;
  idempotencyTtlMs: number;
}

export interface RunServiceDeps {
  opts: RunServiceOptions;
  log: Logger;
  keys: Keyspace;
  runs: RunStore;
  transitions: RunTransitions;
  workflows: WorkflowStore;
  queues: PartitionQueues;
  scheduler: Scheduler;
  processor: StepProcessor;
  waits: Waits;
  links: Links;
  services: StepServices;
  diagnoser: Diagnoser;
  operations: Operations;
  migrations: Migrations;
  /** Resolves once a replica holds this connection's writes to `key` (REDIS_WAIT_REPLICAS); NotReplicatedError (503) else. */
  replicated?: (...keys: string[]) => Promise<void>;
}

export class RunService {
  private readonly opts: RunServiceOptions;
  private readonly log: Logger;
  private readonly keys: Keyspace;
  private readonly runs: RunStore;
  private readonly transitions: RunTransitions;
  private readonly workflows: WorkflowStore;
  private readonly queues: PartitionQueues;
  private readonly scheduler: Scheduler;
  private readonly processor: StepProcessor;
  private readonly waits: Waits;
  private readonly links: Links;
  private readonly services: StepServices;
  private readonly diagnoser: Diagnoser;
  private readonly operations: Operations;
  private readonly migrations: Migrations;
  private events?: RunEvents;
  private readonly replicated: (...keys: string[]) => Promise<void>;

  constructor(d: RunServiceDeps) {
    this.opts = d.opts;
    this.log = d.log;
    this.keys = d.keys;
    this.runs = d.runs;
    this.transitions = d.transitions;
    this.workflows = d.workflows;
    this.queues = d.queues;
    this.scheduler = d.scheduler;
    this.processor = d.processor;
    this.waits = d.waits;
    this.links = d.links;
    this.services = d.services;
    this.diagnoser = d.diagnoser;
    this.operations = d.operations;
    this.migrations = d.migrations;
    this.replicated = d.replicated ?? (async () => {});
  }

  // ---- workflows ----

  /** `lint` looks up registered dataflows, templates and principals, for warnings (DESIGN §2). */
  validateWorkflow(input: unknown, lint: ValidateOptions = {}): ValidationResult {
    return validateDefinition(input, lint);
  }

  async saveWorkflow(
    name: string,
    input: unknown,
    lint: ValidateOptions = {},
  ): Promise<{ name: string; version: number; created: boolean; warnings: ValidationResult['warnings'] }> {
    const body = input && typeof input === 'object' && !Array.isArray(input) ? { name, ...(input as object) } : input;
    const result = validateDefinition(body, lint);
    if (!result.valid || !result.definition) throw new EngineError('invalid', 'the workflow definition is invalid', result.errors);
    if (result.definition.name !== name) {
      throw new EngineError('invalid', 'the body names another workflow than the URL', [
        { path: '$.name', message: `must be "${name}" (the name in the URL)` },
      ]);
    }
    const saved = await this.workflows.save(result.definition);
    return { name, ...saved, warnings: result.warnings };
  }

  listWorkflows() {
    return this.workflows.list();
  }

  async getWorkflow(name: string, version?: number) {
    const wf = await this.workflows.get(name, version);
    if (!wf) throw new EngineError('not_found', version ? `workflow ${name} has no version ${version}` : `no workflow named ${name}`);
    return wf;
  }

  /** The access rules in force for a workflow: those of its latest version (null: no such workflow). */
  async policyOf(workflow: string): Promise<Pick<WorkflowDefinition, 'restrictAccess' | 'access'> | null> {
    const version = await this.workflows.latestVersion(workflow);
    const plan = version ? await this.workflows.plan(workflow, version) : null;
    return plan ? { restrictAccess: plan.definition.restrictAccess, access: plan.definition.access } : null;
  }

  // ---- runs ----

  async startRun(workflow: string, input: StartInput, ctx: StartContext = {}): Promise<{ run: RunView; created: boolean }> {
    const { version, plan } = await this.latestPlan(workflow);
    if (!ctx.waitMs) return this.startOn(workflow, version, plan, input, ctx);
    // The new run's id is known before it exists, so its listener goes on first: no status change
    // can be missed, and the run is read once, for the answer (waitForSettle reads it twice).
    const runId = this.mintRunId(workflow, input, ctx);
    const settle = await this.settling(runId, ctx.waitMs);
    try {
      const started = await this.startOn(workflow, version, plan, input, ctx, runId);
      if (!started.created) return { run: await this.waitForSettle(started.run.id, ctx.waitMs), created: false };
      if (started.run.status !== 'running') return started;
      await settle.settled;
      return { run: await this.getRun(runId), created: true };
    } finally {
      settle.stop();
    }
  }

  /**
   * Starts many runs of one workflow on its latest version (read once). Each item is created by
   * its own create-run script call, exactly as a single start (entry ownership and idempotency
   * checked atomically per item); the calls are issued together, so ioredis writes them back to
   * back and the batch costs about one round trip. Results are in input order; an item that is
   * refused carries its error and does not affect the others.
   */
  async startRuns(
    workflow: string,
    items: ReadonlyArray<{ input: StartInput; idempotencyKey?: string }>,
    ctx: Omit<StartContext, 'idempotencyKey' | 'waitMs'> = {},
  ): Promise<Array<{ run: RunView; created: boolean } | { error: unknown }>> {
    const { version, plan } = await this.latestPlan(workflow);
    return Promise.all(
      items.map((item) =>
        this.startOn(workflow, version, plan, item.input, { ...ctx, idempotencyKey: item.idempotencyKey }).catch((error: unknown) => ({
          error,
        })),
      ),
    );
  }

  private async latestPlan(workflow: string): Promise<{ version: number; plan: Plan }> {
    const version = await this.workflows.latestVersion(workflow);
    const plan = version ? await this.workflows.plan(workflow, version) : null;
    if (!version || !plan) throw new EngineError('not_found', `no workflow named ${workflow}`);
    return { version, plan };
  }

  /** One start on a known version: shared by startRun and startRuns. */
  private async startOn(
    workflow: string,
    version: number,
    plan: Plan,
    input: StartInput,
    ctx: StartContext,
    runId = this.mintRunId(workflow, input, ctx),
  ): Promise<{ run: RunView; created: boolean }> {
    const entryId = input.entryId ?? runId;
    // Read for the merge only; whether this workflow may use the entry is decided by create-run.lua.
    const entry = input.entryId ? await this.runs.getEntry(entryId) : null;
    const model = entry ? mergePatch(entry.model, input.model ?? {}) : (input.model ?? {});
    const modelJson = this.modelJson(model, '$.model');
    const by = ctx.by;
    const events = [{ type: 'run.started', by, detail: { version, entryId } }];
    if (!plan.start) events.push({ type: 'run.completed', by: undefined, detail: { version, entryId } });
    const idempotency = ctx.idempotencyKey
      ? {
          key: ctx.idempotencyKey,
          bodyHash: hashOf([workflow, input.model ?? null, input.entryId ?? null, input.callbackUrl ?? null]),
          ttlMs: this.opts.idempotencyTtlMs,
        }
      : undefined;
    const res = await this.transitions.create(
      {
        runId,
        workflow,
        version,
        status: plan.start ? 'running' : 'completed',
        stepId: plan.start,
        model,
        entryId,
        idempotency,
        callbackUrl: input.callbackUrl,
        startedBy: by,
        parent: ctx.parent,
        events,
        modelJson,
        job: plan.start
          ? this.scheduler.job(runId, 0, plan.steps[plan.start]!, { workflow, version, entryId, transitions: 0, model }, modelJson)
          : undefined,
      },
      entry?.model ?? model,
    );
    if (!res.created) {
      if ('entryOwner' in res) throw new EntryOwnedError(entryId, res.entryOwner);
      if (res.bodyHash !== idempotency?.bodyHash) {
        throw new EngineError('conflict', 'this Idempotency-Key was already used with a different request', [
          { path: 'header.Idempotency-Key', message: 'reused with another body' },
        ]);
      }
      const existing = await this.runs.get(res.runId);
      if (!existing) throw new EngineError('not_found', `run ${res.runId} of this Idempotency-Key has expired`);
      await this.processor.ensureCurrentJob(existing);
      await this.replicated(this.keys.run(res.runId));
      return { run: await this.view(existing), created: false };
    }
    await this.replicated(this.keys.run(runId));
    this.log.info({ runId, workflow, version, stepId: plan.start, seq: 0 }, 'run started');
    // As created: the first step may have moved it on already, which a read shows (and ?wait waits for).
    return { run: await this.view(res.run), created: true };
  }

  /**
   * The partition of a new run (docs/partitions.md §5): a named entry's (every run sharing the
   * entry lands there, so create-run checks and binds it in one script); else the
   * Idempotency-Key's, per workflow and caller as the record is (a retried or racing start meets
   * the first one's record in one script); else a child's parent's; else any partition. A child
   * run always has a key (its parent step's effect key), so it usually lives in another partition
   * than its parent, and its end reaches the parent through the outbox (event-worker.ts).
   */
  private mintRunId(workflow: string, input: StartInput, ctx: StartContext): string {
    return mintRunId(this.partitionOfStart(workflow, input, ctx), this.keys.partitions);
  }

  private partitionOfStart(workflow: string, input: StartInput, ctx: StartContext): number {
    const n = this.keys.partitions;
    if (input.entryId) return this.keys.partitionOfEntry(input.entryId);
    if (ctx.idempotencyKey) return partitionOfKey('idempotency', idempotencyScope(workflow, ctx.by, ctx.idempotencyKey), n);
    if (ctx.parent) return this.keys.partitionOf(ctx.parent.runId);
    return randomInt(n);
  }

  async getRun(runId: string): Promise<RunView> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    return this.view(run);
  }

  /**
   * Step and stage filters read the workflow's position index. A stage is answered from the
   * steps it holds in any version (the plans are cached), checked on each run against its own
   * version, so no stage index is written on every transition. Null: nothing can match.
   */
  private async positionQuery(search: RunSearch): Promise<ListQuery | null> {
    const { stepId, stageId, ...q } = search;
    if (!stepId && !stageId) return q;
    if (!q.workflow) {
      throw new EngineError('invalid', 'stepId and stageId filter the runs of one workflow', [
        { path: stepId ? '$.stepId' : '$.stageId', message: 'needs the workflow parameter' },
      ]);
    }
    if (!stageId) return { ...q, stepIds: [stepId!] };
    const inStage = new Map<number, Set<string>>();
    for (const { version } of await this.workflows.versions(q.workflow)) {
      const plan = await this.workflows.plan(q.workflow, version);
      const ids = Object.values(plan?.steps ?? {})
        .filter((st) => st.stageId === stageId && (!stepId || st.id === stepId))
        .map((st) => st.id);
      if (ids.length) inStage.set(version, new Set(ids));
    }
    const stepIds = [...new Set([...inStage.values()].flatMap((ids) => [...ids]))];
    if (!stepIds.length) return null;
    return { ...q, stepIds, where: (run) => Boolean(run.stepId && inStage.get(run.version)?.has(run.stepId)) };
  }

  /** What a run waits for and what happens next, cross-checked with its step's job (src/engine/diagnose.ts). */
  diagnose(runId: string): Promise<Diagnosis> {
    return this.diagnoser.diagnose(runId);
  }

  /** Re-adds a running run's missing step job now; conflict when there is nothing to repair. */
  async repair(runId: string, by?: string): Promise<Diagnosis> {
    const repaired = await this.diagnoser.repair(runId, by);
    await this.replicated(this.keys.run(runId));
    return repaired;
  }

  /** What a bulk operation would act on: the runs the caller may act on (count, ≤ 10 of them) and those it would skip. */
  async bulkDryRun(
    action: BulkAction,
    filter: BulkFilter,
    caller: { id: string; roles: readonly string[] },
  ): Promise<{ count: number; skipped: number; sample: RunView[] }> {
    const r = await this.operations.dryRun(action, filter, caller);
    return { count: r.count, skipped: r.skipped, sample: await Promise.all(r.sample.map((run) => this.view(run))) };
  }

  /** Starts a bulk operation in the background (src/engine/operations.ts). */
  async startBulk(
    action: BulkAction,
    filter: BulkFilter,
    caller: { id: string; roles: readonly string[] },
    idempotencyKey?: string,
  ): Promise<{ id: string; created: boolean }> {
    const started = await this.operations.start(action, filter, caller, idempotencyKey);
    await this.replicated(this.keys.operation(started.id).hash);
    return started;
  }

  async getOperation(id: string): Promise<OperationView> {
    const op = await this.operations.get(id);
    if (!op) throw new EngineError('not_found', `no operation ${id}`);
    return op;
  }

  /** Moves parked runs to another version of their workflow (src/engine/migrations.ts). */
  async migrate(workflow: string, req: MigrationRequest, by?: string): Promise<MigrationReport> {
    const report = await this.migrations.migrate(workflow, req, by);
    await this.replicated(...report.moved.map((id) => this.keys.run(id)));
    return report;
  }

  /** A dry run of a version with stubs for confirmations and dataflows; nothing is sent, called or saved. */
  async simulate(workflow: string, input: { model: Model; version?: number; stubs?: Record<string, unknown> }): Promise<SimulationResult> {
    const version = input.version ?? (await this.workflows.latestVersion(workflow));
    const plan = version ? await this.workflows.plan(workflow, version) : null;
    if (!plan)
      throw new EngineError(
        input.version ? 'invalid' : 'not_found',
        `workflow ${workflow} has no version ${input.version ?? ''}`.trim(),
        input.version ? [{ path: '$.version', message: 'no such version' }] : undefined,
      );
    return simulate(plan, {
      model: input.model,
      stubs: input.stubs,
      maxTransitions: Math.min(this.opts.maxTransitions, 1000),
      directory: this.services.directory,
      templates: this.services.templates,
      publicUrl: this.services.publicUrl,
      log: this.log,
    });
  }

  /** A run's history from event `from` on; history and run expire together, so a gone run has none. */
  async history(runId: string, from = 0): Promise<HistoryEvent[]> {
    return this.runs.history(runId, from, 100_000);
  }

  /** The versions of a workflow, newest last. */
  workflowVersions(name: string) {
    return this.workflows.versions(name);
  }

  async listRuns(
    search: RunSearch,
    visible?: (run: { workflow: string }) => Promise<boolean> | boolean,
  ): Promise<{ items: RunView[]; nextCursor?: string }> {
    const q = await this.positionQuery(search);
    if (!q) return { items: [] };
    const page = await this.runs.list(q, visible);
    return { items: await Promise.all(page.items.map((r) => this.view(r))), nextCursor: page.nextCursor };
  }

  async cancel(runId: string, by?: string): Promise<RunView> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    const res = await this.transitions.cancel(run, by);
    if (!res.ok) throw refusal(res, `run ${runId} cannot be cancelled`);
    // The pending job would be a stale no-op anyway; removing it keeps the queue honest.
    await this.queues
      .stepsOf(runId)
      .remove(stepJobId(runId, res.seq - 1))
      .catch(() => undefined);
    // Read again: the run may have parked on a child between the first read and the cancel.
    const after = await this.runs.get(runId);
    for (const child of childrenOf(after?.wait)) {
      await this.cancel(child, by).catch((err) => this.log.info({ runId, err: String(err) }, 'child run not cancelled'));
    }
    await this.replicated(this.keys.run(runId));
    this.log.info({ runId, stepId: run.stepId, seq: res.seq, by }, 'run cancelled');
    return this.getRun(runId);
  }

  async retry(runId: string, body: { fromStepId?: string; modelPatch?: Model }, by?: string): Promise<RunView> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    if (run.status !== 'failed') throw new EngineError('conflict', `run ${runId} is ${run.status}; only a failed run can be retried`);
    const plan = await this.workflows.plan(run.workflow, run.version);
    const stepId = body.fromStepId ?? run.error?.stepId ?? run.stepId;
    const step = stepId ? plan?.steps[stepId] : undefined;
    if (!plan || !step) {
      throw new EngineError('invalid', `workflow ${run.workflow} v${run.version} has no step ${stepId}`, [
        { path: '$.fromStepId', message: `no step "${stepId}" in version ${run.version}` },
      ]);
    }
    const model = body.modelPatch ? mergePatch(run.model, body.modelPatch) : run.model;
    const modelJson = this.modelJson(model, '$.modelPatch');
    const res = await this.transitions.retry(run, { step, modelJson: body.modelPatch ? modelJson : undefined, by });
    if (!res.ok) throw refusal(res, `run ${runId} cannot be retried`);
    await this.replicated(this.keys.run(runId));
    this.log.info({ runId, stepId: step.id, seq: res.seq, by }, 'run retried');
    return this.getRun(runId);
  }

  async submit(runId: string, body: { modelPatch?: Model }, by?: string): Promise<RunView> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    if (run.status !== 'draft') throw new EngineError('conflict', `run ${runId} is ${run.status}; only a draft can be submitted`);
    const plan = await this.workflows.plan(run.workflow, run.version);
    if (!plan) throw new EngineError('not_found', `workflow ${run.workflow} v${run.version} is gone`);
    const model = body.modelPatch ? mergePatch(run.model, body.modelPatch) : run.model;
    const modelJson = this.modelJson(model, '$.modelPatch');
    const res = await this.transitions.submit(run, { plan, modelJson: body.modelPatch ? modelJson : undefined, by });
    if (!res.ok) throw refusal(res, `run ${runId} cannot be submitted`);
    await this.replicated(this.keys.run(runId));
    this.log.info({ runId, stepId: plan.start, seq: res.seq, by }, 'run submitted');
    return this.getRun(runId);
  }

  /** Resolves when the run stops moving (any status but running) or `ms` pass. */
  private async waitForSettle(runId: string, ms: number): Promise<RunView> {
    const settle = await this.settling(runId, ms);
    try {
      const now = await this.runs.get(runId);
      if (!now) throw new EngineError('not_found', `no run ${runId}`);
      if (now.status !== 'running') return this.view(now);
      await settle.settled;
      return await this.getRun(runId);
    } finally {
      settle.stop();
    }
  }

  /** Resolves `settled` at the run's first status change to anything but running, or after `ms`. */
  private async settling(runId: string, ms: number): Promise<{ settled: Promise<void>; stop: () => void }> {
    this.events ??= new RunEvents(createWorkerClient(redisTarget(this.opts), { log: this.log, name: 'events' }), this.keys.events);
    let done!: () => void;
    const settled = new Promise<void>((r) => (done = r));
    const unlisten = await this.events.listen(runId, (s: RunStatus) => s !== 'running' && done());
    const timer = setTimeout(done, ms);
    return {
      settled,
      stop: () => {
        clearTimeout(timer);
        unlisten();
      },
    };
  }

  /** An answer to the confirmation the run waits on; resolves the wait when the policy is met. */
  async confirm(
    runId: string,
    who: { id: string; roles: readonly string[] },
    option: string,
    comment?: string,
  ): Promise<{ run: RunView; resolved: boolean }> {
    const res = await this.waits.confirmations.answer(runId, who, option, comment);
    await this.replicated(this.keys.run(runId));
    return { run: await this.getRun(runId), resolved: res === 'resolved' };
  }

  /** What a signed answer link would do, without using it up; a used, expired or forged link is refused. */
  async readLink(token: string): Promise<LinkClaims> {
    const check = await this.links.check(token, false);
    if (!check.ok) {
      throw new EngineError(
        check.reason === 'used' ? 'conflict' : 'forbidden',
        `this answer link is ${check.reason === 'used' ? 'already used' : check.reason === 'expired' ? 'expired' : 'not valid'}`,
      );
    }
    return check.claims;
  }

  /**
   * What an answer link's page shows: open, or closed and (where the link's principal may read
   * the run) how it closed. A used, expired or forged link is refused as by readLink.
   */
  async linkStatus(token: string): Promise<LinkStatus> {
    const check = await this.links.check(token, false);
    // An expired link of a request that closed (a timeout ends both) shows how it closed.
    const claims = check.ok || check.reason === 'expired' ? check.claims : await this.readLink(token);
    const run = await this.runs.get(claims.runId);
    if (linkOpen(run, claims)) {
      if (!check.ok) await this.readLink(token);
      return { open: true, claims };
    }
    const who = { id: claims.principalId, roles: this.services.directory.rolesOf(claims.principalId) };
    const policy = run ? await this.policyOf(run.workflow) : null;
    if (!run || !policy || !can(who, 'read', policy)) return { open: false, claims };
    return { open: false, claims, closure: closureOf(run, await this.runs.history(run.id, 0, 100_000), claims) };
  }

  /** Answers through a signed link: the link is the credential of the principal it names. */
  async confirmByLink(token: string, comment?: string): Promise<{ run: RunView; resolved: boolean }> {
    // Checked first without using it up: a link refused because its confirmation is closed stays unspent.
    const c = await this.readLink(token);
    const run = await this.runs.get(c.runId);
    if (!linkOpen(run, c) || !run) {
      throw new EngineError('conflict', 'the confirmation this link answers is no longer open');
    }
    const who = { id: c.principalId, roles: this.services.directory.rolesOf(c.principalId) };
    const policy = await this.policyOf(run.workflow);
    if (!policy || !can(who, 'confirm', policy))
      throw new EngineError('forbidden', `${who.id} may not answer confirmations of ${run.workflow}`);
    if (!(await this.links.check(token, true)).ok) throw new EngineError('conflict', 'this answer link is already used');
    return this.confirm(c.runId, who, c.option, comment);
  }

  tasks(who: { id: string; roles: readonly string[] }, limit?: number) {
    return this.waits.confirmations.tasksFor(who, limit);
  }

  /** Starts the child run of a `workflow` dataflow, idempotent on the parent step's effect key. */
  async startChildRun(
    workflow: string,
    input: unknown,
    ctx: { runId: string; stepId: string; seq: number; effectKey: string },
  ): Promise<{ childRunId: string }> {
    const model = input && typeof input === 'object' && !Array.isArray(input) ? (input as Model) : { input };
    const { run } = await this.startRun(
      workflow,
      { model },
      {
        idempotencyKey: `child-${ctx.effectKey.replace(/[^\x21-\x7e]/g, '_')}`,
        by: `run:${ctx.runId}`,
        parent: { runId: ctx.runId, stepId: ctx.stepId, seq: ctx.seq + 1 },
      },
    );
    return { childRunId: run.id };
  }

  async getEntry(entryId: string) {
    const entry = await this.runs.getEntry(entryId);
    if (!entry) throw new EngineError('not_found', `no entry ${entryId}`);
    return {
      id: entry.id,
      version: entry.version,
      model: entry.model,
      updatedAt: new Date(entry.updatedAt).toISOString(),
      workflow: entry.workflow,
    };
  }

  /** A run as the API shows it: with its stage and step from its own plan. */
  async view(run: Parameters<typeof view>[0]): Promise<RunView> {
    return view(run, await this.workflows.plan(run.workflow, run.version));
  }

  /** The model as stored (JSON), once it is known to fit the model budget. */
  private modelJson(model: Model, path: string): string {
    const json = JSON.stringify(model);
    const bytes = modelOverBudget(json, this.opts.modelMaxBytes);
    if (bytes) {
      throw new EngineError('invalid', `the model is ${bytes} bytes; the limit is ${this.opts.modelMaxBytes}`, [
        { path, message: `model larger than ${this.opts.modelMaxBytes} bytes` },
      ]);
    }
    return json;
  }

  /** Closes the listener connection ?wait opened, if any. */
  async close(): Promise<void> {
    await this.events?.close();
  }
}

/** A run search: the list filters plus where runs are (their current step, or stage). */
export type RunSearch = Omit<ListQuery, 'stepIds' | 'where'> & { stepId?: string; stageId?: string };

// Idempotency compares what a request means, not how its JSON was spelled: keys in a stable
// order, so a client that rebuilds the same body with another key order is not refused.
const canonical = configure({ deterministic: true }) as (v: unknown) => string;

/** What an Idempotency-Key is unique within: the workflow and the caller (as the stored record is keyed). */
export const idempotencyScope = (workflow: string, by: string | undefined, key: string) => `${workflow}\u0000${by ?? ''}/${key}`;

function hashOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 32);
}
