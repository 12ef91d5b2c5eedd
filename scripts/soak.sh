#!/bin/bash
# make soak: the checked load of the TAP tests (test/load/checked_load.py)
# for an hour against a throwaway cluster, with a fault injected every
# minute (test/load/soak.pl). SOAK_MINUTES, SOAK_FAULT_EVERY (seconds) and
# SOAK_CLIENTS change it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh

if [ "$(id -u)" -eq 0 ]; then
    make -s install >/dev/null
fi

work=$(pg_tmpdir soak)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
copy_tests "$work" >/dev/null

cd "$work"
as_pg env PATH="$PG_BINDIR:$PATH" TESTDIR="$work" PERL5LIB="$PGXS_DIR/test/perl" \
    PG_REGRESS="$PGXS_DIR/test/regress/pg_regress" SOAK_MINUTES="${SOAK_MINUTES:-60}" SOAK_FAULT_EVERY="${SOAK_FAULT_EVERY:-60}" \
    SOAK_CLIENTS="${SOAK_CLIENTS:-100}" \
    perl "$work/src/test/load/soak.pl"
