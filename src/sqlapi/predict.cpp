// pgml.predict and pgml.predict_proba: decode the arguments, let backend/
// score the row. Argument checks happen in plain C before any C++ object
// exists, so their ereports cross no destructor.
#include <string>

#include "backend/model_ref.hpp"
#include "backend/scoring.hpp"
#include "core/answer.hpp"
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
PG_FUNCTION_INFO_V1(pgml_predict_joint);
PG_FUNCTION_INFO_V1(pgml_predict_joint_model);
}

namespace pgml::sqlapi {

Result<Datum> answer(backend::CachedModel& cm, const FeatureRow& row, Output what) {
    // Built only for an error: this is every prediction's path.
    const auto model = [&] { return "model " + std::to_string(cm.model_id); };
    if (what == Output::value) {
        if (cm.targets > 1)
            return fail(sqlstate::wrong_object_type,
                        model() + " is a joint regression of " + std::to_string(cm.targets) + " targets",
                        "Use pgml.predict_joint(), which returns them all.");
        if (auto r = backend::check_width(cm, row.count); !r) return tl::unexpected(r.error());
        backend::Answer out{0, nullptr};
        if (auto r = backend::score(cm, row, shm::PREDICT, out); !r) return tl::unexpected(r.error());
        return Float4GetDatum(static_cast<float>(out.value));
    }
    if (what == Output::proba && cm.task != Task::classification)
        return fail(sqlstate::wrong_object_type, "predict_proba needs a classification model; " + model() + " is a regression",
                    cm.targets > 1 ? "Use pgml.predict_joint() for a joint regression." : "Use pgml.predict() for regression.");
    if (what == Output::joint && cm.task != Task::regression)
        return fail(sqlstate::wrong_object_type, "predict_joint needs a regression model; " + model() + " is a classification",
                    "Use pgml.predict() or pgml.predict_proba().");
    if (auto r = backend::check_width(cm, row.count); !r) return tl::unexpected(r.error());
    // The probabilities, or the joint regression's values (one for a plain
    // regression, as PostgresML answers it).
    const int k = static_cast<int>(answer::vector_size(cm.classes.size(), cm.targets));
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
        return answer(**m, row, Output::value);
    });
}

Datum predict_vector(FunctionCallInfo fcinfo, By by, Output what) {
    backend::begin_predict();
    backend::ModelRef ref = model_ref(fcinfo, by);
    FeatureRow row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = backend::lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        return answer(**m, row, what);
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
extern "C" Datum pgml_predict_proba(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_vector(fcinfo, By::project, pgml::sqlapi::Output::proba);
}
// pgml.predict_proba(model_id bigint, features ...) RETURNS real[]
extern "C" Datum pgml_predict_proba_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_vector(fcinfo, By::model_id, pgml::sqlapi::Output::proba);
}
// pgml.predict_joint(project text, features real[]) RETURNS real[]
extern "C" Datum pgml_predict_joint(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_vector(fcinfo, By::project, pgml::sqlapi::Output::joint);
}
// pgml.predict_joint(model_id bigint, features real[]) RETURNS real[]
extern "C" Datum pgml_predict_joint_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_vector(fcinfo, By::model_id, pgml::sqlapi::Output::joint);
}
