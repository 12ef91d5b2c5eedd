// pgml._model_info: validates model bytes trained elsewhere before
// pgml.import_model stores them, and tells their shape.
#include "core/inspect.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgml_model_info);
}

// pgml._model_info(model bytea, task text, OUT num_features int, OUT num_classes int)
extern "C" Datum pgml_model_info(PG_FUNCTION_ARGS) {
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
    return pgml::pg::sql_entry([&]() -> pgml::Result<Datum> {
        auto info = pgml::inspect_model(VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model), classification);
        if (!info) return tl::unexpected(info.error());
        Datum result = 0;
        auto r = pgml::pg::call([&] {
            Datum values[2] = {Int32GetDatum(info->num_features), Int32GetDatum(info->num_classes)};
            bool nulls[2] = {false, false};
            result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
        });
        if (!r) return tl::unexpected(r.error());
        return result;
    });
}
