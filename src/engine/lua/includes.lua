-- Shared helpers, prepended to every script that changes a run's status.

-- Moves a run between the status indexes, applies retention, and tells listeners (?wait, pages).
local TERMINAL = { completed = true, failed = true, cancelled = true, draft = true }

local function setStatus(runKey, histKey, indexPrefix, channel, retentionSec, runId, workflow, from, to, seq, now)
  if from == to then return end
  if from then
    redis.call('ZREM', indexPrefix .. ':all:st:' .. from, runId)
    redis.call('ZREM', indexPrefix .. ':wf:' .. workflow .. ':st:' .. from, runId)
  end
  redis.call('ZADD', indexPrefix .. ':all:st:' .. to, 0, runId)
  redis.call('ZADD', indexPrefix .. ':wf:' .. workflow .. ':st:' .. to, 0, runId)
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
      redis.call('ZADD', indexPrefix .. ':outbox', now, runId .. ' ' .. to .. ' ' .. seq)
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

-- Adds a step job with BullMQ's own script (bullmqAddStandardJob, prepended by scripts.ts).
-- argv[a] is the queue's key prefix, argv[a+1 .. a+5] the job: id ('' = none), name, timestamp,
-- data JSON and options JSON, packed here into the arguments BullMQ's script documents.
local function addStepJob(argv, a)
  local jobId = argv[a + 1]
  if jobId == '' then return end
  local q = argv[a]
  local added = bullmqAddStandardJob(
    {q .. 'wait', q .. 'paused', q .. 'meta', q .. 'id', q .. 'completed', q .. 'delayed', q .. 'active', q .. 'events', q .. 'marker'},
    {cmsgpack.pack({q, jobId, argv[a + 2], tonumber(argv[a + 3])}), argv[a + 4], cmsgpack.pack(cjson.decode(argv[a + 5]))})
  -- Only a job with a parent can be refused (-5); ours have none, so this is a bug, said loudly.
  if type(added) == 'number' and added < 0 then error('stageflow: adding step job ' .. jobId .. ' failed with ' .. added) end
end

-- Keeps the position index (members `<stepId> <runId>`) in step with the run's current step.
-- The key arrives in KEYS; it must be the one of the run's own workflow.
local function movePosition(key, indexPrefix, workflow, runId, from, to)
  if key ~= indexPrefix .. ':wf:' .. workflow .. ':at' then error('stageflow: position index ' .. key .. ' is not that of ' .. workflow) end
  if from == to then return end
  if from ~= '' then redis.call('ZREM', key, from .. ' ' .. runId) end
  if to ~= '' then redis.call('ZADD', key, 0, to .. ' ' .. runId) end
end
