// pgml.worker_stats() and pgml.worker_models(): what the serving worker is
// doing, read from shared memory by any backend. Plain C-style code.
#include "pg/region.hpp"
#include "pg/settings.hpp"
#include "shmem/region.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(pgml_worker_stats);
PG_FUNCTION_INFO_V1(pgml_worker_models);
}

namespace {

int32 depth_of(pgml::shm::Region* r, const pgml::shm::Ring& ring) noexcept {
    return static_cast<int32>(pgml::shm::depth(r, ring));
}

TimestampTz from_unix_ns(uint64_t ns) {
    return static_cast<TimestampTz>(ns / 1000) -
           static_cast<TimestampTz>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

pgml::shm::Region* region_or_error() {
    pgml::shm::Region* r = pgml::pg::region();
    if (!r)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pgml_worker is not in shared_preload_libraries"),
                        errhint("Add it there and restart to run the serving worker.")));
    return r;
}

}  // namespace

// One row: the worker's process, its counters and its latency.
extern "C" Datum pgml_worker_stats(PG_FUNCTION_ARGS) {
    using namespace pgml::shm;
    Region* r = region_or_error();
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "pgml.worker_stats must return a record");
    desc = BlessTupleDesc(desc);
    const Stats& s = r->stats;
    uint64_t requests = s.requests.load(), batches = s.batches.load(), rows = s.batched_rows.load();
    bool running = r->ready.load() != 0;
    int64 models = 0, bytes = 0;
    ModelStat* table = model_stats(r);
    ModelRow row;
    for (uint32_t i = 0; i < r->max_models; ++i)
        if (read_model_stat(table[i], row)) {
            ++models;
            bytes += static_cast<int64>(row.bytes);
        }
    // A database still at version 0.3 or older declares the first 15 columns.
    const int columns = desc->natts;
    if (columns != 15 && columns != 19) elog(ERROR, "pgml.worker_stats: unexpected result type");
    const ForestTotals forests = forest_totals(r);
    Datum v[19];
    bool n[19] = {};
    v[0] = BoolGetDatum(running);
    v[1] = Int32GetDatum(r->worker_pid.load());
    n[1] = !running;
    v[2] = TimestampTzGetDatum(from_unix_ns(r->worker_started_ns.load()));
    n[2] = r->worker_started_ns.load() == 0;
    v[3] = Int32GetDatum(pgml::settings::worker_threads());
    v[4] = Int32GetDatum(static_cast<int32>(r->nslots));
    v[5] = Int64GetDatum(static_cast<int64>(requests));
    v[6] = Int64GetDatum(static_cast<int64>(batches));
    v[7] = Float8GetDatum(batches ? static_cast<double>(rows) / static_cast<double>(batches) : 0.0);
    v[8] = Int64GetDatum(static_cast<int64>(s.max_batch.load()));
    v[9] = Int32GetDatum(depth_of(r, r->requests));
    v[10] = Float8GetDatum(static_cast<double>(latency_quantile(s, 0.50)) / 1000.0);
    v[11] = Float8GetDatum(static_cast<double>(latency_quantile(s, 0.99)) / 1000.0);
    v[12] = Int64GetDatum(models);
    v[13] = Int64GetDatum(bytes);
    v[14] = Int32GetDatum(depth_of(r, r->free_slots));
    v[15] = Int64GetDatum(static_cast<int64>(forests.in_place));
    v[16] = Int32GetDatum(static_cast<int32>(forests.forests));
    v[17] = Int64GetDatum(static_cast<int64>(forests.bytes));
    v[18] = Int64GetDatum(static_cast<int64>(r->arena_size));
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

// One row per model the worker holds. Models of other databases are shown
// only to roles that may read all statistics (pg_read_all_stats, as for
// other sessions' queries in pg_stat_activity): their ids and sizes say
// what other tenants of the cluster run.
extern "C" Datum pgml_worker_models(PG_FUNCTION_ARGS) {
    using namespace pgml::shm;
    Region* r = region_or_error();
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    const bool all_databases = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
    // A database still at version 0.2 declares the first five columns only.
    const int columns = rsinfo->setDesc->natts;
    if (columns != 5 && columns != 7) elog(ERROR, "pgml.worker_models: unexpected result type");
    ModelStat* table = model_stats(r);
    for (uint32_t i = 0; i < r->max_models; ++i) {
        ModelRow m;
        if (!read_model_stat(table[i], m)) continue;
        if (!all_databases && m.db != MyDatabaseId) continue;
        Datum v[7] = {ObjectIdGetDatum(m.db), Int64GetDatum(m.model_id),
                      Int64GetDatum(static_cast<int64>(m.bytes)),
                      Int64GetDatum(static_cast<int64>(m.requests)),
                      TimestampTzGetDatum(from_unix_ns(m.loaded_ns)),
                      CStringGetTextDatum(m.engine == ENGINE_FOREST ? "forest" : "xgboost"),
                      CStringGetTextDatum(m.engine_note)};
        bool n[7] = {false, false, false, false, false, false, m.engine_note[0] == '\0'};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
    }
    return static_cast<Datum>(0);
}
