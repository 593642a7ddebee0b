--[[
  retry-run: Retries a failed run from a step, with a fresh transition budget and the step's job.

  From: failed   To: running   seq: restart
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ failed = true }, 'restart')
