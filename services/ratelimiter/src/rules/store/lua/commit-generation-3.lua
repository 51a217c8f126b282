--[[
  Makes a staged ruleset the applied generation, only if its version is newer than the applied
  one: a compare-and-set on the generation. An applier paused mid-apply that resumes after a newer
  version was applied gets "superseded" and can never move the applied version backwards; readers
  only ever follow the pointer to a generation that was written completely.

  Input:
    KEYS[1] the pointer, hash {version, fingerprint}   (ratelimiter:{rules}:current)
    KEYS[2] this applier's staging hash                (ratelimiter:{rules}:staging:<version>:<token>)
    KEYS[3] the generation hash it becomes             (ratelimiter:{rules}:gen:<version>)
    ARGV[1] the staged version (integer > 0)
    ARGV[2] the staged ruleset's fingerprint
    ARGV[3] how many fields the staging hash must hold (all batches written)
  Output: {code, version}
     1, previous   applied: staging renamed to the generation, pointer moved (previous 0 = none)
     0, current    unchanged: this version with this fingerprint is already applied
    -1, current    superseded: a newer version is applied
    -2, current    conflict: this version is applied with another fingerprint
    -3, current    incomplete: the staging hash lacks fields (it expired while its applier was paused)
  Every answer but 1 deletes the staging hash: nothing of a refused apply stays behind.
]]
local version = tonumber(ARGV[1])
local pointer = redis.call('HMGET', KEYS[1], 'version', 'fingerprint')
local current = tonumber(pointer[1]) or 0
if version <= current then
  redis.call('DEL', KEYS[2])
  if version < current then return {-1, current} end
  if pointer[2] == ARGV[2] then return {0, current} end
  return {-2, current}
end
if redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[2])
  return {-3, current}
end
-- No generation key exists for a version above the pointer (a generation is only ever created
-- here, together with the pointer), so RENAME never overwrites a generation a reader may follow.
redis.call('RENAME', KEYS[2], KEYS[3])
redis.call('PERSIST', KEYS[3])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'fingerprint', ARGV[2])
return {1, current}
