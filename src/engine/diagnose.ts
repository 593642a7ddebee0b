/**
 * Why a run is where it is, and what happens next, in plain words: a pure function of the facts
 * src/engine/diagnosis.ts gathers from the run, its BullMQ job and its waits. Kept pure so each
 * case (a stalled lock, a delayed retry, a missing job…) is unit-tested without Redis.
 */
import { getWaitKind } from '../steps/registry.ts';
import type { WaitKind } from '../steps/types.ts';
import type { RunError, RunStatus, Wait } from './types.ts';

export type JobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed' | 'waiting-children' | 'unknown';

export interface JobFacts {
  id: string;
  state: JobState;
  attemptsMade: number;
  attemptsStarted: number;
  maxAttempts: number;
  /** When a delayed job becomes due (ms). */
  delayUntil?: number;
  lastError?: string;
  /** The worker that took it last (BullMQ's processedBy: the StepWorker id). */
  worker?: string;
  /** When that worker last sent a heartbeat (ms), if it ever did. */
  workerSeenAt?: number;
  /** Remaining lock time of an active job (ms); ≤ 0 when the lock is gone. */
  lockTtlMs?: number;
  /** Jobs the queue hands out before this one. */
  queueAhead?: number;
}

export interface DiagnosisFacts {
  now: number;
  run: {
    id: string;
    status: RunStatus;
    seq: number;
    stepId: string | null;
    updatedAt: number;
    error?: RunError;
    wait?: Wait;
    resolved?: boolean;
  };
  step?: { id: string; name: string; type: string };
  job?: JobFacts;
  /** The error of the last failed attempt of the current step (from history). */
  lastAttemptError?: string;
  /** What the wait kind's `inspect` gathered. */
  waitFacts?: unknown;
  /** The wait's first child run (WaitKind.children), diagnosed. */
  child?: Diagnosis | { missing: true; runId: string };
  callback?: { state: JobState | 'outbox'; attemptsMade?: number; lastError?: string };
  reconciler: { intervalMs: number; graceMs: number; stalledIntervalMs: number };
}

export type DiagnosisState =
  /** Parked on a wait of that kind, undecided. */
  `waiting-${string}` | 'resuming' | 'retry-delayed' | 'active' | 'stalled' | 'queued' | 'no-job' | 'job-failed' | 'finished';

export interface Diagnosis {
  runId: string;
  status: RunStatus;
  state: DiagnosisState;
  summary: string;
  details: string[];
  since?: string;
  until?: string;
  job?: {
    id: string;
    state: JobState;
    attemptsMade: number;
    attemptsStarted: number;
    delayUntil?: string;
    lastError?: string;
    worker?: string;
    lockExpiresAt?: string;
    queuePosition?: number;
  };
  repairable: boolean;
  repairAt?: string;
  child?: Diagnosis | { runId: string; missing: true };
  callback?: { pending: boolean; attempts?: number; lastError?: string };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** "in 12 s", "3 min ago": the distance to a moment, for people. */
export function relative(ms: number, now: number): string {
  const d = Math.round((ms - now) / 1000);
  const abs = Math.abs(d);
  const text =
    abs < 90
      ? `${abs} s`
      : abs < 5400
        ? `${Math.round(abs / 60)} min`
        : abs < 129_600
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86_400)} d`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** `kinds` finds a stored wait's kind (the registry's; a test may hand in its own). */
export function diagnose(f: DiagnosisFacts, kinds: (kind: string) => WaitKind | undefined = getWaitKind): Diagnosis {
  const { run, now } = f;
  const at = (ms: number) => `${iso(ms)} (${relative(ms, now)})`;
  const stepName = f.step ? `step "${f.step.name}"` : run.stepId ? `step ${run.stepId}` : 'no step';
  const base = { runId: run.id, status: run.status, repairable: false, details: [] as string[] };
  const job = f.job ? jobView(f.job, now) : undefined;

  const kind = run.status === 'waiting' && run.wait ? kinds(run.wait.kind) : undefined;
  if (run.status === 'waiting' && run.wait && kind) {
    const wait = run.wait;
    const resolved = Boolean(run.resolved);
    const child = f.child;
    const d = kind.describe({
      wait,
      facts: f.waitFacts,
      resolved,
      stepName,
      since: run.updatedAt,
      at,
      reconcilerIntervalMs: f.reconciler.intervalMs,
      ...(child ? { child } : {}),
    });
    return {
      ...base,
      state: resolved ? 'resuming' : `waiting-${wait.kind}`,
      since: iso(run.updatedAt),
      ...(!resolved && wait.timeoutAt ? { until: iso(wait.timeoutAt) } : {}),
      details: d.details,
      ...(child ? { child } : {}),
      summary: d.summary,
    };
  }

  if (run.status !== 'running') {
    const cb = f.callback;
    const pending = cb ? cb.state !== 'completed' && cb.state !== 'failed' && cb.state !== 'unknown' : false;
    const callback = cb
      ? {
          pending,
          ...(cb.attemptsMade !== undefined ? { attempts: cb.attemptsMade } : {}),
          ...(cb.lastError ? { lastError: cb.lastError } : {}),
        }
      : undefined;
    const ended = run.status === 'draft' ? 'went back to draft' : run.status;
    const details = [
      ...(run.error ? [`Error at ${run.error.stepId ?? 'the run'}: ${run.error.message}`] : []),
      ...(cb
        ? [
            pending
              ? `The completion callback is not delivered yet${cb.attemptsMade ? ` after ${cb.attemptsMade} attempt(s)` : ''}${cb.lastError ? `; last error: ${cb.lastError}` : ''}; it is retried with backoff.`
              : cb.state === 'completed'
                ? 'The completion callback was delivered.'
                : cb.state === 'failed'
                  ? `The completion callback gave up${cb.lastError ? `: ${cb.lastError}` : ''}.`
                  : 'The completion callback job is gone (delivered long ago, or never relayed).',
          ]
        : []),
      ...(run.status === 'failed'
        ? ['POST /api/runs/{id}/retry runs the failed step again.']
        : run.status === 'draft'
          ? ['POST /api/runs/{id}/submit starts it again.']
          : []),
    ];
    return {
      ...base,
      state: 'finished',
      since: iso(run.updatedAt),
      details,
      ...(callback ? { callback } : {}),
      summary: `The run ${ended} ${relative(run.updatedAt, now)}${run.error ? ` (${run.error.message})` : ''}${pending ? '; its completion callback is not delivered yet' : ''}.`,
    };
  }

  // running: the step's job tells what happens next
  const j = f.job;
  const attempts = j ? `attempt ${Math.max(j.attemptsMade + 1, j.attemptsStarted)} of ${j.maxAttempts}` : '';
  if (!j || j.state === 'unknown' || j.state === 'completed') {
    const repairAt = Math.max(run.updatedAt + f.reconciler.graceMs, now) + f.reconciler.intervalMs;
    return {
      ...base,
      state: 'no-job',
      since: iso(run.updatedAt),
      repairable: true,
      repairAt: iso(repairAt),
      ...(job ? { job } : {}),
      details: [
        j?.state === 'completed'
          ? `The job ${j.id} completed without committing the step (a crash between the two).`
          : `There is no job ${run.id}-${run.seq} for ${stepName} (deleted, or lost).`,
        'POST /api/runs/{id}/repair re-adds it now.',
      ],
      summary: `Nothing will run ${stepName}: it has no job. The reconciler re-adds it at about ${at(repairAt)}, or repair it now.`,
    };
  }
  if (j.state === 'failed') {
    const when = now + f.reconciler.intervalMs;
    return {
      ...base,
      state: 'job-failed',
      since: iso(run.updatedAt),
      job: job!,
      details: [`BullMQ failed the job outside the step handler${j.lastError ? `: ${j.lastError}` : ''}.`],
      summary: `The job of ${stepName} failed without the run knowing; the reconciler marks the run failed at about ${at(when)}.`,
    };
  }
  if (j.state === 'delayed') {
    const error = j.lastError ?? f.lastAttemptError;
    const until = j.delayUntil ?? now;
    return {
      ...base,
      state: 'retry-delayed',
      since: iso(run.updatedAt),
      until: iso(until),
      job: job!,
      details: [
        `${j.attemptsMade} attempt(s) failed so far; ${j.maxAttempts - j.attemptsMade} left.`,
        ...(error ? [`Last error: ${error}`] : []),
      ],
      summary: `${stepName} failed${error ? ` with "${error}"` : ''} and is retried at ${at(until)} (${attempts}).`,
    };
  }
  if (j.state === 'active') {
    const lockAt = j.lockTtlMs !== undefined && j.lockTtlMs > 0 ? now + j.lockTtlMs : undefined;
    const worker = j.worker ?? 'an unknown worker';
    const seen = j.workerSeenAt ? ` (last heartbeat ${relative(j.workerSeenAt, now)})` : '';
    if (!lockAt) {
      return {
        ...base,
        state: 'stalled',
        since: iso(run.updatedAt),
        job: job!,
        details: [
          `Worker ${worker}${seen} stopped renewing the job's lock: it crashed or is blocked.`,
          `The stalled-job check puts it back in the queue within ${Math.round(f.reconciler.stalledIntervalMs / 1000)} s; another worker then runs it.`,
        ],
        summary: `${stepName} was taken by worker ${worker}, whose lock has expired; it goes back to the queue at the next stalled check (${attempts}).`,
      };
    }
    return {
      ...base,
      state: 'active',
      since: iso(run.updatedAt),
      job: job!,
      details: [`Worker ${worker}${seen} holds the lock until ${at(lockAt)} and renews it while it works.`],
      summary: `${stepName} is running on worker ${worker} (${attempts}); its lock expires at ${at(lockAt)} unless renewed.`,
    };
  }
  const ahead = j.queueAhead ?? 0;
  return {
    ...base,
    state: 'queued',
    since: iso(run.updatedAt),
    job: job!,
    details: [
      ahead ? `${ahead} job(s) are handed out before it.` : 'It is next in the queue.',
      ...(f.lastAttemptError ? [`Last error: ${f.lastAttemptError}`] : []),
    ],
    summary: `${stepName} is queued behind ${ahead} job(s), waiting for a free worker (${attempts}).`,
  };
}

function jobView(j: JobFacts, now: number): NonNullable<Diagnosis['job']> {
  return {
    id: j.id,
    state: j.state,
    attemptsMade: j.attemptsMade,
    attemptsStarted: j.attemptsStarted,
    ...(j.delayUntil !== undefined && j.state === 'delayed' ? { delayUntil: iso(j.delayUntil) } : {}),
    ...(j.lastError ? { lastError: j.lastError } : {}),
    ...(j.worker ? { worker: j.worker } : {}),
    ...(j.state === 'active' && j.lockTtlMs !== undefined && j.lockTtlMs > 0 ? { lockExpiresAt: iso(now + j.lockTtlMs) } : {}),
    ...(j.queueAhead !== undefined ? { queuePosition: j.queueAhead + 1 } : {}),
  };
}
