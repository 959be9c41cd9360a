-- Fixed window for a batch of hits, in one atomic call.
-- Per hit the writes are those of `limits`' incr_expire.lua: INCRBY key cost, and EXPIRE key
-- expiry when the result equals the cost (the key did not exist: the window starts now).
--
-- KEYS[i]: the counter of hit i ("{prefix}:{limits key}").
-- ARGV[1]: now in seconds (unused here), ARGV[2]: "1" to only look (test / window stats:
-- nothing is written), then for hit i, at b = 3 + 4 * (i - 1): ARGV[b] amount, ARGV[b+1]
-- expiry (s), ARGV[b+2] cost, ARGV[b+3] "0" if the hit belongs to the same request as the one
-- before it, else the first hit of a request, the sum of: 1, plus 2 if the request stops at its
-- first rejected hit (its later hits get no record), plus 4 if its admitted hits need no reset
-- time (their PTTL is not read).
-- Returns one record per decided hit (see scripts.rs), packed as '<Bdd': allowed (1/0), count,
-- PTTL (ms; -1 or -2 when the key has no expiry or does not exist, -3 when not read).
local peek = ARGV[2] == '1'
local out, decided = {}, 0
local stops, skipping, lazy = false, false, false
-- The amounts as numbers, by their text: a batch repeats a few limits many times, and tonumber
-- costs half as much as the INCRBY.
local amounts = {}
for i = 1, #KEYS do
    local b = 4 * i - 1
    local mode = ARGV[b + 3]
    if mode ~= '0' then
        mode = tonumber(mode)
        stops, skipping, lazy = mode % 4 >= 2, false, mode >= 4
    end
    if not skipping then
        -- Arguments go to redis.call as the strings they came as: a Lua number is turned back
        -- into text there, with sprintf, which cost a third of this loop (INFO commandstats).
        local cost_text = ARGV[b + 2]
        local cost = cost_text == '1' and 1 or tonumber(cost_text)
        local amount_text = ARGV[b]
        local amount = amounts[amount_text]
        if not amount then
            amount = tonumber(amount_text)
            amounts[amount_text] = amount
        end
        local key = KEYS[i]
        local count
        local allowed
        if peek then
            count = tonumber(redis.call('GET', key)) or 0
            allowed = count + cost <= amount
        else
            count = redis.call('INCRBY', key, cost_text)
            if count == cost then
                redis.call('EXPIRE', key, ARGV[b + 1])
            end
            allowed = count <= amount
        end
        -- PTTL costs as much as INCRBY: only read when it will be reported.
        local ttl = -3
        if not (lazy and allowed) then
            ttl = redis.call('PTTL', key)
        end
        decided = decided + 1
        out[decided] = struct.pack('<Bdd', allowed and 1 or 0, count, ttl)
        skipping = stops and not allowed
    end
end
return table.concat(out)
