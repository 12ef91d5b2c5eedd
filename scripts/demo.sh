#!/bin/bash
# make demo: a throwaway cluster in .demo/ with pgml_worker preloaded, the
# flights sample of ../shared/BENCH.md, project r2 trained with xgboost and
# {"n_estimators": 25}, its metrics and some predictions.
#   scripts/demo.sh start   (re)start it; loads the sample only once, trains r2 on every start
#   scripts/demo.sh stop    stop it and remove .demo/
# PGML_DEMO_ROWS (default 1000000) and PGML_DEMO_PORT (default 5488).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg_env.sh

# In the checkout, unless the cluster user cannot reach it (a clone under
# /root, say); then in a fixed folder under /tmp.
dir="$PWD/.demo"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD"; then
    dir="${TMPDIR:-/tmp}/pgml_worker_demo"
fi
port=${PGML_DEMO_PORT:-5488}
rows=${PGML_DEMO_ROWS:-1000000}
db=pgml_demo
psql_demo() { as_pg "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d "$db" "$@"; }

case "${1:-start}" in
stop)
    if [ -d "$dir/data" ]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    echo "demo: stopped and removed $dir"
    exit 0
    ;;
start) ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then
    make -s install >/dev/null
fi

if [ ! -d "$dir/data" ]; then
    echo "demo: creating a throwaway cluster in $dir (port $port)"
    mkdir -p "$dir"
    chown "$PG_OS_USER" "$dir"
    as_pg "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pgml_worker'
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
CONF
fi
if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
fi
export PGUSER=postgres
as_pg "$PG_BINDIR/psql" -X -q -h "$dir" -p "$port" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    as_pg "$PG_BINDIR/createdb" -h "$dir" -p "$port" "$db"
psql_demo -q -c "CREATE EXTENSION IF NOT EXISTS pgml_worker"

if [ "$(psql_demo -tAc "SELECT to_regclass('flights_delay_mat') IS NOT NULL")" != t ]; then
    echo "demo: generating and loading $rows flight rows (bench/gen_flights.py, seed 42)"
    # The benchmark's table and load (bench/lib.sh), into the demo database.
    (
        . bench/lib.sh
        export PGHOST="$dir" PGPORT="$port" PGUSER=postgres PGDATABASE="$db"
        bench_table
        /usr/bin/python3 bench/gen_flights.py --rows "$rows" | bench_load >/dev/null
    )
fi

echo "demo: training project r2 (xgboost, 25 estimators)"
psql_demo -c "\timing on" -c "SELECT * FROM pgml.train(
    project_name => 'r2', task => 'regression', relation_name => 'flights_delay_mat',
    y_column_name => 'depdelayminutes', algorithm => 'xgboost',
    hyperparams => '{\"n_estimators\": 25}')"
echo "demo: metrics of the deployed model"
psql_demo -c "SELECT d.name, d.id AS model_id, jsonb_pretty(d.metrics) AS metrics
                FROM pgml.deployed_models d WHERE d.name = 'r2'"
echo "demo: predictions (the benchmark's query, for a few flights)"
psql_demo -c "SELECT originairportid AS origin, year, month, dayofmonth AS day, depdelayminutes AS actual,
       pgml.predict('r2', ARRAY[year, quarter, month, distance, dayofweek, dayofmonth,
                                flight_number_operating_airline, originairportid,
                                destairportid, tail_number]) AS predicted
  FROM flights_delay_mat TABLESAMPLE SYSTEM (1) REPEATABLE (42) LIMIT 8"

cat <<MSG

demo: running. Connect with
    psql -h $dir -p $port -U postgres $db
  and try, for example,
    SELECT * FROM pgml.overview;
  Stop and remove it with
    make demo-stop
MSG
