-- Lease mode, fixed window (see storage/lease/mod.rs): hands back what an ended lease did not
-- spend, then takes a share of what remains for the hit that asks, in one atomic call.
--
-- KEYS[1]: the counter ("{prefix}:{limits key}", the fixed window's key).
-- ARGV[1] amount, ARGV[2] expiry (s), ARGV[3] the asking hit's cost (0 with ARGV[5] = 0: only
-- hand back), ARGV[4] share (a lease takes remaining / share), ARGV[5] the most units a lease
-- takes, ARGV[6] units to hand back, ARGV[7] the end of the window they were taken in, on this
-- server's clock (ms since the epoch).
-- Returns '<Bdddd': allowed (1/0: the cost fits), units granted (the cost included; 0 when
-- rejected), the count after, PTTL (ms, 0 when the key does not exist), the window's end on
-- this server's clock (ms).
local key = KEYS[1]
local amount = tonumber(ARGV[1])
local cost = tonumber(ARGV[3])
local share = tonumber(ARGV[4])
local most = tonumber(ARGV[5])
local back = tonumber(ARGV[6])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local count = tonumber(redis.call('GET', key)) or 0
local ttl = redis.call('PTTL', key)
-- Units go back only into the window they were taken in: a later window of the key ends at
-- least one second (the shortest expiry) after it.
if back > 0 and ttl > 0 and math.abs(now + ttl - tonumber(ARGV[7])) < 500 then
    back = math.min(back, count)
else
    back = 0
end
local remaining = amount - (count - back)
local allowed = cost <= remaining
local grant = 0
if allowed then
    grant = math.min(math.max(math.min(math.floor(remaining / share), most), cost), remaining)
end
local delta = grant - back
if delta ~= 0 then
    count = redis.call('INCRBY', key, string.format('%.0f', delta))
    if ttl == -2 then
        -- A new key: the window starts now, as in `limits`' incr_expire.lua.
        redis.call('EXPIRE', key, ARGV[2])
        ttl = tonumber(ARGV[2]) * 1000
    end
end
if ttl < 0 then
    ttl = 0
end
return struct.pack('<Bdddd', allowed and 1 or 0, grant, count, ttl, now + ttl)
