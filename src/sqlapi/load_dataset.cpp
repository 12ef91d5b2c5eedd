// pgml.load_dataset(source, subset, "limit", kwargs): PostgresML's loader of
// its built-in scikit-learn sets. Decodes the arguments; backend/datasets.cpp
// does the work.
//
// subset and kwargs are accepted and ignored, as PostgresML ignores them for
// these sets (it passes them to Hugging Face's datasets for the others,
// which pgml_worker does not load).
#include <optional>

#include "backend/datasets.hpp"
#include "core/builtin_datasets.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(pgml_load_dataset);
}

namespace pgml::sqlapi {

Datum load_dataset_entry(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("source must not be NULL"),
                        errhint("Name one of the built-in data sets.")));
    const char* source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const bool has_limit = !PG_ARGISNULL(2);
    const int64 limit = has_limit ? PG_GETARG_INT64(2) : 0;

    return pg::sql_entry([&]() -> Result<Datum> {
        const builtin::DataSet* set = builtin::find(source);
        if (!set)
            return fail(sqlstate::invalid_parameter,
                        std::string("unknown data set \"") + source + "\"",
                        "The built-in sets are " + builtin::names() + ".",
                        "pgml_worker loads only its built-in sets; it does not download "
                        "Hugging Face datasets.");
        if (has_limit && limit < 0)
            return fail(sqlstate::invalid_parameter,
                        "limit must not be negative, not " + std::to_string(limit),
                        "Pass NULL to load every row.");
        auto loaded = backend::load_builtin(*set, has_limit ? std::optional<int64_t>(limit)
                                                            : std::nullopt);
        if (!loaded) return tl::unexpected(loaded.error());
        auto r = pg::call([&] {
            InitMaterializedSRF(fcinfo, 0);
            ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
            Datum v[2] = {CStringGetTextDatum(loaded->table.c_str()), Int64GetDatum(loaded->rows)};
            bool n[2] = {false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
        });
        if (!r) return tl::unexpected(r.error());
        return static_cast<Datum>(0);
    });
}

}  // namespace pgml::sqlapi

extern "C" Datum pgml_load_dataset(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::load_dataset_entry(fcinfo);
}
