#!/bin/bash
# make test: every test of pgml_worker, against the installed build, on a
# fresh machine (make test installs the packages and the build first).
#   unit         pure C++ tests of the shared-memory protocols, the pool and
#                the registry (test/unit, GoogleTest)
#   unit, TSan   the same tests built with -fsanitize=thread
#                (SANITIZE=thread test/unit/run.sh); a ThreadSanitizer
#                report counts as one more failure
#   model check  the model checker against real and corrupted XGBoost models
#                (test/core)
#   fuzz         scripts/fuzz.sh test: the libFuzzer targets of fuzz/ built,
#                their regression inputs replayed, each fuzzed 30 s
#   pg_regress   the REGRESS suite (sql/, expected/), with make installcheck
#   isolation    the ISOLATION suite (test/isolation), with make installcheck
#                  both against a throwaway cluster started here with
#                  test/regress.conf (the library preloaded), removed after
#   sanitizers   scripts/sanitize.sh: the pg_regress and isolation suites
#                again, against a build of the extension with ASan and UBSan
#                in a scratch copy of the PostgreSQL installation; a
#                sanitizer report fails it
#   TAP          the TAP_TESTS (test/t), with make installcheck; each test
#                starts its own clusters
#   package      scripts/test_deb.sh: builds the Debian package (make deb),
#                checks its metadata and contents, and runs the pg_regress
#                suite and an update from every earlier version on a
#                cluster that runs the packaged files from a scratch root
# Ends with one line: "pgml_worker tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh

if [ "$(id -u)" -eq 0 ]; then
    make -s install >/dev/null
else
    echo "test: not root; assuming 'make install' was done" >&2
fi

work=$(pg_tmpdir test)
data="$work/data"
cleanup() {
    [ -f "$data/postmaster.pid" ] && as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
src=$(copy_tests "$work")

passed=0
failed=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); }
# A runner that failed without reporting a failure still counts as one.
ran() {
    local status=$1 reported_failures=$2
    [ "$status" -ne 0 ] && [ "$reported_failures" -eq 0 ] && failed=$((failed + 1))
    return 0
}
# A crash when a session ends (after its test passed) shows only in the log.
crashed() {
    if grep -E 'terminated by signal|was terminated by exception' "$@"; then
        echo "test: a server process crashed (see above)" >&2
        failed=$((failed + 1))
    fi
}
# make installcheck restricted to one suite, as the cluster user.
installcheck() {
    as_pg env PATH="$PG_BINDIR:$PATH" make -s -C "$src" installcheck "$@"
}

echo "== unit (test/unit)"
status=0
test/unit/run.sh "$work/unit" 2>&1 | tee "$work/unit.log" || status=$?
p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$work/unit.log" | tail -1)
f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?,.*/\1/p' "$work/unit.log" | tail -1)
add "${p:-0}" "${f:-0}"
ran $status "${f:-0}"

echo "== unit under ThreadSanitizer (SANITIZE=thread test/unit/run.sh)"
status=0
SANITIZE=thread test/unit/run.sh "$work/unit-tsan" 2>&1 | tee "$work/unit-tsan.log" || status=$?
p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$work/unit-tsan.log" | tail -1)
f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?,.*/\1/p' "$work/unit-tsan.log" | tail -1)
add "${p:-0}" "${f:-0}"
# Reports fail the run (exit status 66) but no test: one failure for them.
tsan=$(grep -c '^WARNING: ThreadSanitizer' "$work/unit-tsan.log" || true)
if [ "$tsan" -gt 0 ]; then
    echo "test: $tsan ThreadSanitizer report(s) (above)" >&2
    add 0 1
else
    ran $status "${f:-0}"
fi

# Thousands of checks (each model, corruption and bit flip) count as one
# test here; run.sh's own line gives them.
echo "== model check (test/core)"
status=0
test/core/run.sh 2>&1 | tee "$work/core.log" || status=$?
if [ $status -eq 0 ] && grep -qE '^test/core: [0-9]+ passed, 0 failed$' "$work/core.log"; then
    add 1 0
else
    add 0 1
fi

# The libFuzzer targets (fuzz/): every regression file replayed, then each
# target fuzzed 30 s; each replayed file and each run counts as one test.
echo "== fuzz (scripts/fuzz.sh test)"
status=0
scripts/fuzz.sh test 2>&1 | tee "$work/fuzz.log" || status=$?
p=$(sed -n 's/^fuzz: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$work/fuzz.log")
f=$(sed -n 's/^fuzz: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$work/fuzz.log")
add "${p:-0}" "${f:-0}"
ran $status "${f:-0}"

echo "== throwaway cluster for pg_regress and isolation (test/regress.conf)"
port=$((50000 + RANDOM % 10000))
as_pg "$PG_BINDIR/initdb" -D "$data" -A trust -U postgres >/dev/null
{
    cat test/regress.conf
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$work'"
} >> "$data/postgresql.conf"
as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$work/server.log" -w start >/dev/null
export PGHOST="$work" PGPORT="$port" PGUSER=postgres

for suite in regress isolation; do
    echo "== $suite (make installcheck)"
    status=0
    case $suite in
        regress) installcheck ISOLATION= TAP_TESTS= 2>&1 | tee "$work/$suite.log" || status=$? ;;
        isolation) installcheck REGRESS= TAP_TESTS= 2>&1 | tee "$work/$suite.log" || status=$? ;;
    esac
    p=$(grep -cE '^(ok|test) .* \.\.\. ok' "$work/$suite.log" || true)
    f=$(grep -cE '\.\.\. FAILED' "$work/$suite.log" || true)
    add "$p" "$f"
    ran $status "$f"
    if [ $status -ne 0 ]; then
        for d in "$src/regression.diffs" "$src/output_iso/regression.diffs"; do [ -f "$d" ] && cat "$d"; done
        # Kept in the checkout for a look (and to refresh expected files).
        mkdir -p results && cp "$src"/results/*.out results/ 2>/dev/null || true
    fi
done
as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast stop >/dev/null
crashed "$work/server.log" || true
[ $failed -gt 0 ] && tail -n 50 "$work/server.log"
unset PGHOST PGPORT PGUSER

echo "== pg_regress and isolation under ASan and UBSan (scripts/sanitize.sh)"
status=0
scripts/sanitize.sh 2>&1 | tee "$work/sanitize.log" || status=$?
p=$(sed -n 's/^sanitize: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$work/sanitize.log")
f=$(sed -n 's/^sanitize: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$work/sanitize.log")
add "${p:-0}" "${f:-0}"
ran $status "${f:-0}"

echo "== TAP (make installcheck; PostgreSQL::Test::Cluster)"
status=0
installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer 2>&1 | tee "$work/prove.log" || status=$?
# One count per test file: those prove reports ok, and the rest.
p=$(grep -cE '^\[[0-9:]+\] .*\.pl \.+ ok' "$work/prove.log" || true)
f=$(( $(ls test/t/*.pl | wc -l) - p ))
add "$p" "$f"
ran $status "$f"
if [ $status -ne 0 ]; then
    for l in "$src"/tmp_check/log/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 30 "$l"; }; done
fi
for l in "$src"/tmp_check/log/*.log; do
    [ -f "$l" ] && grep -q 'terminated by signal [^9]' "$l" && { echo "test: a crash in $l"; failed=$((failed + 1)); }
done

echo "== package (scripts/test_deb.sh)"
status=0
scripts/test_deb.sh 2>&1 | tee "$work/deb.log" || status=$?
p=$(sed -n 's/^test_deb: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$work/deb.log")
f=$(sed -n 's/^test_deb: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$work/deb.log")
add "${p:-0}" "${f:-0}"
ran $status "${f:-0}"

# The figures the TAP tests measured (README "Reliability").
echo "== figures"
grep -o '# figure:.*' "$work/prove.log" | sed 's/^# figure: /  /' || true

echo "pgml_worker tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
