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
-- ARGV[3s + 1], ARGV[3s + 2], ARGV[3s + 3]: limit s's amount, expiry (s) and cost.
-- (arguments.rs builds this; each key and limit is sent once however many hits name it.)
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
local hits = ARGV[3]
local byte, pack = string.byte, struct.pack
-- Each limit's amount and cost as numbers, once per call.
local amounts, costs = {}, {}
for s = 1, (#ARGV - 3) / 3 do
    amounts[s] = tonumber(ARGV[3 * s + 1])
    costs[s] = tonumber(ARGV[3 * s + 3])
end
local out, decided = {}, 0
local stops, skipping, lazy = false, false, false
-- Per key written by this call (by its position in KEYS): its count so far, what its later
-- hits add, and the expiry to set at the end when a later hit started its window.
local counts, pending, expiries = {}, {}, {}
local pending_keys, pending_count = {}, 0
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
                count = redis.call('INCRBY', KEYS[k], ARGV[3 * s + 3])
            end
            counts[k] = count
            if count == cost then
                if before then
                    expiries[k] = ARGV[3 * s + 2]
                else
                    redis.call('EXPIRE', KEYS[k], ARGV[3 * s + 2])
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
    redis.call('INCRBY', KEYS[k], string.format('%.0f', pending[k]))
    local expiry = expiries[k]
    if expiry then
        redis.call('EXPIRE', KEYS[k], expiry)
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
