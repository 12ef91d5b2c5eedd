// pgml.predict_batch: scores many rows in one call, for bulk jobs
// (`SELECT pgml.predict_batch('p', array_agg(ARRAY[...])) FROM t`).
//
// It scores in this backend, from the model's compiled forest in shared
// memory (tree by tree over blocks of rows), not through the pool: a bulk
// job is one connection, and every row would cost a copy through a slot.
// A model the worker has not loaded yet is handed over by scoring the first
// row on the worker path; a model with no forest (served by XGBoost), and
// predict_path = 'backend', use this backend's booster.
//
// It returns its answers one per call (value-per-call), scoring a block of
// rows whenever the previous block has been returned. So in a target list,
// PostgresML's documented form, no answer is stored at all: the executor
// takes each one as it comes, and the memory is one block's answers
// whatever the number of rows. (Returning them all in a tuplestore, as
// this function first did, cost more than scoring them: a tuple per answer,
// written and read back.) In FROM the executor stores them itself.
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
#include "access/detoast.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(pgml_predict_batch);
PG_FUNCTION_INFO_V1(pgml_predict_batch_model);
}

namespace pgml::sqlapi {

namespace {

constexpr size_t kChunk = 65536;       // rows a call to XGBoost
constexpr size_t kForestChunk = 8192;  // rows a forest is pinned for (a few ms)

// The features argument: rows x width (2-D), or flat (1-D, width unknown
// until the model is known, as PostgresML's predict_batch takes it).
struct Matrix {
    const float* values;     // in memory, or
    const varlena* stored;   // stored out of line, uncompressed
    int32 data_offset;       // stored: where the elements start in its data
    int64_t count;           // all elements
    int64_t width;           // 0 when flat
};

[[noreturn]] void too_many_dimensions(int ndim) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("features must be a one- or two-dimensional array, not %d-dimensional", ndim),
                    errhint("Pass rows x features, for example array_agg(ARRAY[...]).")));
    pg_unreachable();
}

// An array stored out of line and uncompressed (STORAGE EXTERNAL, or data
// pglz could not shrink), without its rows: its header alone is read, and
// the rows are read block by block as they are scored (detoast_attr_slice
// reads only a block's TOAST chunks). Detoasting a 40 MB array whole took
// as long as a quarter of scoring it (fresh pages for the copy, faulted in
// one by one); a block is read into memory that is used again. Anything
// else (inline, compressed, with NULLs) gives an empty Matrix.
Matrix stored_matrix(varlena* raw) {
    if (!VARATT_IS_EXTERNAL_ONDISK(raw)) return Matrix{};
    varatt_external pointer;
    VARATT_EXTERNAL_GET_POINTER(pointer, raw);
    // Compressed when it is stored smaller than its raw size (Postgres'
    // VARATT_EXTERNAL_IS_COMPRESSED, without its signed/unsigned compare).
    const int32 size = static_cast<int32>(VARATT_EXTERNAL_GET_EXTSIZE(pointer));  // without the header
    if (size < pointer.va_rawsize - VARHDRSZ) return Matrix{};
    const int32 head_size = std::min<int32>(size, ARR_OVERHEAD_NONULLS(MAXDIM) - VARHDRSZ);
    // A slice from offset 0 is laid out as the array's own first bytes.
    auto* head = reinterpret_cast<ArrayType*>(detoast_attr_slice(raw, 0, head_size));
    const int ndim = ARR_NDIM(head);
    if (ndim < 0 || ndim > MAXDIM || ARR_HASNULL(head) || ARR_ELEMTYPE(head) != FLOAT4OID) return Matrix{};
    if (ndim > 2) too_many_dimensions(ndim);
    const int64_t count = ArrayGetNItems(ndim, ARR_DIMS(head));
    const int32 data_offset = ARR_OVERHEAD_NONULLS(ndim) - VARHDRSZ;
    if (int64_t{data_offset} + count * int64_t{sizeof(float)} != size) return Matrix{};
    const int64_t width = ndim == 2 ? ARR_DIMS(head)[1] : 0;
    pfree(head);
    ereport(DEBUG1, (errmsg_internal("predict_batch: reading a stored array of %lld elements block by block",
                                     static_cast<long long>(count))));
    // The TOAST pointer itself, kept for the later calls.
    auto* copy = static_cast<varlena*>(palloc(VARSIZE_ANY(raw)));
    memcpy(copy, raw, VARSIZE_ANY(raw));
    return Matrix{nullptr, copy, data_offset, count, width};
}

// In the caller's memory context (the multi-call context, so that it
// outlives the first call).
Matrix feature_matrix(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("features must not be NULL")));
    if (Matrix stored = stored_matrix(reinterpret_cast<varlena*>(PG_GETARG_POINTER(1))); stored.stored)
        return stored;
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(1);
    const int ndim = ARR_NDIM(a);
    if (ndim > 2) too_many_dimensions(ndim);
    if (array_contains_nulls(a))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("features must not contain NULL elements"),
                        errhint("Pass 'NaN' for a missing value.")));
    const int64_t count = ArrayGetNItems(ndim, ARR_DIMS(a));
    return Matrix{reinterpret_cast<const float*>(ARR_DATA_PTR(a)), nullptr, 0, count,
                  ndim == 2 ? ARR_DIMS(a)[1] : 0};
}

// One call's progress between its returns: plain data in the multi-call
// memory context, freed with it (at the end, on ERROR, or when the
// executor stops early, as under LIMIT).
struct BatchScan {
    int64_t model_id;    // the model of the first call, kept to the last row
    Matrix x;            // the features, row-major
    size_t width;
    size_t rows;
    size_t scored;       // rows scored so far
    size_t ready;        // answers in the block
    size_t next;         // the block's next answer to return
    bool booster;        // the rest is scored by this backend's booster
    double* answers;     // room for min(rows, kChunk): a block's answers
};

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

// The first call, in C++: which model, and whether the rows fit it.
Result<void> start(const backend::ModelRef& ref, const Matrix& x, BatchScan& scan) {
    auto m = backend::lookup(ref);
    if (!m) return tl::unexpected(m.error());
    if (auto r = check_shape(**m, x); !r) return tl::unexpected(r.error());
    scan.model_id = (*m)->model_id;
    scan.width = (*m)->num_features;
    scan.rows = scan.width ? static_cast<size_t>(x.count) / scan.width : 0;
    scan.booster = settings::predict_path == static_cast<int>(settings::PredictPath::backend);
    return {};
}

// The rows [scan.scored, scan.scored + n): where they lie in memory, or
// read from the stored array into *slice (the caller frees it).
Result<const float*> block_rows(const BatchScan& scan, size_t n, varlena** slice) {
    if (!scan.x.stored) return scan.x.values + scan.scored * scan.width;
    const size_t offset = scan.x.data_offset + scan.scored * scan.width * sizeof(float);
    const size_t length = n * scan.width * sizeof(float);
    auto r = pg::call([&] {
        *slice = detoast_attr_slice(const_cast<varlena*>(scan.x.stored), static_cast<int32>(offset),
                                    static_cast<int32>(length));
    });
    if (!r) return tl::unexpected(r.error());
    if (VARSIZE_ANY_EXHDR(*slice) != length)
        return fail(sqlstate::data_corrupted, "the features array ended before its last row");
    return reinterpret_cast<const float*>(VARDATA_ANY(*slice));
}

// Scores n rows from `rows` into scan.answers (n is 1 for the first row on
// the worker paths, which hands the model over if the worker has not got
// it).
Result<void> score_rows(BatchScan& scan, backend::CachedModel& m, const float* rows, size_t n) {
    if (!scan.booster && scan.scored == 0) {
        backend::Answer a{0, nullptr};
        FeatureRow row0{rows, static_cast<uint32_t>(scan.width), ElemType::f4};
        if (auto r = backend::score(m, row0, shm::PREDICT, a); !r) return tl::unexpected(r.error());
        scan.answers[0] = a.value;
        return {};
    }
    if (!scan.booster) {
        auto done = backend::score_rows_in_place(m, rows, n, scan.answers);
        if (!done) return tl::unexpected(done.error());
        if (*done) return {};
        scan.booster = true;  // no shared forest: the booster scores the rest
    }
    auto booster = backend::backend_booster(m);
    if (!booster) return tl::unexpected(booster.error());
    return (*booster)->predict_batch(rows, n, scan.answers);
}

// Scores the next block of rows into scan.answers.
Result<void> score_block(BatchScan& scan) {
    // By id: a deployment committed while the statement runs does not
    // change the model halfway through the rows.
    auto m = backend::model_by_id(scan.model_id);
    if (!m) return tl::unexpected(m.error());
    const size_t left = scan.rows - scan.scored;
    const size_t n = scan.booster ? std::min(kChunk, left) : scan.scored == 0 ? 1 : std::min(kForestChunk, left);
    varlena* slice = nullptr;
    auto rows = block_rows(scan, n, &slice);
    if (!rows) return tl::unexpected(rows.error());
    auto scored = score_rows(scan, **m, *rows, n);
    if (slice) {
        if (auto r = pg::call([&] { pfree(slice); }); !r) return tl::unexpected(r.error());
    }
    if (!scored) return tl::unexpected(scored.error());
    scan.next = 0;
    scan.ready = n;
    scan.scored += n;
    return {};
}

Datum predict_batch(FunctionCallInfo fcinfo, backend::By by) {
    if (SRF_IS_FIRSTCALL()) {
        FuncCallContext* funcctx = SRF_FIRSTCALL_INIT();
        MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
        backend::begin_predict();
        backend::ModelRef ref = model_ref(fcinfo, by);
        Matrix x = feature_matrix(fcinfo);
        auto* scan = static_cast<BatchScan*>(palloc0(sizeof(BatchScan)));
        scan->x = x;
        MemoryContextSwitchTo(old);
        pg::sql_entry([&]() -> Result<Datum> {
            if (auto r = start(ref, x, *scan); !r) return tl::unexpected(r.error());
            return Datum(0);
        });
        // Sized to the rows: many small calls (one per GROUP BY group)
        // each take only what they need.
        scan->answers = static_cast<double*>(MemoryContextAlloc(
            funcctx->multi_call_memory_ctx, sizeof(double) * std::clamp<size_t>(scan->rows, 1, kChunk)));
        funcctx->user_fctx = scan;
    }
    FuncCallContext* funcctx = SRF_PERCALL_SETUP();
    auto* scan = static_cast<BatchScan*>(funcctx->user_fctx);
    if (scan->next == scan->ready) {
        if (scan->scored == scan->rows) SRF_RETURN_DONE(funcctx);
        pg::sql_entry([&]() -> Result<Datum> {
            if (auto r = score_block(*scan); !r) return tl::unexpected(r.error());
            return Datum(0);
        });
    }
    SRF_RETURN_NEXT(funcctx, Float4GetDatum(static_cast<float>(scan->answers[scan->next++])));
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
