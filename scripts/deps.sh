#!/bin/bash
# Installs the Debian packages that building, testing and the demo need,
# when any is missing. Quiet and quick when everything is there.
set -euo pipefail

packages=(
    g++ make
    postgresql-15 postgresql-server-dev-15 postgresql-contrib
    libxgboost-dev libexpected-dev
    libgtest-dev                     # unit tests of the pure C++ parts (test/unit)
    python3-xgboost python3-numpy   # tests compare predictions with XGBoost's Python package
    libipc-run-perl                  # TAP tests (PostgreSQL::Test::Cluster)
    python3-psycopg2                 # the TAP tests' and make soak's load driver (test/load)
    python3-sklearn                  # the build writes pgml.load_dataset's data sets from its copies
    clang-14 libclang-rt-14-dev llvm-14   # the fuzz targets (fuzz/, make fuzz and make test): libFuzzer, ASan, UBSan, llvm-symbolizer
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run 'make deps' as root, or: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
