#!/usr/bin/env bash
# The cluster test (SPEC.md 10, docs/cluster.md): haproxy, three nodes (each
# its own httpd + signald, own ports and run directory), one PostgreSQL and a
# shared recording directory, all inside a private network namespace that
# this script creates and removes: the nodes and haproxy listen on addresses
# of a veth pair inside it (10.231.0.0/24), the test's clients come from
# other addresses of the same pair, and nothing reaches the machine's own.
# Chromium (the browser case) runs in it too, so it reaches only haproxy.
# Extra arguments go to pytest. `run.sh --bench` runs the throughput
# comparison (tests/bench/cluster_bench.py, make bench) in the same way.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NS="mm-cluster-$$"

log() { echo "cluster: $*" >&2; }

"$ROOT/scripts/stack.sh" packages || exit 1
# The browser case drives Chromium with tests/e2e's playwright-core.
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || exit 1
fi
if [ ! -d "$ROOT/tests/e2e/node_modules/playwright-core" ]; then
    (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund) || exit 1
fi
if [ ! -f "$ROOT/Makefile" ] || [ ! -d "$ROOT/build" ]; then
    (cd "$ROOT" && ./configure >/dev/null) || exit 1
fi
make -s -C "$ROOT" all || exit 1

cleanup() {
    # Whatever still runs in the namespace was started by this test (the
    # harness stops its own first; this is for an interrupted run).
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || { log "cannot create a network namespace (needs root)"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
# v0: the nodes (.1-.3) and haproxy (.10); v1: the clients (.101-.120).
for a in 1 2 3 10; do ip -n "$NS" addr add "10.231.0.$a/24" dev v0; done
for a in $(seq 101 120); do ip -n "$NS" addr add "10.231.0.$a/24" dev v1; done
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up

cd "$ROOT"
if [ "${1:-}" = --bench ]; then
    MM_CLUSTER_NETNS=$NS ip netns exec "$NS" /usr/bin/python3 tests/bench/cluster_bench.py
else
    MM_CLUSTER_NETNS=$NS ip netns exec "$NS" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        tests/cluster "$@"
fi
