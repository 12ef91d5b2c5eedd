#!/bin/bash
# The libFuzzer targets of fuzz/ (README "Fuzzing"): builds them with
# clang++-14 (ASan + UBSan + libFuzzer, src/core linked in directly),
# replays every file in fuzz/regressions/<target>/ (each must run clean),
# then fuzzes each target in turn from a seed corpus made here.
#
#   scripts/fuzz.sh           make fuzz: FUZZ_SECONDS (600) per target
#   scripts/fuzz.sh test      make test's step: FUZZ_SECONDS (30) per target
#   scripts/fuzz.sh replay    build and replay the regressions only
#
# FUZZ_TARGETS="a b" limits the targets; FUZZ_BUILD (build/fuzz) keeps the
# objects and binaries between runs (the objects are rebuilt when the
# compiler or its flags change); FUZZ_KEEP=dir keeps the corpora and
# logs there (default: a temporary folder, removed). A crash, leak, hang
# (-timeout), memory blow-up (-rss_limit_mb, -malloc_limit_mb) or failed
# FUZZ_CHECK fails the target; its input is saved beside the log and
# printed (base64) so it can become a regression file.
# Prints per target the executions and the coverage of libFuzzer's final
# statistics, and ends with "fuzz: N passed, M failed" (a replayed file or a
# fuzzing run is one check); exits non-zero when M > 0.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-fuzz}
case $mode in
    fuzz) seconds=${FUZZ_SECONDS:-600} ;;
    test) seconds=${FUZZ_SECONDS:-30} ;;
    replay) seconds=0 ;;
    *) echo "usage: $0 [fuzz|test|replay]" >&2; exit 2 ;;
esac

CXX=${FUZZ_CXX:-clang++-14}
BUILD=${FUZZ_BUILD:-build/fuzz}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
FLAGS="-std=c++20 -g -O1 -fno-omit-frame-pointer -I src -I fuzz -D_GNU_SOURCE"
all_targets=$(for f in fuzz/*.cpp; do basename "$f" .cpp; done)
# One line, space-separated.
targets=$(echo ${FUZZ_TARGETS:-$all_targets})

if [ -n "${FUZZ_KEEP:-}" ]; then
    work=$FUZZ_KEEP
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

passed=0
failed=0
finish() {
    echo "fuzz: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# Libraries and limits every run uses. One OpenMP thread: XGBoost's loader
# and predictor would otherwise start a team per core.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:handle_abort=1}
# Stack traces with file and line (llvm-14 has no llvm-symbolizer in PATH).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The limits of every run, replay or fuzzing.
run_limits="-timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=1536"
limits() {  # the libFuzzer options of fuzzing target $1
    local max_len
    case $1 in
        model_import) max_len=262144 ;;   # the generated models are up to about 200 kB
        preprocess_json) max_len=16384 ;;
        *) max_len=4096 ;;
    esac
    echo "-max_len=$max_len $run_limits -print_final_stats=1"
}

# --- build ---------------------------------------------------------------
echo "== building the fuzz targets into $BUILD ($CXX)"
command -v "$CXX" >/dev/null || { echo "fuzz: $CXX not found (make deps installs clang-14)" >&2; failed=1; finish; }
mkdir -p "$BUILD/obj"
export CXX FLAGS SAN BUILD
# Objects compiled with other flags or another compiler (FUZZ_CXX, a change
# to FLAGS or SAN here) are not reused: the command line and the compiler's
# version are kept in obj/.flags, and when they differ every object goes.
stamp="$CXX $FLAGS $SAN -fsanitize=fuzzer-no-link | $("$CXX" --version 2>/dev/null | head -n 1)"
if [ "$(cat "$BUILD/obj/.flags" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$BUILD"/obj/*.o
    printf '%s\n' "$stamp" >"$BUILD/obj/.flags"
fi
# Objects of sources that no longer exist (a removed or renamed file) go too:
# only src/core's present sources are linked.
for o in "$BUILD"/obj/*.o; do
    [ -e "$o" ] || continue
    [ -f "src/core/$(basename "$o" .o).cpp" ] || rm -f "$o"
done
core_objs=$(for f in src/core/*.cpp; do echo "$BUILD/obj/$(basename "$f" .cpp).o"; done)
# src/core's objects once (instrumented for coverage, not linked with
# libFuzzer's main), reused while newer than the source and every header.
if ! ls src/core/*.cpp | xargs -P "$JOBS" -I{} sh -c '
        o="$BUILD/obj/$(basename {} .cpp).o"
        if [ "$o" -nt "{}" ] && [ -z "$(find src/core -name "*.hpp" -newer "$o" | head -1)" ]; then exit 0; fi
        $CXX $FLAGS $SAN -fsanitize=fuzzer-no-link -c "{}" -o "$o"'; then
    echo "fuzz: building src/core failed" >&2
    failed=1
    finish
fi
for t in $targets; do
    # shellcheck disable=SC2086 # one word per object
    if ! $CXX $FLAGS $SAN -fsanitize=fuzzer "fuzz/$t.cpp" $core_objs -lxgboost -lgomp -o "$BUILD/$t"; then
        echo "fuzz: building $t failed" >&2
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] || finish

# --- replay the regressions ----------------------------------------------
echo "== replaying fuzz/regressions"
for t in $targets; do
    [ -d "fuzz/regressions/$t" ] || continue
    for f in "fuzz/regressions/$t"/*; do
        [ -f "$f" ] || continue
        # Whole: no -max_len, which libFuzzer applies to a file it runs too
        # (width-sum-wraps-uint32.json is 400 kB, past preprocess_json's).
        # shellcheck disable=SC2086 # the options split into words
        if "$BUILD/$t" $run_limits -runs=1 "$f" >"$work/replay.log" 2>&1; then
            passed=$((passed + 1))
        else
            echo "FAIL $t: $f"
            tail -n 40 "$work/replay.log"
            failed=$((failed + 1))
        fi
    done
done
echo "replayed: $passed passed, $failed failed"
[ "$mode" = replay ] && finish

# --- seed corpora ----------------------------------------------------------
# model_import: the models test/core trains (XGBoost 1.7 UBJSON of every
# booster and objective it covers); preprocess_json: fuzz/seeds; every
# target: its regression files. The others start from nothing.
echo "== seed corpora in $work"
for t in $targets; do
    mkdir -p "$work/corpus/$t" "$work/crashes/$t"
    [ -d "fuzz/seeds/$t" ] && cp fuzz/seeds/"$t"/* "$work/corpus/$t/"
    [ -d "fuzz/regressions/$t" ] && cp fuzz/regressions/"$t"/* "$work/corpus/$t/" 2>/dev/null || true
done
if [[ " $targets " == *" model_import "* ]]; then
    /usr/bin/python3 test/core/make_models.py "$work/models" >/dev/null
    # Those longer than -max_len (deep.ubj, 1.5 MB) would only be cut short.
    find "$work/models" -name '*.ubj' -size -256k -exec cp {} "$work/corpus/model_import/" \;
fi

# --- fuzz ------------------------------------------------------------------
printf '%-16s %8s %12s %8s %8s %8s %s\n' target seconds executions exec/s cov ft result > "$work/summary"
for t in $targets; do
    echo "== fuzzing $t for ${seconds}s"
    log="$work/$t.log"
    status=0
    # shellcheck disable=SC2046
    "$BUILD/$t" $(limits "$t") -max_total_time="$seconds" -artifact_prefix="$work/crashes/$t/" \
        "$work/corpus/$t" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    if [ $status -eq 0 ] && [ -n "$execs" ]; then
        result=ok
        passed=$((passed + 1))
    else
        result="FAILED (status $status)"
        failed=$((failed + 1))
        grep -E 'ERROR|FUZZ_CHECK|SUMMARY|==[0-9]+==|^    #[0-9]' "$log" | head -n 40 || tail -n 40 "$log"
        for a in "$work/crashes/$t"/*; do
            [ -f "$a" ] || continue
            echo "--- input $(basename "$a") ($(wc -c <"$a") bytes), base64:"
            head -c 4096 "$a" | base64
        done
    fi
    printf '%-16s %8s %12s %8s %8s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result" |
        tee -a "$work/summary"
done
echo "== summary"
cat "$work/summary"
finish
