/**
 * Moving parked runs (waiting, draft, failed) of one workflow version to another. A run moves
 * only when the step it is parked at exists in the target version with the same type (for a
 * waiting run also waiting the same way, as its wait kind's `migrate` judges: a confirmation
 * must offer every option it asked for), so its wait, answers and timers stay meaningful; the move is a transition fenced on status and seq that sets the
 * version and records `run.migrated`. Nothing else changes: the run continues on the new plan
 * when it resumes, is retried or resubmitted.
 */
import type { Logger } from 'pino';
import type { Plan } from '../definition/plan.ts';
import { getStepType, getWaitKind } from '../steps/registry.ts';
import { EngineError } from './errors.ts';
import type { RunStore } from './run-store.ts';
import type { RunTransitions } from './run-transitions.ts';
import type { RunState, RunStatus } from './types.ts';
import type { WorkflowStore } from './workflow-store.ts';

export const MIGRATABLE: readonly RunStatus[] = ['waiting', 'draft', 'failed'];

export interface MigrationRequest {
  fromVersion: number;
  toVersion: number;
  filter?: { status?: RunStatus; stepId?: string; createdBefore?: string; createdAfter?: string };
  dryRun?: boolean;
}

export interface MigrationReport {
  dryRun: boolean;
  /** Runs that can move (dry run) or moved. */
  movable: number;
  moved: string[];
  blocked: Array<{ runId: string; reason: string }>;
}

/** Why `run` cannot move to `to` (pure), or null when it can. */
export function blockedReason(run: Pick<RunState, 'status' | 'stepId' | 'wait' | 'error'>, from: Plan, to: Plan): string | null {
  if (run.status === 'draft') return null; // a draft restarts at the target's first step
  const stepId = run.status === 'waiting' ? run.wait?.stepId : (run.error?.stepId ?? run.stepId);
  if (!stepId) return run.status === 'failed' ? null : `the run is ${run.status} at no step`;
  const now = from.steps[stepId];
  const next = to.steps[stepId];
  if (!next) return `step ${stepId} does not exist in version ${to.version}`;
  if (now && now.type !== next.type)
    return `step ${stepId} is a ${now.type} in version ${from.version} but a ${next.type} in version ${to.version}`;
  if (run.status === 'waiting' && run.wait) {
    const kind = getWaitKind(run.wait.kind);
    if (getStepType(next.type)?.wait?.kind !== run.wait.kind)
      return `step ${stepId} does not wait for ${kind?.label ?? run.wait.kind} in version ${to.version}`;
    return kind?.migrate?.(run.wait, next, to.version) ?? null;
  }
  return null;
}

export class Migrations {
  constructor(
    private readonly runs: RunStore,
    private readonly transitions: RunTransitions,
    private readonly workflows: WorkflowStore,
    private readonly log: Logger,
  ) {}

  async migrate(workflow: string, req: MigrationRequest, by?: string): Promise<MigrationReport> {
    const [from, to] = await Promise.all([this.workflows.plan(workflow, req.fromVersion), this.workflows.plan(workflow, req.toVersion)]);
    if (!from)
      throw new EngineError('invalid', `workflow ${workflow} has no version ${req.fromVersion}`, [
        { path: '$.fromVersion', message: 'no such version' },
      ]);
    if (!to)
      throw new EngineError('invalid', `workflow ${workflow} has no version ${req.toVersion}`, [
        { path: '$.toVersion', message: 'no such version' },
      ]);
    if (req.fromVersion === req.toVersion)
      throw new EngineError('invalid', 'fromVersion and toVersion are the same', [
        { path: '$.toVersion', message: 'must differ from fromVersion' },
      ]);
    const f = req.filter ?? {};
    if (f.status && !MIGRATABLE.includes(f.status)) {
      throw new EngineError('invalid', `only ${MIGRATABLE.join(', ')} runs can move`, [
        { path: '$.filter.status', message: `must be one of ${MIGRATABLE.join(', ')}` },
      ]);
    }
    const before = f.createdBefore ? Date.parse(f.createdBefore) : Infinity;
    const after = f.createdAfter ? Date.parse(f.createdAfter) : -Infinity;
    const report: MigrationReport = { dryRun: Boolean(req.dryRun), movable: 0, moved: [], blocked: [] };
    for (const status of f.status ? [f.status] : MIGRATABLE) {
      let cursor: string | undefined;
      do {
        const page = await this.runs.list({
          workflow,
          status,
          limit: 200,
          cursor,
          ...(f.stepId ? { stepIds: [f.stepId] } : {}),
          where: (r) => r.version === req.fromVersion && r.createdAt < before && r.createdAt > after,
        });
        cursor = page.nextCursor;
        for (const run of page.items) await this.one(run, from, to, req, report, by);
      } while (cursor);
    }
    return report;
  }

  private async one(run: RunState, from: Plan, to: Plan, req: MigrationRequest, report: MigrationReport, by?: string) {
    const reason = blockedReason(run, from, to);
    if (reason) {
      report.blocked.push({ runId: run.id, reason });
      return;
    }
    if (req.dryRun) {
      report.movable++;
      return;
    }
    const res = await this.transitions.migrate(run, { stepId: run.wait?.stepId ?? run.stepId ?? undefined, toVersion: to.version, by });
    if (!res.ok) {
      report.blocked.push({ runId: run.id, reason: 'the run moved on while being migrated' });
      return;
    }
    report.movable++;
    report.moved.push(run.id);
    this.log.info(
      { runId: run.id, stepId: run.stepId, seq: run.seq, fromVersion: from.version, toVersion: to.version, by },
      'run migrated',
    );
  }
}
