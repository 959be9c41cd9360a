#!/usr/bin/env bash
# scripts/test-servers.sh — install, start and stop the real storage servers
# that the end-to-end tests need (Debian 12, as root or with sudo, no systemd, no Docker).
#
# Usage:
#   scripts/test-servers.sh install [PKG…]  install missing packages (apt-get; also PKG…), quiet if none
#   scripts/test-servers.sh start        (re)start every server, wait until ready, write <state>/env
#   scripts/test-servers.sh stop         stop every server this script started (idempotent)
#   scripts/test-servers.sh status       show which servers are running (exit 0 iff all are)
#   scripts/test-servers.sh env          print <state>/env
#   scripts/test-servers.sh stop-redis   stop the standalone Redis (for fault-injection tests)
#   scripts/test-servers.sh start-redis  start it again on the same port (empty dataset)
#
# `start` prints only `export NAME=value` lines on stdout (progress goes to
# stderr), so `eval "$(scripts/test-servers.sh start)"` or
# `. "$LIMITER_TEST_STATE/env"` both work.  Exported variables:
#   LIMITER_TEST_REDIS_URL          redis://127.0.0.1:21379
#   LIMITER_TEST_REDIS_TLS_URL      rediss://127.0.0.1:21479  (TLS only, no client certificate)
#   LIMITER_TEST_REDIS_TLS_CA       <state>/tls/ca.pem  (the throw-away CA that signed its certificate)
#   LIMITER_TEST_REDIS_CLUSTER_URL  redis+cluster://127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003
#   LIMITER_TEST_REDIS_SENTINEL_URL redis+sentinel://127.0.0.1:21390/mymaster
#   LIMITER_TEST_SENTINEL_PORT      21390
#   LIMITER_TEST_REDIS_MASTER_PORT  21380  (master monitored by the sentinel, at start)
#   LIMITER_TEST_REDIS_REPLICA_PORT 21381  (its replica, at start)
#   LIMITER_TEST_MEMCACHED_URL      memcached://127.0.0.1:21211,127.0.0.1:21212
#   LIMITER_TEST_SERVERS            1
#
# Overrides (environment variables read by start/start-redis; defaults shown):
#   LIMITER_TEST_STATE=<repo>/.state/servers  private state dir (wiped by `start`)
#   LIMITER_TEST_REDIS_PORT=21379             standalone Redis
#   LIMITER_TEST_REDIS_TLS_PORT=21479         standalone Redis over TLS (its plain port is off)
#   LIMITER_TEST_REDIS_CLUSTER_PORT1=21001    Redis Cluster masters; their cluster
#   LIMITER_TEST_REDIS_CLUSTER_PORT2=21002    bus ports (port + 10000) must be free too
#   LIMITER_TEST_REDIS_CLUSTER_PORT3=21003
#   LIMITER_TEST_REDIS_MASTER_PORT=21380      sentinel-monitored master
#   LIMITER_TEST_REDIS_REPLICA_PORT=21381     its replica (--replicaof)
#   LIMITER_TEST_SENTINEL_PORT=21390          sentinel (service `mymaster`, quorum 1)
#   LIMITER_TEST_MEMCACHED_PORT1=21211        memcached instances
#   LIMITER_TEST_MEMCACHED_PORT2=21212
#   (The defaults, and the cluster bus ports 31001-31003, lie below Linux's ephemeral port range
#   32768-60999, so an outgoing connection of the machine cannot be holding one of them.)
#   LIMITER_TEST_SERVERS_TIMEOUT=20           seconds allowed for each readiness wait
#
# Notes for test authors:
#   * All servers listen on 127.0.0.1 only and persist nothing.
#   * The sentinel uses down-after-milliseconds 1000 and failover-timeout 3000,
#     so `redis-cli -p 21390 sentinel failover mymaster` completes in ~1-2 s.
#     AFTER A FAILOVER THE ROLES ARE SWAPPED: 21381 is the master and 21380 its
#     replica until the next `start`.  Tests that fail over must not assume
#     which port is the master: ask the sentinel
#     (`sentinel get-master-addr-by-name mymaster`), or fail back themselves.
#     The sentinel reports the new master ~1.1 s after SENTINEL FAILOVER, but
#     it turns the OLD master into a replica only at its next INFO of it,
#     ~10 s later (fixed 10 s INFO period): until then both ports say
#     role:master, so write only to the address the sentinel reports.
#   * Measured on 2 cores: cold `start` ~2.1 s (the cluster's 2 s writable
#     delay is the critical path; a `start` over running servers first stops
#     them, +<=1 s); `stop` 0.1-1 s (memcached acts on SIGTERM only at its
#     next once-a-second clock tick).
#   * stop-redis/start-redis restart the standalone Redis with an empty dataset.
#   * The TLS Redis (`--port 0 --tls-port …`, `--tls-auth-clients no`) serves a
#     certificate for IP 127.0.0.1 (and DNS localhost) signed by a CA generated
#     with openssl at each `start` (EC P-256, valid 7 days) into <state>/tls/;
#     only the CA's certificate (ca.pem) is meant for clients, the keys never
#     leave the state dir.  By hand:
#       redis-cli --tls --cacert "$LIMITER_TEST_REDIS_TLS_CA" -p 21479 ping
#   * Only pids recorded in <state>/pids (pid + start time, checked against
#     /proc) are ever signalled; a port already taken by anything else makes
#     `start` fail instead of touching that process.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)

STATE=${LIMITER_TEST_STATE:-$REPO_ROOT/.state/servers}
TIMEOUT=${LIMITER_TEST_SERVERS_TIMEOUT:-20}

REDIS_PORT=${LIMITER_TEST_REDIS_PORT:-21379}
REDIS_TLS_PORT=${LIMITER_TEST_REDIS_TLS_PORT:-21479}
CLUSTER_PORT1=${LIMITER_TEST_REDIS_CLUSTER_PORT1:-21001}
CLUSTER_PORT2=${LIMITER_TEST_REDIS_CLUSTER_PORT2:-21002}
CLUSTER_PORT3=${LIMITER_TEST_REDIS_CLUSTER_PORT3:-21003}
MASTER_PORT=${LIMITER_TEST_REDIS_MASTER_PORT:-21380}
REPLICA_PORT=${LIMITER_TEST_REDIS_REPLICA_PORT:-21381}
SENTINEL_PORT=${LIMITER_TEST_SENTINEL_PORT:-21390}
MEMCACHED_PORT1=${LIMITER_TEST_MEMCACHED_PORT1:-21211}
MEMCACHED_PORT2=${LIMITER_TEST_MEMCACHED_PORT2:-21212}

HOST=127.0.0.1
SENTINEL_SERVICE=mymaster
# Every server this script manages, in start order.
ALL_NAMES=(redis redis-tls cluster-1 cluster-2 cluster-3 sentinel-master sentinel-replica
           sentinel memcached-1 memcached-2)
# Set while `start` runs: a failure then stops whatever was already started.
STARTING=0

log() { printf 'test-servers: %s\n' "$*" >&2; }

die() {
    printf 'test-servers: error: %s\n' "$*" >&2
    exit 1
}

# A failed `start` (die or any unexpected error) stops what it had started.
on_exit() {
    if [[ $STARTING == 1 ]]; then
        STARTING=0
        log "start failed: stopping the servers started so far (logs kept in $STATE/logs)"
        stop_all >&2 || true
    fi
}
trap on_exit EXIT

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Microseconds since the epoch (bash 5 $EPOCHREALTIME, locale-proof).
now_us() { printf '%s' "${EPOCHREALTIME//[!0-9]/}"; }

# proc_stat PID: set P_STATE (state letter) and P_START (start time in clock
# ticks, field 22) from /proc/PID/stat; fail if the process is gone.  Builtins
# only (no forks): `stop` polls this every 50 ms.  The comm field may contain
# spaces and parentheses, so cut after the last ')'.
proc_stat() {
    local line
    local -a f
    P_STATE='' P_START=''
    { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    read -r -a f <<<"${line##*) }"
    P_STATE=${f[0]} P_START=${f[19]}
}

# alive PID STARTTIME: the very process we recorded exists and is not a zombie.
alive() {
    proc_stat "$1" || return 1
    [[ $P_STATE != Z && $P_START == "$2" ]]
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

port_owner() {
    if command -v ss >/dev/null 2>&1; then
        ss -Htlnp "sport = :$1" 2>/dev/null | head -n 3 || true
    fi
}

logfile_of() { printf '%s/logs/%s.log' "$STATE" "$1"; }

log_tail() {
    local f
    f=$(logfile_of "$1")
    if [[ -s $f ]]; then
        printf -- '--- last lines of %s ---\n' "$f"
        tail -n 20 "$f"
        printf -- '---\n'
    else
        printf '(no log output in %s)\n' "$f"
    fi
}

# ---------------------------------------------------------------- pid registry
# <state>/pids/NAME holds "PID STARTTIME PORT".

record() { # NAME PID PORT
    proc_stat "$2" || die "$1 (port $3) exited immediately
$(log_tail "$1")"
    printf '%s %s %s\n' "$2" "$P_START" "$3" >"$STATE/pids/$1"
}

# read_record NAME -> sets R_PID R_START R_PORT; fails if no record
read_record() {
    local f="$STATE/pids/$1"
    [[ -f $f ]] || return 1
    read -r R_PID R_START R_PORT <"$f" || return 1
    [[ -n ${R_PID:-} && -n ${R_START:-} ]]
}

running() { # NAME
    read_record "$1" && alive "$R_PID" "$R_START"
}

# stop_names NAME...: SIGTERM every recorded live pid, wait (zombie == gone),
# SIGKILL after ~3 s, then drop the records.
stop_names() {
    local name
    local -a pids=() starts=() names=()
    for name in "$@"; do
        if read_record "$name" && alive "$R_PID" "$R_START"; then
            kill -TERM "$R_PID" 2>/dev/null || true
            pids+=("$R_PID"); starts+=("$R_START"); names+=("$name")
        fi
    done
    local deadline=$(( $(now_us) + 3000000 )) killed=0 i left
    while :; do
        left=0
        for i in "${!pids[@]}"; do
            alive "${pids[$i]}" "${starts[$i]}" && left=$((left + 1))
        done
        (( left == 0 )) && break
        if (( $(now_us) > deadline )); then
            (( killed )) && break
            for i in "${!pids[@]}"; do
                if alive "${pids[$i]}" "${starts[$i]}"; then
                    log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM, sending SIGKILL"
                    kill -KILL "${pids[$i]}" 2>/dev/null || true
                fi
            done
            killed=1
            deadline=$(( $(now_us) + 2000000 ))
        fi
        sleep 0.05
    done
    for i in "${!pids[@]}"; do
        if alive "${pids[$i]}" "${starts[$i]}"; then
            log "warning: ${names[$i]} (pid ${pids[$i]}) is still running"
        else
            log "stopped ${names[$i]} (pid ${pids[$i]})"
        fi
    done
    for name in "$@"; do rm -f "$STATE/pids/$name"; done
}

stop_all() {
    [[ -d $STATE/pids ]] || return 0
    stop_names "${ALL_NAMES[@]}"
}

# -------------------------------------------------------------------- launching
# The servers run in the foreground of their own session (setsid, which
# execs in place since we are no process-group leader, so $! is the server's
# pid), with stdin from /dev/null, output to their log, and fd 9 (our lock)
# closed so they do not hold it.

REDIS_COMMON=(--bind "$HOST" --daemonize no --save '' --appendonly no
              --protected-mode no --logfile '' --shutdown-timeout 0
              --repl-diskless-sync yes --repl-diskless-sync-delay 0)

launch_redis() { # NAME PORT EXTRA-ARGS...
    local name=$1 port=$2; shift 2
    local dir="$STATE/$name"
    mkdir -p "$dir"
    rm -f "$dir/nodes.conf" "$dir/dump.rdb"
    setsid redis-server --port "$port" --dir "$dir" "${REDIS_COMMON[@]}" "$@" \
        </dev/null >>"$(logfile_of "$name")" 2>&1 9>&- &
    record "$name" "$!" "$port"
}

# gen_tls_certs: a throw-away CA and a server certificate for $HOST signed by
# it, into $STATE/tls (ca.pem, ca.key, server.pem, server.key).
gen_tls_certs() {
    local dir="$STATE/tls" out
    mkdir -p "$dir"
    printf '%s\n' "subjectAltName=IP:$HOST,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/server.ext"
    if ! out=$({
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
            -subj "/CN=limiter test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=$HOST" -keyout "$dir/server.key" -out "$dir/server.csr" &&
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
            -CAcreateserial -days 7 -extfile "$dir/server.ext" -out "$dir/server.pem"
    } 2>&1); then
        die "openssl failed generating the TLS test certificates:
$out"
    fi
    chmod 600 "$dir/ca.key" "$dir/server.key"
}

launch_redis_tls() { # NAME TLS-PORT: TLS only (plain port off), no client certificates
    local name=$1 port=$2
    local dir="$STATE/$name" tls="$STATE/tls"
    mkdir -p "$dir"
    setsid redis-server --port 0 --tls-port "$port" --dir "$dir" "${REDIS_COMMON[@]}" \
        --tls-cert-file "$tls/server.pem" --tls-key-file "$tls/server.key" \
        --tls-ca-cert-file "$tls/ca.pem" --tls-auth-clients no \
        </dev/null >>"$(logfile_of "$name")" 2>&1 9>&- &
    record "$name" "$!" "$port"
}

launch_memcached() { # NAME PORT
    local name=$1 port=$2
    # -u memcache: memcached refuses to run as root (exit 64) otherwise.  It
    # stays in the foreground, so no pidfile (and no memcache-owned pid dir)
    # is needed: $! is its pid.
    setsid memcached -u memcache -l "$HOST" -p "$port" -U 0 -m 64 -c 1024 \
        </dev/null >>"$(logfile_of "$name")" 2>&1 9>&- &
    record "$name" "$!" "$port"
}

launch_sentinel() {
    local dir="$STATE/sentinel" conf
    mkdir -p "$dir"
    conf="$dir/sentinel.conf" # its own writable copy: the sentinel rewrites it
    cat >"$conf" <<EOF
port $SENTINEL_PORT
bind $HOST
protected-mode no
daemonize no
logfile ""
dir $dir
sentinel monitor $SENTINEL_SERVICE $HOST $MASTER_PORT 1
sentinel down-after-milliseconds $SENTINEL_SERVICE 1000
sentinel failover-timeout $SENTINEL_SERVICE 3000
sentinel parallel-syncs $SENTINEL_SERVICE 1
EOF
    setsid redis-sentinel "$conf" \
        </dev/null >>"$(logfile_of sentinel)" 2>&1 9>&- &
    record sentinel "$!" "$SENTINEL_PORT"
}

# ------------------------------------------------------------------- readiness

# wait_for NAME WHAT CMD...: run CMD every 50 ms until it succeeds; fail with
# NAME's log tail on timeout or if NAME's process dies meanwhile.
wait_for() {
    local name=$1 what=$2; shift 2
    local deadline=$(( $(now_us) + TIMEOUT * 1000000 ))
    while ! "$@" 2>/dev/null; do
        if ! running "$name"; then
            die "$name (port ${R_PORT:-?}) exited while waiting for: $what
$(log_tail "$name")"
        fi
        if (( $(now_us) > deadline )); then
            die "timed out after ${TIMEOUT}s waiting for $name (port ${R_PORT:-?}): $what
$(log_tail "$name")"
        fi
        sleep 0.05
    done
}

rcli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }

redis_ping() { [[ $(rcli "$1" ping 2>/dev/null) == PONG ]]; }

redis_tls_ping() { # PORT
    [[ $(rcli "$1" --tls --cacert "$STATE/tls/ca.pem" ping 2>/dev/null) == PONG ]]
}

memcached_ping() (
    exec 3<>"/dev/tcp/$HOST/$1" || exit 1
    printf 'version\r\n' >&3
    IFS= read -r -t 1 line <&3 || exit 1
    [[ $line == VERSION* ]]
)

info_has() { # PORT SECTION REGEX
    rcli "$1" info "$2" | tr -d '\r' | grep -Eq "$3"
}

cluster_ok() { rcli "$1" cluster info | tr -d '\r' | grep -qx 'cluster_state:ok'; }

sentinel_ready() {
    local addr
    addr=$(rcli "$SENTINEL_PORT" sentinel get-master-addr-by-name "$SENTINEL_SERVICE" | tr '\n' ' ')
    [[ $addr == "$HOST $MASTER_PORT " ]] || return 1
    # The replica must be known and healthy ("flags" followed by exactly "slave").
    rcli "$SENTINEL_PORT" sentinel replicas "$SENTINEL_SERVICE" | tr -d '\r' \
        | grep -A1 -x flags | grep -qx slave
}

# ---------------------------------------------------------------------- commands

need_binaries() {
    local c missing=()
    for c in redis-server redis-sentinel redis-cli memcached openssl setsid; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    (( ${#missing[@]} == 0 )) || die "missing ${missing[*]}; run: $0 install"
}

lock() {
    mkdir -p "$(dirname -- "$STATE")"
    exec 9>"$STATE.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 60 9 || die "another test-servers.sh holds $STATE.lock"
    fi
}

# The command prefix that runs apt-get as root: nothing when we are root, else sudo (without a
# terminal to ask a password on, sudo must not ask: -n). sudo resets the environment, so
# DEBIAN_FRONTEND goes through `env`. Fails, saying what is needed, when neither is possible.
root_prefix() { # PKG...
    AS_ROOT=()
    (( EUID == 0 )) && return 0
    command -v sudo >/dev/null 2>&1 || die "installing $* needs root, and this user ($(id -un)) is \
not root and sudo is not installed. Run scripts/test as root once, or have an administrator run:
  apt-get update && apt-get install -y $*"
    AS_ROOT=(sudo)
    [[ -t 0 ]] || AS_ROOT+=(-n)
    AS_ROOT+=(env DEBIAN_FRONTEND=noninteractive)
}

# install [PKG...]: the servers' packages that are missing, and PKG... (scripts/test passes the
# Python packages it lacks), with one `apt-get update` first so that a fresh machine's empty or
# stale package lists do not make the install fail.
cmd_install() {
    local -A pkg_of=([redis-server]=redis-server [redis-sentinel]=redis-sentinel
                     [redis-cli]=redis-tools [memcached]=memcached [openssl]=openssl)
    local c pkgs=("$@")
    for c in redis-server redis-sentinel redis-cli memcached openssl; do
        command -v "$c" >/dev/null 2>&1 || pkgs+=("${pkg_of[$c]}")
    done
    (( ${#pkgs[@]} == 0 )) && return 0
    root_prefix "${pkgs[@]}"
    log "installing ${pkgs[*]}${AS_ROOT[0]:+ (through sudo)}"
    export DEBIAN_FRONTEND=noninteractive
    local out
    out=$(mktemp)
    if ! { "${AS_ROOT[@]}" apt-get update -qq && "${AS_ROOT[@]}" apt-get install -y -qq "${pkgs[@]}"; } >"$out" 2>&1; then
        cat "$out" >&2
        if [[ ${AS_ROOT[0]:-} == sudo ]] && grep -q 'password is required' "$out"; then
            rm -f "$out"
            die "sudo asks for a password and there is no terminal to type it on. Run scripts/test \
once from a terminal, as root, or allow this user (NOPASSWD in sudoers) to run apt-get; or install
the packages beforehand: sudo apt-get update && sudo apt-get install -y ${pkgs[*]}"
        fi
        rm -f "$out"
        die "apt-get failed installing ${pkgs[*]}"
    fi
    rm -f "$out"
    log "installed ${pkgs[*]}"
}

env_lines() {
    cat <<EOF
export LIMITER_TEST_REDIS_URL=redis://$HOST:$REDIS_PORT
export LIMITER_TEST_REDIS_TLS_URL=rediss://$HOST:$REDIS_TLS_PORT
export LIMITER_TEST_REDIS_TLS_CA=$STATE/tls/ca.pem
export LIMITER_TEST_REDIS_CLUSTER_URL=redis+cluster://$HOST:$CLUSTER_PORT1,$HOST:$CLUSTER_PORT2,$HOST:$CLUSTER_PORT3
export LIMITER_TEST_REDIS_SENTINEL_URL=redis+sentinel://$HOST:$SENTINEL_PORT/$SENTINEL_SERVICE
export LIMITER_TEST_SENTINEL_PORT=$SENTINEL_PORT
export LIMITER_TEST_REDIS_MASTER_PORT=$MASTER_PORT
export LIMITER_TEST_REDIS_REPLICA_PORT=$REPLICA_PORT
export LIMITER_TEST_MEMCACHED_URL=memcached://$HOST:$MEMCACHED_PORT1,$HOST:$MEMCACHED_PORT2
export LIMITER_TEST_SERVERS=1
EOF
}

cmd_start() {
    need_binaries
    lock
    local t0
    t0=$(now_us)
    # Our own servers from a previous run (recorded pids only) go first.
    stop_all

    local p taken=() dup
    local ports=("$REDIS_PORT" "$REDIS_TLS_PORT" "$CLUSTER_PORT1" "$CLUSTER_PORT2" "$CLUSTER_PORT3"
                 "$MASTER_PORT" "$REPLICA_PORT" "$SENTINEL_PORT" "$MEMCACHED_PORT1" "$MEMCACHED_PORT2")
    for p in "${ports[@]}"; do
        if ! [[ $p =~ ^[1-9][0-9]{0,4}$ ]] || (( p > 55535 )); then
            die "invalid port: '$p' (cluster bus ports are port + 10000, so at most 55535)"
        fi
    done
    ports+=($((CLUSTER_PORT1 + 10000)) $((CLUSTER_PORT2 + 10000)) $((CLUSTER_PORT3 + 10000)))
    dup=$(printf '%s\n' "${ports[@]}" | sort | uniq -d | tr '\n' ' ')
    [[ -z $dup ]] || die "port(s) configured twice (cluster bus ports are port + 10000): $dup"
    for p in "${ports[@]}"; do
        if port_open "$p"; then taken+=("$p"); fi
    done
    if (( ${#taken[@]} )); then
        local msg="port(s) already in use by a process this script did not start: ${taken[*]}"
        for p in "${taken[@]}"; do msg+=$'\n'"$(port_owner "$p")"; done
        die "$msg
(override with the LIMITER_TEST_*_PORT variables, see the top of $0)"
    fi

    # Fresh private state directory.
    case $STATE in /|"$REPO_ROOT"|"$HOME") die "refusing to wipe LIMITER_TEST_STATE=$STATE" ;; esac
    rm -rf -- "$STATE"
    mkdir -p "$STATE/pids" "$STATE/logs"
    STARTING=1

    log "starting servers (state in $STATE)"
    # Cluster nodes first: a node reports cluster_state:ok no sooner than
    # ~2 s after it started (Redis' CLUSTER_WRITABLE_DELAY); that is the
    # critical path of `start`.
    local i cports=("$CLUSTER_PORT1" "$CLUSTER_PORT2" "$CLUSTER_PORT3")
    for i in 1 2 3; do
        # nodes.conf is relative to --dir (a fresh dir): no stale cluster state.
        launch_redis "cluster-$i" "${cports[$((i - 1))]}" --cluster-enabled yes \
            --cluster-config-file nodes.conf --cluster-node-timeout 5000
    done
    launch_redis redis "$REDIS_PORT"
    gen_tls_certs
    launch_redis_tls redis-tls "$REDIS_TLS_PORT"
    launch_redis sentinel-master "$MASTER_PORT"
    launch_redis sentinel-replica "$REPLICA_PORT" --replicaof "$HOST" "$MASTER_PORT"
    launch_memcached memcached-1 "$MEMCACHED_PORT1"
    launch_memcached memcached-2 "$MEMCACHED_PORT2"

    wait_for redis "PING" redis_ping "$REDIS_PORT"
    wait_for redis-tls "PING over TLS" redis_tls_ping "$REDIS_TLS_PORT"
    for i in 1 2 3; do
        wait_for "cluster-$i" "PING" redis_ping "${cports[$((i - 1))]}"
    done
    wait_for sentinel-master "PING" redis_ping "$MASTER_PORT"
    wait_for sentinel-replica "PING" redis_ping "$REPLICA_PORT"
    wait_for memcached-1 "version" memcached_ping "$MEMCACHED_PORT1"
    wait_for memcached-2 "version" memcached_ping "$MEMCACHED_PORT2"

    # Cluster: what `redis-cli --cluster create --cluster-replicas 0` does,
    # without its 1 s polling sleeps: distinct config epochs, a third of the
    # slots each, then MEET.
    local ranges=("0 5460" "5461 10922" "10923 16383") out
    for i in 1 2 3; do
        p=${cports[$((i - 1))]}
        out=$(rcli "$p" cluster set-config-epoch "$i" 2>&1) || true
        [[ $out == OK ]] || die "cluster-$i (port $p): CLUSTER SET-CONFIG-EPOCH: $out
$(log_tail "cluster-$i")"
        # shellcheck disable=SC2086 # the range is two words on purpose
        out=$(rcli "$p" cluster addslotsrange ${ranges[$((i - 1))]} 2>&1) || true
        [[ $out == OK ]] || die "cluster-$i (port $p): CLUSTER ADDSLOTSRANGE: $out
$(log_tail "cluster-$i")"
    done
    for i in 2 3; do
        out=$(rcli "$CLUSTER_PORT1" cluster meet "$HOST" "${cports[$((i - 1))]}" 2>&1) || true
        [[ $out == OK ]] || die "cluster-1: CLUSTER MEET $HOST ${cports[$((i - 1))]}: $out"
    done

    # Sentinel: start it once the replica is in sync, so that its first INFO
    # of the master already lists the replica.
    wait_for sentinel-replica "master_link_status:up (replica of $MASTER_PORT)" \
        info_has "$REPLICA_PORT" replication '^master_link_status:up'
    launch_sentinel
    wait_for sentinel "PING" redis_ping "$SENTINEL_PORT"
    wait_for sentinel "master $HOST:$MASTER_PORT known with a healthy replica" sentinel_ready

    for i in 1 2 3; do
        wait_for "cluster-$i" "cluster_state:ok" cluster_ok "${cports[$((i - 1))]}"
    done
    STARTING=0

    printf '%s\n' "$REDIS_PORT" >"$STATE/redis.port"
    env_lines >"$STATE/env"
    log "all servers ready in $(( ($(now_us) - t0) / 1000 )) ms; env written to $STATE/env"
    env_lines
}

cmd_stop() {
    lock
    local t0
    t0=$(now_us)
    stop_all
    log "stopped in $(( ($(now_us) - t0) / 1000 )) ms"
}

cmd_status() {
    if [[ ! -d $STATE/pids ]]; then
        echo "no servers started (no $STATE/pids)"
        return 3
    fi
    local name all=0
    for name in "${ALL_NAMES[@]}"; do
        if read_record "$name" && alive "$R_PID" "$R_START"; then
            printf '%-17s running   pid %-7s port %s\n' "$name" "$R_PID" "$R_PORT"
        else
            printf '%-17s stopped\n' "$name"
            all=3
        fi
    done
    return "$all"
}

cmd_env() {
    [[ -f $STATE/env ]] || die "no $STATE/env: run $0 start"
    cat "$STATE/env"
}

cmd_stop_redis() {
    lock
    stop_names redis
}

cmd_start_redis() {
    need_binaries
    lock
    local port=$REDIS_PORT
    [[ -f $STATE/redis.port ]] && read -r port <"$STATE/redis.port"
    mkdir -p "$STATE/pids" "$STATE/logs"
    if running redis; then
        log "redis already running (pid $R_PID, port $R_PORT)"
        return 0
    fi
    port_open "$port" && die "port $port already in use by a process this script did not start
$(port_owner "$port")"
    launch_redis redis "$port"
    wait_for redis "PING" redis_ping "$port"
    log "redis started (pid $(read_record redis && echo "$R_PID"), port $port)"
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    stop-redis) cmd_stop_redis ;;
    start-redis) cmd_start_redis ;;
    *) usage ;;
esac
