#!/bin/bash
# make deb: builds the Debian package postgresql-15-pgml-worker with debian/
# (debhelper, pg_buildext) and puts it in build/deb/:
#
#   build/deb/postgresql-15-pgml-worker_<version>-<revision>_amd64.deb
#
# <version> is default_version in pgml_worker.control, <revision>
# DEB_REVISION (default 1). The build runs in a temporary copy of the tree
# (the files git tracks, plus untracked ones it does not ignore), so the
# checkout gets no build output but build/deb/ and dpkg-buildpackage can
# write next to its source folder. The copy gets a debian/changelog written
# here, whose version is the one above: the version is stated once, in
# pgml_worker.control. As root, installs the build dependencies debian/control
# names when any is missing (apt-get). Prints the package's path last.
#
#   DEB_OUT=DIR       where the packages go (default build/deb)
#   DEB_REVISION=N    the Debian revision (default 1)
#   DEB_JOBS=N        parallel make jobs (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${DEB_OUT:-$top/build/deb}
revision=${DEB_REVISION:-1}
jobs=${DEB_JOBS:-2}

die() { echo "deb: $*" >&2; exit 1; }

version=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" pgml_worker.control)
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "no usable default_version in pgml_worker.control ('$version')"
source=$(sed -n 's/^Source:[[:space:]]*//p' debian/control)
maintainer=$(sed -n 's/^Maintainer:[[:space:]]*//p' debian/control)

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# dpkg-buildpackage and dpkg-checkbuilddeps come with dpkg-dev.
if ! command -v dpkg-checkbuilddeps >/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "dpkg-dev is missing: run as root, or apt-get install dpkg-dev"
    echo "deb: installing dpkg-dev"
    apt_install dpkg-dev
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pgml_worker.deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
tree="$work/$source-$version"
mkdir "$tree"

# The copy: what git tracks (as it is now in the checkout) and the untracked
# files it does not ignore; without git, the tree less the build output.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$tree"
else
    tar --exclude=./build --exclude=./.demo --exclude=./results --exclude=./tmp_check \
        --exclude=./log --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=./.layers-checked --exclude='./datasets/*.csv' -cf - . | tar -xf - -C "$tree"
fi
[ -f "$tree/debian/rules" ] || die "the copy of the tree has no debian/rules"

# debian/changelog, from pgml_worker.control's version. Its date (which
# dpkg-buildpackage turns into SOURCE_DATE_EPOCH, the packaged files' times)
# is the last commit's, so two builds of one commit give the same files.
date=$(git log -1 --format=%cD 2>/dev/null || true)
[ -n "$date" ] || date=$(date -R)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "a tree without git")
cat > "$tree/debian/changelog" <<EOF
$source ($version-$revision) bookworm; urgency=medium

  * pgml_worker $version (default_version in pgml_worker.control), built by
    make deb from $commit.

 -- $maintainer  $date
EOF

# The build dependencies debian/control names.
if ! unmet=$(cd "$tree" && dpkg-checkbuilddeps 2>&1); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "$unmet" >&2
        die "run 'make deb' as root to install them, or: apt-get build-dep $top"
    fi
    echo "deb: installing the build dependencies (${unmet##*: })"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get build-dep -y -qq --no-install-recommends "$tree" >/dev/null
fi

echo "deb: building $source $version-$revision in $tree"
mkdir -p "$out"
log="$out/build.log"
if ! (cd "$tree" && nice -n 10 dpkg-buildpackage -b -us -uc -j"$jobs") >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    die "dpkg-buildpackage failed (the whole log: $log)"
fi

# The packages (and the dbgsym package dh_strip made), replacing those of
# an earlier run.
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
cp "$work"/*.deb "$out"/
cp "$work"/*.buildinfo "$work"/*.changes "$out"/ 2>/dev/null || true
arch=$(dpkg --print-architecture)
deb="$out/postgresql-15-pgml-worker_${version}-${revision}_${arch}.deb"
[ -f "$deb" ] || die "dpkg-buildpackage made no $(basename "$deb") (see $log)"
echo "$deb"
