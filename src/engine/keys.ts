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
  /** Answers given to the confirmation a run waits on at `seq`. */
  answers(runId: string, seq: number): string;
  /** Open confirmation tasks routed to a user id or `role:<name>`. */
  tasks(ref: string): string;
  /** Runs that reached an end someone must hear of (callback, parent run). */
  outbox: string;
  /** Confirmation links already used. */
  usedLink(id: string): string;
  /** The shared secret for signed links when none is configured. */
  linkSecret: string;
  entry(entryId: string): string;
  /** Effect keys that already saved into the entry, with the version each wrote. */
  entryEffects(entryId: string): string;
  idempotency(workflow: string, key: string): string;
  workflow(name: string): string;
  workflowIndex: string;
  /** Run index: all runs, or by workflow and/or status; members are time-ordered run ids. */
  runIndex(filter: { workflow?: string; status?: string }): string;
  /** Prefix handed to Lua so it can move a run between status indexes. */
  runIndexPrefix: string;
  /**
   * Where a workflow's runs are: one zset, members `<stepId> <runId>` (score 0), so the runs at
   * one step are a lex range and a step change is a ZREM + ZADD within one key.
   */
  positionIndex(workflow: string): string;
  /** Runs that use an entry (time-ordered run ids). */
  entryRuns(entryId: string): string;
  /** A bulk operation (src/engine/operations.ts): its hash, run snapshot, results, idempotency. */
  operation(id: string): { hash: string; ids: string; results: string; errors: string };
  operationIdempotency(principal: string, key: string): string;
  events: string;
  workerHeartbeats: string;
  /** A user's in-app inbox (src/notify/inbox.ts); its keys share the `{u:<user>}` hash tag. */
  inbox(userId: string): InboxKeys;
  /** Sent-ledger entry of one notification delivery; `digest` hashes channel, effect key and recipient. */
  notifySent(digest: string): string;
  /** A stored message template, and the set of template names. */
  template(name: string): string;
  templateIndex: string;
  /** The uploaded file of a document template (docx, xlsx, pdf definition). */
  templateFile(name: string): string;
  /** A document rendered for one effect key (src/notify/documents.ts); `id` hashes the effect key. */
  document(id: string): string;
}

export interface InboxKeys {
  /** LIST of item ids, newest first. */
  list: string;
  /** HASH item id → item JSON. */
  items: string;
  /** SET of unread item ids. */
  unread: string;
  /** Marker that the item with this id was added (the effect-key ledger; outlives trimming). */
  added(itemId: string): string;
  /** Pub/sub channel announcing the user's new items. */
  live: string;
}

export function createKeys(prefix: string): Keys {
  const runIndexPrefix = `${prefix}:runs`;
  return {
    prefix,
    bullPrefix: `${prefix}:{bull}`,
    run: (id) => `${prefix}:run:{${id}}`,
    history: (id) => `${prefix}:run:{${id}}:history`,
    answers: (id, seq) => `${prefix}:run:{${id}}:answers:${seq}`,
    tasks: (ref) => `${prefix}:tasks:${ref}`,
    outbox: `${runIndexPrefix}:outbox`,
    usedLink: (id) => `${prefix}:link-used:${id}`,
    linkSecret: `${prefix}:link-secret`,
    entry: (id) => `${prefix}:entry:{${id}}`,
    entryEffects: (id) => `${prefix}:entry:{${id}}:effects`,
    idempotency: (workflow, key) => `${prefix}:idem:${workflow}:${key}`,
    workflow: (name) => `${prefix}:wf:${name}`,
    workflowIndex: `${prefix}:wf-index`,
    runIndex: ({ workflow, status }) => `${runIndexPrefix}:${workflow ? `wf:${workflow}` : 'all'}:${status ? `st:${status}` : 'any'}`,
    runIndexPrefix,
    positionIndex: (workflow) => `${runIndexPrefix}:wf:${workflow}:at`,
    entryRuns: (entryId) => `${runIndexPrefix}:entry:${entryId}`,
    operation: (id) => {
      const base = `${prefix}:op:{${id}}`;
      return { hash: base, ids: `${base}:ids`, results: `${base}:results`, errors: `${base}:errors` };
    },
    operationIdempotency: (principal, key) => `${prefix}:op-idem:${encodeURIComponent(principal)}:${key}`,
    events: `${prefix}:events`,
    workerHeartbeats: `${prefix}:workers`,
    inbox: (userId) => {
      // Encoded so a user id holding `{`, `}` or `:` cannot change the hash tag or collide.
      const base = `${prefix}:inbox:{u:${encodeURIComponent(userId)}}`;
      return {
        list: `${base}:list`,
        items: `${base}:items`,
        unread: `${base}:unread`,
        added: (id) => `${base}:added:${id}`,
        live: `${base}:live`,
      };
    },
    notifySent: (digest) => `${prefix}:notify-sent:${digest}`,
    template: (name) => `${prefix}:tpl:${name}`,
    templateIndex: `${prefix}:tpl-index`,
    templateFile: (name) => `${prefix}:tpl-file:${name}`,
    document: (id) => `${prefix}:doc:${id}`,
  };
}
