# Shell functions shared by bench/quick, bench/run and scripts/demo.sh. Sourced after
# scripts/pg_env.sh, from the top of the checkout; the caller sets PGHOST,
# PGPORT, PGUSER and PGDATABASE for sql().

# The seed's feature list, in the table's column order (label left out).
BENCH_FEATURES="year, quarter, month, distance, dayofweek, dayofmonth, flight_number_operating_airline, originairportid, destairportid, tail_number"

sql() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# bench_initdb DATA SOCKET_DIR PORT LISTEN MAX_CONNECTIONS [EXTRA_CONF_LINE...]
bench_initdb() {
    local data=$1 sock=$2 port=$3 listen=$4 maxconn=$5
    shift 5
    as_pg "$PG_BINDIR/initdb" -D "$data" -A trust -U postgres >/dev/null
    {
        # The ceiling's library too: loaded once in the postmaster like
        # pgml_worker, not by each connection on its first call (which
        # costs every connection 8 kB of relocated pages of its own).
        echo "shared_preload_libraries = 'pgml_worker, pgml_bench_noop'"
        echo "port = $port"
        echo "listen_addresses = '$listen'"
        echo "unix_socket_directories = '$sock'"
        echo "max_connections = $maxconn"
        echo "shared_buffers = 256MB"
        local line
        for line in "$@"; do echo "$line"; done
    } >> "$data/postgresql.conf"
}

# The flights table (../shared/BENCH.md: the label, then the features, all
# real NOT NULL), empty. Also used by scripts/demo.sh.
bench_table() {
    local cols="depdelayminutes real NOT NULL" f
    for f in ${BENCH_FEATURES//,/ }; do cols+=", $f real NOT NULL"; done
    sql -c "CREATE TABLE flights_delay_mat ($cols)"
}

# The extension, the flights table and the ceiling: a C function with
# pgml.predict's signature that returns at once. It gets every signature
# pgml.predict has, so that parsing a call of either looks up the same
# number of overloads: each connection then keeps the same catalog entries
# (about 12 kB) for the ceiling as for pgml.predict, and the memory part
# compares scoring, not the size of an overload set. Only (text, real[])
# is ever called; the others return at once without reading arguments.
bench_schema() {
    sql -c "CREATE EXTENSION pgml_worker"
    bench_table
    sql -c "CREATE FUNCTION bench_noop(text, real[]) RETURNS real
                LANGUAGE c VOLATILE AS 'pgml_bench_noop', 'pgml_bench_noop'"
    sql -tA -c "SELECT format('CREATE FUNCTION bench_noop(%s) RETURNS real LANGUAGE c VOLATILE
                                  AS %L, %L;', pg_get_function_identity_arguments(oid),
                              'pgml_bench_noop', 'pgml_bench_noop_other')
                  FROM pg_proc
                 WHERE proname = 'predict' AND pronamespace = 'pgml'::regnamespace
                   AND oid::regprocedure <> 'pgml.predict(text, real[])'::regprocedure" | sql -q
}

# Builds and installs the ceiling's library (as root).
bench_install_noop() {
    make -s -C bench/noop >/dev/null && make -s -C bench/noop install >/dev/null
}

# COPY of headerless CSV on stdin, then the seed's index and fresh
# statistics. Also used by scripts/demo.sh.
bench_load() {
    sql -c "\copy flights_delay_mat FROM STDIN (FORMAT csv)"
    sql -c "CREATE INDEX ON flights_delay_mat (originairportid, year, month, dayofmonth)" \
        -c "VACUUM ANALYZE flights_delay_mat"
}

# bench_script FUNCTION PROJECT FILE: the seed's query as a pgbench script,
# with random keys. Airports are drawn from the 30 busiest (almost every key
# has a row there), mapped in pgbench itself so the query is exactly the
# seed's. Days stop at 28 so every month has them.
bench_script() {
    local fn=$1 project=$2 file=$3 i airports
    airports=($(/usr/bin/python3 bench/gen_flights.py --airports | head -n 30))
    {
        echo '\set r random(1, 30)'
        printf '\\set o CASE'
        for i in "${!airports[@]}"; do printf ' WHEN :r = %d THEN %s' $((i + 1)) "${airports[$i]}"; done
        echo ' END'
        echo '\set y random(2018, 2022)'
        echo '\set m random(1, 12)'
        echo '\set d random(1, 28)'
        echo "SELECT $fn('$project', ARRAY[$BENCH_FEATURES]) FROM flights_delay_mat WHERE originairportid = :o AND year = :y AND month = :m AND dayofmonth = :d LIMIT 1;"
    } > "$file"
}

# pgbench_stats DIR: from pgbench.out and the per-transaction logs (-l
# --log-prefix=tx) in DIR prints "tps mean_ms p50_ms p99_ms transactions failed".
pgbench_stats() {
    /usr/bin/python3 - "$1" <<'PY'
import glob, re, sys
d = sys.argv[1]
text = open(f"{d}/pgbench.out").read()
tps = float(re.search(r"tps = ([0-9.]+) \(without initial", text).group(1))
failed = re.search(r"number of failed transactions: (\d+)", text)
lat = []
for name in glob.glob(f"{d}/tx*"):
    with open(name) as f:
        lat.extend(int(line.split()[2]) for line in f)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0
mean = sum(lat) / len(lat) / 1000.0
print(f"{tps:.0f} {mean:.3f} {q(0.50):.3f} {q(0.99):.3f} {len(lat)} {failed.group(1) if failed else 0}")
PY
}

# pss_kb PID...: "total_kB processes anon_kB file_kB shmem_kB": the total
# PSS of the processes still alive, how many they were, and the total split
# as the kernel splits it (Pss_Anon: private data; Pss_File: pages of
# mapped files, the code of the libraries; Pss_Shmem: shared memory, where
# the forests are; 0 0 0 on a kernel older than 5.14, which does not split).
# One reader for all of them: with a reader forked per process, 100 busy
# backends on 2 cores took seconds to read, and the run was over before the
# last of them was.
pss_kb() {
    local pid files=()
    for pid in "$@"; do files+=("/proc/$pid/smaps_rollup"); done
    { cat "${files[@]}" 2>/dev/null || true; } | awk '
        /^Pss:/ { s += $2; n++ }
        /^Pss_Anon:/ { a += $2 }
        /^Pss_File:/ { f += $2 }
        /^Pss_Shmem:/ { m += $2 }
        END { print s + 0, n + 0, a + 0, f + 0, m + 0 }'
}

# cluster_pids DATA: the postmaster and all its children.
cluster_pids() {
    local pm
    pm=$(head -1 "$1/postmaster.pid")
    echo "$pm" $(pgrep -P "$pm" || true)
}
