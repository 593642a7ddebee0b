/**
 * What the API depends on: narrow services and registries, never a Redis client, key or queue.
 * Routes and app.ts are typed against these ports only; today's Engine satisfies the run and
 * workflow services structurally, and the wiring (src/runtime.ts, src/services.ts) builds the
 * Redis-backed stores, the Bull Board router and the link secret and passes them in.
 */
import type { RequestHandler } from 'express';
import type { Store } from 'express-rate-limit';
import type { WorkflowDefinition } from '../definition/schema.ts';
import type { ValidateOptions, ValidationResult } from '../definition/validate.ts';
import type { DataflowDefinition, PutResult } from '../dataflows/registry.ts';
import type { Diagnosis } from '../engine/diagnose.ts';
import type { LinkStatus } from '../engine/link-status.ts';
import type { MigrationReport, MigrationRequest } from '../engine/migrations.ts';
import type { BulkAction, BulkFilter, OperationView } from '../engine/operations.ts';
import type { EntryView, HistoryEvent, RunPage, RunView, TaskView } from '../engine/run-view.ts';
import type { SimulationResult } from '../engine/simulate.ts';
import type { RunStatus } from '../engine/types.ts';
import type { StoredWorkflow, WorkflowSummary } from '../engine/workflow-store.ts';
import type { Model } from '../steps/types.ts';

export type Who = { id: string; roles: readonly string[] };

/** Where runs are, as GET /api/runs filters them. */
export interface RunSearch {
  workflow?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
  stageId?: string;
  stepId?: string;
  entryId?: string;
}

/** Runs: start, read, list and operate (the verbs routes call). */
export interface RunService {
  startRun(
    workflow: string,
    input: { model?: Model; entryId?: string; callbackUrl?: string },
    /** waitMs: answer once the run stops moving (any status but running) or that many ms pass. */
    ctx?: { idempotencyKey?: string; by?: string; waitMs?: number },
  ): Promise<{ run: RunView; created: boolean }>;
  /** Starts many runs of one workflow in one go; a result per item, in order (an item's refusal is its `error`). */
  startRuns(
    workflow: string,
    items: ReadonlyArray<{ input: { model?: Model; entryId?: string; callbackUrl?: string }; idempotencyKey?: string }>,
    ctx?: { by?: string },
  ): Promise<Array<{ run: RunView; created: boolean } | { error: unknown }>>;
  getRun(runId: string): Promise<RunView>;
  listRuns(search: RunSearch, visible?: (run: { workflow: string }) => Promise<boolean> | boolean): Promise<RunPage>;
  history(runId: string, from?: number): Promise<HistoryEvent[]>;
  cancel(runId: string, by?: string): Promise<RunView>;
  retry(runId: string, body: { fromStepId?: string; modelPatch?: Model }, by?: string): Promise<RunView>;
  submit(runId: string, body: { modelPatch?: Model }, by?: string): Promise<RunView>;
  confirm(runId: string, who: Who, option: string, comment?: string): Promise<{ run: RunView; resolved: boolean }>;
  tasks(who: Who, limit?: number): Promise<TaskView[]>;
  getEntry(entryId: string): Promise<EntryView>;
  diagnose(runId: string): Promise<Diagnosis>;
  repair(runId: string, by?: string): Promise<Diagnosis>;
  bulkDryRun(action: BulkAction, filter: BulkFilter, caller: Who): Promise<{ count: number; skipped: number; sample: RunView[] }>;
  startBulk(action: BulkAction, filter: BulkFilter, caller: Who, idempotencyKey?: string): Promise<{ id: string; created: boolean }>;
  getOperation(id: string): Promise<OperationView>;
}

/** Signed answer links (GET shows, POST answers once). */
export interface LinkService {
  linkStatus(token: string): Promise<LinkStatus>;
  confirmByLink(token: string, comment?: string): Promise<{ run: RunView; resolved: boolean }>;
}

/** Workflow definitions, their versions and operators' tools over them. */
export interface WorkflowService {
  validateWorkflow(input: unknown, lint?: ValidateOptions): ValidationResult;
  saveWorkflow(
    name: string,
    input: unknown,
    lint?: ValidateOptions,
  ): Promise<{ name: string; version: number; created: boolean; warnings: ValidationResult['warnings'] }>;
  listWorkflows(): Promise<WorkflowSummary[]>;
  getWorkflow(name: string, version?: number): Promise<StoredWorkflow>;
  workflowVersions(name: string): Promise<Array<{ version: number; savedAt: string }>>;
  policyOf(workflow: string): Promise<Pick<WorkflowDefinition, 'restrictAccess' | 'access'> | null>;
  migrate(workflow: string, req: MigrationRequest, by?: string): Promise<MigrationReport>;
  simulate(workflow: string, input: { model: Model; version?: number; stubs?: Record<string, unknown> }): Promise<SimulationResult>;
}

/** Liveness of the store and the workers (/readyz). */
export interface HealthService {
  ping(): Promise<boolean>;
  liveWorkers(withinMs: number): Promise<number>;
}

/** Everything of the engine the API calls: one object today (Engine), separable later. */
export type ApiEngine = RunService & LinkService & WorkflowService & HealthService;

/** The registered dataflows (src/dataflows/registry.ts). */
export interface DataflowRegistryPort {
  put(input: unknown): Promise<PutResult>;
  get(name: string): Promise<DataflowDefinition | null>;
  exists(name: string): Promise<boolean>;
  list(): Promise<DataflowDefinition[]>;
}

/** A fixed-window counter per key (failed authentications per address). */
export interface CounterStore {
  /** The count in the current window and the ms until it ends (≤ 0: no window). */
  read(key: string): Promise<{ count: number; ttlMs: number }>;
  /** Counts one; the window starts at the first hit and is not extended by later ones. */
  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
}

/** Prometheus text for GET /metrics. */
export interface MetricsSource {
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** What the wiring builds for the app besides the services: stores, the board and secrets. */
export interface ApiInfrastructure {
  /** Shared per-principal request counts (express-rate-limit store). */
  rateLimitStore: () => Store;
  /** Shared failed-authentication counts per client address. */
  authFailures: CounterStore;
  /** Bull Board, mounted behind the admin guard. */
  board: RequestHandler;
  /** The server secret admin session cookies are signed with. */
  linkSecret: () => Promise<string>;
  metrics: MetricsSource;
}
