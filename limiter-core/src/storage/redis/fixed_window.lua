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
--
-- A key that comes back within the batch (concurrent requests of one client, a limit shared by
-- every client) is written once: its first hit is an INCRBY as above, its later hits are counted
-- here and added by one INCRBY at the end, and its PTTL is read once, after every write. The
-- script runs atomically, so each hit still sees the count of every hit before it and the
-- stored values are those of one INCRBY per hit (INFO commandstats: the INCRBY, EXPIRE and
-- PTTL calls are most of a batch's time).
local peek = ARGV[2] == '1'
local out, decided = {}, 0
local stops, skipping, lazy = false, false, false
-- The amounts as numbers, by their text: a batch repeats a few limits many times, and tonumber
-- costs half as much as the INCRBY.
local amounts = {}
-- Per key written by this call: its count so far, and what its later hits add.
local counts, pending, expiries = {}, {}, {}
local pending_keys, pending_count = {}, 0
-- Records that report a PTTL: packed once every write is done.
local needs_ttl, needs_ttl_count = {}, 0
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
            local before = counts[key]
            if before then
                count = before + cost
                local added = pending[key]
                if not added then
                    pending_count = pending_count + 1
                    pending_keys[pending_count] = key
                    added = 0
                end
                pending[key] = added + cost
            else
                count = redis.call('INCRBY', key, cost_text)
            end
            counts[key] = count
            if count == cost then
                if before then
                    expiries[key] = ARGV[b + 1]
                else
                    redis.call('EXPIRE', key, ARGV[b + 1])
                end
            end
            allowed = count <= amount
        end
        decided = decided + 1
        if lazy and allowed then
            out[decided] = struct.pack('<Bdd', allowed and 1 or 0, count, -3)
        else
            -- PTTL costs as much as INCRBY: only read when it will be reported.
            needs_ttl_count = needs_ttl_count + 1
            needs_ttl[needs_ttl_count] = { decided, key, allowed and 1 or 0, count }
        end
        skipping = stops and not allowed
    end
end
for j = 1, pending_count do
    local key = pending_keys[j]
    redis.call('INCRBY', key, string.format('%.0f', pending[key]))
    local expiry = expiries[key]
    if expiry then
        redis.call('EXPIRE', key, expiry)
    end
end
local ttls = {}
for j = 1, needs_ttl_count do
    local record = needs_ttl[j]
    local key = record[2]
    local ttl = ttls[key]
    if not ttl then
        ttl = redis.call('PTTL', key)
        ttls[key] = ttl
    end
    out[record[1]] = struct.pack('<Bdd', record[3], record[4], ttl)
end
return table.concat(out)
