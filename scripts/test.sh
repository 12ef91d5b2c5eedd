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
mkdir -p "$work/src/bench"
cp -r sql expected test "$work/src/"
cp bench/gen_flights.py "$work/src/bench/"   # the flights sample of the TAP load tests
chown -R "$PG_OS_USER" "$work/src"
src="$work/src"

passed=0
failed=0
# Tallies pg_regress' per-test lines for the summary at the end.
count() {
    local out=$1
    passed=$((passed + $(grep -cE '^(ok|test) .* \.\.\. ok' "$out" || true)))
    failed=$((failed + $(grep -cE '\.\.\. FAILED' "$out" || true)))
}
# A crash when a session ends (after its test passed) shows only in the log.
crashed() {
    if grep -E 'terminated by signal|was terminated by exception' "$1"; then
        echo "test: a server process crashed (see above)" >&2
        failed=$((failed + 1))
    fi
}

# Runs a pg_regress-style suite in its own temporary instance with the
# library preloaded: $1 the runner, $2 the input folder, $3 the schedule,
# $4 an output folder name, $5 the database.
suite() {
    local runner=$1 input=$2 schedule=$3 out="$work/$4" db=$5 status=0
    mkdir -p "$out" && chown "$PG_OS_USER" "$out"
    as_pg "$runner" --inputdir="$input" --outputdir="$out" --bindir="$PG_BINDIR" \
        --temp-instance="$out/instance" --temp-config="$src/test/regress.conf" \
        --schedule="$schedule" --dbname="$db" 2>&1 | tee "$out.log" || status=$?
    count "$out.log"
    if [ $status -ne 0 ]; then
        [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
        [ -f "$out/log/postmaster.log" ] && tail -n 50 "$out/log/postmaster.log"
        # Kept in the checkout for a look (and to refresh expected files).
        mkdir -p results && cp "$out"/results/*.out results/ 2>/dev/null || true
        [ "$(grep -c FAILED "$out.log")" -gt 0 ] || failed=$((failed + 1))
    fi
    [ -f "$out/log/postmaster.log" ] && crashed "$out/log/postmaster.log"
    return 0
}

echo "== pg_regress (temporary instance, shared_preload_libraries = pgml_worker)"
suite "$PGXS_DIR/test/regress/pg_regress" "$src" "$src/test/regress_schedule" regress pgml_regress

echo "== isolation (temporary instance)"
suite "$PGXS_DIR/test/isolation/pg_isolation_regress" "$src/test/isolation" \
    "$src/test/isolation/schedule" isolation pgml_isolation

echo "== TAP (prove, PostgreSQL::Test::Cluster)"
status=0
(cd "$work" && as_pg env PATH="$PG_BINDIR:$PATH" TESTDIR="$work" PERL5LIB="$PGXS_DIR/test/perl" \
    PG_REGRESS="$PGXS_DIR/test/regress/pg_regress" \
    prove --timer "$src"/test/t/*.pl) 2>&1 | tee "$work/prove.log" || status=$?
if [ $status -ne 0 ]; then
    failed=$((failed + 1))
    for f in "$work"/tmp_check/log/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
else
    passed=$((passed + 1))
fi
for f in "$work"/tmp_check/log/*.log; do [ -f "$f" ] && grep -q 'terminated by signal [^9]' "$f" && {
    echo "test: a crash in $f"; failed=$((failed + 1)); }; done

# The figures the TAP tests measured (README "Reliability").
echo "== figures"
grep -o '# figure:.*' "$work/prove.log" | sed 's/^# figure: /  /' || true

echo "pgml_worker tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
