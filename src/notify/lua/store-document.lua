--[[
  Stores the document rendered for one effect key, once: a redelivered or concurrently running
  attempt of the same step finds the first one and must attach it instead of its own, so every
  recipient of one notification gets the same bytes. Expires with the run's retention.

  KEYS[1] document hash
  ARGV[1] bytes  ARGV[2] metadata JSON  ARGV[3] TTL (s)
  Returns 1 when stored, 0 when a document was already stored for this effect key.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'bytes', ARGV[1], 'meta', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
