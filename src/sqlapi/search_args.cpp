#include "sqlapi/search_args.hpp"

#include <cmath>

#include "sqlapi/hyperparams.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/numeric.h"
}

namespace pgml::sqlapi {

namespace {

bool is_object(Jsonb* j) { return JB_ROOT_IS_OBJECT(j) && !JB_ROOT_IS_SCALAR(j); }

// A value's JSON text for the report: strings quoted, numbers as XGBoost
// reads them (hyperparam_text), booleans as they are.
char* json_text(const JsonbValue& v, const char* xgboost_text) {
    if (v.type != jbvString) return pstrdup(xgboost_text);
    StringInfoData buf;
    initStringInfo(&buf);
    escape_json(&buf, xgboost_text);
    return buf.data;
}

// The values of one search_params key.
SearchAxis decode_axis(char* name, const JsonbValue& v) {
    if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("search_params \"%s\" must be an array of values", name),
                        errhint("For example search_params => '{\"%s\": [2, 4, 6]}'.", name)));
    const int n = JsonContainerSize(v.val.binary.data);
    SearchAxis a{name, 0, static_cast<char**>(palloc0(sizeof(char*) * (n + 1))),
                 static_cast<char**>(palloc0(sizeof(char*) * (n + 1)))};
    JsonbIterator* it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue e;
    JsonbIteratorToken tok;
    while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE) {
        if (tok != WJB_ELEM) continue;
        a.values[a.count] = hyperparam_text(name, e);
        a.json[a.count] = json_text(e, a.values[a.count]);
        ++a.count;
    }
    return a;
}

int64 integer_arg(const char* key, const JsonbValue& v) {
    if (v.type == jbvNumeric) {
        double d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v.val.numeric)));
        if (std::isfinite(d) && d == std::floor(d) && d >= 0 && d < 1e15) return static_cast<int64>(d);
    }
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("search_args \"%s\" must be a non-negative integer", key)));
    pg_unreachable();
}

}  // namespace

SearchArgs decode_search(const char* search, Jsonb* params, Jsonb* args) {
    SearchArgs out{SearchArgs::none, 0, nullptr, 10, 5};
    if (search) {
        if (strcmp(search, "grid") == 0) out.kind = SearchArgs::grid;
        else if (strcmp(search, "random") == 0) out.kind = SearchArgs::random;
        else
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("unknown search \"%s\"", search),
                            errhint("search is 'grid' (every combination of search_params) or 'random' "
                                    "(n_iter of them).")));
    }
    if (!is_object(params))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("search_params must be a JSON object"),
                        errhint("For example '{\"max_depth\": [2, 4, 6], \"eta\": [0.1, 0.3]}'.")));
    if (!is_object(args))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("search_args must be a JSON object"),
                        errhint("For example '{\"n_iter\": 10, \"cv\": 5}'.")));
    if (out.kind == SearchArgs::none && JB_ROOT_COUNT(args) > 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("search_args needs a search"),
                        errhint("Pass search => 'grid' or 'random'.")));

    out.axes = static_cast<SearchAxis*>(palloc0(sizeof(SearchAxis) * (JB_ROOT_COUNT(params) + 1)));
    JsonbIterator* it = JsonbIteratorInit(&params->root);
    JsonbValue v;
    JsonbIteratorToken tok;
    char* key = nullptr;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) key = pnstrdup(v.val.string.val, v.val.string.len);
        else if (tok == WJB_VALUE) out.axes[out.num_axes++] = decode_axis(key, v);
    }

    it = JsonbIteratorInit(&args->root);
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE) {
        if (tok == WJB_KEY) {
            key = pnstrdup(v.val.string.val, v.val.string.len);
            continue;
        }
        if (tok != WJB_VALUE) continue;
        if (strcmp(key, "n_iter") == 0) out.n_iter = integer_arg(key, v);
        else if (strcmp(key, "cv") == 0) out.cv = integer_arg(key, v);
        else
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("unknown search_args key \"%s\"", key),
                            errhint("search_args takes n_iter and cv.")));
    }
    return out;
}

}  // namespace pgml::sqlapi
