--[[
  Saves a model into an entry as a new version, once per effect key: a redelivered updateModel
  step (same runId/stepId/seq) finds its own write and does not bump the version again.

  KEYS[1] entry
  ARGV[1] entryId  ARGV[2] model JSON  ARGV[3] effect key  ARGV[4] now (ms)  ARGV[5] runId
  Returns the entry version holding this write.
]]
if redis.call('HGET', KEYS[1], 'lastEffect') == ARGV[3] then
  return tonumber(redis.call('HGET', KEYS[1], 'version'))
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'model', ARGV[2], 'lastEffect', ARGV[3], 'updatedAt', ARGV[4], 'runId', ARGV[5])
return version
