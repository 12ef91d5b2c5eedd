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

// A numeric[]'s elements as float8 (NaN and ±Infinity carried over), in a
// new array of the caller's memory context.
static const double* numeric_as_float8(ArrayType* a, int n) {
    Datum* elems;
    int count;
    deconstruct_array(a, NUMERICOID, -1, false, TYPALIGN_INT, &elems, nullptr, &count);
    double* out = static_cast<double*>(palloc(sizeof(double) * (count > 0 ? count : 1)));
    for (int i = 0; i < count && i < n; ++i) out[i] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[i]));
    pfree(elems);
    return out;
}

FeatureRow feature_row(FunctionCallInfo fcinfo, int argno) {
    if (PG_ARGISNULL(argno))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("features must not be NULL")));
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(argno);
    // Any number of dimensions, read in storage order (row-major): an
    // image smallint[8][8] is its 64 pixels, as PostgresML flattens it.
    int n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
    if (array_contains_nulls(a))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("features must not contain NULL elements"),
                        errhint("Pass 'NaN' for a missing value.")));
    const void* data = ARR_DATA_PTR(a);
    ElemType type;
    switch (ARR_ELEMTYPE(a)) {
        case FLOAT4OID: type = ElemType::f4; break;
        case FLOAT8OID: type = ElemType::f8; break;
        case INT2OID: type = ElemType::i2; break;
        case INT4OID: type = ElemType::i4; break;
        case INT8OID: type = ElemType::i8; break;
        case BOOLOID: type = ElemType::b1; break;
        case NUMERICOID:
            data = numeric_as_float8(a, n);
            type = ElemType::f8;
            break;
        default: elog(ERROR, "pgml.predict: unexpected feature type %u", ARR_ELEMTYPE(a));
    }
    return FeatureRow{data, static_cast<uint32_t>(n), type};
}

}  // namespace pgml::sqlapi
