--[[
  The one way a run's state changes after creation: a fenced transition. It applies only if the
  run is in one of the expected statuses and (when given) at the expected seq, so a stale or
  duplicate job, a racing answer, or an operator call that lost a race changes nothing.
  When it applies and a next step job is given, that job is added in the same call, so a run that
  moved on always has the job of its new step (BullMQ's own add, see bullmq-add.ts).

  KEYS[1] run  KEYS[2] history  KEYS[3] the run's workflow's position index (keys.ts)
  ARGV[1] expected statuses, comma separated   ARGV[2] expected seq ('' = any)
  ARGV[3] new status ('' = unchanged)           ARGV[4] '1' to advance seq and count a transition,
  '0' to leave both, 'restart' to advance seq and start counting again from 0 (retry, submit)
  ARGV[5] now (ms)  ARGV[6] index prefix  ARGV[7] events channel  ARGV[8] retention (s)
  ARGV[9] step queue key prefix, ARGV[10..14] the next step job: id ('' = none), name,
  timestamp, data JSON, options JSON (see addStepJob)
  ARGV[15] n = number of field/value pairs to set, then ARGV[16 .. 15+2n] the pairs,
  then the history events (JSON objects, stamped with the resulting seq here).
  Returns {1, seq after, status before} | {0, current seq, current status} | {-1} when no run.
]]
local cur = redis.call('HMGET', KEYS[1], 'seq', 'status', 'workflow', 'id', 'transitions')
if not cur[1] then return {-1} end
local seq = tonumber(cur[1])
local status = cur[2]

local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == status then allowed = true end
end
if not allowed or (ARGV[2] ~= '' and tonumber(ARGV[2]) ~= seq) then
  return {0, seq, status}
end

local fields = {'updatedAt', ARGV[5]}
if ARGV[4] ~= '0' then
  seq = seq + 1
  fields[#fields + 1] = 'seq'
  fields[#fields + 1] = seq
  fields[#fields + 1] = 'transitions'
  -- MAX_TRANSITIONS counts since the run was last started, retried or submitted: an operator who
  -- retries a run the limit stopped gives it a fresh budget, in the same fenced write.
  fields[#fields + 1] = ARGV[4] == 'restart' and 0 or tonumber(cur[5] or '0') + 1
end
local n = tonumber(ARGV[15])
for i = 16, 15 + 2 * n do fields[#fields + 1] = ARGV[i] end
local newStatus = ARGV[3]
if newStatus ~= '' then
  fields[#fields + 1] = 'status'
  fields[#fields + 1] = newStatus
end
local stepBefore = redis.call('HGET', KEYS[1], 'stepId') or ''
redis.call('HSET', KEYS[1], unpack(fields))
movePosition(KEYS[3], ARGV[6], cur[3], cur[4], stepBefore, redis.call('HGET', KEYS[1], 'stepId') or '')

local events = {}
for i = 16 + 2 * n, #ARGV do events[#events + 1] = ARGV[i] end
pushHistory(KEYS[2], seq, events, 1)

if newStatus ~= '' then
  setStatus(KEYS[1], KEYS[2], ARGV[6], ARGV[7], ARGV[8], cur[4], cur[3], status, newStatus, seq, ARGV[5])
end
addStepJob(ARGV, 9)
return {1, seq, status}
