--[[
  cancel-run: Cancels a run that has not ended (or failed): any pending job becomes a stale no-op.

  From: running, waiting, draft, failed   To: cancelled   seq: advance
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true, waiting = true, draft = true, failed = true }, 'advance')
