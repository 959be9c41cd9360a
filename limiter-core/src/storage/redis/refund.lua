-- Takes back hits that a cluster call counted before the request turned out to be breached by
-- an earlier limit in another slot (see cluster_calls.rs), in one atomic call per slot. Each
-- refund undoes exactly what the strategy's script wrote for the hit:
--
-- * fixed window ('f'): the hit's INCRBY (done for rejected hits too), by DECRBY; the counter is
--   deleted when it falls to 0 (the hit created it: as if it had never been made);
-- * moving window ('m'): its `cost` entries of `now`, by LREM (entries of the same time are
--   interchangeable);
-- * sliding window counter ('s'): its INCRBY of the current counter, by DECRBY;
-- * GCRA ('g'): its move of the arrival time, by `cost * interval` back (deleted once in the
--   past, as an unset key reads).
--
-- A counter that holds less than the hit's cost (its window ended and it expired meanwhile) is
-- left alone: nothing is taken from a later window's hits that way.
--
-- KEYS[i]: the key hit i wrote (the sliding window's current counter).
-- ARGV[1]: the strategy letter above; ARGV[2]: now as the moving window's script got it; then
-- for hit i, at b = 3 + 3 * (i - 1): ARGV[b] cost, ARGV[b+1] amount, ARGV[b+2] expiry (s).
-- Returns how many hits were taken back.
local kind = ARGV[1]
local refunded = 0
local time, now_s, now_ns
if kind == 'g' then
    time = redis.call('TIME')
    now_s, now_ns = tonumber(time[1]), tonumber(time[2]) * 1000
end
for i = 1, #KEYS do
    local b = 3 + 3 * (i - 1)
    local key = KEYS[i]
    local cost = tonumber(ARGV[b])
    if kind == 'f' or kind == 's' then
        local count = tonumber(redis.call('GET', key)) or 0
        if count >= cost then
            if kind == 'f' and count == cost then
                redis.call('DEL', key)
            else
                redis.call('DECRBY', key, cost)
            end
            refunded = refunded + 1
        end
    elseif kind == 'm' then
        -- A Lua number, formatted by the server as the moving window's LPUSH formatted it.
        local now = tonumber(ARGV[2])
        if redis.call('LREM', key, cost, now) > 0 then
            refunded = refunded + 1
        end
    elseif kind == 'g' then
        local amount = tonumber(ARGV[b + 1])
        local period = tonumber(ARGV[b + 2]) * 1e9
        local stored = redis.call('GET', key)
        if stored and amount > 0 then
            local interval = math.max(math.ceil(period / amount), 1)
            local seconds = tonumber(string.sub(stored, 1, -10)) or 0
            local nanos = tonumber(string.sub(stored, -9)) or 0
            local ahead = (seconds - now_s) * 1e9 + (nanos - now_ns) - cost * interval
            if ahead > 0 then
                local tat = now_ns + ahead
                local tat_s = now_s + math.floor(tat / 1e9)
                redis.call('SET', key, string.format('%d%09d', tat_s, tat % 1e9),
                    'PX', math.ceil(ahead / 1e6))
            else
                redis.call('DEL', key)
            end
            refunded = refunded + 1
        end
    end
end
return refunded
