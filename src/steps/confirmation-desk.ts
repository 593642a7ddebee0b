/**
 * The confirmation's answer desk and task inbox (the API's /confirm and /tasks), beside the
 * confirmation wait it serves (get-user-confirmation.ts): who may answer, which options count,
 * when the policy is met, and the open tasks of a principal. It holds no connection: it reads and
 * records through the `DeskPort` the engine's waits module implements, whose writes are the
 * RunTransitions verbs (recordWaitAnswer) and the fenced resume.
 */
import type { Plan } from '../definition/plan.ts';
import { EngineError } from '../engine/errors.ts';
import type { NewHistoryEvent, RunState } from '../engine/types.ts';
import { type ConfirmationTask, isConfirmationWait } from './get-user-confirmation.ts';
import type { Directory } from './services.ts';
import type { Model } from './types.ts';

export interface Answerer {
  id: string;
  roles: readonly string[];
}

export interface TaskView {
  runId: string;
  workflow: string;
  version: number;
  stepId: string;
  stepName: string;
  seq: number;
  options: string[];
  policy: ConfirmationTask['policy'];
  timeoutAt?: string;
  createdAt: string;
  model: Model;
}

/** What the desk needs of the engine. */
export interface DeskPort {
  directory(): Directory;
  run(runId: string): Promise<RunState | null>;
  plan(workflow: string, version: number): Promise<Plan | null>;
  /** RunTransitions.recordWaitAnswer: the answer and, when the policy is met, the resolution. */
  recordAnswer(
    runId: string,
    seq: number,
    a: { by: string; option: string; comment?: string; event: NewHistoryEvent },
  ): Promise<'recorded' | 'resolved' | 'not_waiting' | 'resolved_before' | 'already_answered'>;
  /** Resumes a run whose wait has a recorded resolution. */
  finish(runId: string): Promise<void>;
  /** Task inbox members (`runId seq`) of a user id or `role:<name>`, newest first. */
  inbox(ref: string, limit: number): Promise<string[]>;
  /** Drops a closed task from an inbox. */
  unlist(ref: string, member: string): Promise<void>;
  hasAnswered(runId: string, seq: number, who: string): Promise<boolean>;
}

export class ConfirmationDesk {
  constructor(private readonly port: DeskPort) {}

  /** An answer from a principal (API key or signed link); resolves the wait when the policy is met. */
  async answer(runId: string, who: Answerer, option: string, comment?: string): Promise<'resolved' | 'recorded'> {
    const run = await this.port.run(runId);
    if (!run) throw new EngineError('not_found', `no run ${runId}`);
    const wait = run.wait;
    if (run.status !== 'waiting' || !isConfirmationWait(wait))
      throw new EngineError('conflict', `run ${runId} is not waiting for a confirmation`);
    if (!this.port.directory().matches(who, wait.task.routing)) {
      throw new EngineError('forbidden', `this confirmation is not routed to ${who.id}`);
    }
    if (!wait.task.options.includes(option)) {
      throw new EngineError('invalid', `"${option}" is not one of the options`, [
        { path: '$.option', message: `must be one of ${wait.task.options.join(', ')}` },
      ]);
    }
    const event: NewHistoryEvent = {
      type: 'confirmation.answered',
      stepId: wait.stepId,
      by: who.id,
      detail: { option, ...(comment ? { comment } : {}) },
    };
    const res = await this.port.recordAnswer(runId, wait.seq, { by: who.id, option, comment, event });
    if (res === 'not_waiting' || res === 'resolved_before')
      throw new EngineError('conflict', `the confirmation of run ${runId} was already decided`);
    if (res === 'already_answered') throw new EngineError('conflict', `${who.id} has already answered this confirmation`);
    if (res === 'recorded') return 'recorded';
    await this.port.finish(runId);
    return 'resolved';
  }

  /** Open confirmations the principal may answer, newest first; closed ones leave the inbox as they are met. */
  async tasksFor(who: Answerer, limit = 100): Promise<TaskView[]> {
    const refs = [who.id, ...who.roles.map((r) => `role:${r}`)];
    const seen = new Set<string>();
    const out: TaskView[] = [];
    for (const ref of refs) {
      for (const m of await this.port.inbox(ref, limit * 2)) {
        if (seen.has(m)) continue;
        seen.add(m);
        const [runId = '', seqText = ''] = m.split(' ');
        const run = await this.port.run(runId);
        const wait = run?.wait;
        if (run?.status !== 'waiting' || run.seq !== Number(seqText) || !isConfirmationWait(wait) || run.resolution) {
          await this.port.unlist(ref, m);
          continue;
        }
        if (!this.port.directory().matches(who, wait.task.routing)) continue;
        if (await this.port.hasAnswered(runId, wait.seq, who.id)) continue;
        const plan = await this.port.plan(run.workflow, run.version);
        out.push({
          runId,
          workflow: run.workflow,
          version: run.version,
          stepId: wait.stepId,
          stepName: plan?.steps[wait.stepId]?.name ?? wait.stepId,
          seq: wait.seq,
          options: wait.task.options,
          policy: wait.task.policy,
          ...(wait.task.timeoutAt ? { timeoutAt: new Date(wait.task.timeoutAt).toISOString() } : {}),
          createdAt: new Date(run.updatedAt).toISOString(),
          model: run.model,
        });
      }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }
}
