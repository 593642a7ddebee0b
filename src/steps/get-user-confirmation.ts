import { z } from 'zod';
import { PrincipalRef } from '../definition/ids.ts';
import { Channel, FieldPath, principalRefs, Recipients, WaitMs } from './params.ts';
import { getPath } from '../definition/paths.ts';
import type { NewHistoryEvent, RunError, Wait } from '../engine/types.ts';
import { recipientRefs } from './recipients.ts';
import type { EffectContext, StepServices } from './services.ts';
import { NonRetryableError, type Model, type StepContext, type StepType, type WaitKind } from './types.ts';

const Policy = z.union([z.enum(['any', 'all']), z.strictObject({ quorum: z.int().min(1) })]);
const OnTimeout = z.union([z.literal('fail'), z.strictObject({ option: z.string().min(1) })]);

export const GetUserConfirmationParams = z
  .object({
    confirmationField: FieldPath,
    options: z.array(z.string().min(1)).min(1, { message: 'at least one option is required' }).optional(),
    /** Field holding the options when they depend on the model. */
    optionsField: FieldPath.optional(),
    ...Recipients,
    /** Who may answer: user ids or `role:<name>`. */
    routing: z.array(PrincipalRef).min(1, { message: 'at least one role or user must be allowed to answer' }),
    policy: Policy.default('any'),
    /** How long to wait for answers (replaces the common step timeout for this step). */
    timeoutMs: WaitMs.optional(),
    onTimeout: OnTimeout.optional(),
    /** At least a second (and at most 100 reminders, none after the timeout): reminders are for people. */
    reminderMs: z
      .int()
      .min(1000, { message: 'must be at least 1000 (a second)' })
      .max(365 * 24 * 3600 * 1000)
      .optional(),
    channel: Channel.optional(),
  })
  .superRefine(
    (p, ctx) => {
      // Runs even when other parameters failed (see `when`), so read defensively.
      const options = Array.isArray(p?.options) ? p.options : undefined;
      if (options === undefined && p?.optionsField === undefined) {
        ctx.addIssue({ code: 'custom', message: 'one of options or optionsField is required', path: [] });
      } else if (options !== undefined && p?.optionsField !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'options and optionsField cannot be used together', path: ['optionsField'] });
      }
      options?.forEach((option, i) => {
        if (options.indexOf(option) !== i) ctx.addIssue({ code: 'custom', message: `duplicate option "${option}"`, path: ['options', i] });
      });
      const onTimeout = p?.onTimeout;
      if (options && typeof onTimeout === 'object' && onTimeout !== null && !options.includes(onTimeout.option)) {
        ctx.addIssue({
          code: 'custom',
          message: `onTimeout.option "${onTimeout.option}" is not one of the options (${options.join(', ')})`,
          path: ['onTimeout', 'option'],
        });
      }
    },
    { when: () => true },
  );

export interface ConfirmationTask {
  options: string[];
  confirmationField: string;
  /** Who may answer: user ids and `role:<name>`. */
  routing: string[];
  /** Whose answers a policy of `all` waits for (user ids). */
  recipients: string[];
  policy: 'any' | 'all' | { quorum: number };
  timeoutAt?: number;
  onTimeout?: 'fail' | { option: string };
  reminderMs?: number;
  channel?: string;
}

/** A run waiting for a confirmation: the envelope plus the task it asks. */
export interface ConfirmationWait extends Wait {
  kind: 'confirmation';
  task: ConfirmationTask;
}

/** True for a confirmation's wait (the answer desk and the inbox read only these). */
export const isConfirmationWait = (w: Wait | undefined): w is ConfirmationWait => w?.kind === 'confirmation';

const ConfirmationPolicy = z.union([z.enum(['any', 'all']), z.object({ quorum: z.int() })]);

/** The run view's `confirmation`: what a run waiting on a confirmation asks, and of whom. */
export const ConfirmationView = z.object({
  stepId: z.string(),
  options: z.array(z.string()),
  policy: ConfirmationPolicy,
  routing: z.array(z.string()),
  recipients: z.array(z.string()),
  timeoutAt: z.string().meta({ format: 'date-time' }).optional(),
});

/** Reminders stop after this many, whatever reminderMs says. */
const MAX_REMINDERS = 100;

/**
 * The confirmation wait: the run is listed in the task inboxes it is routed to, answers are
 * recorded (and judged by the task's policy) by the engine, a timeout forces `onTimeout`, and
 * reminders re-notify the recipients who have not answered.
 */
export const confirmationWait: WaitKind<z.infer<typeof GetUserConfirmationParams>, ConfirmationWait> = {
  kind: 'confirmation',
  label: 'a confirmation',
  async park(host, { runId, stepId, seq, detail }) {
    const task = (detail as { task?: ConfirmationTask } | undefined)?.task;
    if (!task) throw new Error(`step ${stepId} waits for a confirmation without a task`);
    await host.listTask([...new Set([...task.routing, ...task.recipients])], runId, seq);
    if (task.timeoutAt) await host.scheduleTimeout(runId, seq, task.timeoutAt);
    if (task.reminderMs) await host.scheduleReminder(runId, seq, 1, task.reminderMs);
    return { kind: 'confirmation', stepId, seq, task, ...(task.timeoutAt ? { timeoutAt: task.timeoutAt } : {}) };
  },
  async expire(host, { run, wait }) {
    const onTimeout = wait.task.onTimeout ?? 'fail';
    const event: NewHistoryEvent = { type: 'confirmation.timedOut', stepId: wait.stepId, by: 'system', detail: { onTimeout } };
    const error: RunError | undefined =
      onTimeout === 'fail'
        ? { code: 'CONFIRMATION_TIMEOUT', stepId: wait.stepId, message: `no decision within the step's timeoutMs` }
        : undefined;
    const option = onTimeout === 'fail' ? undefined : onTimeout.option;
    if (await host.forceOutcome(run.id, wait.seq, { by: 'system:timeout', option, event, error })) await host.finish(run.id);
  },
  async remind(host, { run, wait }, n) {
    if (!wait.task.reminderMs) return;
    const answered = new Set(Object.keys(await host.answers(run.id, wait.seq)));
    const pending = wait.task.recipients.filter((r) => !answered.has(r));
    if (pending.length) {
      await notifyConfirmation(
        host.services,
        { runId: run.id, workflow: run.workflow, stepId: wait.stepId, seq: wait.seq, task: wait.task, model: run.model },
        pending,
        {
          effectKey: `${host.effectKey(run.id, wait.stepId, wait.seq)}/reminder-${n}`,
          runId: run.id,
          stepId: wait.stepId,
          seq: wait.seq,
          attempt: 1,
          signal: AbortSignal.timeout(30_000),
        },
      );
    }
    await host.recordReminder(run, wait.seq, { stepId: wait.stepId, n, recipients: pending });
    const nextAt = Date.now() + wait.task.reminderMs;
    if (n < MAX_REMINDERS && (!wait.task.timeoutAt || nextAt < wait.task.timeoutAt))
      await host.scheduleReminder(run.id, wait.seq, n + 1, wait.task.reminderMs);
  },
  async resume(host, { run, wait }, cause) {
    if (cause.kind !== 'resolved') return;
    const r = cause.resolution;
    if (r.error) {
      await host.resume(run, { error: r.error, events: [] });
      return;
    }
    const answers = await host.answers(run.id, r.seq);
    await host.resume(run, {
      writes: [{ path: wait.task.confirmationField, value: r.option ?? null }],
      events: [],
      detail: { option: r.option, by: r.by, answers },
    });
  },
  async inspect(host, run, wait) {
    const raw = await host.answers(run.id, wait.seq);
    const answers = Object.fromEntries(Object.entries(raw).map(([who, v]) => [who, v.option ?? '']));
    const reminders = (await host.history(run.id)).filter((e) => e.seq === wait.seq && e.type === 'confirmation.reminded').length;
    return { answers, reminders } satisfies ConfirmationFacts;
  },
  describe({ wait, facts, resolved, stepName, since, at, reconcilerIntervalMs }) {
    const task = wait.task;
    const f = facts as ConfirmationFacts | undefined;
    const answered = Object.keys(f?.answers ?? {});
    const missing = task.recipients.filter((r) => !answered.includes(r));
    const details = [
      `Routed to ${task.routing.join(', ')}; options ${task.options.join(', ')}; policy ${typeof task.policy === 'string' ? task.policy : `quorum of ${task.policy.quorum}`}.`,
      answered.length ? `Answered so far: ${answered.map((a) => `${a} (${f!.answers[a]})`).join(', ')}.` : 'Nobody has answered yet.',
      ...(missing.length ? [`No answer yet from ${missing.join(', ')}.`] : []),
      `${f?.reminders ?? 0} reminder(s) sent${task.reminderMs ? `, one every ${Math.round(task.reminderMs / 1000)} s` : ''}.`,
      task.timeoutAt
        ? `Times out at ${at(task.timeoutAt)}, then ${task.onTimeout && task.onTimeout !== 'fail' ? `takes "${task.onTimeout.option}"` : 'fails'}.`
        : 'It has no timeout: it waits until someone answers.',
    ];
    if (resolved) {
      return {
        details,
        summary: `The confirmation at ${stepName} is decided but the run has not moved on yet; it resumes at once, or the reconciler resumes it within ${Math.round(reconcilerIntervalMs / 1000)} s.`,
      };
    }
    const whose = missing.length ? missing.join(', ') : task.routing.join(', ');
    return {
      details,
      summary: `Waiting since ${at(since)} for an answer from ${whose} at ${stepName}${task.timeoutAt ? `, until ${at(task.timeoutAt)}` : ''}.`,
    };
  },
  view: {
    field: 'confirmation',
    schema: ConfirmationView,
    of: (wait): z.infer<typeof ConfirmationView> => ({
      stepId: wait.stepId,
      options: wait.task.options,
      policy: wait.task.policy,
      routing: wait.task.routing,
      recipients: wait.task.recipients,
      ...(wait.task.timeoutAt ? { timeoutAt: new Date(wait.task.timeoutAt).toISOString() } : {}),
    }),
  },
  migrate(wait, next, toVersion) {
    const options = (next.def as { options?: string[] }).options;
    const missing = options ? wait.task.options.filter((o) => !options.includes(o)) : [];
    if (missing.length) return `step ${wait.stepId} in version ${toVersion} lacks the option(s) ${missing.join(', ')} this run asked for`;
    const field = (next.def as { confirmationField?: string }).confirmationField;
    if (field !== wait.task.confirmationField)
      return `step ${wait.stepId} in version ${toVersion} writes the answer to ${field}, not ${wait.task.confirmationField}`;
    return null;
  },
  simulate({ stepId, detail, stub, stubbed }) {
    const task = (detail as { task?: ConfirmationTask } | undefined)?.task;
    if (!task) return { error: { code: 'NON_RETRYABLE', stepId, message: `step ${stepId} waits for a confirmation without a task` } };
    const option = stubbed ? stub : task.options[0];
    if (typeof option !== 'string' || !task.options.includes(option)) {
      return {
        error: { code: 'BAD_STUB', stepId, message: `the stub of ${stepId} must be one of the options ${task.options.join(', ')}` },
      };
    }
    return {
      writes: [{ path: task.confirmationField, value: option }],
      effect: { options: task.options, routing: task.routing, recipients: task.recipients, policy: task.policy, option },
      ...(stubbed ? {} : { note: `step ${stepId}: no stub; took the first option "${option}"` }),
    };
  },
};

/** What `inspect` reads for the diagnosis: the answers so far (who → option) and the reminders sent. */
interface ConfirmationFacts {
  answers: Record<string, string>;
  reminders: number;
}

export const getUserConfirmationStep: StepType<typeof GetUserConfirmationParams> = {
  type: 'getUserConfirmation',
  group: 'Notifications',
  ownTimeout: true,
  description:
    'Asks the routed users to pick an option (notified in their inbox unless users and a channel say otherwise) and parks the run until they answer.',
  params: GetUserConfirmationParams,
  fieldPaths: (p) => [p.confirmationField, p.optionsField, p.userInfoField].filter((path): path is string => path !== undefined),
  references: principalRefs,
  warnings: (p) => [
    ...(p.timeoutMs === undefined ? ['no timeoutMs: the run can wait for an answer forever'] : []),
    ...(p.timeoutMs === undefined && p.onTimeout !== undefined ? ['onTimeout has no effect without timeoutMs'] : []),
  ],
  execute: async (ctx) => {
    const p = ctx.params;
    const options = p.options ?? optionsFrom(ctx.model, p.optionsField!);
    const refs = recipientRefs(ctx.model, p, { required: false });
    // No users/userInfoField: the people who may answer are told, in their inbox unless a channel is set.
    const recipients = ctx.services.directory.resolve(refs.length ? refs : p.routing);
    const timeoutAt = p.timeoutMs ? Date.now() + p.timeoutMs : undefined;
    const task: ConfirmationTask = {
      options,
      confirmationField: p.confirmationField,
      routing: p.routing,
      recipients: recipients.map((r) => r.id),
      policy: p.policy,
      ...(timeoutAt ? { timeoutAt } : {}),
      ...(p.onTimeout ? { onTimeout: p.onTimeout } : {}),
      ...(p.reminderMs ? { reminderMs: p.reminderMs } : {}),
      ...(p.channel ? { channel: p.channel } : {}),
    };
    // The run parks at the seq after this step's commit; links name that seq so they die with the wait.
    const report = await notifyConfirmation(
      ctx.services,
      { runId: ctx.runId, workflow: ctx.workflow, stepId: ctx.stepId, seq: ctx.seq + 1, task, model: ctx.model },
      recipients.map((r) => r.id),
      { ...effectOf(ctx), effectKey: ctx.effectKey },
    );
    return { outcome: { kind: 'wait', reason: 'confirmation', detail: { task } }, detail: { notified: report } };
  },
  wait: confirmationWait,
};

function optionsFrom(model: Readonly<Model>, path: string): string[] {
  const value = getPath(model, path);
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new NonRetryableError(`optionsField ${path} must hold a non-empty list of strings`);
  }
  return [...new Set(value as string[])];
}

const effectOf = (ctx: StepContext) => ({ runId: ctx.runId, stepId: ctx.stepId, seq: ctx.seq, attempt: ctx.attempt, signal: ctx.signal });

const LINK_TTL_MS = 7 * 24 * 3600 * 1000;

export interface ConfirmationNotice {
  runId: string;
  workflow: string;
  stepId: string;
  seq: number;
  task: ConfirmationTask;
  model: Readonly<Model>;
}

/**
 * Tells each recipient there is something to answer, with one signed single-use link per option.
 * Also used for reminders (with their own effect key). No reachable recipient is not an error here:
 * the task is still listed by GET /api/tasks for everyone it is routed to.
 */
export async function notifyConfirmation(services: StepServices, n: ConfirmationNotice, recipientIds: string[], effect: EffectContext) {
  let delivered = 0;
  for (const id of recipientIds) {
    const exp = Math.min(n.task.timeoutAt ?? Infinity, Date.now() + LINK_TTL_MS);
    const links = await services.links.forOptions({
      runId: n.runId,
      stepId: n.stepId,
      seq: n.seq,
      principalId: id,
      options: n.task.options,
      exp,
    });
    const lines = Object.entries(links).map(([option, url]) => `${option}: ${url}`);
    const [recipient] = services.directory.resolve([id]);
    if (!recipient) continue;
    try {
      const report = await services.notifier.deliver(
        {
          channel: (n.task.channel as 'inbox' | 'email' | 'webhook' | undefined) ?? 'inbox',
          recipients: [recipient],
          subject: `Your decision is needed: ${n.workflow} / ${n.stepId}`,
          body: `Please choose one of: ${n.task.options.join(', ')}.\n\n${lines.join('\n')}\n\nOr answer in stageflow: ${services.publicUrl('/tasks')}`,
          format: 'text',
          data: { runId: n.runId, stepId: n.stepId, seq: n.seq, options: n.task.options, links, kind: 'confirmation' },
        },
        effect,
      );
      delivered += report.delivered + report.alreadySent;
    } catch (err) {
      if (!(err instanceof NonRetryableError)) throw err;
    }
  }
  return { delivered, recipients: recipientIds.length };
}
