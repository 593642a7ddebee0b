--[[
  commit-and-finish-step: commit-step and BullMQ's own finish of the step's job in one call, so a
  committed step costs one round trip (docs/design-notes.md, "Commit and finish in one call").

  KEYS: the fenced layout of commit-step (fencedTransition in includes.lua) but for the step
  queue's keys, of which only its id counter comes (KEYS[5]; status indexes from KEYS[6]), then
  BullMQ's 14 moveToFinished keys (the job's queue: wait, active, …, completed, job, metrics,
  marker). The successor's job goes to the same queue, so its add takes the other eight from the
  finish's keys: every key still arrives in KEYS, each once, and the call is eight arguments
  shorter (each costs Redis an object and a Lua string, and Node its encoding).
  ARGV: the fenced layout of commit-step, then moveToFinished's 9 arguments, as BullMQ's
  backend builds them but with its two msgpack arguments as JSON (bullmq-finish.ts, FinishCall). Every key is in the run's partition: its step queue's.

  The commit comes first and does not depend on the finish: seq fencing decides it, as when the
  two were separate calls, so a worker that lost the job's lock (it stalled and was taken over)
  still commits if its seq is current, and the copy redelivered finds a stale job. The finish runs
  whether or not the commit applied: a refused commit (stale seq, wrong status, missing run)
  still ends its job, as BullMQ would after a processor that returned.

  BullMQ marks its queue's marker ("0") whenever it adds a job and again whenever it hands one
  out, so that a blocked worker wakes to look for more. When the job this call hands out is the
  successor it just added, nothing is left to look for, yet every idle fetch of the queue wakes,
  finds nothing and blocks again: wasted round trips on every step of a lightly loaded queue. So
  the base marker is taken back when the queue has nothing waiting or prioritized (a later add
  sets it again; the delayed marker "1" is left alone), and the call says so, for the Worker to
  block on the marker rather than ask again (step-queue-worker.ts).

  Returns {commit-step's result, moveToFinished's result (0, the next job, or its error code),
  1 when nothing is left waiting after it, else 0}.
]]
local nk = #KEYS - 14
local na = #ARGV - 9
local finishKeys, finishArgs = {}, {}
for i = 1, 14 do finishKeys[i] = KEYS[nk + i] end
for i = 1, 9 do finishArgs[i] = ARGV[na + i] end
-- BullMQ's add keys (keyspace.ts ADD_KEYS order) out of its finish keys (moveToFinished's header).
local f = finishKeys
local queueKeys = { f[1], f[8], f[9], KEYS[5], f[11], f[7], f[2], f[4], f[14] }
local committed = fencedTransition({ running = true }, 'advance', na, queueKeys, 6)
local finished = bullmqFinish(finishKeys, finishArgs)
local dry = 0
if redis.call('LLEN', finishKeys[1]) == 0 and redis.call('ZCARD', finishKeys[3]) == 0 then
  redis.call('ZREM', finishKeys[14], '0')
  dry = 1
end
return {committed, finished, dry}
