#include "sqlapi/args.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace pgml::sqlapi {

backend::ModelRef model_ref(FunctionCallInfo fcinfo, backend::By by) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("the project name or model id must not be NULL")));
    if (by == backend::By::model_id) return backend::ModelRef{by, PG_GETARG_INT64(0), nullptr};
    return backend::ModelRef{by, 0, PG_GETARG_TEXT_PP(0)};
}

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

}  // namespace pgml::sqlapi
