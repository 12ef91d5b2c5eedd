#!/bin/sh
# Builds and runs the pure-C++ unit tests (GoogleTest) of src/core,
# src/shmem and src/worker/pool: no Postgres needed.
#
#   test/unit/run.sh [BUILD_DIR] [gtest options...]
#
# BUILD_DIR defaults to a fresh temporary folder. Options after it go to the
# test binary, e.g. --gtest_filter='Slot.*' or --gtest_repeat=20.
# Needs g++, libgtest-dev and libxgboost-dev. Exits non-zero on any failure.
#
# SANITIZE=thread (or address,undefined, ...) builds the tests and the code
# under test with -fsanitize=$SANITIZE; a sanitizer's report fails the run
# (ThreadSanitizer: exit status 66 after the tests, every report printed;
# ASan and UBSan: at the first report). Only this project's code is
# instrumented; libxgboost, libgomp and libgtest are the system's.
set -eu
cd "$(dirname "$0")/../.."

if [ $# -gt 0 ]; then
    BUILD=$1
    shift
else
    BUILD=$(mktemp -d)
    trap 'rm -rf "$BUILD"' EXIT
fi

CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--std=c++20 -O1 -g -Wall -Wextra}
LDFLAGS=${LDFLAGS:-}
if [ -n "${SANITIZE:-}" ]; then
    san="-fsanitize=$SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer"
    # GCC warns that TSan does not model atomic_thread_fence; the fields
    # such fences order are atomics anyway (src/shmem/model_table.hpp).
    case $SANITIZE in *thread*) san="$san -Wno-tsan" ;; esac
    CXXFLAGS="$CXXFLAGS $san"
    LDFLAGS="$LDFLAGS $san"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-second_deadlock_stack=1 exitcode=66}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1 detect_leaks=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1 halt_on_error=1}"
fi

mkdir -p "$BUILD"
BIN=$BUILD/pgml_unit_tests
# Objects built with other flags (another SANITIZE, say) are not reused.
if [ "$(cat "$BUILD/.flags" 2>/dev/null)" != "$CXX $CXXFLAGS" ]; then
    rm -f "$BUILD"/*.o "$BIN"
    echo "$CXX $CXXFLAGS" > "$BUILD/.flags"
fi

echo "== building $BIN"
# One object per source, compiled $JOBS at a time, then one link.
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SRCS=$(ls test/unit/*.cpp src/core/*.cpp src/shmem/*.cpp src/worker/pool/*.cpp)
export CXX CXXFLAGS BUILD
# An object newer than its source and every header is reused (a given
# BUILD_DIR makes reruns quick).
if ! printf '%s\n' $SRCS | xargs -P "$JOBS" -I{} sh -c '
        o="$BUILD/$(echo "{}" | tr / _ | sed "s/\.cpp\$/.o/")"
        if [ "$o" -nt "{}" ] && [ -z "$(find src test/unit -name "*.hpp" -newer "$o" | head -1)" ]; then
            exit 0
        fi
        $CXX $CXXFLAGS -I src -I test/unit -D_GNU_SOURCE -c "{}" -o "$o"'; then
    echo "build failed" >&2
    exit 1
fi
OBJS=$(for f in $SRCS; do echo "$BUILD/$(echo "$f" | tr / _ | sed 's/\.cpp$/.o/')"; done)
# shellcheck disable=SC2086
$CXX $LDFLAGS $OBJS -lgtest -lgtest_main -pthread -lxgboost -lgomp -o "$BIN"

echo "== running $BIN"
# GCC 12's ThreadSanitizer needs the address space it expects: on kernels
# that randomize mmap more (vm.mmap_rnd_bits above 28) it dies with
# "unexpected memory mapping". Without address randomization (setarch -R)
# it runs anywhere; where personality() is refused (some containers), the
# binary runs as it is. Not exec'd: the EXIT trap must still remove a
# temporary BUILD_DIR; the script exits with the binary's status.
status=0
case ${SANITIZE:-} in
    *thread*)
        if setarch "$(uname -m)" -R true 2>/dev/null; then
            setarch "$(uname -m)" -R "$BIN" "$@" || status=$?
            exit $status
        fi ;;
esac
"$BIN" "$@" || status=$?
exit $status
