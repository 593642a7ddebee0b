--[[
  fail-run: Fails a running run at the seq its job was for: a step's final failure, a plan that lost
  its step, the transition limit, a model grown too large, an entry owned elsewhere, a job lost
  outside the handler.

  From: running   To: failed   seq: advance
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true }, 'advance')
