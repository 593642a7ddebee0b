/**
 * Every Redis key stageflow owns, in one place. Keys of one run share the `{runId}` hash tag so
 * a transition on a run's own state touches one Cluster slot.
 */
export interface Keys {
  prefix: string;
  /** BullMQ prefix: the queue keys live under it (hash-tagged, as BullMQ needs on Cluster). */
  bullPrefix: string;
  run(runId: string): string;
  history(runId: string): string;
  entry(entryId: string): string;
  idempotency(workflow: string, key: string): string;
  workflow(name: string): string;
  workflowIndex: string;
  /** Run index: all runs, or by workflow and/or status; members are time-ordered run ids. */
  runIndex(filter: { workflow?: string; status?: string }): string;
  /** Prefix handed to Lua so it can move a run between status indexes. */
  runIndexPrefix: string;
  events: string;
  workerHeartbeats: string;
}

export function createKeys(prefix: string): Keys {
  const runIndexPrefix = `${prefix}:runs`;
  return {
    prefix,
    bullPrefix: `${prefix}:{bull}`,
    run: (id) => `${prefix}:run:{${id}}`,
    history: (id) => `${prefix}:run:{${id}}:history`,
    entry: (id) => `${prefix}:entry:{${id}}`,
    idempotency: (workflow, key) => `${prefix}:idem:${workflow}:${key}`,
    workflow: (name) => `${prefix}:wf:${name}`,
    workflowIndex: `${prefix}:wf-index`,
    runIndex: ({ workflow, status }) =>
      `${runIndexPrefix}:${workflow ? `wf:${workflow}` : 'all'}:${status ? `st:${status}` : 'any'}`,
    runIndexPrefix,
    events: `${prefix}:events`,
    workerHeartbeats: `${prefix}:workers`,
  };
}
