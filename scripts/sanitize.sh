#!/bin/bash
# The extension under AddressSanitizer and UndefinedBehaviorSanitizer:
# `make sanitize-regress` (part of `make test`), and `make sanitize`
# (SANITIZE_TAP=1) for the TAP suites of faults and bad input too. Runnable
# alone, as root or as a user who can build. Writes nothing outside a
# temporary folder; the system's PostgreSQL and the checkout's objects stay
# as they are.
#
#   build      the checkout's files (tracked and untracked, not ignored)
#              copied into a scratch tree and built there with
#              SANITIZE=address,undefined (the Makefile adds -fsanitize,
#              -fno-sanitize-recover=all and -fno-omit-frame-pointer)
#   scratch root  PostgreSQL 15's files copied into a scratch root (less any
#              pgml_worker file of the system's), the sanitized build
#              installed into it (make install DESTDIR=root). Its
#              bin/postgres becomes a wrapper that preloads libasan,
#              test/sanitize/preload.c (built here with -z initfirst: ASan's
#              runtime initialized before any library's constructor, as in
#              an instrumented executable, and UBSan's options compiled in;
#              that file says why a Postgres process otherwise hangs at
#              start, and loses UBSan's options) and libubsan, and execs the
#              real binary (renamed postgres.real) under the wrapper's own
#              name: Postgres finds its share directory and $libdir next to
#              that name, so it runs the scratch root's files. The Postgres
#              binaries stay uninstrumented; only the extension is. Checked:
#              the postmaster maps libasan and the scratch root's library.
#   pg_regress, isolation  the REGRESS and ISOLATION suites (make
#              installcheck, one count per test) against a throwaway cluster
#              of that root with test/regress.conf
#   TAP        (SANITIZE_TAP=1 only) test/t 001, 004, 005, 006 and 007 with
#              that root's binaries first on PATH, so that every cluster
#              they start runs under the sanitizers; one count per file
#   reports    the run fails if a sanitizer wrote a report (log_path, one
#              file per process) or a server log says "AddressSanitizer" or
#              "runtime error:"; the reports are printed
#
# Settings: ASAN_OPTIONS detect_leaks=0 (Postgres frees by memory context,
# and a backend's exit leaves them to the OS: every process would report),
# abort_on_error=1 (a report ends the process; the postmaster logs the
# signal and restarts); UBSan print_stacktrace=1, halt_on_error=1,
# abort_on_error=1 (GCC 12's UBSan writes its reports to stderr, the server
# log, whatever log_path says; hence the log check). KEEP=1 keeps
# the temporary folder. SANITIZE_BUILD_DIR=DIR builds in DIR and keeps it,
# so that the next run rebuilds only what changed (a full sanitized build
# takes about 7 min on 2 cores). Ends with one line: "sanitize: N passed,
# M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh
top=$PWD
# The one combination this script sets up (the preloads are ASan's).
SANITIZE=address,undefined

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
finish() {
    echo "sanitize: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

pgbin=$PG_BINDIR                        # /usr/lib/postgresql/15/bin
pginst=$(dirname "$pgbin")              # /usr/lib/postgresql/15
pgshare=$(pg_config --sharedir)         # /usr/share/postgresql/15
asan_rt=$(gcc -print-file-name=libasan.so)
ubsan_rt=$(gcc -print-file-name=libubsan.so)
for rt in "$asan_rt" "$ubsan_rt"; do
    [ -f "$(readlink -f "$rt")" ] || { echo "sanitize: no $rt (gcc's sanitizer runtimes)" >&2; exit 1; }
done

work=$(pg_tmpdir san)
build=${SANITIZE_BUILD_DIR:-$work/build}
root="$work/root"
data="$work/data"
logs="$work/reports"
bin="$root$pgbin"
cleanup() {
    [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1
    if [ -n "${KEEP:-}" ]; then echo "sanitize: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (SANITIZE=$SANITIZE, in a scratch copy of the tree)"
start=$(date +%s)
mkdir -p "$build"
build=$(cd "$build" && pwd)
# What git would commit, uncommitted changes included; a tree that is not a
# git checkout is copied whole.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$top" ls-files -z --cached --others --exclude-standard |
        (cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
        tar -C "$top" --null -T - -cf - | tar -C "$build" -xf -
else
    cp -a "$top/." "$build/"
    make -s -C "$build" clean >/dev/null 2>&1 || true
fi
# Data sets the checkout already wrote are reused (they come from
# python3-sklearn's copies, whatever the build's flags).
cp -p "$top"/datasets/*.csv "$build/datasets/" 2>/dev/null || true
if make -C "$build" -j"$(nproc 2>/dev/null || echo 2)" SANITIZE="$SANITIZE" > "$work/build.log" 2>&1; then
    pass "build: pgml_worker.so with -fsanitize=$SANITIZE in $(( $(date +%s) - start )) s"
else
    grep -E ' error|error:' "$work/build.log" || tail -n 30 "$work/build.log"
    fail "build (see above)"
    finish
fi

echo "== scratch root: PostgreSQL's files, the sanitized build, a postgres wrapper"
mkdir -p "$root$(dirname "$pginst")" "$root$(dirname "$pgshare")"
cp -a "$pginst" "$root$(dirname "$pginst")/"
cp -a "$pgshare" "$root$(dirname "$pgshare")/"
# Whatever pgml_worker the system has installed goes, so that only the
# sanitized build can serve.
rm -rf "$root$pginst/lib"/pgml_worker* "$root$pginst/lib/bitcode"/pgml_worker* \
       "$root$pgshare/extension"/pgml_worker*
if ! make -C "$build" SANITIZE="$SANITIZE" install DESTDIR="$root" >> "$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    fail "make install into the scratch root"
    finish
fi
asan_options="detect_leaks=0:abort_on_error=1:log_path=$logs/asan"
ubsan_options="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$logs/ubsan"
# libasan first (ASan requires it), then test/sanitize/preload.c (ASan
# initialized before any constructor; UBSan's options compiled in: that
# file says why), then libubsan.
if ! gcc -shared -fPIC -O1 -Wl,-z,initfirst -DPGML_UBSAN_OPTIONS="\"$ubsan_options\"" \
        -o "$root/sanitizer_preload.so" test/sanitize/preload.c "$asan_rt" >> "$work/build.log" 2>&1; then
    tail -n 20 "$work/build.log"
    fail "building test/sanitize/preload.c"
    finish
fi
preload="$asan_rt:$root/sanitizer_preload.so:$ubsan_rt"
mkdir -p "$logs"
chown "$PG_OS_USER" "$logs"
mv "$bin/postgres" "$bin/postgres.real"
# The real binary runs under the wrapper's name (exec -a): Postgres derives
# its share directory and $libdir from that path, so they are the root's.
cat > "$bin/postgres" <<EOF
#!/bin/bash
# Written by pgml_worker's scripts/sanitize.sh: the sanitizers' runtimes
# first in the process, then the uninstrumented server.
export LD_PRELOAD="$preload\${LD_PRELOAD:+:\$LD_PRELOAD}"
export ASAN_OPTIONS="$asan_options"
export UBSAN_OPTIONS="$ubsan_options"
echo "\$*" >> "$work/postgres.calls"
exec -a "\$0" "$bin/postgres.real" "\$@"
EOF
chmod 755 "$bin/postgres"
chown -R "$PG_OS_USER" "$work"

# Every report a sanitizer wrote, and every log line naming one; prints
# them and says whether there were any.
reports_found() {
    local found=1 f
    for f in "$logs"/*; do
        [ -f "$f" ] || continue
        echo "--- $f"
        head -n 80 "$f"
        found=0
    done
    # (Only the logs there are: grep's status is 2 on a missing file, even
    # after a match.)
    for f in "$@"; do
        [ -f "$f" ] || continue
        grep -E -H 'AddressSanitizer|runtime error:|LeakSanitizer|UndefinedBehaviorSanitizer' "$f" && found=0
    done
    return $found
}

port=$((50000 + RANDOM % 10000))
as_pg "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
{
    cat test/regress.conf
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$work'"
} >> "$data/postgresql.conf"
start=$(date +%s)
if ! as_pg "$bin/pg_ctl" -D "$data" -l "$work/server.log" -t 120 -w start >/dev/null; then
    tail -n 40 "$work/server.log"
    reports_found "$work/server.log" || true
    fail "the sanitized server did not start"
    finish
fi
export PGHOST="$work" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
sql() { "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

problems=()
pid=$(head -1 "$data/postmaster.pid")
maps=$(awk '{ print $NF }' "/proc/$pid/maps" | sort -u)
grep -q '/libasan\.so' <<< "$maps" || problems+=("the postmaster did not map libasan")
grep -q '/libubsan\.so' <<< "$maps" || problems+=("the postmaster did not map libubsan")
grep -qx "$root$pginst/lib/pgml_worker.so" <<< "$maps" ||
    problems+=("the postmaster did not map the scratch root's pgml_worker.so")
objdump -p "$root$pginst/lib/pgml_worker.so" | grep -q 'NEEDED.*libasan' ||
    problems+=("the installed library is not linked with libasan")
sharedir=$(sql -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
[ "$sharedir" = "$root$pgshare" ] || problems+=("the server's share directory is $sharedir")
if [ ${#problems[@]} -eq 0 ]; then
    pass "scratch root: the sanitized library preloaded under libasan and libubsan, started in $(( $(date +%s) - start )) s"
else
    printf '  %s\n' "${problems[@]}"
    fail "scratch root"
fi

src=$(copy_tests "$work")
installcheck() {
    as_pg env PATH="$bin:$PATH" make -s -C "$src" installcheck PG_CONFIG="$bin/pg_config" "$@"
}
for suite in regress isolation; do
    echo "== $suite (make installcheck) under the sanitizers"
    start=$(date +%s)
    status=0
    case $suite in
        regress) installcheck ISOLATION= TAP_TESTS= 2>&1 | tee "$work/$suite.log" || status=$? ;;
        isolation) installcheck REGRESS= TAP_TESTS= 2>&1 | tee "$work/$suite.log" || status=$? ;;
    esac
    p=$(grep -cE '^(ok|test) .* \.\.\. ok' "$work/$suite.log" || true)
    f=$(grep -cE '\.\.\. FAILED' "$work/$suite.log" || true)
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$suite: $p passed, $f failed in $(( $(date +%s) - start )) s"
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && fail "$suite ended with status $status"
    if [ "$status" -ne 0 ]; then
        for d in "$src/regression.diffs" "$src/output_iso/regression.diffs"; do
            [ -f "$d" ] && head -n 200 "$d"
        done
    fi
done
# A server that cannot stop (after a crash, say) still gets its reports read.
if ! as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null; then
    fail "the server did not stop (fast); stopped it immediately"
    tail -n 20 "$work/server.log"
    as_pg "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
fi
if grep -E 'terminated by signal|was terminated by exception' "$work/server.log"; then
    fail "a server process crashed (see above)"
fi

if [ -n "${SANITIZE_TAP:-}" ]; then
    echo "== TAP under the sanitizers (001, 004, 005, 006, 007)"
    # Those that test faults, bad input, security and the worker's edges,
    # where a memory error would hide. The rest (002 standby, 003 checked
    # load, 008 bit-exactness over many models, 009 first predictions of 50
    # connections, 010 a search's progress) are load and timing tests, left
    # out by choice, not because they fail: they have not been tried here.
    start=$(date +%s)
    calls_before=$(wc -l < "$work/postgres.calls")
    tap_tests="test/t/001_worker_faults.pl test/t/004_faults.pl test/t/005_bad_input.pl test/t/006_security.pl test/t/007_worker_edges.pl"
    status=0
    installcheck REGRESS= ISOLATION= PROVE_TESTS="$tap_tests" PROVE_FLAGS=--timer 2>&1 |
        tee "$work/prove.log" || status=$?
    p=$(grep -cE '^\[[0-9:]+\] .*\.pl \.+ ok' "$work/prove.log" || true)
    f=$(( $(wc -w <<< "$tap_tests") - p ))
    passed=$((passed + p))
    failed=$((failed + f))
    echo "TAP: $p passed, $f failed in $(( $(date +%s) - start )) s"
    # Their clusters ran the wrapper (so the sanitizers), not another postgres.
    calls=$(( $(wc -l < "$work/postgres.calls") - calls_before ))
    if [ "$calls" -gt 0 ]; then
        pass "TAP: the wrapper started postgres $calls times"
    else
        fail "TAP: no postgres started through the wrapper (PATH?)"
    fi
    if [ "$status" -ne 0 ]; then
        for l in "$src"/tmp_check/log/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 30 "$l"; }; done
    fi
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && fail "prove ended with status $status"
fi

echo "== sanitizer reports"
if reports_found "$work/server.log" "$src"/tmp_check/log/*.log; then
    fail "sanitizer reports (above)"
else
    pass "no sanitizer report (ASan, UBSan) from any server process"
fi
finish
