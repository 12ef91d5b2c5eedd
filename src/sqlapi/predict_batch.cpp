// pgml.predict_batch: scores many rows in one call, for bulk jobs
// (`SELECT pgml.predict_batch('p', array_agg(ARRAY[...])) FROM t`).
//
// It scores in this backend, from the model's compiled forest in shared
// memory (tree by tree over blocks of rows), not through the pool: a bulk
// job is one connection, and every row would cost a copy through a slot.
// A model the worker has not loaded yet is handed over by scoring the first
// row on the worker path; a model with no forest (served by XGBoost), and
// predict_path = 'backend', use this backend's booster. Between chunks the
// query can be cancelled.
#include <algorithm>
#include <string>
#include <vector>

#include "backend/in_place.hpp"
#include "backend/model_cache.hpp"
#include "backend/model_ref.hpp"
#include "pg/guard.hpp"
#include "pg/settings.hpp"
#include "shmem/slot.hpp"
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

constexpr size_t kChunk = 65536;       // rows a call to XGBoost
constexpr size_t kForestChunk = 8192;  // rows a forest is pinned for (tens of ms)

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
    if (m.targets > 1)
        return fail(sqlstate::wrong_object_type,
                    "model " + std::to_string(m.model_id) + " is a joint regression of " +
                        std::to_string(m.targets) + " targets",
                    "Use pgml.predict_joint() on each row.");
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
        const size_t width = (*m)->num_features;
        const size_t rows = width ? static_cast<size_t>(x.count) / width : 0;
        const auto put = [&](const double* answers, size_t n) {
            return pg::call([&] {
                for (size_t i = 0; i < n; ++i) {
                    Datum value = Float4GetDatum(static_cast<float>(answers[i]));
                    bool isnull = false;
                    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
                }
                CHECK_FOR_INTERRUPTS();
            });
        };
        if (rows == 0) return Datum(0);
        size_t first = 0;
        if (settings::predict_path != static_cast<int>(settings::PredictPath::backend)) {
            // The first row through the worker paths: in place if the forest
            // is there, else queued, which hands the model over.
            backend::Answer a{0, nullptr};
            FeatureRow row0{x.values, static_cast<uint32_t>(width), ElemType::f4};
            if (auto r = backend::score(**m, row0, shm::PREDICT, a); !r) return tl::unexpected(r.error());
            if (auto r = put(&a.value, 1); !r) return tl::unexpected(r.error());
            first = 1;
            std::vector<double> answers(std::min(rows, kForestChunk));
            while (first < rows) {
                const size_t n = std::min(kForestChunk, rows - first);
                auto done = backend::score_rows_in_place(**m, x.values + first * width, n, answers.data());
                if (!done) return tl::unexpected(done.error());
                if (!*done) break;  // no shared forest: the booster scores the rest
                if (auto r = put(answers.data(), n); !r) return tl::unexpected(r.error());
                first += n;
            }
            if (first == rows) return Datum(0);
        }
        auto booster = backend::backend_booster(**m);
        if (!booster) return tl::unexpected(booster.error());
        std::vector<double> answers(std::min(rows - first, kChunk));
        for (; first < rows; first += kChunk) {
            const size_t n = std::min(kChunk, rows - first);
            if (auto r = (*booster)->predict_batch(x.values + first * width, n, answers.data()); !r)
                return tl::unexpected(r.error());
            if (auto r = put(answers.data(), n); !r) return tl::unexpected(r.error());
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
