--[[
  Adds one item to a user's inbox, once per effect key: a redelivered notification step (same
  runId/stepId/seq, hence the same item id) finds its marker and adds nothing. New items go to
  the head of the list (newest first), start unread, and are announced on the user's channel.
  The oldest items beyond the bound are dropped with their bodies and unread flags.

  KEYS[1] list  KEYS[2] items hash  KEYS[3] unread set  KEYS[4] added marker
  ARGV[1] item id  ARGV[2] item JSON  ARGV[3] max items  ARGV[4] marker TTL (s)  ARGV[5] channel
  Returns 1 when the item was added, 0 when it had been added before.
]]
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
local max = tonumber(ARGV[3])
while redis.call('LLEN', KEYS[1]) > max do
  local old = redis.call('RPOP', KEYS[1])
  redis.call('HDEL', KEYS[2], old)
  redis.call('SREM', KEYS[3], old)
end
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1
