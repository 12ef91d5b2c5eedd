// pgml._fit: decodes pgml.train's arguments, has backend/ train one model
// on the relation, and returns the model with what the catalog records of
// it. The catalog bookkeeping around it (projects, snapshots, models,
// deployment) is PL/pgSQL in the extension script.
#include <cmath>
#include <string>

#include "backend/training.hpp"
#include "pg/guard.hpp"
#include "sqlapi/hyperparams.hpp"
#include "sqlapi/preprocess_args.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(pgml_fit);
PG_FUNCTION_INFO_V1(pgml_resolve_relation);
}

namespace pgml::sqlapi {

namespace {

// Plain C-style: may ereport.
Datum array_of_text(const std::vector<std::string>& strings) {
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (strings.size() + 1)));
    for (size_t i = 0; i < strings.size(); ++i) elems[i] = CStringGetTextDatum(strings[i].c_str());
    return PointerGetDatum(construct_array(elems, static_cast<int>(strings.size()), TEXTOID, -1,
                                           false, TYPALIGN_INT));
}

// The options of preprocess => jsonb, checked. A column named there
// without an impute gets PostgresML's default, error.
Result<void> options_of(const PreprocessList& list, TrainSpec& spec) {
    for (int i = 0; i < list.count; ++i) {
        const PreprocessArg& a = list.columns[i];
        preprocess::Options o;
        o.impute = preprocess::Impute::error;
        auto with_column = [&](Error e) {
            e.message = "preprocess of column \"" + std::string(a.column) + "\": " + e.message;
            return tl::unexpected(std::move(e));
        };
        if (a.encode) {
            auto e = preprocess::encode_of(a.encode);
            if (!e) return with_column(e.error());
            o.encode = *e;
            for (int k = 0; k < a.num_ordinal; ++k) o.ordinal.emplace_back(a.ordinal[k]);
        }
        if (a.impute) {
            auto v = preprocess::impute_of(a.impute);
            if (!v) return with_column(v.error());
            o.impute = *v;
        }
        if (a.scale) {
            auto v = preprocess::scale_of(a.scale);
            if (!v) return with_column(v.error());
            o.scale = *v;
        }
        spec.preprocess.emplace_back(a.column, std::move(o));
    }
    return {};
}

Result<Datum> fit(FunctionCallInfo fcinfo, const char* relation, const char* label,
                  const TrainSpec& spec) {
    auto trained = backend::train_on_relation(relation, label, spec);
    if (!trained) return tl::unexpected(trained.error());
    const TrainedModel* model = &trained->model;
    const size_t rows = trained->rows;

    const std::string metrics_json = metrics::to_json(model->metrics);
    Datum result = 0;
    auto r = pg::call([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "pgml._fit must return a record");
        desc = BlessTupleDesc(desc);
        Datum values[9];
        bool nulls[9] = {false, false, false, false, false, false, false, false, false};
        bytea* bytes = static_cast<bytea*>(palloc(VARHDRSZ + model->ubj.size()));
        SET_VARSIZE(bytes, VARHDRSZ + model->ubj.size());
        memcpy(VARDATA(bytes), model->ubj.data(), model->ubj.size());
        values[0] = PointerGetDatum(bytes);
        values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics_json.c_str()));
        values[2] = array_of_text(model->feature_names);
        values[3] = array_of_text(model->feature_types);
        if (model->classes.empty()) {
            nulls[4] = true;
            values[4] = 0;
        } else {
            Datum* cls = static_cast<Datum*>(palloc(sizeof(Datum) * model->classes.size()));
            for (size_t i = 0; i < model->classes.size(); ++i) cls[i] = Float8GetDatum(model->classes[i]);
            values[4] = PointerGetDatum(construct_array(cls, static_cast<int>(model->classes.size()),
                                                        FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
        }
        values[5] = Int64GetDatum(static_cast<int64>(rows));
        values[6] = Int64GetDatum(static_cast<int64>(model->train_rows));
        values[7] = Int64GetDatum(static_cast<int64>(model->test_rows));
        if (desc->natts > 8)
            values[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(model->preprocessing.c_str()));
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    if (!r) return tl::unexpected(r.error());
    return result;
}

}  // namespace

// pgml._fit(relation_name text, y_column_name text, task text,
//           hyperparams jsonb, test_size real, test_sampling text, seed bigint,
//           preprocess jsonb)
// (0.4 and before: without preprocess, and without the preprocessing OUT
// column; a database not yet updated to 0.5 still calls it so.)
Datum fit_entry(FunctionCallInfo fcinfo) {
    for (int i = 0; i < PG_NARGS(); ++i)
        if (PG_ARGISNULL(i))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("argument %d of pgml._fit must not be NULL", i + 1)));
    const char* relation = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const char* label = text_to_cstring(PG_GETARG_TEXT_PP(1));
    const char* task = text_to_cstring(PG_GETARG_TEXT_PP(2));
    HyperparamList hp = decode_hyperparams(PG_GETARG_JSONB_P(3));
    float4 test_size = PG_GETARG_FLOAT4(4);
    const char* sampling = text_to_cstring(PG_GETARG_TEXT_PP(5));
    int64 seed = PG_GETARG_INT64(6);
    PreprocessList pp = PG_NARGS() > 7 ? decode_preprocess(PG_GETARG_JSONB_P(7)) : PreprocessList{0, nullptr};

    bool classification = strcmp(task, "classification") == 0;
    if (!classification && strcmp(task, "regression") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown task \"%s\"", task),
                        errhint("The task is regression or classification.")));
    Sampling how;
    if (strcmp(sampling, "first") == 0) how = Sampling::first;
    else if (strcmp(sampling, "last") == 0) how = Sampling::last;
    else if (strcmp(sampling, "random") == 0) how = Sampling::random;
    else
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown test_sampling \"%s\"", sampling),
                        errhint("test_sampling is first, last or random.")));
    if (!(test_size > 0) || std::isinf(test_size))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("test_size must be positive, not %g", static_cast<double>(test_size)),
                        errhint("Below 1 it is a fraction of the rows, from 1 on a row count.")));

    return pg::sql_entry([&]() -> Result<Datum> {
        TrainSpec spec;
        spec.task = classification ? Task::classification : Task::regression;
        for (int i = 0; i < hp.count; ++i) spec.params.emplace_back(hp.keys[i], hp.values[i]);
        spec.test_size = test_size;
        spec.sampling = how;
        spec.seed = static_cast<uint64_t>(seed);
        if (auto ok = options_of(pp, spec); !ok) return tl::unexpected(ok.error());
        return fit(fcinfo, relation, label, spec);
    });
}

}  // namespace pgml::sqlapi

extern "C" Datum pgml_fit(PG_FUNCTION_ARGS) { return pgml::sqlapi::fit_entry(fcinfo); }

// pgml._resolve_relation(relation_name text) RETURNS text: parses the name as
// a possibly qualified identifier (never as SQL), looks it up with the
// caller's search_path, and returns it schema-qualified and quoted.
extern "C" Datum pgml_resolve_relation(PG_FUNCTION_ARGS) {
    RangeVar* rv = makeRangeVarFromNameList(stringToQualifiedNameList(text_to_cstring(PG_GETARG_TEXT_PP(0))));
    Oid relid = RangeVarGetRelid(rv, AccessShareLock, false);
    const char* nsp = get_namespace_name(get_rel_namespace(relid));
    PG_RETURN_TEXT_P(cstring_to_text(quote_qualified_identifier(nsp, get_rel_name(relid))));
}
