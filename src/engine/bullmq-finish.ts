/**
 * The one place that reaches into BullMQ's finish, so a committed step is one Redis call: our
 * commit and BullMQ's own moveToFinished for the step's job run in one script
 * (docs/design-notes.md, "Commit and finish in one call").
 *
 * Our combined script (lua/commit-and-finish-step.lua) runs BullMQ's moveToFinished script as
 * BullMQ ships it, wrapped as a Lua function as addStandardJob is (bullmq-add.ts). Everything on
 * the Node side stays BullMQ's: its backend's own moveToCompleted builds the arguments (the 14
 * queue keys, job id, timestamp, return value, fetch-next flag, the worker's options msgpacked)
 * and reads the result (finishedErrors, raw2NextJobData); the Worker emits 'completed' and takes
 * the next job returned. `foldFinish` changes only the command that one call sends: for one job,
 * backend.moveToCompleted runs with an execCommand that sends our script instead of BullMQ's.
 *
 * bullmq is pinned to an exact version in package.json; `assertFinishInterface` fails loudly at
 * start when the pinned version's key count or backend interface moved, and
 * test/integration/bullmq-finish.test.ts proves a job finished this way is the job BullMQ's own
 * finish leaves.
 */
import type { Job, Worker } from 'bullmq';
import { moveToFinished } from 'bullmq/dist/esm/scripts/moveToFinished-14.js';
import { unpack } from 'msgpackr';
import { bullmqScriptAsFunction, takingTable } from './bullmq-lua.ts';

/** moveToFinished's keys and ARGV in BullMQ 6.7.0 (its header in moveToFinished-14.js). */
export const FINISH_KEYS = 14;
export const FINISH_ARGS = 9;
/** ARGV[7] of moveToFinished: the queue's key prefix (`queue.keys['']`). */
const PREFIX_ARG = 6;
/** ARGV[8] and ARGV[9]: the worker's options and the fields to update, msgpacked by BullMQ. */
const OPTIONS_ARG = 7;
const FIELDS_ARG = 8;

/**
 * The line of BullMQ's finish script that reads its options. Ours arrive as JSON (FinishCall), and
 * packing them into msgpack only for BullMQ's script to unpack again cost 32k of a step's Redis
 * instructions (cmsgpack.pack 15k, unpack 17k, counted under callgrind), so its script takes the
 * table (takingTable).
 */
const OPTIONS_READ = 'local opts = cmsgpack.unpack(ARGV[8])';

/**
 * BullMQ's finish script as a Lua function `bullmqMoveToFinished(KEYS, ARGV)`, and
 * `bullmqFinish(keys, argv)`, which takes a FinishCall's arguments (ARGV[8] and ARGV[9] as JSON)
 * and hands BullMQ's script its options as a table and its fields as the msgpack it reads.
 */
export const moveToFinishedLua = `${bullmqScriptAsFunction(
  'bullmqMoveToFinished',
  { ...moveToFinished, content: takingTable(moveToFinished.content, OPTIONS_READ, 'src/engine/bullmq-finish.ts') },
  FINISH_KEYS,
  'src/engine/bullmq-finish.ts',
)}
local function bullmqFinish(keys, argv)
  local a = {}
  for i = 1, ${FINISH_ARGS} do a[i] = argv[i] end
  a[${OPTIONS_ARG + 1}] = cjson.decode(a[${OPTIONS_ARG + 1}])
  if a[${FIELDS_ARG + 1}] ~= '' then a[${FIELDS_ARG + 1}] = cmsgpack.pack(cjson.decode(a[${FIELDS_ARG + 1}])) end
  return bullmqMoveToFinished(keys, a)
end
`;

/**
 * One job's finish as BullMQ builds it: moveToFinished's keys and ARGV, except that ARGV[8] and
 * ARGV[9] (msgpack) arrive as JSON, which our scripts turn back into what BullMQ's script reads
 * (`bullmqFinish`, above). One binary argument makes ioredis encode every argument of the call
 * into its own buffer; all strings, it writes the call as one string, and the commit's call has
 * 60-odd arguments (docs/design-notes.md, "Commit and finish in one call").
 */
export interface FinishCall {
  keys: string[];
  args: (string | number)[];
  /** The queue's key prefix the job lives under (ARGV[7]); a fold is only safe within it. */
  prefix: string;
}

/**
 * Runs a job's finish together with something of ours in one call: moveToFinished's raw result,
 * and whether the job's queue was left with nothing waiting (its marker taken back).
 */
export type FoldedFinish = (finish: FinishCall) => Promise<{ result: unknown; ranDry: boolean }>;

/** The part of BullMQ's RedisQueueBackend (6.7.0) the fold relies on. */
interface FinishBackend {
  moveToFinishedKeys: unknown[];
  moveToCompleted(...args: unknown[]): Promise<unknown>;
  moveToCompletedArgs(...args: unknown[]): unknown[];
  moveToFinished(...args: unknown[]): Promise<unknown>;
  finishedErrors(...args: unknown[]): Error;
  execCommand(client: unknown, command: string, args: unknown[]): Promise<unknown>;
}

const USED = ['moveToCompleted', 'moveToCompletedArgs', 'moveToFinished', 'finishedErrors', 'execCommand'] as const;

function backendOf(holder: Job | Worker): FinishBackend {
  return (holder as unknown as { backend: FinishBackend }).backend;
}

/** Fails at start, not at the first step, when the pinned BullMQ's finish is not the one this file folds. */
export function assertFinishInterface(worker: Worker): void {
  const b = backendOf(worker);
  const missing = USED.filter((m) => typeof b?.[m] !== 'function');
  if (missing.length || b.moveToFinishedKeys?.length !== FINISH_KEYS) {
    throw new Error(
      `bullmq's backend no longer finishes jobs as stageflow folds it (${missing.join(', ') || `${b.moveToFinishedKeys?.length} keys`}); see src/engine/bullmq-finish.ts`,
    );
  }
}

/**
 * Makes the Worker's own completion of `job` (Job.moveToCompleted → backend.moveToCompleted) run
 * `folded` with BullMQ's moveToFinished arguments instead of BullMQ's script alone. Only that
 * call changes: the job's backend is an object over the Worker's whose moveToCompleted is
 * BullMQ's, run against an execCommand that sends ours; a failure, a retry, a move back to wait
 * and every other job go through the Worker's backend untouched. `ranDry` hears of a finish
 * that left the queue with nothing waiting, with the id of the job it handed out, if any.
 */
export function foldFinish(job: Job, folded: FoldedFinish, ranDry?: (nextJobId: string | undefined) => void): void {
  const real = backendOf(job);
  const sending = Object.create(real) as FinishBackend;
  sending.execCommand = (client, command, all) => {
    if (command !== 'moveToFinished') return real.execCommand(client, command, all);
    if (all.length > FINISH_KEYS + FINISH_ARGS) throw new Error(`stageflow: bullmq's moveToFinished now takes ${all.length} arguments`);
    const keys = all.slice(0, FINISH_KEYS) as string[];
    // An absent ARGV[9] (no fields to update) is sent as '', which the script reads the same way.
    const args = Array.from({ length: FINISH_ARGS }, (_, i) => asText(all[FINISH_KEYS + i], i));
    return folded({ keys, args, prefix: String(args[PREFIX_ARG]) }).then((out) => {
      // moveToFinished's result is [job fields, job id, …] when it handed out the next job.
      if (out.ranDry) ranDry?.(Array.isArray(out.result) && typeof out.result[1] === 'string' ? out.result[1] : undefined);
      return out.result;
    });
  };
  const backend = Object.create(real) as FinishBackend;
  backend.moveToCompleted = (...a) => real.moveToCompleted.apply(sending, a);
  (job as unknown as { backend: FinishBackend }).backend = backend;
}

/** An argument as text: msgpack as its JSON (nils dropped; Lua reads a missing field as nil too). */
function asText(arg: unknown, index: number): string | number {
  if (arg === undefined || arg === '') return '';
  if (index !== OPTIONS_ARG && index !== FIELDS_ARG) return arg as string | number;
  if (!Buffer.isBuffer(arg)) throw new Error(`stageflow: bullmq's moveToFinished no longer msgpacks this argument (${typeof arg})`);
  const packed = arg.toString('latin1');
  let json = asJson.get(packed);
  if (json === undefined) {
    json = JSON.stringify(unpack(arg), (_k, v) => (v === null ? undefined : v));
    if (asJson.size >= MAX_AS_JSON) asJson.clear();
    asJson.set(packed, json);
  }
  return json;
}

/**
 * The finish options BullMQ packs differ between a Worker's finishes only by the token of the
 * slot that holds the job, and a slot keeps its token while its finishes hand it the next job:
 * the same few hundred buffers recur, so each is decoded once, not on every step (the decoding
 * was 6 µs of a step's Node CPU, with its garbage). Bounded, as tokens do change.
 */
const asJson = new Map<string, string>();
const MAX_AS_JSON = 4096;
