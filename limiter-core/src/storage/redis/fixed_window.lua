-- Fixed window for a batch of hits, in one atomic call.
-- Per hit the writes are those of `limits`' incr_expire.lua: INCRBY key cost, and EXPIRE key
-- expiry when the result equals the cost (the key did not exist: the window starts now).
--
-- KEYS[i]: the counter of hit i ("{prefix}:{limits key}").
-- ARGV[1]: now in seconds (unused here), ARGV[2]: "1" to stop after the first rejected hit,
-- ARGV[3]: "1" to only look (test / window stats: nothing is written),
-- then for hit i, at b = 4 + 3 * (i - 1): ARGV[b] amount, ARGV[b+1] expiry (s), ARGV[b+2] cost.
-- Returns one record per decided hit (see scripts.rs): allowed (1/0), count, PTTL (ms, < 0 if
-- none), 0, 0.
local stop = ARGV[2] == '1'
local peek = ARGV[3] == '1'
local out = {}
for i = 1, #KEYS do
    local b = 4 + 3 * (i - 1)
    local amount = tonumber(ARGV[b])
    local cost = tonumber(ARGV[b + 2])
    local key = KEYS[i]
    local count
    local allowed
    if peek then
        count = tonumber(redis.call('GET', key)) or 0
        allowed = count + cost <= amount
    else
        count = redis.call('INCRBY', key, cost)
        if count == cost then
            redis.call('EXPIRE', key, ARGV[b + 1])
        end
        allowed = count <= amount
    end
    out[i] = struct.pack('<Bdddd', allowed and 1 or 0, count, redis.call('PTTL', key), 0, 0)
    if stop and not allowed then
        break
    end
end
return table.concat(out)
