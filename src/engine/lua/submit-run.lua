--[[
  submit-run: Submits a draft: it starts again at the first step (or completes at once when there is none),
  with a fresh transition budget.

  From: draft   To: running | completed   seq: restart
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ draft = true }, 'restart')
