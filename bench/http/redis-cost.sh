#!/usr/bin/env bash
# Where a Redis-checked request's time goes: for each app, a fresh process under wrk, then per
# request the script calls and script time the Redis server reports (INFO commandstats, EVALSHA)
# and the CPU time (user + system, from /proc) of the app, of the Redis server and of wrk.
#
#   LIMITER_BENCH_REDIS_URL=redis://127.0.0.1:24379 bench/http/redis-cost.sh
#   LIMITER_BENCH_REDIS_URL=… bench/http/redis-cost.sh redis-lua-baseline limiter-redis-3
#
# The Redis server must be a local process (its CPU time is read from /proc) used by nothing
# else meanwhile: its statistics are reset before each app. Build first (bench/http/run.sh
# builds; or cargo build --release -p http-bench-apps). CPU figures move with the machine's
# load; compare apps measured in the same invocation.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
APPS=${*:-redis-lua-baseline limiter-redis-1 limiter-redis-3}
URL=${LIMITER_BENCH_REDIS_URL:?set LIMITER_BENCH_REDIS_URL to a local Redis}
PORT=${PORT:-18080} DURATION=${DURATION:-8} CONNECTIONS=${CONNECTIONS:-64}
REDIS_PORT=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port or 6379)' "$URL")
REDIS_PID=$(pgrep -f "redis-server .*:$REDIS_PORT\b" | head -n1)
[ -n "$REDIS_PID" ] || { echo "no local redis-server on port $REDIS_PORT" >&2; exit 1; }
TICK=$(getconf CLK_TCK)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
evalsha() { redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_evalsha:/ { print $3, $5 }'; }

printf '%-20s %9s %15s %15s %11s %11s %11s\n' app 'req/s' 'calls/request' 'script µs/req' 'app µs/req' 'redis µs/req' 'wrk µs/req'
for app in $APPS; do
    env PORT="$PORT" LIMITER_BENCH_REDIS_URL="$URL" "$BIN/$app" >"$OUT/$app.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/fast" && break; sleep 0.1; done
    wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/fast" >/dev/null
    redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
    app0=$(cpu_ticks "$pid") redis0=$(cpu_ticks "$REDIS_PID")
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/fast" >"$OUT/wrk" &
    wrk_pid=$!
    sleep 0.5
    wrk0=$(cpu_ticks "$wrk_pid")
    sleep "$(python3 -c "print($DURATION - 1)")"
    wrk1=$(cpu_ticks "$wrk_pid")
    wait "$wrk_pid"
    app1=$(cpu_ticks "$pid") redis1=$(cpu_ticks "$REDIS_PID")
    read -r calls usec <<<"$(evalsha)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$app" "$OUT/wrk" "$TICK" "$DURATION" "$calls" "$usec" "$app0" "$app1" "$redis0" "$redis1" "$wrk0" "$wrk1" <<'EOF'
import re, sys
app, wrk_file, tick, duration, calls, usec, a0, a1, r0, r1, w0, w1 = sys.argv[1:]
text = open(wrk_file).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
us = 1e6 / float(tick)
per = lambda t0, t1: (int(t1) - int(t0)) * us / requests
# wrk's own CPU was sampled over duration - 1 seconds of the run.
wrk = (int(w1) - int(w0)) * us / (rps * (float(duration) - 1))
print(f"{app:20} {rps:9.0f} {int(calls) / requests:15.3f} {int(usec) / requests:15.2f} "
      f"{per(a0, a1):11.2f} {per(r0, r1):11.2f} {wrk:11.2f}")
EOF
done
