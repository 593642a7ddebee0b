--[[
  record-failed-attempt: Records a step attempt that failed and will be retried (its history), at the seq the job
  was for; the run stays running at that seq, so BullMQ's retry of the same job is still current.

  From: running   To: unchanged   seq: none
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true }, 'none')
