--[[
  Fixed window: at most `limit` units per window aligned to Redis time (window = now - now % W).
  Kept to show the edge burst: `limit` at the end of one window and `limit` at the start of the
  next are 2 × limit within a few milliseconds.

  The window's start is stored beside its count, so a stale count is never read as current even
  if the key outlives its window by a millisecond (Redis expires a key only after `when`, not at it).

  Input:
    KEYS[1] hash {start, count} (keys.ts: <prefix>:{fixed-window:<key>}:count)
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

-- Integers in µs reach 1.8e15: written with %.0f, because Lua's default %.14g would round them.
local function int(n)
  return string.format('%.0f', n)
end

local windowStart = nowUs - (nowUs % windowUs)
local resetUs = windowStart + windowUs - nowUs
local stored = redis.call('HMGET', KEYS[1], 'start', 'count')
local count = 0
if tonumber(stored[1]) == windowStart then
  count = tonumber(stored[2])
end

if cost > limit then
  return { 0, limit - count, resetUs, -1, nowUs }
end
if count + cost > limit then
  return { 0, limit - count, resetUs, resetUs, nowUs }
end
count = count + cost
redis.call('HSET', KEYS[1], 'start', int(windowStart), 'count', count)
redis.call('PEXPIRE', KEYS[1], math.ceil(resetUs / 1000))
return { 1, limit - count, resetUs, 0, nowUs }
