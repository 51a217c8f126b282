--[[
  Releases a lease only if the caller still holds it: a lease that expired and was taken by
  another instance must not be deleted by the first holder finishing late.

  Input:
    KEYS[1] the lease key
    ARGV[1] the holder's token
  Output:
    1 released, 0 not held by this token (expired, or someone else's)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
