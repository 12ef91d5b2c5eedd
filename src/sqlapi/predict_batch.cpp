// pgml.predict_batch: scores many rows in one call, for bulk jobs
// (`SELECT pgml.predict_batch('p', array_agg(ARRAY[...])) FROM t`).
//
// It scores in this backend with the backend path's booster, not through
// the serving worker: a bulk job is one connection, so the worker would save
// no model copies, while every row would cost a copy through shared memory.
// XGBoost gets up to kChunk rows per call; between chunks the query can be
// cancelled.
#include <algorithm>
#include <string>
#include <vector>

#include "backend/model_cache.hpp"
#include "backend/model_ref.hpp"
#include "pg/guard.hpp"
#include "sqlapi/args.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(pgml_predict_batch);
PG_FUNCTION_INFO_V1(pgml_predict_batch_model);
}

namespace pgml::sqlapi {

namespace {

constexpr size_t kChunk = 65536;

// The features argument: rows x width (2-D), or flat (1-D, width unknown
// until the model is known, as PostgresML's predict_batch takes it).
struct Matrix {
    const float* values;
    int64_t count;  // all elements
    int64_t width;  // 0 when flat
};

Matrix feature_matrix(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("features must not be NULL")));
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(1);
    const int ndim = ARR_NDIM(a);
    if (ndim > 2)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("features must be a one- or two-dimensional array, not %d-dimensional", ndim),
                        errhint("Pass rows x features, for example array_agg(ARRAY[...]).")));
    if (array_contains_nulls(a))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("features must not contain NULL elements"),
                        errhint("Pass 'NaN' for a missing value.")));
    const int64_t count = ArrayGetNItems(ndim, ARR_DIMS(a));
    return Matrix{reinterpret_cast<const float*>(ARR_DATA_PTR(a)), count, ndim == 2 ? ARR_DIMS(a)[1] : 0};
}

Result<void> check_shape(const backend::CachedModel& m, const Matrix& x) {
    if (x.width != 0) return backend::check_width(m, x.width);
    if (x.count % m.num_features == 0) return {};
    return fail(sqlstate::invalid_parameter,
                "a flat features array must hold whole rows: model " + std::to_string(m.model_id) +
                    " expects " + std::to_string(m.num_features) + " features per row, got " +
                    std::to_string(x.count) + " elements",
                "Pass rows x features as a two-dimensional array, for example array_agg(ARRAY[...]).");
}

Datum predict_batch(FunctionCallInfo fcinfo, backend::By by) {
    backend::begin_predict();
    backend::ModelRef ref = model_ref(fcinfo, by);
    Matrix x = feature_matrix(fcinfo);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = backend::lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        if (auto r = check_shape(**m, x); !r) return tl::unexpected(r.error());
        auto booster = backend::backend_booster(**m);
        if (!booster) return tl::unexpected(booster.error());
        const size_t width = (*m)->num_features;
        const size_t rows = width ? static_cast<size_t>(x.count) / width : 0;
        std::vector<double> answers(std::min(rows, kChunk));
        for (size_t first = 0; first < rows; first += kChunk) {
            const size_t n = std::min(kChunk, rows - first);
            if (auto r = (*booster)->predict_batch(x.values + first * width, n, answers.data()); !r)
                return tl::unexpected(r.error());
            auto put = pg::call([&] {
                for (size_t i = 0; i < n; ++i) {
                    Datum value = Float4GetDatum(static_cast<float>(answers[i]));
                    bool isnull = false;
                    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
                }
                CHECK_FOR_INTERRUPTS();
            });
            if (!put) return tl::unexpected(put.error());
        }
        return Datum(0);
    });
}

}  // namespace

}  // namespace pgml::sqlapi

// pgml.predict_batch(project text, features real[]) RETURNS SETOF real
extern "C" Datum pgml_predict_batch(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_batch(fcinfo, pgml::backend::By::project);
}
// pgml.predict_batch(model_id bigint, features real[]) RETURNS SETOF real
extern "C" Datum pgml_predict_batch_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_batch(fcinfo, pgml::backend::By::model_id);
}
