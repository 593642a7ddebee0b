--[[
  record-reminder: Records that the recipients of a waiting run's confirmation were reminded, at the seq the
  run waits at (history only).

  From: waiting   To: unchanged   seq: none
  KEYS and ARGV: the fenced layout documented at fencedTransition in includes.lua
  (run, history, position index, outbox, the step queue's 9 keys, then status index pairs).
  Returns {1, seq, from} | {-1} no run | {-2, seq, status} wrong status | {-3, seq, status} stale seq.
]]
return fencedTransition({ waiting = true }, 'none')
