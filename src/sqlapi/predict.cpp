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
#include "sqlapi/feature_row.hpp"
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

// Argument argno as a row of its own element type: on the worker path it
// is converted while it is copied into the slot.
FeatureRow feature_row(FunctionCallInfo fcinfo, int argno) {
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
    ElemType type;
    switch (ARR_ELEMTYPE(a)) {
        case FLOAT4OID: type = ElemType::f4; break;
        case FLOAT8OID: type = ElemType::f8; break;
        case INT4OID: type = ElemType::i4; break;
        case INT8OID: type = ElemType::i8; break;
        default: elog(ERROR, "pgml.predict: unexpected feature type %u", ARR_ELEMTYPE(a));
    }
    return FeatureRow{ARR_DATA_PTR(a), static_cast<uint32_t>(n), type};
}

// The backend path's float32 copy of a row that is not float32 already.
const float* as_float(const FeatureRow& row) {
    if (row.type == ElemType::f4) return static_cast<const float*>(row.data);
    float* dst = static_cast<float*>(palloc(sizeof(float) * (row.count > 0 ? row.count : 1)));
    row.to_float(dst);
    return dst;
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
Result<Served> on_worker(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out) {
    const bool fallback = static_cast<PredictPath>(predict_path) == PredictPath::automatic;
    shm::Region* r = pg::region();
    if (!r) return not_available("pgml_worker is not in shared_preload_libraries");
    if (row.count > r->max_features ||
        (kind == shm::PROBA && m.classes.size() > r->max_features)) {
        if (fallback) return Served::use_backend;
        return fail(sqlstate::limit_exceeded,
                    "the row is wider than pgml_worker.max_features (" +
                        std::to_string(r->max_features) + ")",
                    "Raise pgml_worker.max_features, or use predict_path 'backend' or 'auto'.");
    }
    if (!worker_available(row.count)) return not_available("it is starting or restarting");

    Ask ask{kind, m.model_id, row, request_deadline(), 0, out.proba,
            static_cast<uint32_t>(m.classes.size()), {0}};
    // Ask, hand the model over if the worker lacks it, ask again: until the
    // deadline, because while deployments switch the worker may free a
    // model between our hand-over and our next ask. Each step returns
    // timed_out once the deadline has passed, so this ends.
    for (;;) {
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
                                        static_cast<uint32_t>(m.classes.size()), ask.deadline,
                                        message, sizeof message);
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
}

Result<void> serve(CachedModel& m, const FeatureRow& row, uint32_t kind, Answer& out) {
    if (static_cast<PredictPath>(predict_path) != PredictPath::backend) {
        auto served = on_worker(m, row, kind, out);
        if (!served) return tl::unexpected(served.error());
        if (*served == Served::done) return {};
    }
    auto booster = backend_booster(m);
    if (!booster) return tl::unexpected(booster.error());
    const float* values = nullptr;
    if (auto c = pg::call([&] { values = as_float(row); }); !c) return tl::unexpected(c.error());
    if (kind == shm::PROBA) return (*booster)->predict_proba(values, out.proba);
    auto v = (*booster)->predict(values);
    if (!v) return tl::unexpected(v.error());
    out.value = *v;
    return {};
}

Datum predict(FunctionCallInfo fcinfo, By by) {
    begin_predict();
    ModelRef ref = model_ref(fcinfo, by);
    FeatureRow row = feature_row(fcinfo, 1);
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
    FeatureRow row = feature_row(fcinfo, 1);
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

