// pgml._model_info: validates model bytes trained elsewhere before
// pgml.import_model stores them, and tells their shape.
#include "core/train.hpp"
#include "core/xgb.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgml_model_info);
}

namespace pgml::sqlapi {

namespace {

struct Info {
    int num_features;
    int num_classes;  // 0 for regression
};

Result<Info> inspect(const void* bytes, size_t len, bool classification) {
    auto booster = xgb::Booster::load(bytes, len);
    if (!booster) return tl::unexpected(booster.error());
    auto nf = booster->num_features();
    if (!nf) return tl::unexpected(nf.error());
    auto rounds = booster->boosted_rounds();
    if (!rounds) return tl::unexpected(rounds.error());
    if (*nf == 0 || *rounds == 0)
        return fail(sqlstate::invalid_binary, "the model has no features or no trees",
                    "Export a trained booster with save_model() or save_raw('ubj').");
    auto config = booster->json_config();
    if (!config) return tl::unexpected(config.error());
    auto classes = classifier_classes(*config);
    if (classification && !classes) return tl::unexpected(classes.error());
    if (!classification && classes)
        return fail(sqlstate::invalid_parameter,
                    "the model is a classifier, not a regression",
                    "Import it with task => 'classification'.");
    return Info{static_cast<int>(*nf), classification ? static_cast<int>(*classes) : 0};
}

}  // namespace

// pgml._model_info(model bytea, task text, OUT num_features int, OUT num_classes int)
Datum model_info_entry(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("model bytes and task must not be NULL")));
    bytea* model = PG_GETARG_BYTEA_PP(0);
    const char* task = text_to_cstring(PG_GETARG_TEXT_PP(1));
    bool classification = strcmp(task, "classification") == 0;
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "pgml._model_info must return a record");
    desc = BlessTupleDesc(desc);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto info = inspect(VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model), classification);
        if (!info) return tl::unexpected(info.error());
        Datum result = 0;
        auto r = pg::call([&] {
            Datum values[2] = {Int32GetDatum(info->num_features), Int32GetDatum(info->num_classes)};
            bool nulls[2] = {false, false};
            result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
        });
        if (!r) return tl::unexpected(r.error());
        return result;
    });
}

}  // namespace pgml::sqlapi

extern "C" Datum pgml_model_info(PG_FUNCTION_ARGS) { return pgml::sqlapi::model_info_entry(fcinfo); }
