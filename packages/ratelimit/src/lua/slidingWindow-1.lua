--[[
  Sliding-window counter (Cloudflare's approximation): two counts per key, this window's and the
  previous one's, with the previous weighted by how much of it the sliding window still covers:
    estimate = prev × (W - elapsed) / W + cur
  `cost` is admitted if estimate + cost ≤ limit. It assumes the previous window's requests were
  spread evenly, so it can over-admit when they were not (measured in accuracy.infra.test.ts).

  Input:
    KEYS[1] hash {start, cur, prev} (keys.ts: <prefix>:{sliding-window:<key>}:counts)
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

local function int(n)
  return string.format('%.0f', n)
end

local windowStart = nowUs - (nowUs % windowUs)
local stored = redis.call('HMGET', KEYS[1], 'start', 'cur', 'prev')
local start = tonumber(stored[1])
local cur, prev = 0, 0
if start == windowStart then
  cur, prev = tonumber(stored[2]), tonumber(stored[3])
elseif start == windowStart - windowUs then
  -- The stored window is the one before this: its count becomes the previous count.
  prev = tonumber(stored[2])
end

local elapsedUs = nowUs - windowStart
local estimate = prev * (windowUs - elapsedUs) / windowUs + cur

-- Fully available once every counted unit has stopped counting: `cur` counts (decaying) until
-- the end of the next window, `prev` until the end of this one.
local function resetUs(current)
  if current > 0 then
    return windowStart + 2 * windowUs - nowUs
  elseif prev > 0 then
    return windowStart + windowUs - nowUs
  end
  return 0
end

-- Floors a count, forgiving the last bits of floating-point error (2.9999999999 is 3).
local function floorCount(x)
  return math.max(0, math.floor(x + 1e-9))
end

if cost > limit then
  return { 0, floorCount(limit - estimate), resetUs(cur), -1, nowUs }
end
if estimate + cost > limit then
  local passAtUs
  if cur + cost <= limit then
    -- Later in this window, once the previous count's weight has decayed enough.
    passAtUs = windowStart + math.ceil(windowUs * (1 - (limit - cost - cur) / prev))
  else
    -- In the next window, once this window's count (then the previous one) has decayed enough.
    passAtUs = windowStart + windowUs + math.ceil(windowUs * (1 - (limit - cost) / cur))
  end
  return { 0, floorCount(limit - estimate), resetUs(cur), math.max(1, passAtUs - nowUs), nowUs }
end

cur = cur + cost
redis.call('HSET', KEYS[1], 'start', int(windowStart), 'cur', cur, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], math.ceil((windowStart + 2 * windowUs - nowUs) / 1000))
return { 1, floorCount(limit - estimate - cost), resetUs(cur), 0, nowUs }
