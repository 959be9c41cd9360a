-- Moving window (sliding log) for a batch of hits, in one atomic call.
-- Per hit the writes are those of `limits`' acquire_moving_window.lua: a list of hit times in
-- seconds, newest first; a hit of `cost` against `amount` is refused if the entry at index
-- amount - cost is inside the window; otherwise `cost` copies of now are LPUSHed (as a Lua number,
-- so the server formats them exactly as it does for Python's script), the list is trimmed to
-- `amount` entries and its TTL set to the expiry.
--
-- KEYS: the call's distinct lists ("{prefix}:{limits key}"), each once.
-- ARGV[1]: now in seconds since the epoch, ARGV[2]: "1" to only look (test / window stats:
-- nothing is written), ARGV[3] (the hits), ARGV[4] (empty here) and the limits after it as in
-- fixed_window.lua (whose mode's "no reset time" is read by the fixed window alone).
-- Returns one record per decided hit (see scripts.rs): allowed (1/0), the number of entries
-- inside the window, the oldest of them (seconds since the epoch, 0 if none), 0, 0.
local now = tonumber(ARGV[1])
local peek = ARGV[2] == '1'

-- How many entries are at or after `cutoff` (a prefix of the list, at most `limit` long), and
-- the oldest of them: a binary search with LINDEX, as `limits`' moving_window.lua.
local function window(key, cutoff, limit)
    local lo, hi = 0, limit
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        local entry = redis.call('LINDEX', key, mid)
        if entry and tonumber(entry) >= cutoff then
            lo = mid + 1
        else
            hi = mid
        end
    end
    if lo == 0 then
        return 0, 0
    end
    return lo, tonumber(redis.call('LINDEX', key, lo - 1))
end

local hits = ARGV[3]
local byte, pack = string.byte, struct.pack
-- Each limit's amount, expiry (s) and cost as numbers, once per call.
local amounts, expiries, costs = {}, {}, {}
for s = 1, (#ARGV - 4) / 3 do
    amounts[s] = tonumber(ARGV[3 * s + 2])
    expiries[s] = tonumber(ARGV[3 * s + 3])
    costs[s] = tonumber(ARGV[3 * s + 4])
end
local out = {}
local stops, skipping = false, false
for p = 1, #hits, 9 do
    local k1, k2, k3, k4, s1, s2, s3, s4, mode = byte(hits, p, p + 8)
    if mode ~= 0 then
        stops, skipping = mode % 4 >= 2, false
    end
    if not skipping then
        local s = s1 + 256 * (s2 + 256 * (s3 + 256 * s4))
        local amount, expiry, cost = amounts[s], expiries[s], costs[s]
        local key = KEYS[k1 + 256 * (k2 + 256 * (k3 + 256 * k4))]
        local cutoff = now - expiry
        local allowed = 0
        if peek then
            local count = window(key, cutoff, amount)
            if count + cost <= amount then
                allowed = 1
            end
        elseif cost <= amount then
            local entry = redis.call('LINDEX', key, amount - cost)
            if not (entry and tonumber(entry) >= cutoff) then
                local entries = {}
                for j = 1, cost do
                    entries[j] = now
                end
                for j = 1, #entries, 5000 do
                    redis.call('LPUSH', key, unpack(entries, j, math.min(j + 4999, #entries)))
                end
                redis.call('LTRIM', key, 0, amount - 1)
                redis.call('EXPIRE', key, ARGV[3 * s + 3])
                allowed = 1
            end
        end
        local count, oldest = window(key, cutoff, amount)
        out[#out + 1] = pack('<Bdddd', allowed, count, oldest, 0, 0)
        skipping = stops and allowed == 0
    end
end
return table.concat(out)
