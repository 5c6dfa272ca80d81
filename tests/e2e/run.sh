#!/usr/bin/env bash
# End-to-end test of the demo web client: two headless Chromium contexts
# make a real WebRTC call through httpd + signald on a private stack.
# Installs what it needs (Debian's chromium, node_modules, the build), runs
# `node --test`, and stops everything it started, pass or fail. Exits non-zero
# when a test fails. Extra arguments go to node (e.g. --test-name-pattern=chat).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHROMIUM=/usr/bin/chromium

log() { echo "e2e: $*" >&2; }

# --- prerequisites ----------------------------------------------------------
"$ROOT/scripts/stack.sh" packages || exit 1
if [ ! -x "$CHROMIUM" ]; then
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; } || exit 1
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund) || exit 1
fi
if [ ! -f "$ROOT/Makefile" ] || [ ! -d "$ROOT/build" ]; then
    (cd "$ROOT" && ./configure >/dev/null) || exit 1
fi
make -s -C "$ROOT" all || exit 1

# --- the run, with cleanup whatever happens ----------------------------------
# The stack lives in WORK (PostgreSQL in pg/, httpd in httpd/): the test
# starts it there, and this script stops whatever is left even if node died.
WORK=$(mktemp -d /tmp/mm-e2e-XXXXXX)
chmod 0755 "$WORK"
NODE_PID=

cleanup() {
    if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill "$NODE_PID" 2>/dev/null
        wait "$NODE_PID" 2>/dev/null
    fi
    if [ -f "$WORK/httpd/httpd.pid" ]; then
        local pid
        pid=$(cat "$WORK/httpd/httpd.pid" 2>/dev/null)
        /usr/sbin/apache2 -f "$WORK/httpd/httpd.conf" -k stop 2>/dev/null
        for _ in $(seq 100); do
            [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    "$ROOT/scripts/stack.sh" pg-stop "$WORK/pg" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$HERE"
MM_E2E_DIR=$WORK node --test --test-concurrency=1 --test-reporter=spec "$@" webrtc.test.mjs &
NODE_PID=$!
wait "$NODE_PID"
status=$?
NODE_PID=
exit $status
