#!/usr/bin/env bash
# Runs every test: sets up what is missing (packages, build), then the C unit
# tests under ASan/UBSan, a short fuzzing run, the include graph, signald's
# statics, the OpenAPI lint, the integration tests (each starts its own
# PostgreSQL and httpd in a temporary directory on free ports), the cluster
# test (haproxy and three nodes in a network namespace) and the browser
# end-to-end test. Ends with one line "total: N passed, N failed"; exits
# non-zero when any test fails.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./scripts/stack.sh packages || exit 1
./scripts/stack.sh build || exit 1

LOGS=build/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
status=0

# stage NAME COMMAND...: runs one stage, its output shown and kept in LOGS/NAME.
stage() {
    local name=$1
    shift
    "$@" 2>&1 | tee "$LOGS/$name.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}

echo "== unit tests (C, ASan + UBSan)"
stage unit make -s unit

echo "== fuzzing the parsers (libFuzzer, ASan + UBSan, 10 s each; make fuzz runs longer)"
# Each harness is one test: passed when it ran its time (libFuzzer's "Done"
# line) and exited 0, i.e. found no crash, leak or UBSan report.
fuzz_pass=0
fuzz_fail=0
fuzz_runs=$(make -s fuzz-runs)
[ -n "$fuzz_runs" ] || { echo "make fuzz-runs named no harness"; fuzz_fail=1; status=1; }
for run in $fuzz_runs; do
    if make -s "$run" FUZZ_SECONDS=10 >"$LOGS/$run.log" 2>&1 \
        && grep -E "^Done [0-9]+ runs" "$LOGS/$run.log"; then
        fuzz_pass=$((fuzz_pass + 1))
    else
        echo "$run failed ($LOGS/$run.log):"
        tail -40 "$LOGS/$run.log"
        fuzz_fail=$((fuzz_fail + 1))
        status=1
    fi
done

# Checks of the sources, one test each: passed when the script exits 0 (its
# last line is shown), else its lines matching the pattern are.
source_pass=0
source_fail=0
source_check() {
    local name=$1 script=$2 pattern=$3
    if /usr/bin/python3 "$script" >"$LOGS/$name.log" 2>&1; then
        source_pass=$((source_pass + 1))
        tail -1 "$LOGS/$name.log"
    else
        grep -E "$pattern" "$LOGS/$name.log"
        source_fail=$((source_fail + 1))
        status=1
    fi
}

echo "== include graph (tests/include_graph.py: no circle among the module's or signald's files)"
source_check include-graph tests/include_graph.py "CIRCLE|circles|Error"

echo "== signald's state (tests/signald_statics.py: none in file-level statics, all on sd_ctx)"
source_check signald-statics tests/signald_statics.py "STATIC|statics|Error"

echo "== OpenAPI document (redocly lint)"
stage openapi bash tests/openapi/lint.sh

echo "== integration tests (pytest: private httpd + PostgreSQL)"
stage integration /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"

echo "== more than one node (haproxy, three nodes, in a network namespace)"
stage cluster bash tests/cluster/run.sh

echo "== end to end (two headless Chromium pages, a real WebRTC call through signald)"
stage e2e bash tests/e2e/run.sh

echo "== end to end through the SFU (Chromium and Janus in a network namespace; a server recording)"
stage e2e-sfu bash tests/e2e/sfu.sh

# One closing line over every runner's own count.
# sum FILE REGEX: the numbers in every match of REGEX in FILE, added up.
sum() { grep -ohE "$2" "$1" 2>/dev/null | grep -oE '[0-9]+' | awk '{n += $1} END {print n + 0}'; }
checks=$(sum "$LOGS/unit.log" 'Checks: [0-9]+')
check_bad=$(sum "$LOGS/unit.log" '(Failures|Errors): [0-9]+')
py_pass=$(( $(sum "$LOGS/integration.log" '[0-9]+ passed') + $(sum "$LOGS/cluster.log" '[0-9]+ passed') ))
py_fail=$(( $(sum "$LOGS/integration.log" '[0-9]+ (failed|errors?)') \
    + $(sum "$LOGS/cluster.log" '[0-9]+ (failed|errors?)') ))
e2e_pass=$(( $(sum "$LOGS/e2e.log" '^ℹ pass [0-9]+') + $(sum "$LOGS/e2e-sfu.log" '^ℹ pass [0-9]+') ))
e2e_fail=$(( $(sum "$LOGS/e2e.log" '^ℹ fail [0-9]+') + $(sum "$LOGS/e2e-sfu.log" '^ℹ fail [0-9]+') ))
passed=$((checks - check_bad + fuzz_pass + source_pass + py_pass + e2e_pass))
failed=$((check_bad + fuzz_fail + source_fail + py_fail + e2e_fail))
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "total: $passed passed, $failed failed"
exit $status
