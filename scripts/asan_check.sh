#!/bin/bash
# make asan-check: the checked-load TAP test (test/t/003_checked_load.pl:
# deploy switching with half the clients in place and half queued, the
# eviction storm that retires shared forests under in-place readers, the
# cancel storm, slot exhaustion) against a build of pgml_worker with
# AddressSanitizer. The servers preload libasan (Postgres itself is not
# instrumented); the library is swapped into the installation for the run
# and the normal build put back after, whatever happens. Fails on any
# AddressSanitizer report. As root (it installs); takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh
[ "$(id -u)" -eq 0 ] || { echo "asan_check: run as root (it installs the library)" >&2; exit 1; }

work=$(pg_tmpdir asan)
libdir=$(pg_config --pkglibdir)
restore() {
    make -s install >/dev/null
    rm -rf "$work"
}
trap restore EXIT

echo "== building with -fsanitize=address in $work/build"
mkdir -p "$work/build"
cp -r Makefile pgml_worker.control sql src scripts "$work/build/"
make -s -C "$work/build" clean >/dev/null
make -s -C "$work/build" -j"$(nproc)" \
    PG_CXXFLAGS="-std=c++20 -Wno-register -fno-omit-frame-pointer -fsanitize=address" \
    SHLIB_LINK="-fsanitize=address -lxgboost -lgomp -lstdc++" >/dev/null
install -m 755 "$work/build/pgml_worker.so" "$libdir/pgml_worker.so"

asan=$(gcc -print-file-name=libasan.so)
mkdir -p "$work/asan" && chown "$PG_OS_USER" "$work/asan"
src=$(copy_tests "$work")
status=0
(cd "$src" && as_pg env PATH="$PG_BINDIR:$PATH" PGML_TEST_PRELOAD="$asan" \
    ASAN_OPTIONS="detect_leaks=0:log_path=$work/asan/report" \
    make -s installcheck REGRESS= ISOLATION= PROVE_TESTS=test/t/003_checked_load.pl \
        PROVE_FLAGS="--timer -v") > "$work/prove.log" 2>&1 || status=$?
grep -E '^(ok|not ok)|figure|^Result' "$work/prove.log" || true
# The library must have been loaded with AddressSanitizer for this to mean
# anything: an instrumented library refuses to load without it.
reports=$(cat "$work"/asan/report* 2>/dev/null | grep -c 'ERROR: AddressSanitizer' || true)
echo "asan_check: $reports AddressSanitizer reports, prove exit status $status"
cat "$work"/asan/report* 2>/dev/null | head -80
[ "$reports" -eq 0 ] || status=1
exit "$status"
