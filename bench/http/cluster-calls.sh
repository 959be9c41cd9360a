#!/usr/bin/env bash
# Script calls per request on each master of a Redis Cluster, for apps that use it: for each app
# and repetition, a fresh process, a warm-up, then INFO commandstats reset on every master, a
# measured wrk run, and per master the EVALSHA calls and their server time divided by the requests
# served. Shows how a request's slots become calls (one per slot, shared by concurrent requests).
#
#   LIMITER_BENCH_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 \
#       bench/http/cluster-calls.sh limiter-redis-cluster-3
#   BIN=/path/to/other/build bench/http/cluster-calls.sh --reps 3 limiter-redis-cluster-3
#
# The cluster must be used by nothing else meanwhile. Build first (bench/http/run.sh builds; or
# cargo build --release -p http-bench-apps). Rows go to stdout and $OUT/raw.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
REPS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
APPS=${*:-limiter-redis-cluster-3}
URL=${LIMITER_BENCH_REDIS_CLUSTER_URL:?set LIMITER_BENCH_REDIS_CLUSTER_URL to a redis+cluster:// URI}
PORT=${PORT:-18080} DURATION=${DURATION:-5} CONNECTIONS=${CONNECTIONS:-64}
OUT=${OUT:-$ROOT/.state/bench-cluster/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
# The seed nodes of the URI are the masters (scripts/test-servers.sh's cluster has no replicas).
NODES=$(echo "${URL#*://}" | tr ',' ' ')

# "calls usec" of EVALSHA on one node.
evalsha() {
    redis-cli -h "${1%:*}" -p "${1##*:}" INFO commandstats | tr -d '\r' |
        awk -F'[=,:]' '/^cmdstat_evalsha:/ { found = 1; print $3, $5 } END { if (!found) print 0, 0 }'
}

pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT
printf 'app\trep\treq/s\tcalls/req per master\tcalls/req\tscript µs/req\n' | tee "$OUT/raw.tsv"
for rep in $(seq 1 "$REPS"); do
    for app in $APPS; do
        env PORT="$PORT" LIMITER_BENCH_REDIS_CLUSTER_URL="$URL" "$BIN/$app" >"$OUT/$app.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/fast" && break; sleep 0.1; done
        wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/fast" >/dev/null
        for node in $NODES; do redis-cli -h "${node%:*}" -p "${node##*:}" CONFIG RESETSTAT >/dev/null; done
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/fast" >"$OUT/wrk"
        stats=""
        for node in $NODES; do stats="$stats $(evalsha "$node" | tr ' ' ':')"; done
        kill "$pid"; wait "$pid" 2>/dev/null || true
        pid=""
        python3 - "$app" "$rep" "$OUT/wrk" $stats <<'PY' | tee -a "$OUT/raw.tsv"
import re, sys
app, rep, wrk_file, *stats = sys.argv[1:]
text = open(wrk_file).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
calls = [int(stat.split(":")[0]) for stat in stats]
usec = sum(int(stat.split(":")[1]) for stat in stats)
per_master = " / ".join(f"{c / requests:.3f}" for c in calls)
print(f"{app}\t{rep}\t{rps:.0f}\t{per_master}\t{sum(calls) / requests:.3f}\t{usec / requests:.2f}")
PY
    done
done
