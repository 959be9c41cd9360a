#!/usr/bin/env bash
# Instructions per request of the HTTP benchmark apps (bench/http-apps), counted by callgrind over
# real HTTP: each app runs under valgrind, serves a warm-up, has its counters zeroed, serves N
# requests (curl, one keep-alive connection, one request at a time) and dumps its counters.
# Unlike requests per second, the counts do not move with the load of the machine.
#
#   bench/app-instructions.sh                                   # bare, memory, lease
#   bench/app-instructions.sh bare limiter-redis-lease
#   N=5000 WARMUP=500 bench/app-instructions.sh
#
# The Redis apps read $LIMITER_BENCH_REDIS_URL (e.g. a private server from
# scripts/test-servers.sh). Timers and sweeps that run while the app is served count too, so the
# figures carry a few instructions of noise per request.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-4000} WARMUP=${WARMUP:-400} PORT=${PORT:-18380}
APPS=${*:-bare limiter-memory-fixed limiter-redis-lease}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

(cd "$ROOT" && cargo build --release -p http-bench-apps $(printf -- '--bin %s ' $APPS) >/dev/null 2>&1)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

requests() { # count
    curl -s -o /dev/null "http://127.0.0.1:$PORT/fast?[1-$1]"
}

printf '%-28s %20s\n' app instructions/request
for app in $APPS; do
    PORT=$PORT valgrind --tool=callgrind --callgrind-out-file="$OUT/$app.%p" "$BIN/$app" \
        >"$OUT/$app.log" 2>&1 &
    for _ in $(seq 600); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/fast" && break
        sleep 0.1
    done
    # The tool's process (valgrind is a wrapper script), named in its output file.
    out=$(ls "$OUT/$app".[0-9]*)
    pid=${out##*.}
    requests "$WARMUP"
    callgrind_control -z "$pid" >/dev/null 2>&1
    requests "$N"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait 2>/dev/null || true
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$out".1)
    printf '%-28s %20d\n' "$app" $(( total / N ))
    rm -f "$OUT/$app".*
done
