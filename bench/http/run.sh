#!/usr/bin/env bash
# HTTP load benchmark: bare axum, our limiter (memory: each strategy, the 429 path; Redis: one,
# three and five limits, lease mode, the 429 path with the over-limit cache; Redis Cluster: three
# limits), a hand-written Redis Lua INCR+EXPIRE middleware (the Redis reference), tower_governor
# (allowed and 429 paths), optionally Flask / Flask-Limiter. The headline table of BENCHMARKS.md
# is bench/http/headline.sh (this script with its settings).
#
#   bench/http/run.sh                 # default: 5 repetitions × 10 s per app (~16 min)
#   bench/http/run.sh --quick         # 3 repetitions × 4 s
#   bench/http/run.sh --flask         # also bare Flask and Flask-Limiter under gunicorn (2 workers)
#   bench/http/run.sh --reps 7 --duration 15 --threads 2 --connections 64 --warmup 2
#   bench/http/run.sh --apps "bare limiter-memory-fixed tower-governor"
#
# Apps run in rotation (A B C … C B A …), a fresh process per run, a warm-up before each
# measured run, wrk and the server on the same machine (127.0.0.1). Redis apps need
# LIMITER_BENCH_REDIS_URL (e.g. redis://127.0.0.1:6379), the cluster app
# LIMITER_BENCH_REDIS_CLUSTER_URL (redis+cluster://…), and are skipped without it, or when the
# build has no Redis backend. Raw rows go to $OUT/raw.tsv, the summary to stdout and
# $OUT/summary.md (OUT defaults to .state/bench-http/<timestamp>).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPS=5 DURATION=10 WARMUP=2 THREADS=2 CONNECTIONS=64 FLASK=0 BUILD=1
APPS="bare limiter-memory-fixed limiter-memory-moving limiter-memory-sliding limiter-429 limiter-redis-429 redis-lua-baseline limiter-redis-1 limiter-redis-3 limiter-redis-5 limiter-redis-lease limiter-redis-cluster-3 tower-governor tower-governor-429"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) REPS=3 DURATION=4 WARMUP=1 ;;
        --reps) REPS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --connections) CONNECTIONS=$2; shift ;;
        --apps) APPS=$2; shift ;;
        --flask) FLASK=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
OUT=${OUT:-$ROOT/.state/bench-http/$(date -u +%Y%m%dT%H%M%SZ)}
PORT=${PORT:-18080}
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release -p http-bench-apps)
fi

VENV=$ROOT/.state/flask-venv
if [ "$FLASK" = 1 ]; then
    if [ ! -x "$VENV/bin/gunicorn" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet flask flask-limiter gunicorn
    fi
    APPS="$APPS flask-bare flask-limiter"
fi

# Commands of an app; prints nothing if the app is skipped.
command_of() {
    case "$1" in
        flask-bare|flask-limiter)
            local mode=${1#flask-}
            echo "env BENCH_FLASK_MODE=$mode $VENV/bin/gunicorn --chdir $ROOT/bench/http -w 2 -b 127.0.0.1:$PORT --log-level warning flask_app:app" ;;
        *) echo "env PORT=$PORT $BIN/$1" ;;
    esac
}

# Waits until the app answers; fails early if its process ($1) has exited.
wait_listening() {
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$PORT/fast"; then return 0; fi
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Keeps only apps that start (Redis apps exit with status 3 when not configured or not built).
RUN_APPS=""
for app in $APPS; do
    $(command_of "$app") >"$OUT/$app.log" 2>&1 &
    pid=$!
    if wait_listening "$pid"; then
        RUN_APPS="$RUN_APPS $app"
    else
        echo "skipping $app: $(tail -n1 "$OUT/$app.log")" | tee -a "$OUT/skipped.txt" >&2
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done

{
    echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
    echo "# wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, warm-up ${WARMUP}s, $REPS repetitions, rotation (reversed in even repetitions):$RUN_APPS"
    echo "# app	rep	req/s	p50_ms	p99_ms	non2xx"
} >"$OUT/raw.tsv"

# wrk prints latencies as 1.23us / 1.23ms / 1.23s.
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.4f", n }'
}

# Odd repetitions run the apps in order, even ones in reverse (A B C, C B A, …): each app meets
# each position and each neighbour from both sides, so neither where an app sits in a round nor
# which app ran just before it favours one app over another.
REVERSED_APPS=$(echo "$RUN_APPS" | tr ' ' '\n' | tac | tr '\n' ' ')
for rep in $(seq 1 "$REPS"); do
    order=$RUN_APPS
    [ $((rep % 2)) = 1 ] || order=$REVERSED_APPS
    for app in $order; do
        $(command_of "$app") >>"$OUT/$app.log" 2>&1 &
        pid=$!
        wait_listening "$pid" || { echo "$app did not start" >&2; exit 1; }
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT/fast" >/dev/null
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/fast" >"$OUT/$app.$rep.wrk"
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rps=$(awk '/^Requests\/sec/ { print $2 }' "$OUT/$app.$rep.wrk")
        p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$OUT/$app.$rep.wrk")")
        p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$OUT/$app.$rep.wrk")")
        non2xx=$(awk '/Non-2xx or 3xx responses/ { print $5 }' "$OUT/$app.$rep.wrk")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$rep" "$rps" "$p50" "$p99" "${non2xx:-0}" | tee -a "$OUT/raw.tsv"
    done
done

python3 "$ROOT/bench/http/summarize.py" "$OUT/raw.tsv" | tee "$OUT/summary.md"
echo "raw rows: $OUT/raw.tsv"
