#!/bin/bash
# Runs every test of pgml_worker against the installed build:
#   pg_regress  (sql/, expected/) in a temporary instance with the library
#               preloaded; one of them compares predictions with XGBoost's
#               Python package.
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
    --inputdir="$PWD" --outputdir="$work" --bindir="$PG_BINDIR" \
    --temp-instance="$work/instance" --temp-config="$PWD/test/regress.conf" \
    --schedule="$PWD/test/regress_schedule" --dbname=pgml_regress 2>&1 | tee "$work/regress.log" || status=$?
count "$work/regress.log"
if [ $status -ne 0 ]; then
    [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
    [ -f "$work/log/postmaster.log" ] && tail -n 50 "$work/log/postmaster.log"
    mkdir -p results && cp -r "$work"/results/. results/ 2>/dev/null && cp "$work/log/postmaster.log" results/ 2>/dev/null || true
    echo "pgml_worker tests: $passed passed, $((failed > 0 ? failed : 1)) failed"
    exit 1
fi
# A crash when a session ends (after its test passed) shows only here.
if grep -E 'terminated by signal|was terminated by exception' "$work/log/postmaster.log"; then
    echo "test: a server process crashed (see above)" >&2
    echo "pgml_worker tests: $passed passed, 1 failed"
    exit 1
fi

echo "pgml_worker tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
