// pgml.predict and pgml.predict_proba: decode the arguments, let backend/
// score the row. Argument checks happen in plain C before any C++ object
// exists, so their ereports cross no destructor.
#include <string>

#include "backend/model_ref.hpp"
#include "backend/scoring.hpp"
#include "pg/guard.hpp"
#include "shmem/slot.hpp"
#include "sqlapi/args.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(pgml_predict);
PG_FUNCTION_INFO_V1(pgml_predict_model);
PG_FUNCTION_INFO_V1(pgml_predict_proba);
PG_FUNCTION_INFO_V1(pgml_predict_proba_model);
}

namespace pgml::sqlapi {

Result<Datum> answer(backend::CachedModel& cm, const FeatureRow& row, bool proba) {
    if (!proba) {
        if (auto r = backend::check_width(cm, row.count); !r) return tl::unexpected(r.error());
        backend::Answer out{0, nullptr};
        if (auto r = backend::score(cm, row, shm::PREDICT, out); !r) return tl::unexpected(r.error());
        return Float4GetDatum(static_cast<float>(out.value));
    }
    if (cm.task != Task::classification)
        return fail(sqlstate::wrong_object_type,
                    "predict_proba needs a classification model; model " + std::to_string(cm.model_id) +
                        " is a regression",
                    "Use pgml.predict() for regression.");
    if (auto r = backend::check_width(cm, row.count); !r) return tl::unexpected(r.error());
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
    backend::Answer out{0, reinterpret_cast<float*>(ARR_DATA_PTR(result))};
    if (auto r = backend::score(cm, row, shm::PROBA, out); !r) return tl::unexpected(r.error());
    return PointerGetDatum(result);
}

namespace {

using backend::By;

Datum predict(FunctionCallInfo fcinfo, By by) {
    backend::begin_predict();
    backend::ModelRef ref = model_ref(fcinfo, by);
    FeatureRow row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = backend::lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        return answer(**m, row, false);
    });
}

Datum predict_proba(FunctionCallInfo fcinfo, By by) {
    backend::begin_predict();
    backend::ModelRef ref = model_ref(fcinfo, by);
    FeatureRow row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = backend::lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        return answer(**m, row, true);
    });
}

}  // namespace

}  // namespace pgml::sqlapi

using pgml::backend::By;

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
