#!/usr/bin/env bash
# What a request costs each app, in CPU time rather than throughput: for each app, a fresh
# process under wrk, then per request the CPU time (user + system, from /proc) of the app and of
# wrk; for Redis apps also the script calls and script time the Redis server reports (INFO
# commandstats, EVALSHA) and the Redis server's CPU time. Apps run in rotation, and each figure
# is also given as the median of per-repetition differences from bare axum.
#
#   bench/http/cost.sh                                   # bare, memory fixed window, tower_governor
#   bench/http/cost.sh --reps 9 bare limiter-memory-fixed tower-governor
#   LIMITER_BENCH_REDIS_URL=redis://127.0.0.1:24379 bench/http/cost.sh redis-lua-baseline limiter-redis-1 limiter-redis-3
#
# Why: wrk and the server share the machine's cores, so req/s moves with scheduling, while the
# app's CPU time per request is what the limiter adds to each request. A Redis server must be a
# local process (its CPU time is read from /proc) used by nothing else meanwhile: its statistics
# are reset before each app. Build first (bench/http/run.sh builds; or
# cargo build --release -p http-bench-apps). Raw rows go to $OUT/raw.tsv (OUT defaults to
# .state/bench-cost/<timestamp>).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
REPS=5
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
APPS=${*:-bare limiter-memory-fixed tower-governor}
URL=${LIMITER_BENCH_REDIS_URL:-}
PORT=${PORT:-18080} DURATION=${DURATION:-8} CONNECTIONS=${CONNECTIONS:-64}
TICK=$(getconf CLK_TCK)
OUT=${OUT:-$ROOT/.state/bench-cost/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

REDIS_PORT="" REDIS_PID=""
if [ -n "$URL" ]; then
    REDIS_PORT=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port or 6379)' "$URL")
    REDIS_PID=$(pgrep -f "redis-server .*:$REDIS_PORT\b" | head -n1)
    [ -n "$REDIS_PID" ] || { echo "no local redis-server on port $REDIS_PORT" >&2; exit 1; }
fi

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
evalsha() {
    if [ -n "$REDIS_PORT" ]; then
        redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
            awk -F'[=,:]' '/^cmdstat_evalsha:/ { found = 1; print $3, $5 } END { if (!found) print 0, 0 }'
    else
        echo 0 0
    fi
}

# An app still running when this script stops (an error, ^C) would hold the port.
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT
printf 'app\trep\treq/s\tapp_us\twrk_us\tredis_us\tcalls\tscript_us\n' >"$OUT/raw.tsv"
for rep in $(seq 1 "$REPS"); do
    for app in $APPS; do
        env PORT="$PORT" LIMITER_BENCH_REDIS_URL="$URL" "$BIN/$app" >"$OUT/$app.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/fast" && break; sleep 0.1; done
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "skipped $app: $(tail -n1 "$OUT/$app.log")" >&2
            continue
        fi
        wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/fast" >/dev/null
        [ -z "$REDIS_PORT" ] || redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
        app0=$(cpu_ticks "$pid") redis0=$([ -z "$REDIS_PID" ] && echo 0 || cpu_ticks "$REDIS_PID")
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/fast" >"$OUT/wrk" &
        wrk_pid=$!
        sleep 0.5
        # wrk's CPU is sampled over most of the run, with the wall time between the samples (no
        # python here: under load its start-up alone outlasted the run's last second).
        wrk0=$(cpu_ticks "$wrk_pid") wall0=$(date +%s.%N)
        sleep $((DURATION - 2))
        wrk1=$(cpu_ticks "$wrk_pid") wall1=$(date +%s.%N)
        wait "$wrk_pid"
        app1=$(cpu_ticks "$pid") redis1=$([ -z "$REDIS_PID" ] && echo 0 || cpu_ticks "$REDIS_PID")
        read -r calls usec <<<"$(evalsha)"
        # Every command the server ran (those called from scripts included), for the profile.
        if [ -n "$REDIS_PORT" ]; then
            redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | grep '^cmdstat_' |
                sed "s/^/$app\t$rep\t/" >>"$OUT/commandstats.tsv"
        fi
        kill "$pid"; wait "$pid" 2>/dev/null || true
        python3 - "$app" "$rep" "$OUT/wrk" "$TICK" "$(awk -v a="$wall0" -v b="$wall1" 'BEGIN { print b - a }')" "$calls" "$usec" \
            "$app0" "$app1" "$redis0" "$redis1" "$wrk0" "$wrk1" >>"$OUT/raw.tsv" <<'EOF'
import re, sys
app, rep, wrk_file, tick, sampled, calls, usec, a0, a1, r0, r1, w0, w1 = sys.argv[1:]
text = open(wrk_file).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
us = 1e6 / float(tick)
per = lambda t0, t1: (int(t1) - int(t0)) * us / requests
# wrk's own CPU was sampled over `sampled` seconds of the run.
wrk = (int(w1) - int(w0)) * us / (rps * float(sampled))
print(f"{app}\t{rep}\t{rps:.0f}\t{per(a0, a1):.3f}\t{wrk:.3f}\t{per(r0, r1):.3f}\t"
      f"{int(calls) / requests:.4f}\t{int(usec) / requests:.3f}")
EOF
        tail -n1 "$OUT/raw.tsv" >&2
    done
done

python3 - "$OUT/raw.tsv" <<'EOF' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
apps = list(dict.fromkeys(row["app"] for row in rows))
by = {(row["app"], row["rep"]): row for row in rows}
reps = sorted({row["rep"] for row in rows}, key=int)

def median(app, field):
    values = [float(by[app, rep][field]) for rep in reps if (app, rep) in by]
    return statistics.median(values) if values else float("nan")

def above_bare(app):
    """Median and range of (app − bare) app-CPU µs per request, paired by repetition."""
    deltas = [float(by[app, rep]["app_us"]) - float(by["bare", rep]["app_us"])
              for rep in reps if (app, rep) in by and ("bare", rep) in by]
    if not deltas:
        return "-"
    return f"{statistics.median(deltas):+.2f} [{min(deltas):+.2f}..{max(deltas):+.2f}]"

print("| app | reps | median req/s | app CPU µs/req | above bare, paired | wrk CPU µs/req "
      "| Redis CPU µs/req | script calls/req | script µs/req |")
print("|---|---|---|---|---|---|---|---|---|")
for app in apps:
    count = sum(1 for rep in reps if (app, rep) in by)
    print(f"| {app} | {count} | {median(app, 'req/s'):,.0f} | {median(app, 'app_us'):.2f} "
          f"| {above_bare(app) if app != 'bare' else '-'} | {median(app, 'wrk_us'):.2f} "
          f"| {median(app, 'redis_us'):.2f} | {median(app, 'calls'):.3f} "
          f"| {median(app, 'script_us'):.2f} |")
print()
print("CPU µs/req = the process's user + system CPU time over the measured run / requests served "
      "(/proc, clock ticks); 'above bare' = median over repetitions of (app − bare) in the same "
      "repetition, [min..max].")
print(f"raw rows: {sys.argv[1]}")
EOF

# Per app, each command's calls and usec_per_call (medians over repetitions).
if [ -s "$OUT/commandstats.tsv" ]; then
    python3 - "$OUT/commandstats.tsv" <<'EOF' | tee -a "$OUT/summary.md"
import re, statistics, sys
from collections import defaultdict
stats = defaultdict(lambda: defaultdict(list))  # app -> command -> [(calls, usec_per_call)]
for line in open(sys.argv[1]):
    app, rep, text = line.rstrip("\n").split("\t")
    match = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)", text)
    if match:
        stats[app][match.group(1)].append((int(match.group(2)), float(match.group(4))))
print()
print("| app | command | calls per run (median) | usec_per_call (median) |")
print("|---|---|---:|---:|")
for app, commands in stats.items():
    ranked = sorted(commands.items(), key=lambda item: -statistics.median(c for c, _ in item[1]))
    for command, values in ranked:
        if command in ("config", "info", "ping", "client", "hello", "select", "script"):
            continue
        print(f"| {app} | {command} | {statistics.median(c for c, _ in values):,.0f} "
              f"| {statistics.median(u for _, u in values):.2f} |")
EOF
fi
