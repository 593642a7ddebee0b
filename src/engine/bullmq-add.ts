/**
 * The one place that reaches into BullMQ's add, so a run's transition and the job of its next
 * step are written by one script call (docs/design-notes.md, "Commit and enqueue in one call").
 *
 * Our scripts run BullMQ's own `addStandardJob` script, wrapped as a Lua function, after a
 * transition applies (`addStepJob` in lua/includes.lua). Its documented input is the 9 queue keys,
 * a msgpacked argument array, the job data as JSON and msgpacked options. Our scripts hand it the
 * argument array and the options as Lua tables instead (its two `cmsgpack.unpack` reads take the
 * table, `takingTable`), so neither is packed for BullMQ's script to unpack again, and the call
 * from Node carries plain strings (ioredis writes an all-string command several µs faster than
 * one holding Buffers).
 *
 * bullmq is pinned to an exact version in package.json, and test/integration/bullmq-add.test.ts
 * proves a job added this way is the job `queue.add` makes, so an upgrade that changes the script's
 * interface fails there.
 */
import { addStandardJob } from 'bullmq/dist/esm/scripts/addStandardJob-9.js';
import { bullmqScriptAsFunction, takingTable } from './bullmq-lua.ts';

const ADD_KEYS = 9;
const SEE = 'src/engine/bullmq-add.ts';
/** The lines of BullMQ's add script that read its argument array (ARGV[1]) and options (ARGV[3]). */
const ARGS_READ = 'local args = cmsgpack.unpack(ARGV[1])';
const OPTIONS_READ = 'local opts = cmsgpack.unpack(ARGV[3])';

/** BullMQ's add script as a Lua function `bullmqAddStandardJob(KEYS, ARGV)`. */
export const addStandardJobLua = bullmqScriptAsFunction(
  'bullmqAddStandardJob',
  {
    ...addStandardJob,
    content: [ARGS_READ, OPTIONS_READ].reduce((content, line) => takingTable(content, line, SEE), addStandardJob.content),
  },
  ADD_KEYS,
  SEE,
);

/** A job for our scripts to add: id, name, timestamp, data JSON, options JSON. */
export type JobArgs = [jobId: string, name: string, timestamp: number, data: string, opts: string];

/** The arguments of a call that adds no job. */
export const NO_JOB: JobArgs = ['', '', 0, '', ''];

/**
 * A standard job (not delayed, prioritised, deduplicated or a child), with its data and options
 * already as JSON: BullMQ stores such options as given (it renames only flow and deduplication
 * options on the way in).
 */
export function jobArgs(jobId: string, name: string, dataJson: string, optsJson: string): JobArgs {
  return [jobId, name, Date.now(), dataJson, optsJson];
}
