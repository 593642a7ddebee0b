--[[
  create-run: creates a run, its state hash, first history events, indexes and (when missing) its
  entry. With an idempotency key, a second start with the same key returns the first run instead.
  The job of the first step, when given, is added in the same call.

  KEYS[1] run  KEYS[2] history  KEYS[3] idempotency key  KEYS[4] entry
  KEYS[5] the workflow's position index  KEYS[6] the entry's run index  KEYS[7] outbox
  KEYS[8..16] the step queue's keys (see addStepJob)
  KEYS[17] all runs (any status)  KEYS[18] the workflow's runs (any status)
  KEYS[19] all runs in the initial status  KEYS[20] the workflow's runs in the initial status
  ARGV[1] runId  ARGV[2] workflow  ARGV[3] version  ARGV[4] status  ARGV[5] stepId
  ARGV[6] model JSON  ARGV[7] entryId  ARGV[8] now (ms)  ARGV[9] idempotency value ('' = no key)
  ARGV[10] idempotency ttl (ms)  ARGV[11] events channel  ARGV[12] retention (s)
  ARGV[13] callbackUrl  ARGV[14] startedBy  ARGV[15] entry model when new
  ARGV[16] parent (JSON, '' for a top-level run)
  ARGV[17] step queue key prefix, ARGV[18..22] the first step job: id ('' = none), name,
  timestamp, data JSON, options JSON (see addStepJob)  ARGV[23..] history events
  Returns {1, runId, entry version} when created, {0, stored idempotency value} when the key was used before,
  {2, owner workflow} when the entry belongs to another workflow (nothing is written then).
]]
if ARGV[9] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {0, existing} end
end

-- An entry belongs to the workflow whose run created it. Claim and check happen here, in the
-- same call that creates the run, so two concurrent starts of different workflows on one new
-- entry id cannot both pass a check made before either claimed it.
local owner = redis.call('HGET', KEYS[4], 'workflow')
if owner and owner ~= '' and owner ~= ARGV[2] then return {2, owner} end

if ARGV[9] ~= '' then
  redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. ARGV[9], 'PX', ARGV[10])
end

if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[4], 'id', ARGV[7], 'version', 1, 'model', ARGV[15], 'updatedAt', ARGV[8], 'runId', ARGV[1], 'workflow', ARGV[2])
end
local entryVersion = redis.call('HGET', KEYS[4], 'version')

redis.call('HSET', KEYS[1],
  'id', ARGV[1], 'workflow', ARGV[2], 'version', ARGV[3], 'status', ARGV[4], 'seq', 0,
  'stepId', ARGV[5], 'model', ARGV[6], 'entryId', ARGV[7], 'entryVersion', entryVersion,
  'createdAt', ARGV[8], 'updatedAt', ARGV[8], 'transitions', 0,
  'callbackUrl', ARGV[13], 'startedBy', ARGV[14], 'parent', ARGV[16])

local events = {}
for i = 23, #ARGV do events[#events + 1] = ARGV[i] end
pushHistory(KEYS[2], 0, events, 1)

redis.call('ZADD', KEYS[17], 0, ARGV[1])
redis.call('ZADD', KEYS[18], 0, ARGV[1])
setStatus(KEYS[1], KEYS[2], KEYS[7], nil, {KEYS[19], KEYS[20]}, ARGV[11], ARGV[12], ARGV[1], ARGV[4], 0, ARGV[8])
-- Search indexes: where the run is (its step) and which entry it works on.
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[5], 0, ARGV[5] .. ' ' .. ARGV[1]) end
redis.call('ZADD', KEYS[6], 0, ARGV[1])

addStepJob({KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16]}, ARGV, 17)
return {1, ARGV[1], entryVersion}
