--[[
  Saves a model into an entry as a new version, once per effect key: a redelivered updateModel
  step (same runId/stepId/seq) finds its own write in the ledger and changes nothing, even when
  other runs saved the entry in between. An entry belongs to the workflow that created it.

  KEYS[1] entry  KEYS[2] the entry's effect ledger
  ARGV[1] entryId  ARGV[2] model JSON  ARGV[3] effect key  ARGV[4] now (ms)  ARGV[5] runId
  ARGV[6] workflow  ARGV[7] ledger ttl (s)
  Returns the entry version holding this write, or -1 when the entry belongs to another workflow.
]]
local done = redis.call('HGET', KEYS[2], ARGV[3])
if done then return tonumber(done) end
local owner = redis.call('HGET', KEYS[1], 'workflow')
if owner and owner ~= ARGV[6] then return -1 end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'model', ARGV[2], 'updatedAt', ARGV[4], 'runId', ARGV[5], 'workflow', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[3], version)
redis.call('EXPIRE', KEYS[2], ARGV[7])
return version
