#!/usr/bin/env bash
# Instructions per request of each app of the in-process router bench
# (limiter-axum/benches/service.rs), counted by callgrind: unlike nanoseconds, the counts do not
# move with the load of the machine, so two commits can be compared on a busy one.
#
#   bench/instructions.sh                          # every app
#   bench/instructions.sh bare limiter-fixed-window
#
# Each app serves N1 and then N2 requests in two runs; (I2 - I1) / (N2 - N1) removes the set-up.
# Only the measured app is built (a limiter's sweeper thread would otherwise count in every
# app's figures); two runs of the script give the same counts to within a few instructions.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N1=${N1:-2000} N2=${N2:-42000}
APPS=${*:-bare pass-through-route-layer tower-governor tower-governor-429 limiter-fixed-window limiter-moving-window limiter-sliding-window-counter limiter-429 limiter-fixed-window-headers limiter-429-headers}

if ! command -v valgrind >/dev/null; then
    apt-get install -y valgrind >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y valgrind >/dev/null; }
fi
BENCH=$(cd "$ROOT" && cargo bench -p limiter-axum --bench service --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "service" and m.get("executable"):
        print(m["executable"])')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

instructions() { # app requests
    LIMITER_BENCH_SERVE="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$OUT/out" "$BENCH" >/dev/null 2>"$OUT/log"
    awk '/^summary:/ { print $2 }' "$OUT/out"
}

printf '%-34s %12s\n' app instructions/request
for app in $APPS; do
    i1=$(instructions "$app" "$N1")
    i2=$(instructions "$app" "$N2")
    printf '%-34s %12d\n' "$app" $(( (i2 - i1) / (N2 - N1) ))
done
