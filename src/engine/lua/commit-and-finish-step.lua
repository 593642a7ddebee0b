--[[
  commit-and-finish-step: commit-step and BullMQ's own finish of the step's job in one call, so a
  committed step costs one round trip (docs/design-notes.md, "Commit and finish in one call").

  KEYS: the fenced layout of commit-step (fencedTransition in includes.lua), then BullMQ's 14
  moveToFinished keys (the job's queue: wait, active, …, completed, job, metrics, marker).
  ARGV: the fenced layout of commit-step, then moveToFinished's 9 arguments, as BullMQ's
  backend builds them but with its two msgpack arguments as JSON (bullmq-finish.ts, FinishCall). Every key is in the run's partition: its step queue's.

  The commit comes first and does not depend on the finish: seq fencing decides it, as when the
  two were separate calls, so a worker that lost the job's lock (it stalled and was taken over)
  still commits if its seq is current, and the copy redelivered finds a stale job. The finish runs
  whether or not the commit applied: a refused commit (stale seq, wrong status, missing run)
  still ends its job, as BullMQ would after a processor that returned.

  Returns {commit-step's result, moveToFinished's result (0, the next job, or its error code)}.
]]
local nk = #KEYS - 14
local na = #ARGV - 9
local finishKeys, finishArgs = {}, {}
for i = 1, 14 do finishKeys[i] = KEYS[nk + i] end
for i = 1, 9 do finishArgs[i] = ARGV[na + i] end
local committed = fencedTransition({ running = true }, 'advance', na)
return {committed, bullmqFinish(finishKeys, finishArgs)}
