#!/bin/sh
# Builds and runs the model-check harness (test/core/model_check_test.cpp)
# against freshly generated XGBoost 1.7 models and their corruptions:
# legitimate models must pass the check, load and predict as Python did;
# targeted corruptions and truncations must be refused; bit flips must be
# refused, or accepted and survived by XGBoost.
#
#   test/core/run.sh          the quick set, for make test (15 s on an idle
#                             2-core machine, half of it compiling)
#   FULL=1 test/core/run.sh   five times the bit flips (300 MB of files), and
#                             times the check
#   BIG=1 test/core/run.sh    also a 1000-tree depth-8 model, and times it
#                             (training it takes several minutes)
#
# Ends with exactly one line "test/core: N passed, M failed" (scripts/test.sh
# reads it) and exits non-zero when M > 0. A check is one model (it
# predicts; its truncations are all refused), one targeted corruption, one
# model with wrong saved predictions or one bit-flipped copy; a setup step
# or harness run that fails counts as one failed check.
#
# Needs g++, libxgboost-dev and /usr/bin/python3 with xgboost 1.7 and numpy
# (a python3 earlier in PATH may lack them). Work files go to $WORK, which is
# kept; without it, to a temporary folder removed at the end.
set -u
passed=0
failed=0

finish() {
    echo "test/core: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

# Counts a failed setup step and stops.
die() {
    echo "run.sh: $*" >&2
    failed=$((failed + 1))
    finish
}

# A step the checks need.
setup() { "$@" || die "failed: $*"; }

# One OpenMP thread, as the extension loads models: every accepted bit flip
# is predicted in a child process, and starting a thread a core took most of
# each child's time.
harness() { OMP_NUM_THREADS=1 "$BIN" "$@"; }

# Runs one harness mode ($2...) and adds up its last line, "N passed, M
# failed". A run without that line (the check itself crashed, say) counts
# as one failed check.
check() {
    echo "== $1"
    shift
    harness "$@" >"$WORK/log" 2>&1
    rc=$?
    cat "$WORK/log"
    line=$(tail -n 1 "$WORK/log" |
        sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p')
    if [ -z "$line" ]; then
        echo "FAIL the harness ended with status $rc and no count"
        failed=$((failed + 1))
        return
    fi
    # shellcheck disable=SC2086 # split into N and M
    set -- $line
    passed=$((passed + $1))
    failed=$((failed + $2))
    if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then failed=$((failed + 1)); fi
}

# WORK relative to where we were started, before the cd below.
if [ -n "${WORK:-}" ]; then
    WORK=$(mkdir -p "$WORK" && cd "$WORK" && pwd) || die "cannot use WORK=$WORK"
else
    WORK=$(mktemp -d) || die "mktemp failed"
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 1' HUP INT TERM
fi
setup cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
BIN=$WORK/model_check_test
# A kept WORK must not feed the last run's files to this one.
rm -rf "$WORK/models" "$WORK/bad"

setup g++ -std=c++20 -O2 -Wall -Wextra -Werror -I src -D_GNU_SOURCE \
    test/core/model_check_test.cpp src/core/ubjson.cpp src/core/model_check.cpp \
    -lxgboost -o "$BIN"
setup $PY test/core/make_models.py "$WORK/models" ${BIG:+--big}
setup $PY test/core/corrupt_models.py "$WORK/models" "$WORK/bad" ${FULL:+--full}

check "legitimate models: must pass, load and predict as Python did" \
    --valid "$WORK/models"
check "models with wrong saved predictions: --valid must fail them" \
    --mispredicted "$WORK/bad/mispredicted"
check "targeted corruptions: must be refused" --invalid "$WORK/bad/invalid"
check "truncations of every model: must be refused" --truncated "$WORK/models"
check "bit flips: refused, or accepted and XGBoost survives them" --sweep "$WORK/bad/flips"
if [ -n "${FULL:-}${BIG:-}" ]; then
    echo "== check time vs XGBoost load time (a measurement, not a check)"
    harness --time "$WORK/models/deep.ubj" ${BIG:+"$WORK/models/big.ubj"}
fi
finish
