--[[
  finish-job: BullMQ's own moveToFinished alone (bullmq-finish.ts), for a job whose finish cannot
  share its commit's call (its queue is not its run's partition) and for the test that pins the
  wrapped script to BullMQ's.
  KEYS and ARGV: moveToFinished's 14 keys and 9 arguments (its two msgpack ones as JSON, FinishCall). Returns moveToFinished's result.
]]
return bullmqFinish(KEYS, ARGV)
