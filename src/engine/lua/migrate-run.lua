--[[
  migrate-run: Moves a run to another version of its workflow (the `version` field), fenced on the seq the
  migration judged it at.

  From: running, waiting, draft, failed   To: unchanged   seq: none
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true, waiting = true, draft = true, failed = true }, 'none')
