#!/bin/sh
# Builds and runs the model-check harness (test/core/model_check_test.cpp)
# against freshly generated XGBoost 1.7 models and their corruptions.
#
#   test/core/run.sh            everything (a few minutes)
#   BIG=1 test/core/run.sh      also a 1000-tree depth-8 model, and times it
#                               (training it takes several minutes)
#
# Needs g++, libxgboost-dev and /usr/bin/python3 with xgboost 1.7 and numpy
# (a python3 earlier in PATH may lack them). Work files go to $WORK
# (default: a fresh temporary folder).
set -eu
cd "$(dirname "$0")/../.."
WORK=${WORK:-$(mktemp -d)}
PY=/usr/bin/python3
mkdir -p "$WORK"
BIN=$WORK/model_check_test

g++ -std=c++20 -O2 -Wall -Wextra -Werror -I src -D_GNU_SOURCE \
    test/core/model_check_test.cpp src/core/ubjson.cpp src/core/model_check.cpp \
    -lxgboost -o "$BIN"

$PY test/core/make_models.py "$WORK/models" ${BIG:+--big}
(cd test/core && $PY corrupt_models.py "$WORK/models" "$WORK/bad")

echo "== legitimate models: must pass and predict"
"$BIN" --valid "$WORK/models"
echo "== targeted corruptions: must be refused"
"$BIN" --invalid "$WORK/bad/invalid"
echo "== truncations and bit flips: refused, or accepted and XGBoost survives them"
"$BIN" --sweep "$WORK/bad/truncated" "$WORK/bad/flips"
echo "== check time vs XGBoost load time"
"$BIN" --time "$WORK/models/deep.ubj" ${BIG:+"$WORK/models/big.ubj"}
echo "all passed ($WORK)"
