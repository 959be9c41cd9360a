-- GCRA for a batch of hits, in one atomic call (strategy/gcra.rs is the same arithmetic on the
-- memory storage). Times are nanoseconds, on the server's clock (TIME), so that every client
-- of the server agrees on "now" whatever their own clocks say.
--
-- A key holds the theoretical arrival time (TAT) as whole nanoseconds since the epoch, in
-- decimal, with a PX expiry when it is in the past again. Arithmetic is split into seconds and
-- nanoseconds, since a Lua number holds whole numbers exactly only up to 2^53 (104 days of
-- nanoseconds). A hit of `cost` is admitted iff max(TAT, now) + cost * interval - now <=
-- burst * interval, where interval = ceil(period / amount); then TAT moves on by
-- cost * interval. A rejected hit writes nothing.
--
-- KEYS: the call's distinct arrival times ("{prefix}:{{limits key}}/gcra"), each once.
-- ARGV[1]: the burst, "0" for each limit's amount; ARGV[2]: "1" to only look (test / window
-- stats: nothing is written); ARGV[3] (the hits), ARGV[4] (empty here) and the limits after it
-- (amount, period in seconds, cost) as in fixed_window.lua (of the mode only "stops at its
-- first rejected hit" matters here: a GCRA reset time costs no extra read).
-- Returns one record per decided hit (see scripts.rs), packed as '<Bdd': allowed (1/0; when
-- looking, 1 if it would pass), how many hits of cost 1 would pass now, and the nanoseconds
-- until the reset: for an admitted hit (or a look) until the bucket is full again, for a
-- rejected one until it would pass (until full if its cost exceeds the burst).
local peek = ARGV[2] == '1'
local configured_burst = tonumber(ARGV[1])
local time = redis.call('TIME')
local now_s, now_ns = tonumber(time[1]), tonumber(time[2]) * 1000
local hits = ARGV[3]
local byte, pack = string.byte, struct.pack
-- Each limit's amount, period (ns) and cost as numbers, once per call.
local amounts, periods, costs = {}, {}, {}
for s = 1, (#ARGV - 4) / 3 do
    amounts[s] = tonumber(ARGV[3 * s + 2])
    periods[s] = tonumber(ARGV[3 * s + 3]) * 1e9
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
        local amount, period, cost = amounts[s], periods[s], costs[s]
        local key = KEYS[k1 + 256 * (k2 + 256 * (k3 + 256 * k4))]
        local allowed, remaining, wait = 0, 0, period
        if amount > 0 then
            local interval = math.max(math.ceil(period / amount), 1)
            local burst = amount
            if configured_burst > 0 then
                burst = configured_burst
            end
            local tolerance = burst * interval
            -- How far the arrival time runs ahead of now (0 when it is past or unset).
            local ahead = 0
            local stored = redis.call('GET', key)
            if stored then
                local seconds = tonumber(string.sub(stored, 1, -10)) or 0
                local nanos = tonumber(string.sub(stored, -9)) or 0
                ahead = math.max((seconds - now_s) * 1e9 + (nanos - now_ns), 0)
            end
            local needed = cost * interval
            if ahead + needed <= tolerance then
                allowed = 1
                ahead = ahead + needed
                wait = ahead
                if not peek and needed > 0 then
                    local tat = now_ns + ahead
                    local tat_s = now_s + math.floor(tat / 1e9)
                    redis.call('SET', key, string.format('%d%09d', tat_s, tat % 1e9),
                        'PX', math.ceil(ahead / 1e6))
                end
            elseif needed > tolerance then
                wait = ahead
            else
                wait = ahead + needed - tolerance
            end
            remaining = math.floor(math.max(tolerance - ahead, 0) / interval)
        end
        out[#out + 1] = pack('<Bdd', allowed, remaining, wait)
        skipping = stops and allowed == 0
    end
end
return table.concat(out)
