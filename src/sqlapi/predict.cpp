// pgml.predict and pgml.predict_proba. On the worker path (the default) the
// row goes to the serving worker through shared memory; on the backend path
// this connection loads the booster (model_cache) and calls XGBoost, as
// PostgresML 2.0 does. Argument checks happen in plain C before any C++
// object exists, so their ereports cross no destructor.
#include <string>

#include "core/model.hpp"
#include "pg/guard.hpp"
#include "pg/region.hpp"
#include "shmem/layout.hpp"
#include "sqlapi/model_cache.hpp"
#include "sqlapi/predict_args.hpp"
#include "sqlapi/settings.hpp"
#include "sqlapi/worker_client.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgml_predict);
PG_FUNCTION_INFO_V1(pgml_predict_model);
PG_FUNCTION_INFO_V1(pgml_predict_proba);
PG_FUNCTION_INFO_V1(pgml_predict_proba_model);
}

namespace pgml::sqlapi {

namespace {

// A feature row as float32, either pointing into a real[] argument or
// converted from double precision[] into palloc'd memory.
struct Row {
    const float* values;
    int count;
};

Row feature_row(FunctionCallInfo fcinfo, int argno) {
    if (PG_ARGISNULL(argno))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("features must not be NULL")));
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(argno);
    if (ARR_NDIM(a) > 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("features must be a one-dimensional array, not %d-dimensional", ARR_NDIM(a))));
    int n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
    if (array_contains_nulls(a))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("features must not contain NULL elements"),
                        errhint("Pass 'NaN' for a missing value.")));
    const Oid type = ARR_ELEMTYPE(a);
    if (type == FLOAT4OID) return Row{reinterpret_cast<const float*>(ARR_DATA_PTR(a)), n};
    float* dst = static_cast<float*>(palloc(sizeof(float) * (n > 0 ? n : 1)));
    const char* src = ARR_DATA_PTR(a);
    for (int i = 0; i < n; ++i) {
        switch (type) {
            case FLOAT8OID: dst[i] = static_cast<float>(reinterpret_cast<const double*>(src)[i]); break;
            case INT4OID: dst[i] = static_cast<float>(reinterpret_cast<const int32*>(src)[i]); break;
            case INT8OID: dst[i] = static_cast<float>(reinterpret_cast<const int64*>(src)[i]); break;
            default: elog(ERROR, "pgml.predict: unexpected feature type %u", type);
        }
    }
    return Row{dst, n};
}

// One request as either path answers it.
struct Answer {
    double value;
    float* proba;  // PROBA: num_classes floats
};

enum class Served { done, use_backend };

Result<Served> not_available(const char* why) {
    if (static_cast<PredictPath>(predict_path) == PredictPath::automatic) return Served::use_backend;
    return fail("55000", std::string("the pgml_worker serving worker is not available: ") + why,
                "Retry shortly, or SET pgml_worker.predict_path = 'auto' to score in this "
                "connection while the worker is away.");
}

// The worker path. Returns use_backend when predict_path = auto and the
// worker cannot take the request; an Error when it must not fall back.
Result<Served> on_worker(CachedModel& m, const Row& row, uint32_t kind, Answer& out) {
    const bool fallback = static_cast<PredictPath>(predict_path) == PredictPath::automatic;
    shm::Region* r = pg::region();
    if (!r) return not_available("pgml_worker is not in shared_preload_libraries");
    if (static_cast<uint32_t>(row.count) > r->max_features ||
        (kind == shm::PROBA && m.classes.size() > r->max_features)) {
        if (fallback) return Served::use_backend;
        return fail(sqlstate::limit_exceeded,
                    "the row is wider than pgml_worker.max_features (" +
                        std::to_string(r->max_features) + ")",
                    "Raise pgml_worker.max_features, or use predict_path 'backend' or 'auto'.");
    }
    if (!worker_available(static_cast<uint32_t>(row.count)))
        return not_available("it is starting or restarting");

    Ask ask{kind, m.model_id, row.values, static_cast<uint32_t>(row.count), 0, out.proba,
            static_cast<uint32_t>(m.classes.size()), {0}};
    // At most: ask, hand the model over, ask again (and once more should an
    // eviction drop it in between).
    for (int attempt = 0; attempt < 3; ++attempt) {
        Asked asked = Asked::failed;
        if (auto c = pg::call([&] { asked = ask_worker(&ask); }); !c) return tl::unexpected(c.error());
        if (asked == Asked::answered) {
            out.value = ask.value;
            return Served::done;
        }
        if (asked == Asked::failed)
            return fail(sqlstate::internal, std::string("the serving worker failed: ") + ask.message);
        if (asked == Asked::unavailable) return not_available("it went away");
        if (asked == Asked::need_model) {
            char message[256] = "";
            auto c = pg::call([&] {
                asked = hand_over_model(m.model_id, m.task == Task::classification, m.classes.data(),
                                        static_cast<uint32_t>(m.classes.size()), message,
                                        sizeof message);
            });
            if (!c) return tl::unexpected(c.error());
            if (asked == Asked::failed)
                return fail(sqlstate::internal, "the serving worker could not load model " +
                                                    std::to_string(m.model_id) + ": " + message);
            if (asked == Asked::unavailable) return not_available("it went away");
            if (asked != Asked::timed_out) continue;
        }
        // Timed out.
        if (fallback) return Served::use_backend;
        return fail("58000",
                    "the pgml_worker serving worker did not answer within " +
                        std::to_string(timeout_ms) + " ms",
                    "Raise pgml_worker.timeout_ms, or SET pgml_worker.predict_path = 'auto'.");
    }
    return fail(sqlstate::internal,
                "the serving worker did not keep model " + std::to_string(m.model_id) + " loaded");
}

Result<void> serve(CachedModel& m, const Row& row, uint32_t kind, Answer& out) {
    if (static_cast<PredictPath>(predict_path) != PredictPath::backend) {
        auto served = on_worker(m, row, kind, out);
        if (!served) return tl::unexpected(served.error());
        if (*served == Served::done) return {};
    }
    auto booster = backend_booster(m);
    if (!booster) return tl::unexpected(booster.error());
    if (kind == shm::PROBA) return (*booster)->predict_proba(row.values, out.proba);
    auto v = (*booster)->predict(row.values);
    if (!v) return tl::unexpected(v.error());
    out.value = *v;
    return {};
}

Datum predict(FunctionCallInfo fcinfo, By by) {
    begin_predict();
    ModelRef ref = model_ref(fcinfo, by);
    Row row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        if (auto r = check_width(**m, row.count); !r) return tl::unexpected(r.error());
        Answer out{0, nullptr};
        if (auto r = serve(**m, row, shm::PREDICT, out); !r) return tl::unexpected(r.error());
        return Float4GetDatum(static_cast<float>(out.value));
    });
}

Datum predict_proba(FunctionCallInfo fcinfo, By by) {
    begin_predict();
    ModelRef ref = model_ref(fcinfo, by);
    Row row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        CachedModel& cm = **m;
        if (cm.task != Task::classification)
            return fail("42809",
                        "predict_proba needs a classification model; model " +
                            std::to_string(cm.model_id) + " is a regression",
                        "Use pgml.predict() for regression.");
        if (auto r = check_width(cm, row.count); !r) return tl::unexpected(r.error());
        const int k = static_cast<int>(cm.classes.size());
        ArrayType* result = nullptr;
        auto a = pg::call([&] {
            Size bytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float) * k;
            result = static_cast<ArrayType*>(palloc0(bytes));
            SET_VARSIZE(result, bytes);
            result->ndim = 1;
            result->dataoffset = 0;
            result->elemtype = FLOAT4OID;
            ARR_DIMS(result)[0] = k;
            ARR_LBOUND(result)[0] = 1;
        });
        if (!a) return tl::unexpected(a.error());
        Answer out{0, reinterpret_cast<float*>(ARR_DATA_PTR(result))};
        if (auto r = serve(cm, row, shm::PROBA, out); !r) return tl::unexpected(r.error());
        return PointerGetDatum(result);
    });
}

}  // namespace

}  // namespace pgml::sqlapi

using pgml::sqlapi::By;

// pgml.predict(project text, features real[] | double precision[]) RETURNS real
extern "C" Datum pgml_predict(PG_FUNCTION_ARGS) { return pgml::sqlapi::predict(fcinfo, By::project); }
// pgml.predict(model_id bigint, features real[] | double precision[]) RETURNS real
extern "C" Datum pgml_predict_model(PG_FUNCTION_ARGS) { return pgml::sqlapi::predict(fcinfo, By::model_id); }
// pgml.predict_proba(project text, features ...) RETURNS real[]
extern "C" Datum pgml_predict_proba(PG_FUNCTION_ARGS) { return pgml::sqlapi::predict_proba(fcinfo, By::project); }
// pgml.predict_proba(model_id bigint, features ...) RETURNS real[]
extern "C" Datum pgml_predict_proba_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_proba(fcinfo, By::model_id);
}

