#!/usr/bin/env bash
# Instructions per check of the GCRA micro benchmark's sides (limiter-core/benches/gcra.rs),
# counted by callgrind: unlike nanoseconds, the counts do not move with the load of the machine.
#
#   bench/micro-instructions.sh                      # every side, at 1 and at 100,000 keys
#   bench/micro-instructions.sh gcra governor        # some sides
#   KEYS=1 bench/micro-instructions.sh
#
# Sides: gcra (RateLimiter::hit, GCRA), gcra-now (Storage::acquire_all_now, the synchronous call
# the web layer makes), fixed (RateLimiter::hit, fixed window), governor (check_key).
# Each side runs N1 and then N2 checks in two processes; (I2 - I1) / (N2 - N1) removes the set-up.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N1=${N1:-20000} N2=${N2:-220000}
SIDES=${*:-gcra gcra-now fixed governor}
KEYS=${KEYS:-1 100000}

if ! command -v valgrind >/dev/null; then
    apt-get install -y valgrind >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y valgrind >/dev/null; }
fi
BENCH=$(cd "$ROOT" && cargo bench -p limiter-core --bench gcra --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gcra" and m.get("executable"):
        print(m["executable"])')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

instructions() { # side keys checks
    LIMITER_BENCH_COUNT="$1:$2:$3" valgrind --tool=callgrind --callgrind-out-file="$OUT/out" "$BENCH" >/dev/null 2>"$OUT/log"
    awk '/^summary:/ { print $2 }' "$OUT/out"
}

printf '%-10s %8s %18s\n' side keys instructions/check
for keys in $KEYS; do
    for side in $SIDES; do
        i1=$(instructions "$side" "$keys" "$N1")
        i2=$(instructions "$side" "$keys" "$N2")
        printf '%-10s %8d %18d\n' "$side" "$keys" $(( (i2 - i1) / (N2 - N1) ))
    done
done
