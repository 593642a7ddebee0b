/**
 * The engine's public surface: what the API and the worker entry points call. It owns the Redis
 * connections and wires the stores, scheduler, processor and reconciler together; callers never
 * see a Redis key.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { configure } from 'safe-stable-stringify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { can } from '../definition/access.ts';
import { mergePatch } from '../definition/paths.ts';
import { validateDefinition, type ValidateOptions, type ValidationResult } from '../definition/validate.ts';
import type { WorkflowDefinition } from '../definition/schema.ts';
import type { StepServices } from '../steps/services.ts';
import type { Model } from '../steps/types.ts';
import { unconfiguredServices } from './unconfigured-services.ts';
import { EngineError, EntryOwnedError } from './errors.ts';
import { createKeys, type Keys } from './keys.ts';
import { Reconciler } from './reconciler.ts';
import { createProducerConnection, createWorkerConnection } from './redis.ts';
import { RunEvents } from './run-events.ts';
import { RunStore, type ListQuery } from './run-store.ts';
import { view, type RunView } from './run-view.ts';
import { STEP_JOB_RETENTION, Scheduler, stepJobId, type StepJobData } from './scheduler.ts';
import { loadScripts } from './scripts.ts';
import { StepProcessor } from './step-processor.ts';
import { StepWorker, type StepWorkerOptions } from './step-worker.ts';
import type { HistoryEvent, ParentLink, RunState, RunStatus } from './types.ts';
import { EventWorker } from './event-worker.ts';
import { Links, type LinkClaims } from './links.ts';
import { closureOf, linkOpen, type LinkStatus } from './link-status.ts';
import { EVENTS_QUEUE, Waits } from './waits.ts';
import { notifyConfirmation } from '../steps/get-user-confirmation.ts';
import { WorkflowStore } from './workflow-store.ts';
import { Diagnoser } from './diagnosis.ts';
import type { Diagnosis } from './diagnose.ts';
import { Migrations, type MigrationReport, type MigrationRequest } from './migrations.ts';
import { OPERATIONS_QUEUE, OperationWorker, Operations, type BulkAction, type BulkFilter, type OperationView } from './operations.ts';
import { simulate, type SimulationResult } from './simulate.ts';
import { throttledLog } from '../observability/throttle.ts';

export const STEP_QUEUE = 'steps';

export interface EngineOptions {
  redisUrl: string;
  prefix: string;
  maxTransitions: number;
  modelMaxBytes: number;
  retentionSec: number;
  idempotencyTtlMs: number;
  reconcile: { intervalMs: number; graceMs: number };
  worker: Omit<StepWorkerOptions, 'prefix' | 'queueName' | 'heartbeatKey'>;
  /** Builds what step handlers may use (notifications, dataflows…); see src/steps/services.ts. */
  services?: (engine: Engine) => Omit<StepServices, 'links'>;
  /** Secret for signed confirmation links; else one is generated once and kept in Redis. */
  linkSecret?: string;
  /** Secret signing completion callbacks (WEBHOOK_SECRET); falls back to the link secret. */
  webhookSecret?: string;
  /** Builds public URLs for links in messages (PUBLIC_URL). */
  publicUrl?: string;
}

export interface StartInput {
  model?: Model;
  entryId?: string;
  callbackUrl?: string;
}

export interface StartContext {
  idempotencyKey?: string;
  by?: string;
  parent?: ParentLink;
}

export class Engine {
  readonly keys: Keys;
  readonly runs: RunStore;
  readonly workflows: WorkflowStore;
  readonly queue: Queue<StepJobData>;
  readonly scheduler: Scheduler;
  readonly processor: StepProcessor;
  readonly eventQueue: Queue;
  readonly waits: Waits;
  readonly links: Links;
  readonly services: StepServices;
  readonly diagnoser: Diagnoser;
  readonly operationQueue: Queue;
  readonly operations: Operations;
  readonly migrations: Migrations;
  private events?: RunEvents;
  private reconciler?: Reconciler;
  private readonly closers: Array<() => Promise<unknown>> = [];

  private constructor(
    readonly redis: Redis,
    readonly opts: EngineOptions,
    readonly log: Logger,
  ) {
    this.keys = createKeys(opts.prefix);
    const scripts = loadScripts(redis);
    this.queue = new Queue<StepJobData>(STEP_QUEUE, { connection: redis, prefix: this.keys.bullPrefix });
    this.runs = new RunStore(redis, scripts, this.keys, { retentionSec: opts.retentionSec, stepQueuePrefix: this.queue.keys['']! });
    this.workflows = new WorkflowStore(redis, scripts, this.keys);
    const stepQueueError = throttledLog(log, 'error', 'step queue error');
    this.queue.on('error', (err) => stepQueueError(err));
    this.scheduler = new Scheduler(this.queue, STEP_JOB_RETENTION);
    this.eventQueue = new Queue(EVENTS_QUEUE, { connection: redis, prefix: this.keys.bullPrefix });
    const eventQueueError = throttledLog(log, 'error', 'event queue error');
    this.eventQueue.on('error', (err) => eventQueueError(err));
    const base = (opts.publicUrl ?? 'http://localhost:3000').replace(/\/+$/, '');
    const publicUrl = (path: string) => `${base}${path}`;
    this.links = new Links(redis, this.keys, opts.linkSecret, publicUrl);
    const links = this.links;
    this.services = {
      ...(opts.services ?? unconfiguredServices)(this),
      publicUrl,
      links: {
        async forOptions(a) {
          const out: Record<string, string> = {};
          for (const option of a.options)
            out[option] = await links.url({ runId: a.runId, stepId: a.stepId, seq: a.seq, principalId: a.principalId, option, exp: a.exp });
          return out;
        },
      },
    };
    this.waits = new Waits(
      redis,
      this.keys,
      this.runs,
      this.workflows,
      this.scheduler,
      scripts,
      this.eventQueue,
      () => this.services,
      log,
      opts.retentionSec,
      opts.modelMaxBytes,
      (childRunId) =>
        this.cancel(childRunId, 'system').then(
          () => undefined,
          () => undefined,
        ),
    );
    this.processor = new StepProcessor(
      this.runs,
      this.workflows,
      this.scheduler,
      log,
      { maxTransitions: opts.maxTransitions, modelMaxBytes: opts.modelMaxBytes },
      this.services,
      this.waits,
      (childRunId) =>
        this.cancel(childRunId, 'system').then(
          () => undefined,
          () => undefined,
        ),
    );
    this.diagnoser = new Diagnoser({
      redis,
      keys: this.keys,
      runs: this.runs,
      workflows: this.workflows,
      queue: this.queue,
      events: this.eventQueue,
      scheduler: this.scheduler,
      log,
      reconciler: {
        intervalMs: opts.reconcile.intervalMs,
        graceMs: opts.reconcile.graceMs,
        stalledIntervalMs: opts.worker.stalledIntervalMs,
      },
    });
    this.operationQueue = new Queue(OPERATIONS_QUEUE, { connection: redis, prefix: this.keys.bullPrefix });
    const operationQueueError = throttledLog(log, 'error', 'operations queue error');
    this.operationQueue.on('error', (err) => operationQueueError(err));
    this.operations = new Operations({
      redis,
      keys: this.keys,
      runs: this.runs,
      queue: this.operationQueue,
      log,
      retentionSec: opts.retentionSec,
      policyOf: (workflow) => this.policyOf(workflow),
      act: (action, runId, by) =>
        action === 'cancel' ? this.cancel(runId, by) : action === 'retry' ? this.retry(runId, {}, by) : this.submit(runId, {}, by),
    });
    this.migrations = new Migrations(this.runs, this.workflows, log);
  }

  /**
   * `failFast` is for request handlers: a call fails at once when Redis is down instead of
   * queueing; workers want the opposite and keep retrying until Redis is back.
   */
  static open(opts: EngineOptions, log: Logger, { failFast }: { failFast: boolean }): Engine {
    const redis = failFast ? createProducerConnection(opts.redisUrl) : createWorkerConnection(opts.redisUrl);
    return new Engine(redis, opts, log);
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
    const version = await this.workflows.latestVersion(workflow);
    const plan = version ? await this.workflows.plan(workflow, version) : null;
    if (!version || !plan) throw new EngineError('not_found', `no workflow named ${workflow}`);
    const runId = uuidv7();
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
    const res = await this.runs.create(
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
          { path: 'Idempotency-Key', message: 'reused with another body' },
        ]);
      }
      const existing = await this.runs.get(res.runId);
      if (!existing) throw new EngineError('not_found', `run ${res.runId} of this Idempotency-Key has expired`);
      await this.processor.ensureCurrentJob(existing);
      return { run: await this.view(existing), created: false };
    }
    this.log.info({ runId, workflow, version, stepId: plan.start, seq: 0 }, 'run started');
    // As created: the first step may have moved it on already, which a read shows (and ?wait waits for).
    return { run: await this.view(res.run), created: true };
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
  repair(runId: string, by?: string): Promise<Diagnosis> {
    return this.diagnoser.repair(runId, by);
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
  startBulk(
    action: BulkAction,
    filter: BulkFilter,
    caller: { id: string; roles: readonly string[] },
    idempotencyKey?: string,
  ): Promise<{ id: string; created: boolean }> {
    return this.operations.start(action, filter, caller, idempotencyKey);
  }

  async getOperation(id: string): Promise<OperationView> {
    const op = await this.operations.get(id);
    if (!op) throw new EngineError('not_found', `no operation ${id}`);
    return op;
  }

  /** Moves parked runs to another version of their workflow (src/engine/migrations.ts). */
  migrate(workflow: string, req: MigrationRequest, by?: string): Promise<MigrationReport> {
    return this.migrations.migrate(workflow, req, by);
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
    const res = await this.runs.transition(runId, {
      workflow: run.workflow,
      expect: ['running', 'waiting', 'draft', 'failed'],
      status: 'cancelled',
      advance: true,
      set: { stepId: run.stepId ?? '' },
      events: [{ type: 'run.cancelled', by, stepId: run.stepId ?? undefined }],
    });
    if (!res.ok) throw conflict(res, `run ${runId} cannot be cancelled`);
    // The pending job would be a stale no-op anyway; removing it keeps the queue honest.
    await this.queue.remove(stepJobId(runId, res.seq - 1)).catch(() => undefined);
    // Read again: the run may have parked on a child between the first read and the cancel.
    const after = await this.runs.get(runId);
    if (after?.wait?.kind === 'child') {
      await this.cancel(after.wait.childRunId, by).catch((err) => this.log.info({ runId, err: String(err) }, 'child run not cancelled'));
    }
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
    const res = await this.runs.transition(runId, {
      workflow: run.workflow,
      expect: ['failed'],
      seq: run.seq,
      status: 'running',
      advance: true,
      restartCount: true,
      set: { stepId: step.id, error: '', ...(body.modelPatch ? { model: modelJson } : {}) },
      events: [{ type: 'run.retried', by, stepId: step.id, detail: { fromStepId: step.id, modelPatched: Boolean(body.modelPatch) } }],
      job: this.scheduler.job(runId, run.seq + 1, step),
    });
    if (!res.ok) throw conflict(res, `run ${runId} cannot be retried`);
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
    const events = [{ type: 'run.submitted', by }];
    if (!plan.start) events.push({ type: 'run.completed', by: undefined });
    const res = await this.runs.transition(runId, {
      workflow: run.workflow,
      expect: ['draft'],
      seq: run.seq,
      status: plan.start ? 'running' : 'completed',
      advance: true,
      restartCount: true,
      set: { stepId: plan.start ?? '', ...(body.modelPatch ? { model: modelJson } : {}) },
      events,
      job: plan.start ? this.scheduler.job(runId, run.seq + 1, plan.steps[plan.start]!) : undefined,
    });
    if (!res.ok) throw conflict(res, `run ${runId} cannot be submitted`);
    this.log.info({ runId, stepId: plan.start, seq: res.seq, by }, 'run submitted');
    return this.getRun(runId);
  }

  /** Resolves when the run stops moving (any status but running) or `ms` pass. */
  async waitForSettle(runId: string, ms: number): Promise<RunView> {
    this.events ??= new RunEvents(createWorkerConnection(this.opts.redisUrl, { log: this.log, name: 'events' }), this.keys.events);
    let done!: () => void;
    const settled = new Promise<void>((r) => (done = r));
    const stop = await this.events.listen(runId, (s: RunStatus) => s !== 'running' && done());
    const timer = setTimeout(done, ms);
    try {
      const now = await this.runs.get(runId);
      if (!now) throw new EngineError('not_found', `no run ${runId}`);
      if (now.status !== 'running') return this.view(now);
      await settled;
      return await this.getRun(runId);
    } finally {
      clearTimeout(timer);
      stop();
    }
  }

  /** An answer to the confirmation the run waits on; resolves the wait when the policy is met. */
  async confirm(
    runId: string,
    who: { id: string; roles: readonly string[] },
    option: string,
    comment?: string,
  ): Promise<{ run: RunView; resolved: boolean }> {
    const res = await this.waits.answer(runId, who, option, comment);
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
    return this.waits.tasksFor(who, limit);
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

  // ---- processes ----

  startWorker(): StepWorker {
    const worker = new StepWorker(this.redis, this.processor, this.log, {
      ...this.opts.worker,
      prefix: this.keys.bullPrefix,
      queueName: STEP_QUEUE,
      heartbeatKey: this.keys.workerHeartbeats,
    });
    const events = new EventWorker({
      redis: this.redis,
      keys: this.keys,
      queue: this.eventQueue,
      runs: this.runs,
      waits: this.waits,
      log: this.log,
      concurrency: Math.max(5, Math.ceil(this.opts.worker.concurrency / 2)),
      view: (run) => this.view(run),
      callbackSecret: async () => this.opts.webhookSecret ?? (await this.links.secretText()),
      remind: (run, pending, n) => this.remind(run, pending, n),
    });
    const operations = new OperationWorker(this.redis, this.operationQueue, this.operations, this.log);
    // All drain at once, so a SIGTERM costs one SHUTDOWN_TIMEOUT_MS, not several.
    this.closers.push(() =>
      Promise.all([worker.close(), events.close(this.opts.worker.shutdownTimeoutMs), operations.close(this.opts.worker.shutdownTimeoutMs)]),
    );
    return worker;
  }

  private async remind(run: RunState, pending: string[], n: number): Promise<void> {
    if (run.wait?.kind !== 'confirmation') return;
    const effectKey = `${run.id}/${run.wait.stepId}/${run.seq}/reminder-${n}`;
    await notifyConfirmation(
      this.services,
      { runId: run.id, workflow: run.workflow, stepId: run.wait.stepId, seq: run.seq, task: run.wait.task, model: run.model },
      pending,
      {
        effectKey,
        runId: run.id,
        stepId: run.wait.stepId,
        seq: run.seq,
        attempt: 1,
        signal: AbortSignal.timeout(30_000),
      },
    );
  }

  startReconciler(): Reconciler {
    this.reconciler = new Reconciler(this.redis, this.queue, this.runs, this.processor, this.waits, this.eventQueue, this.log, {
      ...this.opts.reconcile,
      lockKey: `${this.keys.prefix}:reconciler-lock`,
    });
    this.reconciler.start();
    return this.reconciler;
  }

  /** Runs kept in Redis, by status (from the status indexes). */
  async runCounts(): Promise<Partial<Record<RunStatus, number>>> {
    const statuses = ['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft'] as const;
    const pipe = this.redis.pipeline();
    for (const status of statuses) pipe.zcard(this.keys.runIndex({ status }));
    const res = (await pipe.exec()) ?? [];
    return Object.fromEntries(statuses.map((s, i) => [s, Number(res[i]?.[1] ?? 0)]));
  }

  /** Live workers: those whose heartbeat is fresher than `withinMs`. */
  async liveWorkers(withinMs: number): Promise<number> {
    return this.redis.zcount(this.keys.workerHeartbeats, Date.now() - withinMs, '+inf');
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping().catch(() => 'down')) === 'PONG';
  }

  async close(): Promise<void> {
    this.reconciler?.stop();
    for (const close of this.closers.reverse()) await close();
    await this.events?.close();
    await this.queue.close();
    await this.eventQueue.close();
    await this.operationQueue.close();
    this.redis.disconnect();
  }

  private async view(run: Parameters<typeof view>[0]): Promise<RunView> {
    return view(run, await this.workflows.plan(run.workflow, run.version));
  }

  /** The model as stored (JSON), once it is known to fit the model budget. */
  private modelJson(model: Model, path: string): string {
    const json = JSON.stringify(model);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.opts.modelMaxBytes) {
      throw new EngineError('invalid', `the model is ${bytes} bytes; the limit is ${this.opts.modelMaxBytes}`, [
        { path, message: `model larger than ${this.opts.modelMaxBytes} bytes` },
      ]);
    }
    return json;
  }

  // ---- delegates for the API's ports (src/api/ports.ts) ----

  /** A workflow's saved versions, oldest first (the API does not reach into the workflow store). */
  workflowVersions(name: string): Promise<Array<{ version: number; savedAt: string }>> {
    return this.workflows.versions(name);
  }
}

export type { RunView, ListQuery, ValidationResult, WorkflowDefinition, Diagnosis };

/** A run search: the list filters plus where runs are (their current step, or stage). */
export type RunSearch = Omit<ListQuery, 'stepIds' | 'where'> & { stepId?: string; stageId?: string };

function conflict(res: { ok: false } & ({ status: RunStatus } | { missing: true }), message: string): EngineError {
  return 'missing' in res ? new EngineError('not_found', message) : new EngineError('conflict', `${message}: it is ${res.status}`);
}

// Idempotency compares what a request means, not how its JSON was spelled: keys in a stable
// order, so a client that rebuilds the same body with another key order is not refused.
const canonical = configure({ deterministic: true }) as (v: unknown) => string;

function hashOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 32);
}
