-- Moving window (sliding log) for a batch of hits, in one atomic call.
-- Per hit the writes are those of `limits`' acquire_moving_window.lua: a list of hit times in
-- seconds, newest first; a hit of `cost` against `amount` is refused if the entry at index
-- amount - cost is inside the window; otherwise `cost` copies of now are LPUSHed (as a Lua number,
-- so the server formats them exactly as it does for Python's script), the list is trimmed to
-- `amount` entries and its TTL set to the expiry.
--
-- KEYS[i]: the list of hit i ("{prefix}:{limits key}").
-- ARGV[1]: now in seconds since the epoch, ARGV[2]: "1" to only look (test / window stats:
-- nothing is written), then per hit the four arguments of fixed_window.lua (which alone reads
-- the reset time only when asked).
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

local out = {}
local stops, skipping = false, false
for i = 1, #KEYS do
    local b = 3 + 4 * (i - 1)
    local mode = ARGV[b + 3]
    if mode ~= '0' then
        stops, skipping = tonumber(mode) % 4 >= 2, false
    end
    if not skipping then
        local amount = tonumber(ARGV[b])
        local expiry = tonumber(ARGV[b + 1])
        local cost = tonumber(ARGV[b + 2])
        local key = KEYS[i]
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
                redis.call('EXPIRE', key, ARGV[b + 1])
                allowed = 1
            end
        end
        local count, oldest = window(key, cutoff, amount)
        out[#out + 1] = struct.pack('<Bdddd', allowed, count, oldest, 0, 0)
        skipping = stops and allowed == 0
    end
end
return table.concat(out)
