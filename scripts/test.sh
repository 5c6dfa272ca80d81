#!/usr/bin/env bash
# Runs every test: sets up what is missing (packages, build), then the C unit
# tests under ASan/UBSan, then the integration tests, each of which starts its
# own PostgreSQL and httpd in a temporary directory on free ports. Exits
# non-zero when any test fails.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./scripts/stack.sh packages || exit 1
./scripts/stack.sh build || exit 1

status=0
echo "== unit tests (C, ASan + UBSan)"
make -s unit || status=1

echo "== fuzzing the parsers (libFuzzer, ASan + UBSan, 10 s; make fuzz runs longer)"
make -s fuzz FUZZ_SECONDS=10 >build/fuzz.log 2>&1 || { tail -40 build/fuzz.log; status=1; }
grep -E "^Done [0-9]+ runs" build/fuzz.log || true

echo "== OpenAPI document (redocly lint)"
bash tests/openapi/lint.sh || status=1

echo "== integration tests (pytest: private httpd + PostgreSQL)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@" || status=1

echo "== end to end (two headless Chromium pages, a real WebRTC call through signald)"
bash tests/e2e/run.sh || status=1

exit $status
