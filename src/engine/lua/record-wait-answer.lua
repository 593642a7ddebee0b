--[[
  record-wait-answer: records an answer to a waiting run's confirmation, or forces its outcome (timeout), and decides
  whether the wait is resolved under the task's policy. Exactly one caller ever gets "resolved":
  the resolution is stored on the run, and the resume that follows is fenced by seq.

  KEYS[1] run  KEYS[2] history  KEYS[3] answers of this wait
  ARGV[1] seq the run waits at  ARGV[2] who  ARGV[3] option ('' = none)  ARGV[4] comment
  ARGV[5] now (ISO)  ARGV[6] 'answer' | 'force'  ARGV[7] history event (JSON, no seq) or ''
  ARGV[8] resolution error (JSON) or ''
  Returns {1, option} resolved | {2, 'recorded'} | {0, reason} refused | {-1} no run.
]]
local cur = redis.call('HMGET', KEYS[1], 'seq', 'status', 'wait', 'resolution')
if not cur[1] then return {-1} end
local seq = tonumber(cur[1])
if cur[2] ~= 'waiting' or seq ~= tonumber(ARGV[1]) then return {0, 'not_waiting'} end
if cur[4] and cur[4] ~= '' then return {0, 'resolved'} end

local option = ARGV[3]
local resolved = false
if ARGV[6] == 'force' then
  resolved = true
else
  if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return {0, 'already_answered'} end
  redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({ option = option, comment = ARGV[4], at = ARGV[5] }))

  local task = cjson.decode(cur[3]).task
  local answers = redis.call('HGETALL', KEYS[3])
  if task.policy == 'any' then
    resolved = true
  elseif task.policy == 'all' then
    -- Unanimity is needed for the first option only; any other answer can never be outvoted, so
    -- it decides at once with its own option. Judged on this answer alone (earlier ones could not
    -- have been dissents, or the wait would be resolved), so the order of answers does not matter.
    local first = (task.options or {})[1]
    if option ~= first then
      resolved = true
    else
      local given = {}
      for i = 1, #answers, 2 do given[answers[i]] = true end
      local missing = 0
      for _, r in ipairs(task.recipients or {}) do
        if not given[r] then missing = missing + 1 end
      end
      resolved = missing == 0
    end
  else
    local same = 0
    for i = 2, #answers, 2 do
      if cjson.decode(answers[i]).option == option then same = same + 1 end
    end
    resolved = same >= tonumber(task.policy.quorum)
  end
end

if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',' .. string.sub(ARGV[7], 2))
end
if not resolved then return {2, 'recorded'} end

local resolution = { seq = seq, by = ARGV[2], at = ARGV[5] }
if option ~= '' then resolution.option = option end
if ARGV[8] ~= '' then resolution.error = cjson.decode(ARGV[8]) end
redis.call('HSET', KEYS[1], 'resolution', cjson.encode(resolution))
return {1, option}
