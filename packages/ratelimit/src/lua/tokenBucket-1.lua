--[[
  Token bucket: holds at most `burst` tokens, refilled continuously at `limit` per window; a
  decision takes `cost` tokens if there are that many. In any interval of length t it admits at
  most burst + limit × t / W units. State is the token count at the Redis time of the last
  admission; refill is computed from it, so nothing runs between decisions.

  The key expires when the bucket would be full again: a missing key is a full bucket, so expiry
  loses nothing and an idle key costs no memory.

  Input:
    KEYS[1] hash {tokens, ts} (keys.ts: <prefix>:{token-bucket:<key>}:bucket)
    ARGV[1] limit (tokens added per window, integer ≥ 1)
    ARGV[2] window (ms, integer ≥ 1)
    ARGV[3] burst (capacity, integer ≥ 1)
    ARGV[4] cost (tokens, integer ≥ 1)
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
local tokensPerUs = limit / windowUs

local stored = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = burst
if stored[1] then
  -- max(0, …): if Redis time stepped back, no tokens are taken away.
  local elapsedUs = math.max(0, nowUs - tonumber(stored[2]))
  tokens = math.min(burst, tonumber(stored[1]) + elapsedUs * tokensPerUs)
end

local function floorCount(x)
  return math.max(0, math.floor(x + 1e-9))
end
local function untilFullUs(t)
  return math.ceil((burst - t) / tokensPerUs)
end

if cost > burst then
  return { 0, floorCount(tokens), untilFullUs(tokens), -1, nowUs }
end
if tokens < cost then
  return { 0, floorCount(tokens), untilFullUs(tokens), math.max(1, math.ceil((cost - tokens) / tokensPerUs)), nowUs }
end

tokens = tokens - cost
-- %.17g: the fraction of a token must survive the round trip through a string.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.0f', nowUs))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(untilFullUs(tokens) / 1000)))
return { 1, floorCount(tokens), untilFullUs(tokens), 0, nowUs }
