--[[
  Sliding-window log: exact. One ZSET member per admitted unit, scored by its Redis time (µs);
  a decision at `now` counts the members in (now - W, now] and admits `cost` units only if the
  count plus `cost` stays within `limit`. So no window of length W ever holds more than `limit`.

  Members are `<nowUs>.<attempt>.<i>`, added with ZADD NX: if Redis time repeats or steps back
  (two decisions in one microsecond, an NTP step), a name already taken is retried under a new
  attempt number instead of overwriting an entry, which would under-count and over-admit.

  Input:
    KEYS[1] ZSET of admitted units (keys.ts: <prefix>:{sliding-log:<key>}:log)
    ARGV[1] limit (units per window, integer ≥ 1)
    ARGV[2] window (ms, integer ≥ 1)
    ARGV[3] cost (units, integer ≥ 1)
  Output:
    { allowed (1|0), remaining, resetUs, retryAfterUs (0 when allowed, -1 when cost > limit), nowUs }
]]
redis.replicate_commands()
local time = redis.call('TIME')
local nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])
local limit = tonumber(ARGV[1])
local windowUs = tonumber(ARGV[2]) * 1000
local cost = tonumber(ARGV[3])
local key = KEYS[1]

local function int(n)
  return string.format('%.0f', n)
end

-- Entries at or before now - W have left the window.
redis.call('ZREMRANGEBYSCORE', key, '-inf', int(nowUs - windowUs))
local count = redis.call('ZCARD', key)

-- Until the newest entry leaves the window.
local function resetUs()
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if newest[2] == nil then
    return 0
  end
  return tonumber(newest[2]) + windowUs - nowUs
end

if cost > limit then
  return { 0, limit - count, resetUs(), -1, nowUs }
end
if count + cost > limit then
  -- `cost` fits once the (count + cost - limit) oldest entries have left the window.
  local index = count + cost - limit - 1
  local entry = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
  return { 0, limit - count, resetUs(), tonumber(entry[2]) + windowUs - nowUs, nowUs }
end

-- ZADD in batches: Lua's unpack is bounded by its C stack (about 8000 values).
local score = int(nowUs)
local added = 0
local attempt = 0
while added < cost do
  local batch = { 'NX' }
  local size = math.min(cost - added, 500)
  for i = 1, size do
    batch[#batch + 1] = score
    batch[#batch + 1] = score .. '.' .. attempt .. '.' .. (added + i)
  end
  local n = redis.call('ZADD', key, unpack(batch))
  added = added + n
  if n < size then
    attempt = attempt + 1
  end
end
redis.call('PEXPIRE', key, math.ceil(windowUs / 1000))
return { 1, limit - count - cost, windowUs, 0, nowUs }
