/**
 * The run state machine: every change to a run's hash or history is one of the named verbs
 * below, and each verb is one Lua file named after it (./lua, BullMQ's discipline: KEYS and ARGV
 * listed in the file's header). Nothing outside this module writes a run's hash or history.
 *
 *   created ──start──▶ running ──commitStep──▶ running (next step) | completed | draft | waiting | failed
 *   running ──recordFailedAttempt──▶ running (same seq, BullMQ retries the job)
 *   running ──failRun──▶ failed (final failure, bad plan, transition limit, model too large, lost job)
 *   running ──repairRun──▶ running (next seq, the same step's job again)
 *   waiting ──recordWaitAnswer / forceWaitOutcome──▶ waiting + resolution ──resumeWait──▶ running | completed | failed
 *   waiting ──recordReminder──▶ waiting (history only)
 *   running | waiting | draft | failed ──cancel──▶ cancelled
 *   failed ──retry──▶ running        draft ──submit──▶ running | completed
 *   any open run ──migrate──▶ the same status in another version
 *
 * The verbs take domain values (a decision, an error, a wait) and own the field names, their
 * JSON encodings, the history events and the next step's job, which the same script call adds.
 * Every fenced verb applies only at the statuses its Lua file names and (when given) at the
 * expected seq; its numbered result codes become a typed `TransitionResult` in `decode` below,
 * the one place that reads them. Where the run goes after a step (a committed step, a resumed
 * wait) is mapped onto fields in one place, `route`.
 *
 * Keys come from the keyspace (keyspace.ts) and all arrive in KEYS: for the status indexes the
 * caller passes the pair of each status the verb may start from plus the target, and the
 * script picks the one the run is in.
 */
import type { RedisClient as Redis } from './redis.ts';
import type { Plan, PlanStep } from '../definition/plan.ts';
import type { Model } from '../steps/types.ts';
import { runDuration, runsFinished } from '../observability/metrics.ts';
import { NO_JOB, type JobArgs } from './bullmq-add.ts';
import type { FinishCall } from './bullmq-finish.ts';
import { EngineError } from './errors.ts';
import type { Keyspace } from './keyspace.ts';
import type { Scheduler } from './scheduler.ts';
import type { ScriptName, Scripts } from './scripts.ts';
import { decide, type Decision } from './transition.ts';
import type { Entry, NewHistoryEvent, ParentLink, RunError, RunState, RunStatus, Wait } from './types.ts';

/** The effect key of a step at a seq: stable across its attempts (StepContext.effectKey). */
export const effectKey = (runId: string, stepId: string, seq: number): string => `${runId}/${stepId}/${seq}`;

/** How far a model's JSON is over the budget (bytes), or 0 when it fits. */
export function modelOverBudget(json: string, maxBytes: number): number {
  const bytes = Buffer.byteLength(json);
  return bytes > maxBytes ? bytes : 0;
}

export type TransitionResult =
  | { ok: true; seq: number; from: RunStatus }
  | { ok: false; reason: 'missing' }
  /** `status`: the run is not in a status the verb starts from; `seq`: it moved on (a stale job or call). */
  | { ok: false; reason: 'status' | 'seq'; seq: number; status: RunStatus };

/** The EngineError of a refused operator call: not_found for a missing run, else conflict. */
export function refusal(res: Extract<TransitionResult, { ok: false }>, message: string): EngineError {
  return res.reason === 'missing' ? new EngineError('not_found', message) : new EngineError('conflict', `${message}: it is ${res.status}`);
}

export interface CreateRunInput {
  runId: string;
  workflow: string;
  version: number;
  status: RunStatus;
  stepId: string | null;
  model: Model;
  /** `model` as JSON, when the caller has it already. */
  modelJson?: string;
  entryId: string;
  idempotency?: { key: string; bodyHash: string; ttlMs: number };
  callbackUrl?: string;
  startedBy?: string;
  parent?: ParentLink;
  events: NewHistoryEvent[];
  /** The first step's job, added by the same script call (Scheduler.job). */
  job?: JobArgs;
}

export type CreateRunResult =
  | { created: true; run: RunState }
  | { created: false; runId: string; bodyHash: string }
  | { created: false; entryOwner: string };

/** Where the run goes once a step is done: a routing decision, or parking on a wait. */
export type StepEnd =
  | Exclude<Decision, { status: 'waiting' } | { status: 'draft' }>
  | { status: 'draft'; entry: Entry | null }
  | { status: 'waiting'; wait: Wait; reason: string };

export interface StepCommit {
  plan: Plan;
  step: PlanStep;
  attempt: number;
  started: number;
  /** The model after the step's writes, and its JSON when they changed it. */
  model: Model;
  modelJson?: string;
  entryVersion?: number;
  detail: Record<string, unknown>;
  end: StepEnd;
}

export interface WaitResume {
  plan: Plan;
  step: PlanStep;
  /** The model with the wait's result written in, and its JSON when that changed it. */
  modelJson?: string;
  /** Set: the wait failed (timeout, failed child, model too large); else the step completes. */
  error?: RunError;
  events: NewHistoryEvent[];
  detail?: Record<string, unknown>;
}

export type WaitAnswerResult = 'resolved' | 'recorded' | 'not_waiting' | 'already_answered' | 'resolved_before';

export interface RunTransitionsOptions {
  retentionSec: number;
  /** The step queue's name: its keys are where verbs add step jobs. */
  stepQueue: string;
}

/** The statuses each fenced verb may start from (as its Lua file says), for the status index keys. */
const FROM: Record<FencedVerb, RunStatus[]> = {
  commitStep: ['running'],
  recordFailedAttempt: ['running'],
  failRun: ['running'],
  resumeWait: ['waiting'],
  recordReminder: ['waiting'],
  cancelRun: ['running', 'waiting', 'draft', 'failed'],
  retryRun: ['failed'],
  submitRun: ['draft'],
  repairRun: ['running'],
  migrateRun: ['running', 'waiting', 'draft', 'failed'],
};
type FencedVerb = Extract<
  ScriptName,
  | 'commitStep'
  | 'recordFailedAttempt'
  | 'failRun'
  | 'resumeWait'
  | 'recordReminder'
  | 'cancelRun'
  | 'retryRun'
  | 'submitRun'
  | 'repairRun'
  | 'migrateRun'
>;

type Fields = Partial<Record<'stepId' | 'model' | 'error' | 'entryVersion' | 'outcome' | 'wait' | 'resolution' | 'version', string>>;

interface Fenced {
  seq?: number;
  status?: RunStatus;
  set?: Fields;
  events: NewHistoryEvent[];
  job?: JobArgs;
}

type RunRef = Pick<RunState, 'id' | 'workflow' | 'seq' | 'version' | 'entryId' | 'transitions'>;

const toEvent = (e: NewHistoryEvent, now: string): string => JSON.stringify({ at: now, ...e });

export class RunTransitions {
  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keyspace,
    private readonly scheduler: Scheduler,
    private readonly opts: RunTransitionsOptions,
  ) {}

  /** Creates a run (running at its first step with that step's job, or completed at once). */
  async create(input: CreateRunInput, entryModel: Model): Promise<CreateRunResult> {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const idem = input.idempotency;
    const modelJson = input.modelJson ?? JSON.stringify(input.model);
    const k = this.keys;
    const p = k.partitionOf(input.runId);
    // Runs sharing an entry are created in its partition (RunService picks the id so), which is
    // what lets this one script check and bind the entry.
    if (k.partitionOfEntry(input.entryId) !== p)
      throw new Error(`stageflow: run ${input.runId} is not in the partition of entry ${input.entryId}`);
    const pk = k.partition(p);
    const queue = pk.queue(this.opts.stepQueue);
    const res = (await this.scripts.run(
      'createRun',
      [
        k.run(input.runId),
        k.history(input.runId),
        k.idempotency(p, input.workflow, idem ? `${input.startedBy ?? ''}/${idem.key}` : '-'),
        k.entry(input.entryId),
        pk.positionIndex(input.workflow),
        k.entryRuns(input.entryId),
        pk.outbox,
        ...queue.add,
        ...pk.anyIndexes(input.workflow),
        ...pk.statusIndexes(input.workflow, input.status),
      ],
      [
        input.runId,
        input.workflow,
        input.version,
        input.status,
        input.stepId ?? '',
        modelJson,
        input.entryId,
        now,
        idem?.bodyHash ?? '',
        idem?.ttlMs ?? 0,
        k.events,
        this.opts.retentionSec,
        input.callbackUrl ?? '',
        input.startedBy ?? '',
        entryModel === input.model ? modelJson : JSON.stringify(entryModel),
        input.parent ? JSON.stringify(input.parent) : '',
        queue.prefix,
        ...(input.job ?? NO_JOB),
        ...input.events.map((e) => toEvent(e, at)),
      ],
    )) as [number, string, string?];
    if (res[0] === 1) {
      const run: RunState = {
        id: input.runId,
        workflow: input.workflow,
        version: input.version,
        status: input.status,
        seq: 0,
        stepId: input.stepId,
        model: input.model,
        entryId: input.entryId,
        entryVersion: Number(res[2]),
        transitions: 0,
        createdAt: now,
        updatedAt: now,
        callbackUrl: input.callbackUrl,
        startedBy: input.startedBy,
        parent: input.parent,
      };
      return { created: true, run };
    }
    if (res[0] === 2) return { created: false, entryOwner: res[1] };
    const [runId = '', bodyHash = ''] = res[1].split(' ');
    return { created: false, runId, bodyHash };
  }

  /** Commits the step a running run ran at `run.seq`: its model, entry version and where the run goes. */
  commitStep(run: RunRef, c: StepCommit): Promise<TransitionResult> {
    return this.fenced('commitStep', run, this.stepCommit(run, c));
  }

  /**
   * commitStep and BullMQ's finish of the step's job (`finish`, as BullMQ builds it) in one
   * script call (commit-and-finish-step.lua). Returns the commit's result and moveToFinished's
   * raw one, for BullMQ to read (bullmq-finish.ts), and whether the job's queue was left with
   * nothing waiting. A job whose queue is not its run's partition (none is, unless a job was put
   * on another partition's queue by hand) cannot share a call in a cluster, so it gets the two
   * calls the step took before.
   */
  async commitStepAndFinish(
    run: RunRef,
    c: StepCommit,
    finish: FinishCall,
  ): Promise<{ commit: TransitionResult; finish: unknown; ranDry: boolean }> {
    const t = this.stepCommit(run, c);
    const call = this.fencedCall('commitStep', run, t, finish.prefix);
    if (!call.queueHeld) {
      const res = (await this.scripts.run('commitStep', call.keys, call.args)) as [number, number?, string?];
      const finished = await this.scripts.run('finishJob', finish.keys, finish.args);
      return { commit: this.settled(run, t, call.now, res), finish: finished, ranDry: false };
    }
    const [res, finished, dry] = (await this.scripts.run(
      'commitAndFinishStep',
      [...call.keys, ...finish.keys],
      [...call.args, ...finish.args],
    )) as [[number, number?, string?], unknown, number];
    return { commit: this.settled(run, t, call.now, res), finish: finished, ranDry: dry === 1 };
  }

  private stepCommit(run: RunRef, c: StepCommit): Fenced {
    const { step, attempt } = c;
    const set: Fields = {};
    if (c.modelJson) set.model = c.modelJson;
    if (c.entryVersion !== undefined) set.entryVersion = String(c.entryVersion);
    // A step that ends in this commit is one entry: its start is `at` − durationMs. A step that
    // parks writes its start now and its step.completed when the wait is resolved.
    const events: NewHistoryEvent[] =
      c.end.status === 'waiting'
        ? [{ type: 'step.started', stepId: step.id, attempt, at: new Date(c.started).toISOString() }]
        : [
            {
              type: 'step.completed',
              stepId: step.id,
              attempt,
              durationMs: Date.now() - c.started,
              ...(Object.keys(c.detail).length ? { detail: c.detail } : {}),
            },
          ];
    const routed = this.route(c.plan, step, c.end, { set, events, attempt, detail: c.detail });
    const carry = { workflow: run.workflow, version: run.version, entryId: run.entryId, transitions: run.transitions + 1, model: c.model };
    return {
      seq: run.seq,
      status: routed.status,
      set,
      events,
      job: routed.next ? this.scheduler.job(run.id, run.seq + 1, routed.next, carry, c.modelJson) : undefined,
    };
  }

  /** Records a failed attempt that will be retried: the run stays at its seq. */
  recordFailedAttempt(run: RunRef, a: { stepId: string; attempt: number; started: number; error: RunError }): Promise<TransitionResult> {
    return this.fenced('recordFailedAttempt', run, {
      seq: run.seq,
      events: [
        { type: 'step.started', stepId: a.stepId, attempt: a.attempt, at: new Date(a.started).toISOString() },
        {
          type: 'step.retrying',
          stepId: a.stepId,
          attempt: a.attempt,
          durationMs: Date.now() - a.started,
          detail: { error: a.error },
        },
      ],
    });
  }

  /**
   * Fails a running run at `run.seq`: a step's final failure or a step that may not commit
   * (`attempt` given: its step.started and step.failed are recorded), a bad plan, the transition
   * limit, a job lost outside the handler.
   */
  failRun(run: RunRef, error: RunError, attempt?: { stepId: string; attempt: number; started: number }): Promise<TransitionResult> {
    const events: NewHistoryEvent[] = attempt
      ? [
          { type: 'step.started', stepId: attempt.stepId, attempt: attempt.attempt, at: new Date(attempt.started).toISOString() },
          {
            type: 'step.failed',
            stepId: attempt.stepId,
            attempt: attempt.attempt,
            durationMs: Date.now() - attempt.started,
            detail: { error },
          },
        ]
      : [];
    events.push({ type: 'run.failed', stepId: error.stepId, detail: { error } });
    return this.fenced('failRun', run, { seq: run.seq, status: 'failed', set: { error: JSON.stringify(error) }, events });
  }

  /** Resumes a run parked at `seq`: the wait's step completes (or fails) and the run goes on. */
  async resumeWait(run: RunRef, seq: number, r: WaitResume): Promise<TransitionResult> {
    const set: Fields = { wait: '', resolution: '', ...(r.modelJson ? { model: r.modelJson } : {}) };
    const events = [...r.events];
    let routed: { status?: RunStatus; next?: PlanStep };
    if (r.error) {
      events.push({ type: 'step.failed', stepId: r.step.id, detail: { error: r.error } });
      routed = this.route(r.plan, r.step, { status: 'failed', error: r.error }, { set, events });
    } else {
      events.push({ type: 'step.completed', stepId: r.step.id, ...(r.detail ? { detail: r.detail } : {}) });
      // A resumed wait goes on with the step's plan successor, as a step returning `next` does.
      routed = this.route(r.plan, r.step, decide(r.plan, r.step, { kind: 'next' }) as StepEnd, { set, events });
    }
    const res = await this.fenced('resumeWait', run, {
      seq,
      // A resumed run that goes on to a step is running again.
      status: routed.status ?? 'running',
      set,
      events,
      job: routed.next ? this.scheduler.job(run.id, seq + 1, routed.next) : undefined,
    });
    // Answers are kept for the whole wait (which may outlast retention), then like the run.
    if (res.ok) await this.redis.expire(this.keys.answers(run.id, seq), this.opts.retentionSec);
    return res;
  }

  /** An answer to the confirmation a run waits on at `seq`; the script judges the task's policy. */
  recordWaitAnswer(runId: string, seq: number, a: { by: string; option: string; comment?: string; event: NewHistoryEvent }) {
    return this.waitAnswer(runId, seq, a.by, a.option, 'answer', a.event, a.comment ?? '');
  }

  /** Forces the outcome of the wait at `seq` (a timeout): an option, or the wait's error. */
  forceWaitOutcome(runId: string, seq: number, f: { by: string; option?: string; event: NewHistoryEvent; error?: RunError }) {
    return this.waitAnswer(runId, seq, f.by, f.option ?? '', 'force', f.event, '', f.error);
  }

  private async waitAnswer(
    runId: string,
    seq: number,
    by: string,
    option: string,
    mode: 'answer' | 'force',
    event: NewHistoryEvent,
    comment: string,
    error?: RunError,
  ): Promise<WaitAnswerResult> {
    const at = new Date().toISOString();
    const res = (await this.scripts.run(
      'recordWaitAnswer',
      [this.keys.run(runId), this.keys.history(runId), this.keys.answers(runId, seq)],
      [seq, by, option, comment, at, mode, JSON.stringify({ at, ...event }), error ? JSON.stringify(error) : ''],
    )) as [number, string?];
    if (res[0] === -1) return 'not_waiting';
    if (res[0] === 1) return 'resolved';
    if (res[0] === 2) return 'recorded';
    return res[1] === 'resolved' ? 'resolved_before' : (res[1] as 'not_waiting' | 'already_answered');
  }

  /** Records a reminder sent for the wait at `seq` (history only). */
  recordReminder(run: RunRef, seq: number, r: { stepId: string; n: number; recipients: string[] }): Promise<TransitionResult> {
    return this.fenced('recordReminder', run, {
      seq,
      events: [{ type: 'confirmation.reminded', stepId: r.stepId, detail: { n: r.n, recipients: r.recipients } }],
    });
  }

  cancel(run: RunRef & Pick<RunState, 'stepId'>, by?: string): Promise<TransitionResult> {
    return this.fenced('cancelRun', run, {
      status: 'cancelled',
      set: { stepId: run.stepId ?? '' },
      events: [{ type: 'run.cancelled', by, stepId: run.stepId ?? undefined }],
    });
  }

  /** A failed run starts again at `step` (with its job), the model patched when `modelJson` is given. */
  retry(run: RunRef, r: { step: PlanStep; modelJson?: string; by?: string }): Promise<TransitionResult> {
    return this.fenced('retryRun', run, {
      seq: run.seq,
      status: 'running',
      set: { stepId: r.step.id, error: '', ...(r.modelJson !== undefined ? { model: r.modelJson } : {}) },
      events: [
        { type: 'run.retried', by: r.by, stepId: r.step.id, detail: { fromStepId: r.step.id, modelPatched: r.modelJson !== undefined } },
      ],
      job: this.scheduler.job(run.id, run.seq + 1, r.step),
    });
  }

  /** A draft starts again at the plan's first step (or completes at once when it has none). */
  submit(run: RunRef, s: { plan: Plan; modelJson?: string; by?: string }): Promise<TransitionResult> {
    const start = s.plan.start;
    const events: NewHistoryEvent[] = [{ type: 'run.submitted', by: s.by }];
    if (!start) events.push({ type: 'run.completed', by: undefined });
    return this.fenced('submitRun', run, {
      seq: run.seq,
      status: start ? 'running' : 'completed',
      set: { stepId: start ?? '', ...(s.modelJson !== undefined ? { model: s.modelJson } : {}) },
      events,
      job: start ? this.scheduler.job(run.id, run.seq + 1, s.plan.steps[start]!) : undefined,
    });
  }

  /** A running run whose job was lost moves to the next seq with a fresh job of the same step. */
  repair(run: RunRef, r: { step: PlanStep; by?: string; jobId: string; lostJobId: string }): Promise<TransitionResult> {
    return this.fenced('repairRun', run, {
      seq: run.seq,
      events: [{ type: 'run.repaired', by: r.by, stepId: r.step.id, detail: { jobId: r.jobId, lostJobId: r.lostJobId } }],
      job: this.scheduler.job(run.id, run.seq + 1, r.step),
    });
  }

  /** Moves an open run to another version of its workflow, fenced on the seq it was judged at. */
  migrate(run: RunRef, m: { stepId?: string; toVersion: number; by?: string }): Promise<TransitionResult> {
    return this.fenced('migrateRun', run, {
      seq: run.seq,
      set: { version: String(m.toVersion) },
      events: [{ type: 'run.migrated', by: m.by, stepId: m.stepId, detail: { fromVersion: run.version, toVersion: m.toVersion } }],
    });
  }

  /**
   * The decision → fields mapping, the one place that knows it: where a done step (a commit or a
   * resumed wait) sends the run, written into `set` and `events`. Returns the new status
   * (undefined: stays running) and the step whose job comes next.
   */
  private route(
    plan: Plan,
    step: PlanStep,
    end: StepEnd,
    into: { set: Fields; events: NewHistoryEvent[]; attempt?: number; detail?: Record<string, unknown> },
  ): { status?: RunStatus; next?: PlanStep } {
    const { set, events } = into;
    switch (end.status) {
      case 'running':
        set.stepId = end.next;
        return { next: plan.steps[end.next]! };
      case 'completed':
        set.stepId = '';
        if (end.outcome) set.outcome = end.outcome;
        events.push({ type: 'run.completed', stepId: step.id, ...(end.outcome ? { detail: { outcome: end.outcome } } : {}) });
        return { status: 'completed' };
      case 'draft':
        set.stepId = '';
        if (end.entry) {
          set.model = JSON.stringify(end.entry.model);
          set.entryVersion = String(end.entry.version);
        }
        events.push({ type: 'run.reset', stepId: step.id, detail: { entryVersion: end.entry?.version } });
        return { status: 'draft' };
      case 'waiting':
        set.wait = JSON.stringify(end.wait);
        set.resolution = '';
        events.push({ type: 'run.waiting', stepId: step.id, attempt: into.attempt, detail: { reason: end.reason, ...into.detail } });
        return { status: 'waiting' };
      case 'failed':
        set.error = JSON.stringify(end.error);
        events.push({ type: 'run.failed', stepId: step.id, detail: { error: end.error } });
        return { status: 'failed' };
    }
  }

  private async fenced(verb: FencedVerb, run: RunRef, t: Fenced): Promise<TransitionResult> {
    const call = this.fencedCall(verb, run, t);
    const res = (await this.scripts.run(verb, call.keys, call.args)) as [number, number?, string?];
    return this.settled(run, t, call.now, res);
  }

  /**
   * A fenced verb's keys and arguments (the layout at fencedTransition in includes.lua). When the
   * call also carries BullMQ's finish keys of the run's step queue (`finishing`, their queue's
   * prefix), only the queue's id key comes here: the script takes the rest from the finish's.
   */
  private fencedCall(
    verb: FencedVerb,
    run: RunRef,
    t: Fenced,
    finishing?: string,
  ): { keys: string[]; args: (string | number)[]; now: number; queueHeld: boolean } {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const pairs = Object.entries(t.set ?? {}).flatMap(([k, v]) => [k, v ?? '']);
    const k = this.keys;
    const pk = k.partition(k.partitionOf(run.id));
    const queue = pk.queue(this.opts.stepQueue);
    const queueHeld = finishing === queue.prefix;
    // Status indexes: of each status the verb may start from, plus the target; the script picks.
    const statuses = t.status ? [...new Set([...FROM[verb], t.status])] : [];
    const keys = [
      k.run(run.id),
      k.history(run.id),
      pk.positionIndex(run.workflow),
      pk.outbox,
      ...(queueHeld ? [queue.id] : queue.add),
      ...statuses.flatMap((s) => pk.statusIndexes(run.workflow, s)),
    ];
    const args = [
      t.seq ?? '',
      t.status ?? '',
      now,
      k.events,
      this.opts.retentionSec,
      queue.prefix,
      ...(t.job ?? NO_JOB),
      statuses.join(','),
      pairs.length / 2,
      ...pairs,
      ...t.events.map((e) => toEvent(e, at)),
    ];
    return { keys, args, now, queueHeld };
  }

  /** A fenced verb's result, its run end counted once where it applied. */
  private settled(run: RunRef, t: Fenced, now: number, res: [number, number?, string?]): TransitionResult {
    const out = decode(res);
    if (out.ok && t.status && ENDING.has(t.status) && out.from !== t.status) countRunEnd(run.id, t.status, now);
    return out;
  }
}

/** The one place the fenced verbs' result codes are read (includes.lua, fencedTransition). */
function decode(res: [number, number?, string?]): TransitionResult {
  switch (res[0]) {
    case 1:
      return { ok: true, seq: Number(res[1]), from: res[2] as RunStatus };
    case -1:
      return { ok: false, reason: 'missing' };
    case -2:
      return { ok: false, reason: 'status', seq: Number(res[1]), status: res[2] as RunStatus };
    case -3:
      return { ok: false, reason: 'seq', seq: Number(res[1]), status: res[2] as RunStatus };
    default:
      throw new Error(`stageflow: unknown transition result ${JSON.stringify(res)}`);
  }
}

/** The statuses that end a run (a run reset to draft ends too: its callback fires). */
const ENDING = new Set<RunStatus>(['completed', 'failed', 'cancelled', 'draft']);

/** Counted here, at the one transition that ended the run, so each end is counted once. */
function countRunEnd(runId: string, status: RunStatus, now: number): void {
  runsFinished.inc({ status });
  const created = uuidv7Time(runId);
  if (created !== undefined && now >= created) runDuration.observe({ status }, (now - created) / 1000);
}

/** Run ids are UUIDv7: their first 48 bits are the creation time in ms. */
export function uuidv7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/i.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
