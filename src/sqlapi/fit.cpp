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
#include "sqlapi/search_args.hpp"

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

Result<Datum> fit(FunctionCallInfo fcinfo, const char* relation, const std::vector<std::string>& labels,
                  const TrainSpec& spec) {
    auto trained = backend::train_on_relation(relation, labels, spec);
    if (!trained) return tl::unexpected(trained.error());
    const TrainedModel* model = &trained->model;
    const size_t rows = trained->rows;

    // A search's report goes into the metrics, as PostgresML keeps it.
    std::string metrics_json = metrics::to_json(model->metrics);
    if (!model->search_results.empty())
        metrics_json.insert(metrics_json.size() - 1, ", \"search_results\": " + model->search_results);
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

// The label columns: y_column_name text[] since 0.6 (several for
// pgml.train_joint), one text before. palloc'd.
struct LabelNames {
    int count;
    char** names;
};

LabelNames label_columns(FunctionCallInfo fcinfo) {
    LabelNames out{1, static_cast<char**>(palloc(sizeof(char*)))};
    if (get_fn_expr_argtype(fcinfo->flinfo, 1) == TEXTOID) {
        out.names[0] = text_to_cstring(PG_GETARG_TEXT_PP(1));
        return out;
    }
    ArrayType* a = PG_GETARG_ARRAYTYPE_P(1);
    Datum* names;
    bool* nulls;
    deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &out.count);
    if (out.count < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("y_column_name names no column")));
    out.names = static_cast<char**>(palloc(sizeof(char*) * out.count));
    for (int i = 0; i < out.count; ++i) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("y_column_name must not contain NULL")));
        out.names[i] = TextDatumGetCString(names[i]);
    }
    return out;
}

// The search options, for the core.
search::Options search_options(const SearchArgs& a) {
    search::Options o;
    o.kind = a.kind == SearchArgs::grid     ? search::Kind::grid
             : a.kind == SearchArgs::random ? search::Kind::random
                                            : search::Kind::none;
    for (int i = 0; i < a.num_axes; ++i) {
        search::Axis axis;
        axis.name = a.axes[i].name;
        for (int k = 0; k < a.axes[i].count; ++k) {
            axis.values.emplace_back(a.axes[i].values[k]);
            axis.json.emplace_back(a.axes[i].json[k]);
        }
        o.axes.push_back(std::move(axis));
    }
    o.n_iter = static_cast<size_t>(a.n_iter);
    o.cv = static_cast<size_t>(a.cv);
    return o;
}

}  // namespace

// pgml._fit(relation_name text, y_column_name text, task text,
//           hyperparams jsonb, test_size real, test_sampling text, seed bigint,
//           preprocess jsonb, algorithm text, search text, search_params jsonb,
//           search_args jsonb)
// Databases not yet updated call it with fewer: 0.4 without preprocess
// (and without the preprocessing OUT column), 0.5 without algorithm and
// the search.
Datum fit_entry(FunctionCallInfo fcinfo) {
    constexpr int kSearchArg = 9;  // NULL: no search
    for (int i = 0; i < PG_NARGS(); ++i)
        if (PG_ARGISNULL(i) && i != kSearchArg)
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("argument %d of pgml._fit must not be NULL", i + 1)));
    const char* relation = text_to_cstring(PG_GETARG_TEXT_PP(0));
    LabelNames labels = label_columns(fcinfo);
    const char* task = text_to_cstring(PG_GETARG_TEXT_PP(2));
    HyperparamList hp = decode_hyperparams(PG_GETARG_JSONB_P(3));
    float4 test_size = PG_GETARG_FLOAT4(4);
    const char* sampling = text_to_cstring(PG_GETARG_TEXT_PP(5));
    int64 seed = PG_GETARG_INT64(6);
    PreprocessList pp = PG_NARGS() > 7 ? decode_preprocess(PG_GETARG_JSONB_P(7)) : PreprocessList{0, nullptr};
    const char* algorithm = PG_NARGS() > 8 ? text_to_cstring(PG_GETARG_TEXT_PP(8)) : "xgboost";
    SearchArgs search{SearchArgs::none, 0, nullptr, 10, 5};
    if (PG_NARGS() > 11)
        search = decode_search(PG_ARGISNULL(kSearchArg) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(kSearchArg)),
                               PG_GETARG_JSONB_P(10), PG_GETARG_JSONB_P(11));

    bool classification = strcmp(task, "classification") == 0;
    if (!classification && strcmp(task, "regression") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown task \"%s\"", task),
                        errhint("The task is regression or classification.")));
    Algorithm algo;
    if (strcmp(algorithm, "xgboost") == 0) algo = Algorithm::xgboost;
    else if (strcmp(algorithm, "xgboost_random_forest") == 0) algo = Algorithm::xgboost_random_forest;
    else
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("algorithm \"%s\" is not supported", algorithm),
                        errhint("pgml_worker trains the algorithms XGBoost provides: xgboost and "
                                "xgboost_random_forest.")));
    Sampling how;
    if (strcmp(sampling, "first") == 0) how = Sampling::first;
    else if (strcmp(sampling, "last") == 0) how = Sampling::last;
    else if (strcmp(sampling, "random") == 0) how = Sampling::random;
    else if (strcmp(sampling, "stratified") == 0) how = Sampling::stratified;
    else
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown test_sampling \"%s\"", sampling),
                        errhint("test_sampling is stratified, random, last or first.")));
    if (!(test_size > 0) || std::isinf(test_size))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("test_size must be positive, not %g", static_cast<double>(test_size)),
                        errhint("Below 1 it is a fraction of the rows, from 1 on a row count.")));

    return pg::sql_entry([&]() -> Result<Datum> {
        TrainSpec spec;
        spec.task = classification ? Task::classification : Task::regression;
        spec.algorithm = algo;
        for (int i = 0; i < hp.count; ++i) spec.params.emplace_back(hp.keys[i], hp.values[i]);
        spec.search = search_options(search);
        spec.test_size = test_size;
        spec.sampling = how;
        spec.seed = static_cast<uint64_t>(seed);
        if (auto ok = options_of(pp, spec); !ok) return tl::unexpected(ok.error());
        return fit(fcinfo, relation, std::vector<std::string>(labels.names, labels.names + labels.count), spec);
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
