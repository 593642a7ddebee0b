/**
 * The keyspace: every Redis key (and pub/sub channel) stageflow uses is built here and nowhere
 * else. Lua scripts receive every key they touch in KEYS, built by this module; no script and no
 * other module concatenates a key.
 *
 * Keys are grouped by what they belong to, because that is what decides where they may live on
 * Redis Cluster (issue #12 puts a run, its indexes, the outbox and its BullMQ queue under one hash
 * tag per partition; that change is meant to touch only this module's layout):
 *
 * - **run** (`run`, `history`, `answers`): one run's own state. Share the `{runId}` hash tag so a
 *   transition on a run's own state touches one slot.
 * - **run indexes** (`runIndex`, `statusIndexes`, `anyIndexes`, `positionIndex`, `entryRuns`,
 *   `outbox`): what a run transition keeps in step with the run. Today under the plain prefix;
 *   with partitions they move under the partition's tag, beside the runs they index.
 * - **entries** (`entry`, `entryEffects`): a model saved across runs, tagged `{entryId}`.
 * - **queues** (`bullPrefix`, `queue`): BullMQ's keys, hash-tagged `{bull}` as BullMQ needs on
 *   Cluster. `queue(name)` gives the keys our scripts pass to BullMQ's own add script.
 * - **global registries** (`workflow*`, `dataflow*`, `template*`, `idempotency`, `operation*`):
 *   definitions and request ledgers read by any node; not tied to one run.
 * - **people and notifications** (`tasks`, `inbox`, `notifySent`, `document`, `usedLink`,
 *   `linkSecret`): inboxes share a `{u:<user>}` tag per user.
 * - **process** (`events`, `workerHeartbeats`, `reconcilerLock`, `rateLimitPrefix`,
 *   `authFailures`): coordination between processes and API guards.
 */
import type { RunStatus } from './types.ts';

export interface Keyspace {
  prefix: string;

  // ---- run ----
  run(runId: string): string;
  history(runId: string): string;
  /** Answers given to the confirmation a run waits on at `seq`. */
  answers(runId: string, seq: number): string;

  // ---- run indexes ----
  /** Run index: all runs, or by workflow and/or status; members are time-ordered run ids. */
  runIndex(filter: { workflow?: string; status?: string }): string;
  /** The two status indexes a run in `status` belongs to: all runs, and its workflow's. */
  statusIndexes(workflow: string, status: RunStatus): [all: string, ofWorkflow: string];
  /** The two any-status indexes every run belongs to: all runs, and its workflow's. */
  anyIndexes(workflow: string): [all: string, ofWorkflow: string];
  /**
   * Where a workflow's runs are: one zset, members `<stepId> <runId>` (score 0), so the runs at
   * one step are a lex range and a step change is a ZREM + ZADD within one key.
   */
  positionIndex(workflow: string): string;
  /** Runs that use an entry (time-ordered run ids). */
  entryRuns(entryId: string): string;
  /** Runs that reached an end someone must hear of (callback, parent run). */
  outbox: string;

  // ---- entries ----
  entry(entryId: string): string;
  /** Effect keys that already saved into the entry, with the version each wrote. */
  entryEffects(entryId: string): string;

  // ---- queues ----
  /** BullMQ prefix: the queue keys live under it (hash-tagged, as BullMQ needs on Cluster). */
  bullPrefix: string;
  /** A queue's keys as BullMQ builds them (`queue.keys`), for scripts that add its jobs. */
  queue(name: string): QueueKeys;

  // ---- global registries ----
  idempotency(workflow: string, key: string): string;
  workflow(name: string): string;
  workflowIndex: string;
  dataflow(name: string): string;
  dataflowIndex: string;
  /** A stored message template, and the set of template names. */
  template(name: string): string;
  templateIndex: string;
  /** The uploaded file of a document template (docx, xlsx, pdf definition). */
  templateFile(name: string): string;
  /** A bulk operation (src/engine/operations.ts): its hash, run snapshot, results, idempotency. */
  operation(id: string): { hash: string; ids: string; results: string; errors: string };
  operationIdempotency(principal: string, key: string): string;

  // ---- people and notifications ----
  /** Open confirmation tasks routed to a user id or `role:<name>`. */
  tasks(ref: string): string;
  /** A user's in-app inbox (src/notify/inbox.ts); its keys share the `{u:<user>}` hash tag. */
  inbox(userId: string): InboxKeys;
  /** Sent-ledger entry of one notification delivery; `digest` hashes channel, effect key and recipient. */
  notifySent(digest: string): string;
  /** A document rendered for one effect key (src/notify/documents.ts); `id` hashes the effect key. */
  document(id: string): string;
  /** Confirmation links already used. */
  usedLink(id: string): string;
  /** The shared secret for signed links when none is configured. */
  linkSecret: string;

  // ---- process ----
  /** Pub/sub channel announcing `<runId> <status>` on every status change. */
  events: string;
  workerHeartbeats: string;
  reconcilerLock: string;
  /** Prefix of the per-principal request counters (rate-limit-redis adds the principal). */
  rateLimitPrefix: string;
  /** Failed-authentication counter of one client address. */
  authFailures(address: string): string;
}

/** The keys of one BullMQ queue, in the order BullMQ's addStandardJob script takes them. */
export interface QueueKeys {
  /** `queue.keys['']`: BullMQ builds a job's own key from it, inside its script. */
  prefix: string;
  /** wait, paused, meta, id, completed, delayed, active, events, marker. */
  add: string[];
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

const ADD_KEYS = ['wait', 'paused', 'meta', 'id', 'completed', 'delayed', 'active', 'events', 'marker'] as const;

export function createKeyspace(prefix: string): Keyspace {
  const runIndexPrefix = `${prefix}:runs`;
  const runIndex = ({ workflow, status }: { workflow?: string; status?: string }) =>
    `${runIndexPrefix}:${workflow ? `wf:${workflow}` : 'all'}:${status ? `st:${status}` : 'any'}`;
  const bullPrefix = `${prefix}:{bull}`;
  return {
    prefix,
    run: (id) => `${prefix}:run:{${id}}`,
    history: (id) => `${prefix}:run:{${id}}:history`,
    answers: (id, seq) => `${prefix}:run:{${id}}:answers:${seq}`,

    runIndex,
    statusIndexes: (workflow, status) => [runIndex({ status }), runIndex({ workflow, status })],
    anyIndexes: (workflow) => [runIndex({}), runIndex({ workflow })],
    positionIndex: (workflow) => `${runIndexPrefix}:wf:${workflow}:at`,
    entryRuns: (entryId) => `${runIndexPrefix}:entry:${entryId}`,
    outbox: `${runIndexPrefix}:outbox`,

    entry: (id) => `${prefix}:entry:{${id}}`,
    entryEffects: (id) => `${prefix}:entry:{${id}}:effects`,

    bullPrefix,
    queue: (name) => {
      // As BullMQ's QueueKeys.toKey builds them: `<prefix>:<queue>:<type>`.
      const base = `${bullPrefix}:${name}:`;
      return { prefix: base, add: ADD_KEYS.map((k) => `${base}${k}`) };
    },

    idempotency: (workflow, key) => `${prefix}:idem:${workflow}:${key}`,
    workflow: (name) => `${prefix}:wf:${name}`,
    workflowIndex: `${prefix}:wf-index`,
    dataflow: (name) => `${prefix}:dataflow:${name}`,
    dataflowIndex: `${prefix}:dataflow-index`,
    template: (name) => `${prefix}:tpl:${name}`,
    templateIndex: `${prefix}:tpl-index`,
    templateFile: (name) => `${prefix}:tpl-file:${name}`,
    operation: (id) => {
      const base = `${prefix}:op:{${id}}`;
      return { hash: base, ids: `${base}:ids`, results: `${base}:results`, errors: `${base}:errors` };
    },
    operationIdempotency: (principal, key) => `${prefix}:op-idem:${encodeURIComponent(principal)}:${key}`,

    tasks: (ref) => `${prefix}:tasks:${ref}`,
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
    document: (id) => `${prefix}:doc:${id}`,
    usedLink: (id) => `${prefix}:link-used:${id}`,
    linkSecret: `${prefix}:link-secret`,

    events: `${prefix}:events`,
    workerHeartbeats: `${prefix}:workers`,
    reconcilerLock: `${prefix}:reconciler-lock`,
    rateLimitPrefix: `${prefix}:ratelimit:`,
    authFailures: (address) => `${prefix}:authfail:${address}`,
  };
}
