-- Fixed window for a batch of hits, in one atomic call.
-- Per hit the writes are those of `limits`' incr_expire.lua: INCRBY key cost, and EXPIRE key
-- expiry when the result equals the cost (the key did not exist: the window starts now).
--
-- KEYS: the call's distinct counters ("{prefix}:{limits key}"), each once.
-- ARGV[1]: now in seconds (unused here), ARGV[2]: "1" to only look (test / window stats:
-- nothing is written), ARGV[3]: the hits, 9 bytes each: the position of the hit's counter in
-- KEYS (u32, little-endian), the number s of its limit (u32, little-endian), and its mode: 0 if
-- it belongs to the same request as the hit before it, else the first hit of a request, the sum
-- of 1, plus 2 if the request stops at its first rejected hit (its later hits get no record),
-- plus 4 if its admitted hits need no reset time (their PTTL is not read).
-- ARGV[4]: per counter, in KEYS order, '<dI4B': the cost of all its hits, the number of its
-- limit, and 1 if its PTTL is to be reported when every hit is admitted (else 0); empty when
-- only looking or when a total is past what a double holds exactly (then no fast path).
-- ARGV[3s + 2], ARGV[3s + 3], ARGV[3s + 4]: limit s's amount, expiry (s) and cost.
-- (arguments.rs builds this; each key and limit is sent once however many hits name it.)
--
-- Returns a byte, then:
-- * 1 (every hit admitted, the common case): per counter, in KEYS order, '<dd': its count
--   before the call and its PTTL (as below; -3 when not asked for). Each hit's count is then
--   that count plus the costs of its counter's hits up to it (the client works them out).
-- * 0: one record per decided hit (see scripts.rs), '<Bdd': allowed (1/0), count, PTTL (ms; -1
--   or -2 when the key has no expiry or does not exist, -3 when not read).
--
-- Each counter is written by one INCRBY of all its hits' costs at once: when the counts it
-- returns are all within their amounts, every hit was admitted (counts only grow hit by hit),
-- so nothing else is needed, however many hits the call carries. Otherwise the hits are decided
-- one by one here, from the counts before the call, and each counter is set right by one more
-- INCRBY (its hits after a rejected one in a request that stops are not counted). Either way
-- the script runs atomically, each hit sees the count of every hit before it, and the stored
-- values are those of one INCRBY per counted hit, with the EXPIRE of `limits` when a hit's
-- result equals its cost (INFO commandstats: the calls into Redis, and Lua's work per hit, are
-- most of a call's time).
local peek = ARGV[2] == '1'
local hits, totals = ARGV[3], ARGV[4]
local byte, pack, unpack_struct = string.byte, struct.pack, struct.unpack
-- Each limit's amount and cost as numbers, once per call.
local amounts, costs = {}, {}
for s = 1, (#ARGV - 4) / 3 do
    amounts[s] = tonumber(ARGV[3 * s + 2])
    costs[s] = tonumber(ARGV[3 * s + 4])
end

-- The counts before the call, by position in KEYS, when the counters were written at once.
local befores
if not peek and #totals > 0 then
    befores = {}
    local fits = true
    local limits, reads = {}, {}
    for k = 1, #KEYS do
        local total, s, read = unpack_struct('<dI4B', totals, 13 * k - 12)
        local count = redis.call('INCRBY', KEYS[k], total)
        befores[k], limits[k], reads[k] = count - total, s, read
        if count > amounts[s] then
            fits = false
        end
    end
    if fits then
        local out = { '\1' }
        for k = 1, #KEYS do
            if befores[k] == 0 then
                -- Its first hit's result equals its cost: the window starts now.
                redis.call('EXPIRE', KEYS[k], ARGV[3 * limits[k] + 3])
            end
        end
        for k = 1, #KEYS do
            local ttl = -3
            if reads[k] == 1 then
                ttl = redis.call('PTTL', KEYS[k])
            end
            out[k + 1] = pack('<dd', befores[k], ttl)
        end
        return table.concat(out)
    end
end

-- Hit by hit. With `befores`, every counter holds its count before the call plus its total:
-- the counts are kept here and the counters set right at the end.
local out, decided = { '\0' }, 1
local stops, skipping, lazy = false, false, false
-- Per key written by this call (by its position in KEYS): its count so far, what its later
-- hits add, and the expiry to set at the end when a later hit started its window.
local counts, pending, expiries = {}, {}, {}
local pending_keys, pending_count = {}, 0
if befores then
    for k = 1, #KEYS do
        counts[k] = befores[k]
        -- Its total comes off; what its counted hits add goes on.
        pending[k] = -unpack_struct('<d', totals, 13 * k - 12)
        pending_keys[k] = k
    end
    pending_count = #KEYS
end
-- Records that report a PTTL (their place, key, admission and count): packed once every write
-- is done.
local ttl_places, ttl_keys, ttl_allowed, ttl_counts, ttl_count = {}, {}, {}, {}, 0
for p = 1, #hits, 9 do
    local k1, k2, k3, k4, s1, s2, s3, s4, mode = byte(hits, p, p + 8)
    if mode ~= 0 then
        stops, skipping, lazy = mode % 4 >= 2, false, mode >= 4
    end
    if not skipping then
        local k = k1 + 256 * (k2 + 256 * (k3 + 256 * k4))
        local s = s1 + 256 * (s2 + 256 * (s3 + 256 * s4))
        local cost = costs[s]
        local count
        local allowed
        if peek then
            count = tonumber(redis.call('GET', KEYS[k])) or 0
            allowed = count + cost <= amounts[s]
        else
            local before = counts[k]
            if before then
                count = before + cost
                local added = pending[k]
                if not added then
                    pending_count = pending_count + 1
                    pending_keys[pending_count] = k
                    added = 0
                end
                pending[k] = added + cost
            else
                -- The cost goes to redis.call as the text it came as: a Lua number is turned
                -- back into text there, with sprintf.
                count = redis.call('INCRBY', KEYS[k], ARGV[3 * s + 4])
            end
            counts[k] = count
            if count == cost then
                if before then
                    expiries[k] = ARGV[3 * s + 3]
                else
                    redis.call('EXPIRE', KEYS[k], ARGV[3 * s + 3])
                end
            end
            allowed = count <= amounts[s]
        end
        decided = decided + 1
        if lazy and allowed then
            out[decided] = pack('<Bdd', 1, count, -3)
        else
            -- PTTL costs as much as INCRBY: only read when it will be reported.
            ttl_count = ttl_count + 1
            ttl_places[ttl_count] = decided
            ttl_keys[ttl_count] = k
            ttl_allowed[ttl_count] = allowed and 1 or 0
            ttl_counts[ttl_count] = count
        end
        skipping = stops and not allowed
    end
end
for j = 1, pending_count do
    local k = pending_keys[j]
    local added = pending[k]
    if added ~= 0 then
        redis.call('INCRBY', KEYS[k], string.format('%.0f', added))
    end
    local expiry = expiries[k]
    if expiry then
        redis.call('EXPIRE', KEYS[k], expiry)
    elseif befores and befores[k] == 0 and counts[k] == 0 and redis.call('PTTL', KEYS[k]) == -1 then
        -- Created by the INCRBY of its total, then none of its hits counted: as if never
        -- written.
        redis.call('DEL', KEYS[k])
    end
end
local ttls = {}
for j = 1, ttl_count do
    local k = ttl_keys[j]
    local ttl = ttls[k]
    if not ttl then
        ttl = redis.call('PTTL', KEYS[k])
        ttls[k] = ttl
    end
    out[ttl_places[j]] = pack('<Bdd', ttl_allowed[j], ttl_counts[j], ttl)
end
return table.concat(out)
