-- Adds post ids to a capped sorted set (a home timeline or an author's recent posts), atomically.
-- Input:  KEYS[1] = the set
--         KEYS[2] = the user's recently-unfollowed authors (a sorted set, see keys.ts `unfollowed`)
--         ARGV[1] = cap (posts kept; the sentinel does not count)
--         ARGV[2] = 1 to create the set when missing, 0 to leave a missing set alone (an inactive
--                   user: fan-out skips them)
--         ARGV[3] = TTL in ms set when the set is created, 0 = none
--         ARGV[4] = 1 to add the sentinel member "0" at score 0: the set is complete (a built
--                   timeline, or an author set filled from Postgres); 0 = leave it as it is
--         ARGV[5] = the author of the ids when they must not be added to a user who has just
--                   unfollowed them ('' = no check): a fan-out that read its follower page before
--                   the unfollow committed must not put the post back after the unfollow removed it
--         ARGV[6..] = post ids; each is its own score (time-ordered 53-bit ids, exact as doubles)
-- Output: the number of ids newly added, -1 when the set is missing and ARGV[2] is 0, -2 when
--         ARGV[5] is in KEYS[2] (unfollowed: nothing added).
-- Idempotent: adding an id already there adds nothing, so a redelivered event changes nothing.
local key = KEYS[1]
local cap = tonumber(ARGV[1])
local created = redis.call('EXISTS', key) == 0
if created and ARGV[2] ~= '1' then return -1 end
if ARGV[5] ~= '' and redis.call('ZSCORE', KEYS[2], ARGV[5]) then return -2 end
if ARGV[4] == '1' then redis.call('ZADD', key, 0, '0') end
local added = 0
for i = 6, #ARGV do
  added = added + redis.call('ZADD', key, ARGV[i], ARGV[i])
end
local ttl = tonumber(ARGV[3])
if created and ttl > 0 and redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, ttl) end
if added == 0 then return 0 end
local hasSentinel = redis.call('ZSCORE', key, '0') ~= false
local keep = cap
local first = 0
if hasSentinel then
  keep = cap + 1
  first = 1
end
local card = redis.call('ZCARD', key)
if card > keep then
  -- Oldest first; rank 0 is the sentinel when there is one, and it is kept.
  redis.call('ZREMRANGEBYRANK', key, first, first + card - keep - 1)
end
return added
