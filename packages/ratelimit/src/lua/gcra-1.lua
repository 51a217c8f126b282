--[[
  GCRA (generic cell rate algorithm): the token bucket as one number. Units are spaced by the
  emission interval T = W / limit; the theoretical arrival time (TAT) is when the key would be
  fully rested. `cost` units are admitted if max(TAT, now) + cost × T - now ≤ burst × T, i.e. at
  most burst at once and limit per window after that (burst + limit × t / W in any interval t).

  Input:
    KEYS[1] string: TAT in µs of Redis time (keys.ts: <prefix>:{gcra:<key>}:tat)
    ARGV[1] limit (units per window, integer ≥ 1)
    ARGV[2] window (ms, integer ≥ 1)
    ARGV[3] burst (integer ≥ 1)
    ARGV[4] cost (units, integer ≥ 1)
  Output:
    { allowed (1|0), remaining, resetUs, retryAfterUs (0 when allowed, -1 when cost > burst), nowUs }
]]
redis.replicate_commands()
local time = redis.call('TIME')
local nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])
local limit = tonumber(ARGV[1])
local windowUs = tonumber(ARGV[2]) * 1000
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local intervalUs = windowUs / limit
local toleranceUs = intervalUs * burst

local tat = tonumber(redis.call('GET', KEYS[1])) or nowUs
tat = math.max(tat, nowUs)

local function floorCount(x)
  return math.max(0, math.floor(x + 1e-9))
end
local function remainingAt(t)
  return floorCount((toleranceUs - (t - nowUs)) / intervalUs)
end

if cost > burst then
  return { 0, remainingAt(tat), math.ceil(tat - nowUs), -1, nowUs }
end
local newTat = tat + cost * intervalUs
local allowAtUs = newTat - toleranceUs
if allowAtUs > nowUs then
  return { 0, remainingAt(tat), math.ceil(tat - nowUs), math.max(1, math.ceil(allowAtUs - nowUs)), nowUs }
end

-- The key lives until the TAT: after it the key is fully rested, which is what a missing key means.
redis.call('SET', KEYS[1], string.format('%.17g', newTat), 'PX', math.max(1, math.ceil((newTat - nowUs) / 1000)))
return { 1, remainingAt(newTat), math.ceil(newTat - nowUs), 0, nowUs }
