-- Sliding window counter for a batch of hits, in one atomic call. Times are in milliseconds.
-- Per hit the writes are those of `limits`' acquire_sliding_window.lua (and, when only looking,
-- of sliding_window.lua): two counters anchored at the first hit; when the current one has less
-- than one expiry left it is renamed to the previous one and a new current one is created with
-- PX (its old TTL + expiry); a hit is admitted if
-- floor(previous * PTTL(previous) / expiry) + current + cost <= amount, and then the current
-- counter is INCRBYed, or SET to the cost with PX 2 * expiry if it does not exist.
--
-- KEYS: the call's distinct pairs of counters, each once: the previous
-- ("{prefix}:{{limits key}}/-1") then the current ("{prefix}:{{limits key}}") counter
-- (hash-tagged: one cluster slot).
-- ARGV[1]: now in seconds (unused here), ARGV[2]: "1" to only look (test / window stats: only
-- the roll-over is written, as in `limits`), ARGV[3] (the hits), ARGV[4] (empty here) and the
-- limits after it as in fixed_window.lua (a hit's key position is that of its previous
-- counter; the mode's "no reset time" is read by the fixed window alone).
-- Returns one record per decided hit (see scripts.rs): allowed (1/0; when looking, 1 if
-- floor(weighted) + cost <= amount), previous count, previous PTTL, current count, current PTTL
-- (PTTLs >= 0).
local peek = ARGV[2] == '1'

local function state(previous, current)
    local previous_count = tonumber(redis.call('GET', previous)) or 0
    local previous_ttl = tonumber(redis.call('PTTL', previous)) or 0
    local current_count = tonumber(redis.call('GET', current)) or 0
    local current_ttl = tonumber(redis.call('PTTL', current)) or 0
    if previous_ttl <= 0 then
        previous_ttl = 0
    end
    if current_ttl <= 0 then
        current_ttl = 0
    end
    return previous_count, previous_ttl, current_count, current_ttl
end

local hits = ARGV[3]
local byte, pack = string.byte, struct.pack
-- Each limit's amount, expiry (ms) and cost as numbers, once per call.
local amounts, expiries, costs = {}, {}, {}
for s = 1, (#ARGV - 4) / 3 do
    amounts[s] = tonumber(ARGV[3 * s + 2])
    expiries[s] = tonumber(ARGV[3 * s + 3]) * 1000
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
        local k = k1 + 256 * (k2 + 256 * (k3 + 256 * k4))
        local s = s1 + 256 * (s2 + 256 * (s3 + 256 * s4))
        local amount, expiry, cost = amounts[s], expiries[s], costs[s]
        local previous = KEYS[k]
        local current = KEYS[k + 1]

        local current_ttl = tonumber(redis.call('PTTL', current))
        if current_ttl > 0 and current_ttl < expiry then
            -- The current window is over: it becomes the previous one.
            redis.call('RENAME', current, previous)
            redis.call('SET', current, 0, 'PX', current_ttl + expiry)
        end

        local allowed = 0
        local pc, pt, cc, ct = state(previous, current)
        local weighted = math.floor(pc * pt / expiry) + cc
        if cost <= amount and weighted + cost <= amount then
            allowed = 1
            if not peek then
                if redis.call('EXISTS', current) == 1 then
                    cc = redis.call('INCRBY', current, ARGV[3 * s + 4])
                else
                    redis.call('SET', current, cost, 'PX', expiry * 2)
                    cc, ct = cost, expiry * 2
                end
            end
        end
        out[#out + 1] = pack('<Bdddd', allowed, pc, pt, cc, ct)
        skipping = stops and allowed == 0
    end
end
return table.concat(out)
