/**
 * The contract between the engine and a step type. A step type is one file under src/steps/
 * exporting a `StepType`: its parameter schema and its handler. The engine never switches on
 * a step's type; it only reads what the handler returns.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { StepServices } from './services.ts';
import type { PlanStep } from '../definition/plan.ts';
import type { HistoryEvent, NewHistoryEvent, Resolution, RunError, RunState, Wait } from '../engine/types.ts';

export type Model = Record<string, unknown>;

/** One write to the working model: set `path` (dot separated) to `value`. */
export interface FieldWrite {
  path: string;
  value: unknown;
}

export type StepOutcome =
  /** Continue with the step's plan successor. */
  | { kind: 'next' }
  /** Continue with the named branch (a key of PlanStep.branches). */
  | { kind: 'branch'; key: string }
  /** End the run as completed. */
  | { kind: 'finish'; outcome?: string }
  /** End execution and put the run back to draft (model reverts to the saved entry). */
  | { kind: 'draft' }
  /** Park the run; something else (an answer, a child run, a timer) resumes it. */
  | { kind: 'wait'; reason: string; detail?: unknown };

export interface StepResult {
  writes?: FieldWrite[];
  /** Persist the working model (after `writes`) into the run's entry. */
  saveEntry?: boolean;
  outcome: StepOutcome;
  /** Free-form detail recorded on the step.completed history event. */
  detail?: Record<string, unknown>;
}

export interface StepContext<P = unknown> {
  runId: string;
  workflow: string;
  version: number;
  stepId: string;
  seq: number;
  attempt: number;
  /** Stable across attempts of this step at this seq: `runId/stepId/seq`. */
  effectKey: string;
  params: P;
  /** The working model as committed before this step (read-only: return writes instead). */
  model: Readonly<Model>;
  signal: AbortSignal;
  log: Logger;
  services: StepServices;
}

/**
 * Describes how a step shapes control flow so the compiler stays generic:
 * - `branches`: nested step lists the step can jump into, each with the key its handler returns;
 *   `rejoin` true means the branch continues after this step (if), false means after the stage (switch);
 *   `goto` names a stage to continue with instead.
 * - `terminal`: the step always ends execution (finish, resetToDraft).
 * - `endsStage`: nothing after it in the same list can run (switchCase).
 */
export interface BranchSpec {
  key: string;
  label: string;
  steps: unknown[];
  rejoin: boolean;
  goto?: string;
  /** JSON path of `steps` relative to the step (e.g. `then`, `cases[0].steps`), for validation messages. */
  path?: string;
  /** JSON path of the `goto` parameter relative to the step (e.g. `thenGoto`, `cases[0].goto`). */
  gotoPath?: string;
}

/** A named resource a step needs at run time; checked (as a warning) when the definition is saved. */
export interface StepReference {
  /** `principal`: a user id or `role:<name>` named in `users` or `routing`. */
  kind: 'dataflow' | 'template' | 'principal';
  name: string;
  /** The parameter holding the name, relative to the step (e.g. `dataflow`). */
  path: string;
}

export interface StepType<S extends z.ZodType = z.ZodType> {
  type: string;
  /** Builder toolbox group. */
  group: 'Notifications' | 'Integrations' | 'Common' | 'Conditions';
  description: string;
  /** Parameters of the step besides the common ones (id, type, name, retry, timeoutMs). */
  params: S;
  branches?: (params: z.infer<S>) => BranchSpec[];
  terminal?: boolean;
  endsStage?: boolean;
  /**
   * No side effects: the handler only reads the model and returns writes/outcome. The engine may
   * run a pure step on the state carried in its job (no read); a stale job then fails its
   * fenced commit and changes nothing.
   */
  pure?: boolean;
  /**
   * The step's `timeoutMs` means something else than "the handler may take this long" (how long
   * to wait for an answer, how long a dataflow may take, which it enforces itself), so the
   * engine does not race the handler against it.
   */
  ownTimeout?: boolean;
  /** Field paths this step reads or writes, for save-time path checks. */
  fieldPaths?: (params: z.infer<S>) => string[];
  /** Dataflows, templates and principals this step names, so saving can warn about unknown ones. */
  references?: (params: z.infer<S>) => StepReference[];
  /** Save-time warnings specific to this step type. */
  warnings?: (params: z.infer<S>) => string[];
  execute: (ctx: StepContext<z.infer<S>>) => Promise<StepResult> | StepResult;
  /** A step that parks its run (`{ kind: 'wait', reason }`) owns that wait's hooks here. */
  wait?: WaitKind<z.infer<S>>;
}

/**
 * A kind of wait, owned by the step type that parks on it (getUserConfirmation, executeDataflow).
 * The engine knows waits only through this contract and the `Wait` envelope (kind, stepId, seq,
 * timeoutAt); the rest of a wait is the kind's own data (`W`). Adding a wait kind = a step type
 * with a `wait` here; no engine file changes.
 *
 * Write side (src/engine/waits.ts dispatches; hooks act through the `WaitHost`, never on Redis):
 * `park` before the parking commit, then `expire` (at `timeoutAt`), `remind` and `resume` (a
 * recorded resolution, or the end of one of its `children`), each fenced at the parked seq.
 * Read side, all pure: `children` (runs it waits on: cancelled with the run or when the parking
 * commit fails, their end resumes it, the reconciler checks them, diagnosis nests the first),
 * `describe` (+ `inspect` to gather its facts) for the diagnosis, `view` for the run view,
 * `migrate` for version moves, `simulate` for dry runs.
 */
export interface WaitKind<P = unknown, W extends Wait = Wait> {
  /** The `reason` of the step's wait outcome and the `kind` of the Wait stored on the run. */
  kind: string;
  /** For messages: "waits for a confirmation", "a child run". */
  label: string;
  /**
   * Before the parking commit, so everything here must be idempotent (index entries, timers with
   * deterministic ids): a commit that never happens leaves only no-ops behind. Returns the wait;
   * set `timeoutAt` on it when it has a deadline.
   */
  park(host: WaitHost, p: { runId: string; stepId: string; seq: number; detail: unknown }): Promise<W>;
  /** The wait's deadline passed (a timer, or the reconciler finding the timer lost). */
  expire?(host: WaitHost, w: WaitContext<P, W>): Promise<void>;
  /** The `n`th reminder timer fired. */
  remind?(host: WaitHost, w: WaitContext<P, W>, n: number): Promise<void>;
  /** Something decided the wait: a recorded resolution (answers, forced timeout) or a child run's end. */
  resume?(host: WaitHost, w: WaitContext<P, W>, cause: WaitCause): Promise<void>;
  /** Runs (ids) whose end decides this wait. Default: none. */
  children?(wait: W): string[];
  /** Facts the diagnosis needs beyond the run (answers, reminders sent), read through the host. */
  inspect?(host: WaitHost, run: RunState, wait: W): Promise<unknown>;
  /** The diagnosis of a run parked here (pure): its state is `waiting-<kind>`, or `resuming` once resolved. */
  describe(d: WaitDescribeInput<W>): { summary: string; details: string[] };
  /** Extra fields of the run view while the run waits here, with their zod schemas (the OpenAPI document shows them). */
  view?: { field: string; schema: z.ZodType; of(wait: W): unknown };
  /** Why a run parked here cannot move to `next` (the same step in another version, of the same type), or null. */
  migrate?(wait: W, next: PlanStep, toVersion: number): string | null;
  /** A dry run stands in for the wait: what it writes (from the stub), the effect it records, or why it cannot. */
  simulate?(s: {
    stepId: string;
    detail: unknown;
    stub: unknown;
    stubbed: boolean;
  }): { writes: FieldWrite[]; effect: Record<string, unknown>; note?: string } | { error: RunError };
}

export interface WaitDescribeInput<W extends Wait = Wait> {
  wait: W;
  /** What `inspect` returned (undefined without one). */
  facts: unknown;
  /** The decision is recorded but the run has not resumed yet. */
  resolved: boolean;
  /** `step "Name"`, for sentences. */
  stepName: string;
  /** When the run parked (ms). */
  since: number;
  /** A moment for people: ISO time and distance from now. */
  at(ms: number): string;
  reconcilerIntervalMs: number;
  /** The first child's own diagnosis (nested), or that it is gone. */
  child?: { summary: string } | { missing: true; runId: string };
}

export type WaitCause = { kind: 'resolved'; resolution: Resolution } | { kind: 'childEnded'; child: RunState };

export interface WaitContext<P = unknown, W extends Wait = Wait> {
  run: RunState;
  wait: W;
  step: PlanStep;
  /** The waiting step's parameters, parsed by its type. */
  params: P;
}

/** What a wait's hooks may ask of the engine (implemented by src/engine/waits.ts). */
export interface WaitHost {
  services: StepServices;
  /** The effect key of a step at a seq (`runId/stepId/seq`), for effects a hook causes. */
  effectKey(runId: string, stepId: string, seq: number): string;
  /** A timer that calls `expire` at `at` (one per wait: a deterministic job id). */
  scheduleTimeout(runId: string, seq: number, at: number): Promise<void>;
  /** A timer that calls `remind` with `n` after `delayMs`. */
  scheduleReminder(runId: string, seq: number, n: number, delayMs: number): Promise<void>;
  /** Lists the wait in the task inboxes of these user ids and `role:<name>` refs. */
  listTask(refs: string[], runId: string, seq: number): Promise<void>;
  /** The run's history (for facts such as reminders sent). */
  history(runId: string): Promise<HistoryEvent[]>;
  /** Answers given so far to the wait at `seq`, by who answered. */
  answers(runId: string, seq: number): Promise<Record<string, { option?: string; comment?: string; at?: string }>>;
  /** Forces the wait's outcome (an option, or its error); true when this call decided it. */
  forceOutcome(runId: string, seq: number, f: { by: string; option?: string; event: NewHistoryEvent; error?: RunError }): Promise<boolean>;
  /** Records a reminder in the run's history. */
  recordReminder(run: RunState, seq: number, r: { stepId: string; n: number; recipients: string[] }): Promise<void>;
  /** Resumes the run: the step completes with `writes`, or fails with `error`. True when it applied. */
  resume(
    run: RunState,
    r: { writes?: FieldWrite[]; error?: RunError; events: NewHistoryEvent[]; detail?: Record<string, unknown> },
  ): Promise<boolean>;
  /** Resumes a run whose wait has a recorded resolution (calls the kind's `resume`). */
  finish(runId: string): Promise<void>;
  /** Cancels a run this wait gave up on (a child past its deadline). */
  cancelRun(runId: string): Promise<void>;
}

/** Thrown by a handler for a failure that retrying cannot fix (bad template, failed switch, 4xx). */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
}
