--[[
  Saves a workflow definition: unchanged content keeps the latest version, changed content
  becomes version N+1. Versions are immutable once written.

  KEYS[1] workflow hash  KEYS[2] workflow index
  ARGV[1] name  ARGV[2] definition JSON  ARGV[3] content hash  ARGV[4] now (ms)
  Returns {version, 1 if created else 0}.
]]
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
if latest > 0 and redis.call('HGET', KEYS[1], 'hash:' .. latest) == ARGV[3] then
  return {latest, 0}
end
local version = latest + 1
redis.call('HSET', KEYS[1], 'latest', version, 'def:' .. version, ARGV[2], 'hash:' .. version, ARGV[3],
  'at:' .. version, ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return {version, 1}
