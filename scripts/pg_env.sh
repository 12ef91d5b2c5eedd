# Sourced by the scripts: where Postgres 15 lives, and how to run a command
# as the user that owns throwaway clusters (initdb refuses to run as root).
PG_BINDIR=$(pg_config --bindir)
PGXS_DIR=$(dirname "$(dirname "$(pg_config --pgxs)")")   # .../lib/pgxs/src

if [ "$(id -u)" -eq 0 ]; then
    PG_OS_USER=postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    PG_OS_USER=$(id -un)
    as_pg() { "$@"; }
fi

# A fresh folder owned by the cluster user.
pg_tmpdir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/pgml_worker.$1.XXXXXX")
    chown "$PG_OS_USER" "$d"
    chmod 755 "$d"
    echo "$d"
}

# copy_tests DIR: the suites, as the cluster user runs them (it may not be
# able to read this checkout, a clone under /root, say): the Makefile (for
# make installcheck), sql/, expected/, test/ and the flights generator the
# load tests use. Prints the copy's folder.
copy_tests() {
    local dst="$1/src"
    mkdir -p "$dst/bench"
    cp -r Makefile pgml_worker.control sql expected test "$dst/"
    cp bench/gen_flights.py "$dst/bench/"
    chown -R "$PG_OS_USER" "$dst"
    echo "$dst"
}
