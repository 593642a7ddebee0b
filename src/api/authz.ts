/**
 * Enforces the access rules (src/definition/access.ts) for the API. A caller who may not read a
 * run or a restricted workflow gets 404, exactly as if it did not exist; one who may read it but
 * not do the thing asked gets 403.
 */
import { can, designs, type Action, type Caller } from '../definition/access.ts';
import type { RunView } from '../engine/run-view.ts';
import type { RunService, WorkflowService } from './ports.ts';
import { EngineError, type EntryOwnedError } from '../engine/errors.ts';

export class Authz {
  constructor(private readonly engine: Pick<RunService, 'getRun'> & Pick<WorkflowService, 'policyOf'>) {}

  /** Per-request memo: one policy lookup per workflow however many runs or tasks a list shows. */
  allowed(caller: Caller, action: Action): (item: { workflow: string }) => Promise<boolean> {
    const memo = new Map<string, Promise<boolean>>();
    return ({ workflow }) => {
      let hit = memo.get(workflow);
      if (!hit) {
        hit = this.engine.policyOf(workflow).then((p) => p !== null && can(caller, action, p));
        memo.set(workflow, hit);
      }
      return hit;
    };
  }

  readable(caller: Caller): (item: { workflow: string }) => Promise<boolean> {
    return this.allowed(caller, 'read');
  }

  /** Checks `action` on a workflow; designers pass for reading definitions. */
  async workflow(caller: Caller, name: string, action: Action): Promise<void> {
    const policy = await this.engine.policyOf(name);
    if (!policy) throw new EngineError('not_found', `no workflow named ${name}`);
    if (action === 'read' && designs(caller)) return;
    // Designers see every definition, so for them the workflow exists: 403, not 404.
    if (!can(caller, 'read', policy) && !designs(caller)) throw new EngineError('not_found', `no workflow named ${name}`);
    if (!can(caller, action, policy)) throw new EngineError('forbidden', `you may not ${action} runs of ${name}`);
  }

  /** Loads a run the caller may read, then checks `action` on it. */
  async run(caller: Caller, runId: string, action: Action, alsoAllowed?: (run: RunView) => boolean): Promise<RunView> {
    const run = await this.engine.getRun(runId);
    const policy = await this.engine.policyOf(run.workflow);
    if (!policy || !can(caller, 'read', policy)) throw new EngineError('not_found', `no run ${runId}`);
    if (action !== 'read' && !can(caller, action, policy) && !alsoAllowed?.(run)) {
      throw new EngineError('forbidden', `you may not ${action} run ${runId}`);
    }
    return run;
  }

  /**
   * Entries belong to the workflow that created them, and a run of another workflow may not use
   * one: the engine refuses atomically (409, EntryOwnedError). Whoever may not even read the
   * owning workflow gets 404 instead, so the answer does not tell them the entry exists.
   */
  async entryRefusal(caller: Caller, err: EntryOwnedError): Promise<EngineError> {
    if (await this.readable(caller)({ workflow: err.owner })) return err;
    return new EngineError('not_found', `no entry ${err.entryId}`, [{ path: '$.entryId', message: 'no such entry' }]);
  }

  /** Saving definitions, dataflows and templates. */
  design(caller: Caller, what: string): void {
    if (!designs(caller)) throw new EngineError('forbidden', `saving ${what} needs the designer or admin role`);
  }
}
