-- Adds post ids to a capped sorted set (a home timeline or an author's recent posts), atomically.
-- Input:  KEYS[1] = the set
--         ARGV[1] = cap (posts kept; the sentinel does not count)
--         ARGV[2] = 1 to create the set when missing (with the sentinel and ARGV[3] as TTL),
--                   0 to leave a missing set alone (an inactive user: fan-out skips them)
--         ARGV[3] = TTL in ms when created, 0 = none
--         ARGV[4] = 1 to keep a sentinel member "0" at score 0 (timelines), 0 = no sentinel
--         ARGV[5..] = post ids; each is its own score (time-ordered 53-bit ids, exact as doubles)
-- Output: the number of ids newly added, or -1 when the set is missing and ARGV[2] is 0.
-- Idempotent: adding an id already there adds nothing, so a redelivered event changes nothing.
local key = KEYS[1]
local cap = tonumber(ARGV[1])
local sentinel = ARGV[4] == '1'
if redis.call('EXISTS', key) == 0 then
  if ARGV[2] ~= '1' then return -1 end
  if sentinel then redis.call('ZADD', key, 0, '0') end
  local ttl = tonumber(ARGV[3])
  if ttl > 0 and sentinel then redis.call('PEXPIRE', key, ttl) end
end
local added = 0
for i = 5, #ARGV do
  added = added + redis.call('ZADD', key, ARGV[i], ARGV[i])
end
if added == 0 then return 0 end
if ARGV[3] ~= '0' and not sentinel and redis.call('PTTL', key) == -1 then
  redis.call('PEXPIRE', key, tonumber(ARGV[3]))
end
local keep = cap
if sentinel then keep = cap + 1 end
local card = redis.call('ZCARD', key)
if card > keep then
  -- Oldest first; with a sentinel, rank 0 is the sentinel and is kept.
  local first = 0
  if sentinel then first = 1 end
  redis.call('ZREMRANGEBYRANK', key, first, first + card - keep - 1)
end
return added
