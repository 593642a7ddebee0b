--[[
  commit-step: Commits the step a running run just ran, at the seq its job was for: the model it wrote,
  the entry version it saved, and where the run goes (the next step with its job, completed,
  reset to draft, parked on a wait, or failed by the step's decision).

  From: running   To: running | completed | draft | waiting | failed   seq: advance
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ running = true }, 'advance')
