#include "sqlapi/hyperparams.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
}

namespace pgml::sqlapi {

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
        char* value = nullptr;
        switch (v.type) {
            case jbvString: value = pnstrdup(v.val.string.val, v.val.string.len); break;
            case jbvNumeric:
                value = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
                break;
            case jbvBool: value = pstrdup(v.val.boolean ? "true" : "false"); break;
            default:
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("hyperparameter \"%s\" must be a string, number or boolean", key)));
        }
        out.keys[out.count] = key;
        out.values[out.count] = value;
        ++out.count;
    }
    return out;
}

}  // namespace pgml::sqlapi
