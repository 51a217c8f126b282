-- One page of a home timeline, newest first, and the timeline's TTL renewed (a read is activity).
-- Input:  KEYS[1] = the timeline
--         ARGV[1] = exclusive upper bound: "(<cursor id>" or "+inf"
--         ARGV[2] = ids wanted
--         ARGV[3] = TTL in ms to renew, 0 = leave it
-- Output: false when the timeline does not exist (never built, expired or flushed: rebuild it),
--         else the ids (possibly none), never the sentinel.
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return false end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
return redis.call('ZRANGE', key, ARGV[1], '(0', 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[2]))
