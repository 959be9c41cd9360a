#!/usr/bin/env bash
# The headline table of BENCHMARKS.md in one command: starts this checkout's test servers (a
# standalone Redis and a Redis Cluster used by nothing else, scripts/test-servers.sh), then runs
# every app of bench/http/run.sh with Flask, 5 repetitions × 5 s in rotation, and prints the
# table (raw rows and summary under .state/bench-http/<timestamp>/).
#
#   bench/http/headline.sh                  # ~12 min
#   REPS=7 DURATION=10 bench/http/headline.sh --no-build
#
# The Redis profile beside it (script calls, Redis CPU and script time per request, each
# command's usec_per_call from INFO commandstats) is
#   bench/http/cost.sh redis-lua-baseline limiter-redis-1 limiter-redis-3 limiter-redis-5 limiter-redis-lease
# with LIMITER_BENCH_REDIS_URL set as below.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The servers stop with the run, so that a later scripts/test finds their ports free.
trap '"$ROOT/scripts/test-servers.sh" stop >/dev/null' EXIT
eval "$("$ROOT/scripts/test-servers.sh" start)"
export LIMITER_BENCH_REDIS_URL=$LIMITER_TEST_REDIS_URL
export LIMITER_BENCH_REDIS_CLUSTER_URL=$LIMITER_TEST_REDIS_CLUSTER_URL
"$ROOT/bench/http/run.sh" --reps "${REPS:-5}" --duration "${DURATION:-5}" --flask "$@"
