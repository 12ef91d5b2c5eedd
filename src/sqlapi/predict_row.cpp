// pgml.predict and pgml.predict_proba of a row: a row of the training
// relation (pgml.predict('p', t) FROM t) or a row constructor of its
// feature columns, ((carat, cut, color, ...)). The model's columns are
// found in the row (row_encoder.hpp), read as training read them
// (values.hpp), preprocessed as at training (core/preprocess), and the
// features scored like an array's (predict.cpp). The array forms do none of
// this, so their hot path stays as it was.
#include <cmath>
#include <string>
#include <vector>

#include "backend/row_encoder.hpp"
#include "backend/values.hpp"
#include "pg/guard.hpp"
#include "sqlapi/args.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(pgml_predict_row);
PG_FUNCTION_INFO_V1(pgml_predict_row_model);
PG_FUNCTION_INFO_V1(pgml_predict_proba_row);
PG_FUNCTION_INFO_V1(pgml_predict_proba_row_model);
PG_FUNCTION_INFO_V1(pgml_encode_row);
PG_FUNCTION_INFO_V1(pgml_encode_row_model);
}

namespace pgml::sqlapi {

enum class Want { value, proba, features };

namespace {

using backend::By;
using preprocess::Kind;

bool number_type(Oid t) {
    return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT4OID || t == FLOAT8OID || t == NUMERICOID ||
           t == BOOLOID;
}

double as_double(Datum d, Oid t) {
    switch (t) {
        case INT2OID: return DatumGetInt16(d);
        case INT4OID: return DatumGetInt32(d);
        case INT8OID: return static_cast<double>(DatumGetInt64(d));
        case FLOAT4OID: return DatumGetFloat4(d);
        case FLOAT8OID: return DatumGetFloat8(d);
        case BOOLOID: return DatumGetBool(d) ? 1 : 0;
        default: return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
    }
}

// Reads the mapped fields of the row into cells (plain C: may ereport).
// A number is converted to float first, as training read it; a category
// of a type that is not text-like is its text output (1 and '1' are one
// category); array elements go to elements, as many as the model has.
struct Decode {
    HeapTupleHeader row;
    const std::vector<preprocess::Column>* columns;
    const std::vector<int>* attno;
    preprocess::Cell* cells;
    float* elements;
};

void decode(const Decode& in) {
    const Oid type = HeapTupleHeaderGetTypeId(in.row);
    const int32 typmod = HeapTupleHeaderGetTypMod(in.row);
    TupleDesc desc = lookup_rowtype_tupdesc(type, typmod);
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(in.row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = in.row;
    float* elements = in.elements;
    for (size_t c = 0; c < in.columns->size(); ++c) {
        const preprocess::Column& col = (*in.columns)[c];
        const int a = (*in.attno)[c];
        bool isnull;
        const Datum d = heap_getattr(&tuple, a + 1, desc, &isnull);
        const Oid atttype = TupleDescAttr(desc, a)->atttypid;
        const Oid base = getBaseType(atttype);
        preprocess::Cell& cell = in.cells[c];
        auto mismatch = [&](const char* wanted) {
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("column \"%s\" of the row has type %s; the model was trained on %s (%s)",
                                   col.name.c_str(), format_type_be(atttype), col.type.c_str(), wanted),
                            errhint("Cast the field to the training column's type.")));
        };
        switch (col.kind) {
            case Kind::numeric:
                if (!number_type(base)) mismatch("a number");
                cell.number = isnull ? NAN : static_cast<float>(as_double(d, base));
                break;
            case Kind::categorical:
                if (base == UNKNOWNOID) mismatch("a category; an untyped literal needs a cast");
                if (isnull) break;
                if (base == TEXTOID || base == VARCHAROID || base == BPCHAROID || base == NAMEOID || type_is_enum(base)) {
                    cell.text = backend::category_text(d, base, &cell.text_len);
                } else {
                    Oid out;
                    bool varlena;
                    getTypeOutputInfo(atttype, &out, &varlena);
                    cell.text = OidOutputFunctionCall(out, d);
                    cell.text_len = strlen(cell.text);
                }
                break;
            case Kind::array: {
                const Oid element = get_element_type(base);
                if (!OidIsValid(element) || !number_type(getBaseType(element))) mismatch("an array of numbers");
                if (isnull)
                    for (uint32_t k = 0; k < col.width; ++k) elements[k] = NAN;
                else
                    backend::array_to_floats(d, getBaseType(element), elements, col.width, col.name.c_str(), 0);
                cell.elements = elements;
                cell.count = col.width;
                elements += col.width;
                break;
            }
        }
    }
    ReleaseTupleDesc(desc);
}

// The features as a real[] (pgml.encode_row). Plain C: may ereport.
Datum float4_array(const float* v, size_t n) {
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
    for (size_t i = 0; i < n; ++i) elems[i] = Float4GetDatum(v[i]);
    return PointerGetDatum(construct_array(elems, static_cast<int>(n), FLOAT4OID, 4, true, TYPALIGN_INT));
}

Datum predict_row(FunctionCallInfo fcinfo, By by, Want want) {
    backend::begin_predict();
    backend::ModelRef ref = model_ref(fcinfo, by);
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("the row must not be NULL")));
    const Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!type_is_rowtype(argtype))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("pgml.predict takes an array of features or a row, not %s", format_type_be(argtype)),
                        errhint("Pass ARRAY[...] of numbers, a table row (pgml.predict('p', t) FROM t) or a row "
                                "constructor ((a, b, c)).")));
    HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
    return pg::sql_entry([&]() -> Result<Datum> {
        auto m = backend::lookup(fcinfo, ref);
        if (!m) return tl::unexpected(m.error());
        auto encoder = backend::row_encoder(**m);
        if (!encoder) return tl::unexpected(encoder.error());
        auto attno = backend::row_mapping(**m, HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
        if (!attno) return tl::unexpected(attno.error());
        const auto& columns = (*encoder)->columns();
        std::vector<preprocess::Cell> cells(columns.size());
        size_t array_elements = 0;
        for (const auto& c : columns)
            if (c.kind == Kind::array) array_elements += c.width;
        std::vector<float> elements(array_elements + 1);
        std::vector<float> features((*encoder)->width());
        const Decode in{row, &columns, *attno, cells.data(), elements.data()};
        if (auto r = pg::call([&] { decode(in); }); !r) return tl::unexpected(r.error());
        if (auto r = (*encoder)->encode(cells.data(), features.data()); !r) return tl::unexpected(r.error());
        if (want == Want::features) {
            Datum out = 0;
            const float* v = features.data();
            const size_t n = features.size();
            if (auto r = pg::call([&] { out = float4_array(v, n); }); !r) return tl::unexpected(r.error());
            return out;
        }
        return answer(**m, FeatureRow{features.data(), static_cast<uint32_t>(features.size()), ElemType::f4},
                      want == Want::proba ? Output::proba : Output::value);
    });
}

}  // namespace

}  // namespace pgml::sqlapi

using pgml::backend::By;
using pgml::sqlapi::Want;

// pgml.predict(project text, row anyelement) RETURNS real
extern "C" Datum pgml_predict_row(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::project, Want::value);
}
// pgml.predict(model_id bigint, row anyelement) RETURNS real
extern "C" Datum pgml_predict_row_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::model_id, Want::value);
}
// pgml.predict_proba(project text, row anyelement) RETURNS real[]
extern "C" Datum pgml_predict_proba_row(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::project, Want::proba);
}
// pgml.predict_proba(model_id bigint, row anyelement) RETURNS real[]
extern "C" Datum pgml_predict_proba_row_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::model_id, Want::proba);
}
// pgml.encode_row(project text, row anyelement) RETURNS real[]
extern "C" Datum pgml_encode_row(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::project, Want::features);
}
// pgml.encode_row(model_id bigint, row anyelement) RETURNS real[]
extern "C" Datum pgml_encode_row_model(PG_FUNCTION_ARGS) {
    return pgml::sqlapi::predict_row(fcinfo, By::model_id, Want::features);
}
