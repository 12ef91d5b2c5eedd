#include "sqlapi/hyperparams.hpp"

#include <cmath>

extern "C" {
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
}

namespace pgml::sqlapi {

char* hyperparam_text(const char* key, const JsonbValue& v) {
    switch (v.type) {
        case jbvString: return pnstrdup(v.val.string.val, v.val.string.len);
        case jbvNumeric: {
            // Through double precision, in its shortest exact form: XGBoost
            // reads numbers as float or double, and numeric's own text (a
            // 301-digit string for 1e300) slipped past its range checks.
            double d = DatumGetFloat8(
                DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v.val.numeric)));
            if (!std::isfinite(d))
                ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                                errmsg("hyperparameter \"%s\" is out of range", key)));
            return float8out_internal(d);
        }
        case jbvBool: return pstrdup(v.val.boolean ? "true" : "false");
        default:
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("hyperparameter \"%s\" must be a string, number or boolean", key)));
    }
    pg_unreachable();
}

HyperparamList decode_hyperparams(Jsonb* hp) {
    HyperparamList out{0, nullptr, nullptr};
    if (!JB_ROOT_IS_OBJECT(hp) || JB_ROOT_IS_SCALAR(hp))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("hyperparams must be a JSON object"),
                        errhint("For example '{\"n_estimators\": 25, \"max_depth\": 6}'.")));
    int n = JB_ROOT_COUNT(hp);
    out.keys = static_cast<char**>(palloc0(sizeof(char*) * (n + 1)));
    out.values = static_cast<char**>(palloc0(sizeof(char*) * (n + 1)));
    JsonbIterator* it = JsonbIteratorInit(&hp->root);
    JsonbValue v;
    JsonbIteratorToken tok;
    char* key = nullptr;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) {
            key = pnstrdup(v.val.string.val, v.val.string.len);
            continue;
        }
        if (tok != WJB_VALUE) continue;
        char* value = hyperparam_text(key, v);
        out.keys[out.count] = key;
        out.values[out.count] = value;
        ++out.count;
    }
    return out;
}

}  // namespace pgml::sqlapi
