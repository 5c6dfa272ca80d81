#!/usr/bin/env bash
# The benchmark (make bench): installs what it needs, builds, runs the
# micro-benchmarks and then tests/bench/bench.py, which brings up a private
# PostgreSQL + httpd (+ signald) on free ports in a temporary directory, seeds
# it, runs the wrk / pgbench / signald scenarios and prints one table. Whatever
# happens, everything it started is stopped at the end. As root (PostgreSQL
# runs as the postgres user), on Debian 12. Settings: see bench.py (BENCH_*).
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

log() { echo "bench: $*" >&2; }

# --- what it needs ---------------------------------------------------------------
./scripts/stack.sh packages || exit 1
need=""
command -v wrk >/dev/null || need="$need wrk"
{ command -v node >/dev/null && command -v npm >/dev/null; } || need="$need nodejs npm"
if [ -n "$need" ]; then
    log "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $need >/dev/null; } || exit 1
fi
[ -x /usr/lib/postgresql/15/bin/pgbench ] || { log "pgbench missing (postgresql-15)"; exit 1; }
if [ ! -d "$HERE/node_modules/ws" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --silent) || exit 1
fi
./scripts/stack.sh build || exit 1

# The reference handlers (loaded into the same httpd) and the two
# micro-benchmarks: Makefile.in's bench-tools (stack.sh build ran configure).
make -s bench-tools || exit 1

# 5,000 WebSockets on each side: signald inherits this limit from httpd.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
    log "open files limited to $(ulimit -n); fewer signald connections"
    export BENCH_SIG_CONNS=${BENCH_SIG_CONNS:-$(( ($(ulimit -n) - 200) / 2 / 100 * 100 ))}
fi

# --- the run, with cleanup whatever happens ---------------------------------------
WORK=$(mktemp -d /tmp/mm-bench-XXXXXX)
chmod 0755 "$WORK"
export BENCH_WORK=$WORK
PY_PID=

cleanup() {
    if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
        kill -TERM "$PY_PID" 2>/dev/null
        wait "$PY_PID" 2>/dev/null
    fi
    # bench.py stops its stack itself; this is for when it could not.
    if [ -z "${BENCH_KEEP:-}" ]; then
        if [ -f "$WORK/httpd/httpd.pid" ]; then
            local pid
            pid=$(cat "$WORK/httpd/httpd.pid" 2>/dev/null)
            /usr/sbin/apache2 -f "$WORK/httpd/httpd.conf" -k stop 2>/dev/null
            for _ in $(seq 100); do
                [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        [ -d "$WORK/pg" ] && ./scripts/stack.sh pg-stop "$WORK/pg" 2>/dev/null
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== micro-benchmarks"
./build/rl_bench
echo
./build/bench/jwt_bench
echo
echo "== stack benchmark (tests/bench/bench.py)"
/usr/bin/python3 "$HERE/bench.py" &
PY_PID=$!
wait "$PY_PID"
status=$?
PY_PID=
echo "== the Go peer next to mod_meeting (tests/bench/peers.py; PEERS_SRC: the rig)"
/usr/bin/python3 "$HERE/peers.py" || status=1
echo
echo "== media through the SFU (tests/bench/sfu.mjs, in a network namespace)"
bash "$ROOT/tests/e2e/sfu.sh" --bench || status=1
echo
echo "== more than one node (tests/bench/cluster_bench.py, in a network namespace)"
bash "$ROOT/tests/cluster/run.sh" --bench || status=1
echo
echo "== recording post-processing (tests/bench/recording_bench.py)"
/usr/bin/python3 "$HERE/recording_bench.py" || status=1
exit $status
