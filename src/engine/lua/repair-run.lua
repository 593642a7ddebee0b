--[[
  repair-run: Moves a running run whose step job was lost to the next seq with a fresh job of the same step;
  the lost job, should it come back, is a stale no-op.

  From: running   To: unchanged   seq: advance
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true }, 'advance')
