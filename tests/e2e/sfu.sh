#!/usr/bin/env bash
# End-to-end test of media through the SFU (SPEC 7): four headless Chromium
# pages in one meeting through Janus, driven by signald; then three pages
# recorded on the server (sfu-record.test.mjs). Janus gathers no ICE
# candidates on loopback, so everything (PostgreSQL, httpd + signald, Janus,
# Chromium) runs inside a private network namespace that this script creates
# with a veth pair (10.99.0.1, 10.99.0.2) and removes afterwards: no traffic
# reaches the machine's own addresses. Extra arguments go to node.
# `sfu.sh --bench` runs tests/bench/sfu.mjs (make bench's SFU figures) instead
# of the test, in the same namespace.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

log() { echo "e2e-sfu: $*" >&2; }

"$ROOT/scripts/stack.sh" packages || exit 1
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || exit 1
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund) || exit 1
fi
if [ ! -f "$ROOT/Makefile" ] || [ ! -d "$ROOT/build" ]; then
    (cd "$ROOT" && ./configure >/dev/null) || exit 1
fi
make -s -C "$ROOT" all || exit 1

NS="mm-sfu-$$"
WORK=$(mktemp -d /tmp/mm-e2e-sfu-XXXXXX)
chmod 0755 "$WORK"

cleanup() {
    # The stacks of sfu.test.mjs and of sfu-record.test.mjs (in record/).
    for dir in "$WORK" "$WORK/record"; do
        if [ -f "$dir/httpd/httpd.pid" ]; then
            ip netns exec "$NS" /usr/sbin/apache2 -f "$dir/httpd/httpd.conf" -k stop 2>/dev/null
            sleep 1
        fi
        "$ROOT/scripts/stack.sh" pg-stop "$dir/pg" 2>/dev/null
    done
    # Whatever is still running in the namespace was started by this test.
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || { log "cannot create a network namespace (needs root)"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" addr add 10.99.0.1/24 dev v0
ip -n "$NS" addr add 10.99.0.2/24 dev v1
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up

cd "$HERE"
if [ "${1:-}" = --bench ]; then
    MM_E2E_DIR=$WORK MM_SFU_NETNS=$NS ip netns exec "$NS" node ../bench/sfu.mjs
else
    MM_E2E_DIR=$WORK MM_SFU_NETNS=$NS ip netns exec "$NS" \
        node --test --test-concurrency=1 --test-reporter=spec "$@" sfu.test.mjs sfu-record.test.mjs
fi
