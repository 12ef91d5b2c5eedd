// pgml.predict and pgml.predict_proba. The in-backend path: the booster is
// loaded into this backend (model_cache) and XGBoost is called here, as
// PostgresML 2.0 does. Argument checks happen in plain C before any C++
// object exists, so their ereports cross no destructor.
#include "core/model.hpp"
#include "pg/guard.hpp"
#include "sqlapi/model_cache.hpp"

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

// How argument 0 names the model.
enum class By { project, model_id };

Result<const CachedModel*> model_arg(FunctionCallInfo fcinfo, By by) {
    if (by == By::model_id) return model_by_id(PG_GETARG_INT64(0));
    return deployed_model(fcinfo, PG_GETARG_TEXT_PP(0));
}

Result<void> check_width(const CachedModel& m, const Row& row) {
    if (static_cast<size_t>(row.count) == m.model.num_features()) return {};
    return fail(sqlstate::invalid_parameter,
                "wrong number of features: model " + std::to_string(m.model_id) + " expects " +
                    std::to_string(m.model.num_features()) + ", got " + std::to_string(row.count),
                "Pass the features in the order of the training relation's columns, label left out.");
}

void check_model_arg(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("the project name or model id must not be NULL")));
}

Datum predict(FunctionCallInfo fcinfo, By by) {
    begin_predict();
    check_model_arg(fcinfo);
    Row row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = model_arg(fcinfo, by);
        if (!m) return tl::unexpected(m.error());
        if (auto r = check_width(**m, row); !r) return tl::unexpected(r.error());
        auto v = (*m)->model.predict(row.values);
        if (!v) return tl::unexpected(v.error());
        return Float4GetDatum(static_cast<float>(*v));
    });
}

Datum predict_proba(FunctionCallInfo fcinfo, By by) {
    begin_predict();
    check_model_arg(fcinfo);
    Row row = feature_row(fcinfo, 1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = model_arg(fcinfo, by);
        if (!m) return tl::unexpected(m.error());
        const CachedModel& cm = **m;
        if (cm.model.task() != Task::classification)
            return fail("42809",
                        "predict_proba needs a classification model; model " +
                            std::to_string(cm.model_id) + " is a regression",
                        "Use pgml.predict() for regression.");
        if (auto r = check_width(cm, row); !r) return tl::unexpected(r.error());
        const int k = static_cast<int>(cm.model.num_classes());
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
        auto p = cm.model.predict_proba(row.values, reinterpret_cast<float*>(ARR_DATA_PTR(result)));
        if (!p) return tl::unexpected(p.error());
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

