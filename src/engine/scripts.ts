/**
 * Loads the Lua transitions in ./lua (one file per transition, as BullMQ does) onto an ioredis
 * connection. `includes.lua` holds helpers shared by the scripts that change a run's status,
 * and relies on BullMQ's add script, which comes first (see bullmq-add.ts). The scripts that
 * finish a step's job also get BullMQ's finish script (see bullmq-finish.ts).
 */
import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from './redis.ts';
import { addStandardJobLua } from './bullmq-add.ts';
import { moveToFinishedLua } from './bullmq-finish.ts';

const dir = new URL('./lua/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), 'utf8');

/** Keys of every fenced run verb: run, history, position, outbox, 9 queue keys, then status index pairs (includes.lua). */
const FENCED = { keys: -1, withIncludes: true } as const;

const scripts = {
  createRun: { keys: 20, withIncludes: true, file: 'create-run.lua' },
  commitStep: { ...FENCED, file: 'commit-step.lua' },
  /** commit-step's keys and arguments, then BullMQ's moveToFinished's (14 keys, 9 arguments). */
  commitAndFinishStep: { ...FENCED, withFinish: true, file: 'commit-and-finish-step.lua' },
  finishJob: { keys: 14, withIncludes: false, withFinish: true, file: 'finish-job.lua' },
  recordFailedAttempt: { ...FENCED, file: 'record-failed-attempt.lua' },
  failRun: { ...FENCED, file: 'fail-run.lua' },
  resumeWait: { ...FENCED, file: 'resume-wait.lua' },
  recordReminder: { ...FENCED, file: 'record-reminder.lua' },
  cancelRun: { ...FENCED, file: 'cancel-run.lua' },
  retryRun: { ...FENCED, file: 'retry-run.lua' },
  submitRun: { ...FENCED, file: 'submit-run.lua' },
  repairRun: { ...FENCED, file: 'repair-run.lua' },
  migrateRun: { ...FENCED, file: 'migrate-run.lua' },
  recordWaitAnswer: { keys: 3, withIncludes: false, file: 'record-wait-answer.lua' },
  saveEntry: { keys: 2, withIncludes: false, file: 'save-entry.lua' },
  saveWorkflow: { keys: 2, withIncludes: false, file: 'save-workflow.lua' },
} as const;

export type ScriptName = keyof typeof scripts;
type Arg = string | number | Buffer;

export interface Scripts {
  run(name: ScriptName, keys: string[], args: Arg[]): Promise<unknown>;
}

let sources: Record<ScriptName, string> | undefined;
function loadSources(): Record<ScriptName, string> {
  if (!sources) {
    const includes = addStandardJobLua + read('includes.lua');
    const out = {} as Record<ScriptName, string>;
    for (const [name, s] of Object.entries(scripts) as [ScriptName, (typeof scripts)[ScriptName]][]) {
      const finish = 'withFinish' in s && s.withFinish ? moveToFinishedLua : '';
      out[name] = finish + (s.withIncludes ? `${includes}\n` : '') + read(s.file);
    }
    sources = out;
  }
  return sources;
}

export function loadScripts(redis: Redis): Scripts {
  const src = loadSources();
  for (const name of Object.keys(scripts) as ScriptName[]) {
    // A fenced verb takes a variable number of status index keys, so its key count travels with each call.
    const keys = scripts[name].keys;
    redis.defineCommand(`sf_${name}`, keys < 0 ? { lua: src[name] } : { numberOfKeys: keys, lua: src[name] });
  }
  // defineCommand adds methods at run time; this is the one place that reaches for them.
  const commands = redis as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>;
  return {
    run: (name, keys, args) =>
      scripts[name].keys < 0
        ? commands[`sf_${name}`]!.call(redis, keys.length, ...keys, ...args)
        : commands[`sf_${name}`]!.call(redis, ...keys, ...args),
  };
}
