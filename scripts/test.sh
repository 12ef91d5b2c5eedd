#!/bin/bash
# Runs every test of pgml_worker against the installed build:
#   pg_regress  (sql/, expected/) in a temporary instance with the library
#               preloaded; one of them compares predictions with XGBoost's
#               Python package.
#   isolation   (test/isolation/) deployments against concurrent predictions
#   TAP         (test/t/, prove) worker faults under load, standby, no preload
# Each suite starts its own throwaway Postgres and removes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh

if [ "$(id -u)" -eq 0 ]; then
    make -s install >/dev/null
else
    echo "test: not root; assuming 'make install' was done" >&2
fi

work=$(pg_tmpdir regress)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
# The suites run as the cluster user, who may not be able to read this
# checkout (a clone under /root, say): they read a copy of the tests.
mkdir -p "$work/src"
cp -r sql expected test "$work/src/"
chown -R "$PG_OS_USER" "$work/src"
src="$work/src"

echo "== pg_regress (temporary instance, shared_preload_libraries = pgml_worker)"
status=0
passed=0
failed=0
# Tallies pg_regress' per-test lines for the summary at the end.
count() {
    local out=$1
    passed=$((passed + $(grep -cE '^(ok|test) .* \.\.\. ok' "$out" || true)))
    failed=$((failed + $(grep -cE '\.\.\. FAILED' "$out" || true)))
}
as_pg "$PGXS_DIR/test/regress/pg_regress" \
    --inputdir="$src" --outputdir="$work" --bindir="$PG_BINDIR" \
    --temp-instance="$work/instance" --temp-config="$src/test/regress.conf" \
    --schedule="$src/test/regress_schedule" --dbname=pgml_regress 2>&1 | tee "$work/regress.log" || status=$?
count "$work/regress.log"
if [ $status -ne 0 ]; then
    [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
    [ -f "$work/log/postmaster.log" ] && tail -n 50 "$work/log/postmaster.log"
    mkdir -p results && cp -r "$work"/results/. results/ 2>/dev/null && cp "$work/log/postmaster.log" results/ 2>/dev/null || true
    echo "pgml_worker tests: $passed passed, $((failed > 0 ? failed : 1)) failed"
    exit 1
fi
# A crash when a session ends (after its test passed) shows only here.
crashed() {
    if grep -E 'terminated by signal|was terminated by exception' "$1"; then
        echo "test: a server process crashed (see above)" >&2
        failed=$((failed + 1))
    fi
}
crashed "$work/log/postmaster.log"

echo "== isolation (temporary instance)"
mkdir -p "$work/isolation" && chown "$PG_OS_USER" "$work/isolation"
status=0
as_pg "$PGXS_DIR/test/isolation/pg_isolation_regress" \
    --inputdir="$src/test/isolation" --outputdir="$work/isolation" --bindir="$PG_BINDIR" \
    --temp-instance="$work/isolation/instance" --temp-config="$src/test/regress.conf" \
    --schedule="$src/test/isolation/schedule" --dbname=pgml_isolation 2>&1 | tee "$work/isolation.log" || status=$?
count "$work/isolation.log"
if [ $status -ne 0 ]; then
    [ -f "$work/isolation/regression.diffs" ] && cat "$work/isolation/regression.diffs"
    mkdir -p results && cp "$work"/isolation/results/*.out results/ 2>/dev/null || true
    [ $failed -eq 0 ] && failed=1
fi
[ -f "$work/isolation/log/postmaster.log" ] && crashed "$work/isolation/log/postmaster.log"

echo "== TAP (prove, PostgreSQL::Test::Cluster)"
status=0
(cd "$work" && as_pg env PATH="$PG_BINDIR:$PATH" TESTDIR="$work" PERL5LIB="$PGXS_DIR/test/perl" \
    PG_REGRESS="$PGXS_DIR/test/regress/pg_regress" \
    prove --timer "$src"/test/t/*.pl) 2>&1 | tee "$work/prove.log" || status=$?
tap_pass=$(grep -cE '^ok ' "$work/prove.log" || true)
if [ $status -ne 0 ]; then
    failed=$((failed + 1))
    for f in "$work"/tmp_check/log/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
else
    passed=$((passed + 1))
fi
for f in "$work"/tmp_check/log/*.log; do [ -f "$f" ] && grep -q 'terminated by signal [^9]' "$f" && {
    echo "test: a crash in $f"; failed=$((failed + 1)); }; done

echo "pgml_worker tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
