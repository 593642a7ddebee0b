--[[
  resume-wait: Resumes a run parked on a wait at the seq it parked at: the wait's result written into the
  model, then the step's successor (with its job), completed, or failed (the wait's error).

  From: waiting   To: running | completed | failed   seq: advance
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ waiting = true }, 'advance')
