/**
 * The keyspace: every Redis key (and pub/sub channel) stageflow uses is built here and nowhere
 * else. Lua scripts receive every key they touch in KEYS, built by this module; no script and no
 * other module concatenates a key.
 *
 * Keys are grouped by where they may live on Redis Cluster (docs/partitions.md):
 *
 * - **partition** (`partition(p)`: run indexes, outbox, BullMQ queues, reconciler lock): a
 *   deployment has `partitions` partitions, each one hash tag (partition-tags.ts); everything a
 *   run transition touches carries its partition's tag, so every transition is one script in one
 *   slot. Layout `<prefix>:{<tag>}:<kind>:<id>`.
 * - **run** (`run`, `history`, `answers`): in the partition of the run, which its id names
 *   (partitionOfRunId), so a run's keys are derived from its id alone.
 * - **entries** (`entry`, `entryEffects`, `entryRuns`): in the entry's partition
 *   (partitionOfEntry: a run's own entry shares the run's); runs sharing an entry are created there.
 * - **idempotency** (`idempotency(p, …)`): in the partition the start chose (run-service.ts).
 * - **global** (`workflow*`, `dataflow*`, `template*`, `linkSecret`, `operation*`, the operations
 *   queue): one tag of their own, `<prefix>:{g}:…`, never mixed into a partition's script.
 * - **people, notifications, process** (`tasks`, `inbox`, `notifySent`, `document`, `usedLink`,
 *   `workerHeartbeats`, `rateLimitPrefix`, `authFailures`, `authFailing`): single-key commands,
 *   each key in its own slot; no MULTI or script mixes them (inboxes share a `{u:<user>}` tag per
 *   user).
 */
import { partitionOfEntry as entryPartition, partitionOfRunId, partitionTags } from './partition-tags.ts';
import type { RunStatus } from './types.ts';

export interface Keyspace {
  prefix: string;
  /** How many partitions the deployment has (STAGEFLOW_PARTITIONS, fixed at creation). */
  partitions: number;
  /** The partition a run lives in, from its id. */
  partitionOf(runId: string): number;
  /** The partition an entry (and every run using it) lives in. */
  partitionOfEntry(entryId: string): number;
  /** The keys of partition p (0 ≤ p < partitions). */
  partition(p: number): PartitionKeys;

  // ---- run (in its partition) ----
  run(runId: string): string;
  history(runId: string): string;
  /** Answers given to the confirmation a run waits on at `seq`. */
  answers(runId: string, seq: number): string;

  // ---- entries (in the entry's partition) ----
  entry(entryId: string): string;
  /** Effect keys that already saved into the entry, with the version each wrote. */
  entryEffects(entryId: string): string;
  /** Runs that use an entry (time-ordered run ids). */
  entryRuns(entryId: string): string;

  // ---- idempotency (in the partition the start chose) ----
  idempotency(partition: number, workflow: string, key: string): string;

  // ---- global registries ({g}) ----
  /** BullMQ prefix of the global queues (operations). */
  globalBullPrefix: string;
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
  /** The shared secret for signed links when none is configured. */
  linkSecret: string;
  /** The deployment's fixed facts (partition count, layout version), checked at start-up. */
  meta: string;

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

  // ---- process ----
  /** Pub/sub channel announcing `<runId> <status>` on every status change. */
  events: string;
  /** Pub/sub channel naming a workflow that gained a version (per-process caches drop it). */
  workflowSaved: string;
  /** Pub/sub channel announcing `<ttlMs> <address>` on each failed authentication (per-process blocked lists). */
  authFailed: string;
  workerHeartbeats: string;
  /** Prefix of the per-principal request counters (rate-limit-redis adds the principal). */
  rateLimitPrefix: string;
  /** Failed-authentication counter of one client address. */
  authFailures(address: string): string;
  /** Sorted set of the addresses with a failure window open (score: the window's end, ms), read when a process (re)subscribes. */
  authFailing: string;
  /**
   * The key an acknowledgement writes just before its WAIT (replication.ts): in `key`'s hash tag,
   * so on the primary that holds `key`. One per tag, overwritten each time, expiring a minute after.
   */
  ackMarker(key: string): string;
}

/** The keys of one partition: all share its hash tag, so a script may touch any of them. */
export interface PartitionKeys {
  index: number;
  tag: string;
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
  /** Runs of this partition that reached an end someone must hear of (callback, parent run). */
  outbox: string;
  /** BullMQ prefix of the partition's queues (`steps`, `events`). */
  bullPrefix: string;
  /** A queue's keys as BullMQ builds them (`queue.keys`), for scripts that add its jobs. */
  queue(name: string): QueueKeys;
  /** Held by the one process reconciling this partition. */
  reconcilerLock: string;
}

/** The keys of one BullMQ queue, in the order BullMQ's addStandardJob script takes them. */
export interface QueueKeys {
  /** `queue.keys['']`: BullMQ builds a job's own key from it, inside its script. */
  prefix: string;
  /** wait, paused, meta, id, completed, delayed, active, events, marker. */
  readonly add: readonly string[];
  /** The queue's job id counter: the one add key a finish's keys do not hold (commit-and-finish-step.lua). */
  id: string;
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

/** The partition count a deployment gets unless STAGEFLOW_PARTITIONS says otherwise. */
export const DEFAULT_PARTITIONS = 12;

export function createKeyspace(prefix: string, partitions: number = DEFAULT_PARTITIONS): Keyspace {
  const tags = partitionTags(partitions);
  const parts: PartitionKeys[] = tags.map((tag, index) => {
    const base = `${prefix}:{${tag}}`;
    const queues = new Map<string, QueueKeys>();
    const runIndex = ({ workflow, status }: { workflow?: string; status?: string }) =>
      `${base}:runs:${workflow ? `wf:${workflow}` : 'all'}:${status ? `st:${status}` : 'any'}`;
    return {
      index,
      tag,
      runIndex,
      statusIndexes: (workflow, status) => [runIndex({ status }), runIndex({ workflow, status })],
      anyIndexes: (workflow) => [runIndex({}), runIndex({ workflow })],
      positionIndex: (workflow) => `${base}:runs:wf:${workflow}:at`,
      outbox: `${base}:outbox`,
      bullPrefix: base,
      queue: (name) => {
        // Asked on every step's commit, and a queue's keys never change: built once per name.
        let keys = queues.get(name);
        if (!keys) {
          // As BullMQ's QueueKeys.toKey builds them: `<prefix>:<queue>:<type>`.
          const q = `${base}:${name}:`;
          keys = { prefix: q, add: ADD_KEYS.map((k) => `${q}${k}`), id: `${q}id` };
          queues.set(name, keys);
        }
        return keys;
      },
      reconcilerLock: `${base}:reconciler-lock`,
    };
  });
  const partitionOf = (runId: string) => partitionOfRunId(runId, partitions);
  const partitionOfEntry = (entryId: string) => entryPartition(entryId, partitions);
  const partition = (p: number): PartitionKeys => {
    const keys = parts[p];
    if (!keys) throw new RangeError(`partition ${p} is not in 0..${partitions - 1}`);
    return keys;
  };
  const runBase = (id: string) => `${partition(partitionOf(id)).bullPrefix}:run:${id}`;
  const entryBase = (id: string) => `${partition(partitionOfEntry(id)).bullPrefix}:entry:${id}`;
  const g = `${prefix}:{g}`;
  return {
    prefix,
    partitions,
    partitionOf,
    partitionOfEntry,
    partition,

    run: (id) => runBase(id),
    history: (id) => `${runBase(id)}:history`,
    answers: (id, seq) => `${runBase(id)}:answers:${seq}`,

    entry: (id) => entryBase(id),
    entryEffects: (id) => `${entryBase(id)}:effects`,
    entryRuns: (id) => `${entryBase(id)}:runs`,

    idempotency: (p, workflow, key) => `${partition(p).bullPrefix}:idem:${workflow}:${key}`,

    globalBullPrefix: g,
    workflow: (name) => `${g}:wf:${name}`,
    workflowIndex: `${g}:wf-index`,
    dataflow: (name) => `${g}:dataflow:${name}`,
    dataflowIndex: `${g}:dataflow-index`,
    template: (name) => `${g}:tpl:${name}`,
    templateIndex: `${g}:tpl-index`,
    templateFile: (name) => `${g}:tpl-file:${name}`,
    operation: (id) => {
      const base = `${prefix}:op:{${id}}`;
      return { hash: base, ids: `${base}:ids`, results: `${base}:results`, errors: `${base}:errors` };
    },
    operationIdempotency: (principal, key) => `${prefix}:op-idem:${encodeURIComponent(principal)}:${key}`,
    linkSecret: `${g}:link-secret`,
    meta: `${g}:meta`,

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

    events: `${prefix}:events`,
    workflowSaved: `${prefix}:workflow-saved`,
    authFailed: `${prefix}:auth-failed`,
    workerHeartbeats: `${prefix}:workers`,
    rateLimitPrefix: `${prefix}:ratelimit:`,
    authFailures: (address) => `${prefix}:authfail:${address}`,
    authFailing: `${prefix}:auth-failing`,
    ackMarker: (key) => {
      // Redis Cluster's rule: the first `{…}` with something inside decides the slot.
      const tag = /\{[^}]+\}/.exec(key)?.[0];
      if (!tag) throw new Error(`stageflow: ${key} has no hash tag to acknowledge it by`);
      return `${prefix}:${tag}:ack`;
    },
  };
}
