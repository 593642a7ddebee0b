-- Helpers shared by the scripts that change a run's status (create-run.lua and the fenced
-- verbs). Every key arrives in KEYS, built by src/engine/keyspace.ts; nothing here builds one.
-- BullMQ's add script (bullmqAddStandardJob) is prepended by scripts.ts.

-- Moves a run between the status indexes, applies retention, and tells listeners (?wait, pages).
-- fromIdx / toIdx are the {all runs, workflow's} index pair of each status (fromIdx nil on create).
local TERMINAL = { completed = true, failed = true, cancelled = true, draft = true }

local function setStatus(runKey, histKey, outboxKey, fromIdx, toIdx, channel, retentionSec, runId, to, seq, now)
  if fromIdx then
    redis.call('ZREM', fromIdx[1], runId)
    redis.call('ZREM', fromIdx[2], runId)
  end
  redis.call('ZADD', toIdx[1], 0, runId)
  redis.call('ZADD', toIdx[2], 0, runId)
  -- Runs that stopped moving expire after the retention period; a retried or submitted run is kept again.
  if to == 'running' or to == 'waiting' then
    redis.call('PERSIST', runKey)
    redis.call('PERSIST', histKey)
  else
    redis.call('EXPIRE', runKey, retentionSec)
    redis.call('EXPIRE', histKey, retentionSec)
  end
  redis.call('PUBLISH', channel, runId .. ' ' .. to)
  -- Outbox: whoever must hear of this end (a callback URL, a parent run) gets it through a job
  -- that the relay creates from this entry, so the notice is as durable as the transition itself.
  if TERMINAL[to] then
    local meta = redis.call('HMGET', runKey, 'callbackUrl', 'parent')
    if (meta[1] and meta[1] ~= '') or (meta[2] and meta[2] ~= '') then
      redis.call('ZADD', outboxKey, now, runId .. ' ' .. to .. ' ' .. seq)
    end
  end
end

-- History events arrive as JSON objects without their seq; stamp it here so it is the committed one.
local function pushHistory(histKey, seq, events, first)
  local stamped = {}
  for i = first, #events do
    stamped[#stamped + 1] = '{"seq":' .. seq .. ',' .. string.sub(events[i], 2)
  end
  if #stamped > 0 then redis.call('RPUSH', histKey, unpack(stamped)) end
end

-- Adds a step job with BullMQ's own script. queueKeys are the queue's 9 keys (keyspace.ts
-- `queue(name).add`); argv[a] is the queue's key prefix, from which BullMQ's script builds the
-- job's own key; argv[a+1 .. a+5] the job: id ('' = none), name, timestamp, data JSON, options JSON.
local function addStepJob(queueKeys, argv, a)
  local jobId = argv[a + 1]
  if jobId == '' then return end
  -- BullMQ's script takes its argument array and options as tables here (bullmq-add.ts).
  local added = bullmqAddStandardJob(queueKeys,
    {{argv[a], jobId, argv[a + 2], tonumber(argv[a + 3])}, argv[a + 4], cjson.decode(argv[a + 5])})
  -- Only a job with a parent can be refused (-5); ours have none, so this is a bug, said loudly.
  if type(added) == 'number' and added < 0 then error('stageflow: adding step job ' .. jobId .. ' failed with ' .. added) end
end

-- Keeps the position index (members `<stepId> <runId>`) in step with the run's current step.
local function movePosition(key, runId, from, to)
  if from == to then return end
  if from ~= '' then redis.call('ZREM', key, from .. ' ' .. runId) end
  if to ~= '' then redis.call('ZADD', key, 0, to .. ' ' .. runId) end
end

--[[
  The fenced transition core every run verb (one file each: commit-step.lua, cancel-run.lua, …)
  calls with the statuses it may start from and how it moves seq. It applies only if the run is
  in one of those statuses and (when given) at the expected seq, so a stale or duplicate job, a
  racing answer, or an operator call that lost a race changes nothing. When it applies and a next
  step job is given, that job is added in the same call (BullMQ's own add, see bullmq-add.ts).

  The layout of KEYS and ARGV is the same for every verb (RunTransitions.fenced builds it):
  KEYS[1] run  KEYS[2] history  KEYS[3] the run's workflow's position index  KEYS[4] outbox
  KEYS[5..13] the step queue's keys (wait, paused, meta, id, completed, delayed, active, events, marker)
  KEYS[14..] status indexes, two per status named in ARGV[12] (all runs, then the workflow's)
  ARGV[1] expected seq ('' = any)  ARGV[2] new status ('' = unchanged)  ARGV[3] now (ms)
  ARGV[4] events channel  ARGV[5] retention (s)  ARGV[6] step queue key prefix
  ARGV[7..11] the next step job: id ('' = none), name, timestamp, data JSON, options JSON
  ARGV[12] the statuses whose indexes are in KEYS[14..], comma separated
  ARGV[13] n = number of field/value pairs to set, ARGV[14 .. 13+2n] the pairs,
  then the history events (JSON objects, stamped with the resulting seq here), up to ARGV[argEnd]
  when given (a script that carries more arguments after them: commit-and-finish-step.lua).

  A script that holds the step queue's keys already (commit-and-finish-step.lua: BullMQ's finish
  keys name the same queue) passes them as `queueKeys`, and KEYS[5..] then start with the first
  key it does not hold: `firstIndexKey` is where the status indexes begin instead of KEYS[14].

  advance: 'none' leaves seq and the transition count; 'advance' bumps both; 'restart' bumps seq
  and counts transitions from 0 again (MAX_TRANSITIONS counts since the run was last started,
  retried or submitted: an operator who retries a run the limit stopped gives it a fresh budget).

  Returns {1, seq after, status before} applied | {-1} no run |
  {-2, current seq, current status} not in an expected status | {-3, current seq, current status} stale seq.
]]
local function fencedTransition(expect, advance, argEnd, queueKeys, firstIndexKey)
  local cur = redis.call('HMGET', KEYS[1], 'seq', 'status', 'id', 'transitions', 'stepId')
  if not cur[1] then return {-1} end
  local seq = tonumber(cur[1])
  local status = cur[2]
  if not expect[status] then return {-2, seq, status} end
  if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= seq then return {-3, seq, status} end
  if ARGV[7] ~= '' and advance == 'none' then error('stageflow: a transition that adds a job must advance seq') end

  local fields = {'updatedAt', ARGV[3]}
  if advance ~= 'none' then
    seq = seq + 1
    fields[#fields + 1] = 'seq'
    fields[#fields + 1] = seq
    fields[#fields + 1] = 'transitions'
    fields[#fields + 1] = advance == 'restart' and 0 or tonumber(cur[4] or '0') + 1
  end
  local n = tonumber(ARGV[13])
  local stepBefore = cur[5] or ''
  local stepAfter = stepBefore
  for i = 14, 13 + 2 * n, 2 do
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
    if ARGV[i] == 'stepId' then stepAfter = ARGV[i + 1] end
  end
  local newStatus = ARGV[2]
  if newStatus ~= '' then
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = newStatus
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  movePosition(KEYS[3], cur[3], stepBefore, stepAfter)

  local events = {}
  for i = 14 + 2 * n, argEnd or #ARGV do events[#events + 1] = ARGV[i] end
  pushHistory(KEYS[2], seq, events, 1)

  if newStatus ~= '' and newStatus ~= status then
    local idx = {}
    local k = firstIndexKey or 14
    for s in string.gmatch(ARGV[12], '[^,]+') do
      idx[s] = {KEYS[k], KEYS[k + 1]}
      k = k + 2
    end
    if not idx[status] or not idx[newStatus] then
      error('stageflow: status indexes of ' .. status .. ' and ' .. newStatus .. ' must arrive in KEYS')
    end
    setStatus(KEYS[1], KEYS[2], KEYS[4], idx[status], idx[newStatus], ARGV[4], ARGV[5], cur[3], newStatus, seq, ARGV[3])
  end
  addStepJob(queueKeys or {KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]}, ARGV, 6)
  return {1, seq, status}
end
