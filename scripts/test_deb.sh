#!/bin/bash
# The Debian package, tested: part of `make test`, and runnable alone
# (scripts/test_deb.sh, as root or as a user who can build). Writes nothing
# outside build/deb/ and a temporary folder; the system's PostgreSQL stays
# as it is.
#
#   build      make deb's script (scripts/deb.sh) builds the package
#   metadata   name, version (default_version of pgml_worker.control),
#              architecture; Depends names postgresql-15 and the package of
#              every library the packaged .so links (libxgboost0, libgomp1...)
#   contents   only the library, the control file, every upgrade script
#              (each sql/pgml_worker--*.sql, byte for byte), the data sets,
#              the docs and lintian's overrides; no path or file naming the
#              build tree
#   lintian    no errors (when lintian is installed; warnings are shown)
#   scratch root  PostgreSQL 15's files copied into a scratch root (less any
#              pgml_worker file of the system's), the package unpacked over
#              them (dpkg-deb -x), a cluster started from that root's
#              binaries: Postgres finds its share directory and $libdir
#              next to its binary, so it runs the packaged files. Checked:
#              the library is preloaded from the scratch root (the
#              postmaster's /proc maps), the share directory is the root's.
#   pg_regress the REGRESS suite (make installcheck) against that cluster,
#              one count per test
#   upgrade    from every earlier version the package has a script for:
#              CREATE EXTENSION at that version, train and deploy a model,
#              ALTER EXTENSION UPDATE; the version is the current one and
#              the model and its deployment are kept and predict the same
#
# DEB_FILE=PATH tests that package instead of building one (counted as no
# test). Ends with one line: "test_deb: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh
top=$PWD

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
finish() {
    echo "test_deb: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

version=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" pgml_worker.control)
pgver=$(sed -n 's/^\([0-9][0-9]*\)$/\1/p' debian/pgversions | head -1)
pkg="postgresql-$pgver-pgml-worker"

work=$(pg_tmpdir deb)
root="$work/root"
data="$work/data"
cleanup() {
    [ -f "$data/postmaster.pid" ] &&
        as_pg "$root/usr/lib/postgresql/$pgver/bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (scripts/deb.sh)"
start=$(date +%s)
if [ -n "${DEB_FILE:-}" ]; then
    # A package built before, to test only (not how make test runs it).
    deb=$(readlink -f "$DEB_FILE")
    echo "testing $deb, not building (DEB_FILE)"
elif scripts/deb.sh | tee "$work/deb.out" && deb=$(tail -n 1 "$work/deb.out") && [ -f "$deb" ]; then
    pass "build: $(basename "$deb") in $(( $(date +%s) - start )) s"
else
    fail "build (see build/deb/build.log)"
    finish
fi

echo "== metadata"
field() { dpkg-deb -f "$deb" "$1"; }
depends=$(field Depends)
echo "Depends: $depends"
problems=()
[ "$(field Package)" = "$pkg" ] || problems+=("Package is $(field Package), not $pkg")
[[ $(field Version) == "$version"-* ]] || problems+=("Version $(field Version) is not $version-<revision>")
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || problems+=("Architecture is $(field Architecture)")
# One alternative per comma-separated item: its package name.
dep_names=" $(echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/[ (|].*//' | tr '\n' ' ') "
needs() { [[ $dep_names == *" $1 "* ]] || problems+=("Depends lacks $1 ($2)"); }
needs "postgresql-$pgver" "the server"
# Every library the packaged .so links, by the package that ships it here.
so_dir=$(mktemp -d "$work/so.XXXXXX")
dpkg-deb --fsys-tarfile "$deb" | tar -xf - -C "$so_dir" "./usr/lib/postgresql/$pgver/lib/pgml_worker.so"
# The package that ships a library (by its soname), whichever of its paths
# (/lib or /usr/lib, the link or its target) dpkg has on record.
owner_of() {
    local path p owner
    path=$(ldconfig -p | awk -v l="$1" '$1 == l && /x86-64/ { print $NF; exit }')
    [ -n "$path" ] || return 0
    for p in "$path" "/usr${path#/usr}" "$(readlink -f "$path")"; do
        owner=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 || true)
        [ -n "$owner" ] && { echo "$owner"; return 0; }
    done
    return 0
}
needed=$(objdump -p "$so_dir/usr/lib/postgresql/$pgver/lib/pgml_worker.so" | awk '$1 == "NEEDED" { print $2 }')
[[ $needed == *libxgboost.so* ]] || problems+=("the library does not link libxgboost")
for lib in $needed; do
    owner=$(owner_of "$lib")
    if [ -z "$owner" ]; then
        problems+=("no package ships $lib, which the library links")
    else
        needs "$owner" "ships $lib"
    fi
done
if [ ${#problems[@]} -eq 0 ]; then
    pass "metadata: $pkg $(field Version), Depends names the server and every linked library's package"
else
    printf '  %s\n' "${problems[@]}"
    fail "metadata"
fi

echo "== contents"
problems=()
ext="./usr/share/postgresql/$pgver/extension"
listing=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
while read -r p; do
    case $p in
        ./ | ./usr/ | ./usr/lib/ | ./usr/lib/postgresql/ | "./usr/lib/postgresql/$pgver/" | \
        "./usr/lib/postgresql/$pgver/lib/" | "./usr/lib/postgresql/$pgver/lib/pgml_worker.so" | \
        ./usr/share/ | ./usr/share/postgresql/ | "./usr/share/postgresql/$pgver/" | "$ext/" | \
        "$ext/pgml_worker.control" | "$ext"/pgml_worker--*.sql | \
        "$ext/pgml_worker/" | "$ext/pgml_worker/datasets/" | "$ext"/pgml_worker/datasets/*.csv | \
        ./usr/share/doc/ | "./usr/share/doc/$pkg/" | "./usr/share/doc/$pkg/"* | \
        ./usr/share/lintian/ | ./usr/share/lintian/overrides/ | "./usr/share/lintian/overrides/$pkg") ;;
        *) problems+=("unexpected path $p") ;;
    esac
done <<< "$listing"
full=$(mktemp -d "$work/full.XXXXXX")
dpkg-deb -x "$deb" "$full"
for f in sql/pgml_worker--*.sql pgml_worker.control; do
    cmp -s "$f" "$full/$ext/$(basename "$f")" || problems+=("$(basename "$f") missing or differs from the checkout's")
done
for f in "$full/$ext"/pgml_worker--*.sql; do
    [ -f "sql/$(basename "$f")" ] || problems+=("$(basename "$f") is not in sql/")
done
for set in $(sed -n 's/^DATASETS *= *//p' Makefile); do
    csv="$full/$ext/pgml_worker/datasets/$set.csv"
    [ -s "$csv" ] && [ "$(wc -l < "$csv")" -gt 1 ] || problems+=("data set $set missing or empty")
done
# No path or text of the build tree: its temporary folders and this checkout.
leaks=$(grep -rlE -e "/tmp/pgml_worker\.deb\.|$top/" "$full" 2>/dev/null || true)
[ -z "$leaks" ] || problems+=("the build tree is named in: ${leaks//$full/}")
if [ ${#problems[@]} -eq 0 ]; then
    pass "contents: $(grep -c '[^/]$' <<< "$listing") files, every upgrade script and data set, nothing of the build tree"
else
    printf '  %s\n' "${problems[@]}"
    fail "contents"
fi

if command -v lintian >/dev/null; then
    echo "== lintian"
    lintian --tag-display-limit 0 "$deb" > "$work/lintian.log" 2>&1 || true
    grep -E '^[EWI]: ' "$work/lintian.log" || true
    if grep -q '^E: ' "$work/lintian.log"; then
        fail "lintian reports errors"
    else
        pass "lintian: no errors"
    fi
fi

echo "== scratch root: PostgreSQL $pgver's files and the package"
mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
cp -a "/usr/lib/postgresql/$pgver" "$root/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$pgver" "$root/usr/share/postgresql/"
# Whatever pgml_worker the system has installed goes, so that only the
# package's files can serve.
rm -rf "$root/usr/lib/postgresql/$pgver/lib"/pgml_worker* \
       "$root/usr/lib/postgresql/$pgver/lib/bitcode"/pgml_worker* \
       "$root/usr/share/postgresql/$pgver/extension"/pgml_worker*
dpkg-deb -x "$deb" "$root"
bin="$root/usr/lib/postgresql/$pgver/bin"

port=$((50000 + RANDOM % 10000))
as_pg "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
{
    cat test/regress.conf
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$work'"
} >> "$data/postgresql.conf"
as_pg "$bin/pg_ctl" -D "$data" -l "$work/server.log" -w start >/dev/null
export PGHOST="$work" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
sql() { "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

problems=()
preload=$(sql -c 'SHOW shared_preload_libraries')
[ "$preload" = pgml_worker ] || problems+=("shared_preload_libraries is '$preload'")
pid=$(head -1 "$data/postmaster.pid")
loaded=$(awk '$NF ~ /\/pgml_worker\.so$/ { print $NF }' "/proc/$pid/maps" | sort -u)
[ "$loaded" = "$root/usr/lib/postgresql/$pgver/lib/pgml_worker.so" ] ||
    problems+=("the postmaster mapped '${loaded:-no pgml_worker.so}', not the scratch root's library")
sharedir=$(sql -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
[ "$sharedir" = "$root/usr/share/postgresql/$pgver" ] || problems+=("the server's share directory is $sharedir")
if [ ${#problems[@]} -eq 0 ]; then
    pass "scratch root: preloaded $loaded, share directory $sharedir"
else
    printf '  %s\n' "${problems[@]}"
    fail "scratch root"
fi

echo "== pg_regress (make installcheck) against the packaged files"
src=$(copy_tests "$work")
status=0
as_pg env PATH="$bin:$PATH" make -s -C "$src" installcheck PG_CONFIG="$bin/pg_config" \
    ISOLATION= TAP_TESTS= 2>&1 | tee "$work/regress.log" || status=$?
p=$(grep -cE '^(ok|test) .* \.\.\. ok' "$work/regress.log" || true)
f=$(grep -cE '\.\.\. FAILED' "$work/regress.log" || true)
passed=$((passed + p))
failed=$((failed + f))
[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && fail "pg_regress ended with status $status"
[ "$status" -ne 0 ] && [ -f "$src/regression.diffs" ] && head -n 200 "$src/regression.diffs"

echo "== upgrade: from each earlier version to $version, on the packaged scripts"
olds=$(ls "$root/usr/share/postgresql/$pgver/extension"/pgml_worker--*--*.sql |
       sed 's/.*pgml_worker--\(.*\)--.*\.sql/\1/' | sort -uV)
for old in $olds; do
    db="pgml_upgrade_${old//./_}"
    if out=$(sql -c "CREATE DATABASE $db" 2>&1 &&
             sql -d "$db" 2>&1 <<EOF
CREATE EXTENSION pgml_worker VERSION '$old';
CREATE TABLE t AS SELECT g::real AS x, (3 * g)::real AS y FROM generate_series(1, 200) g;
SELECT deployed FROM pgml.train('p', 'regression', 't', 'y', hyperparams => '{"n_estimators": 5}') \gset
SELECT pgml.predict('p', ARRAY[50]::real[]) AS before \gset
SELECT count(*) AS models FROM pgml.models \gset
SELECT count(*) AS deployments FROM pgml.deployments \gset
ALTER EXTENSION pgml_worker UPDATE;
SELECT extversion = '$version' AS updated FROM pg_extension WHERE extname = 'pgml_worker' \gset
SELECT :'deployed'::boolean AND :'updated'::boolean
   AND (SELECT count(*) FROM pgml.models) = :models AND :models > 0
   AND (SELECT count(*) FROM pgml.deployments) = :deployments AND :deployments > 0
   AND pgml.predict('p', ARRAY[50]::real[]) = :'before'::real
   AND (SELECT v FROM pgml.predict_batch('p', ARRAY[50]::real[]) v) = :'before'::real AS kept;
EOF
            ) && [ "$(tail -n 1 <<< "$out")" = t ]; then
        pass "upgrade $old -> $version: model and deployment kept, same prediction"
    else
        echo "$out"
        fail "upgrade $old -> $version"
    fi
    sql -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
done

as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null
if grep -E 'terminated by signal|was terminated by exception' "$work/server.log"; then
    fail "a server process crashed (see above)"
fi
[ "$failed" -gt 0 ] && tail -n 40 "$work/server.log"
finish
