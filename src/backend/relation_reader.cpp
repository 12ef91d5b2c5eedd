#include "backend/relation_reader.hpp"

#include "backend/values.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/relation.h"
#include "access/tupdesc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "tcop/dest.h"
#include "catalog/pg_enum.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
}

#include <cmath>

namespace pgml::backend {

namespace {

bool supported_type(Oid t) {
    switch (t) {
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
        case BOOLOID:
            return true;
        default:
            return false;
    }
}

// Text-like types and enums are categories.
bool categorical_type(Oid t) {
    return t == TEXTOID || t == VARCHAROID || t == BPCHAROID || t == NAMEOID || type_is_enum(t);
}

// Converts one non-null value of a supported type to float. Only numeric
// allocates (Postgres converts it through text); the caller resets the
// context it allocates in.
float to_float(Datum d, Oid type) {
    switch (type) {
        case INT2OID: return static_cast<float>(DatumGetInt16(d));
        case INT4OID: return static_cast<float>(DatumGetInt32(d));
        case INT8OID: return static_cast<float>(DatumGetInt64(d));
        case FLOAT4OID: return DatumGetFloat4(d);
        case FLOAT8OID: return static_cast<float>(DatumGetFloat8(d));
        case BOOLOID: return DatumGetBool(d) ? 1.0f : 0.0f;
        case NUMERICOID:
            return static_cast<float>(DatumGetFloat8(DirectFunctionCall1(numeric_float8, d)));
        default: pg_unreachable();
    }
}

}  // namespace

const char* category_text(Datum d, Oid type, size_t* len) {
    if (type == NAMEOID) {
        const char* s = NameStr(*DatumGetName(d));
        *len = strlen(s);
        return s;
    }
    if (type == TEXTOID || type == VARCHAROID || type == BPCHAROID) {
        text* t = DatumGetTextPP(d);
        size_t n = VARSIZE_ANY_EXHDR(t);
        const char* s = VARDATA_ANY(t);
        // char(n) pads with spaces that are not part of the value, as its
        // own comparisons and casts to text ignore them.
        if (type == BPCHAROID)
            while (n > 0 && s[n - 1] == ' ') --n;
        *len = n;
        return s;
    }
    // An enum: its label.
    HeapTuple tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(DatumGetObjectId(d)));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "invalid enum value %u", DatumGetObjectId(d));
    char* label = pstrdup(NameStr(reinterpret_cast<Form_pg_enum>(GETSTRUCT(tup))->enumlabel));
    ReleaseSysCache(tup);
    *len = strlen(label);
    return label;
}

size_t array_to_floats(Datum d, Oid element, float* out, size_t width, const char* column, uint64_t row) {
    ArrayType* a = DatumGetArrayTypeP(d);
    const int n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
    if (width != SIZE_MAX && static_cast<size_t>(n) != width)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        row > 0 ? errmsg("column \"%s\" has %d elements in row %llu, and %zu in the first row "
                                         "that has it",
                                         column, n, static_cast<unsigned long long>(row), width)
                                : errmsg("column \"%s\" has %d elements; the model was trained on %zu", column, n,
                                         width),
                        errhint("An array feature has the same number of elements in every row.")));
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(element, &typlen, &typbyval, &typalign);
    array_iter it;
    array_iter_setup(&it, reinterpret_cast<AnyArrayType*>(a));
    for (int i = 0; i < n; ++i) {
        bool isnull;
        Datum e = array_iter_next(&it, &isnull, i, typlen, typbyval, typalign);
        if (out) out[i] = isnull ? NAN : to_float(e, element);
    }
    return static_cast<size_t>(n);
}

namespace {

// Receives the executor's rows one slot at a time and writes them straight
// into the Dataset: no tuple copies, no per-row allocation.
struct DatasetReceiver {
    DestReceiver pub;  // first, so a DestReceiver* is a DatasetReceiver*
    RelationShape* shape;
    Dataset* data;
    MemoryContext numeric_cxt;  // for numeric conversions, reset per row
    uint64 rows;
};

bool receive_slot(TupleTableSlot* slot, DestReceiver* self) {
    auto* r = reinterpret_cast<DatasetReceiver*>(self);
    RelationShape& s = *r->shape;
    // The query selects the labels first, then the features in order.
    slot_getallattrs(slot);
    const size_t k = s.labels.size();
    float labels[kMaxLabels];
    MemoryContext old = MemoryContextSwitchTo(r->numeric_cxt);
    for (size_t t = 0; t < k; ++t) {
        const char* name = s.labels[t].name.c_str();
        if (slot->tts_isnull[t])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("label column \"%s\" is NULL in row %llu of %s", name,
                            static_cast<unsigned long long>(r->rows + 1), s.qualified_name.c_str()),
                     errhint("Train on a view that leaves these rows out, e.g. WHERE %s IS NOT NULL.",
                             quote_identifier(name))));
        labels[t] = to_float(slot->tts_values[t], s.label_types[t]);
        if (!std::isfinite(labels[t]))
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_EXCEPTION),
                     errmsg("label column \"%s\" is %g in row %llu of %s", name,
                            static_cast<double>(labels[t]), static_cast<unsigned long long>(r->rows + 1),
                            s.qualified_name.c_str()),
                     errhint("Labels must be finite numbers (a float4 label also overflows past 3.4e38).")));
    }
    float* x = r->data->append_row(labels);
    if (!x)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory reading row %llu of %s",
                               static_cast<unsigned long long>(r->rows + 1),
                               s.qualified_name.c_str())));
    const size_t n = s.feature_types.size();
    for (size_t j = 0; j < n; ++j) {
        const bool null = slot->tts_isnull[j + k];
        const Datum d = slot->tts_values[j + k];
        const preprocess::Column& c = s.plan.columns[j];
        switch (c.kind) {
            case preprocess::Kind::numeric: *x++ = null ? NAN : to_float(d, s.feature_types[j]); break;
            case preprocess::Kind::categorical: {
                if (null) {
                    *x++ = NAN;
                    break;
                }
                size_t len;
                const char* v = category_text(d, s.feature_types[j], &len);
                const int64_t code = s.plan.dictionaries[j].intern(std::string_view(v, len));
                if (code < 0)
                    ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory reading categories")));
                *x++ = static_cast<float>(code);
                break;
            }
            case preprocess::Kind::array:
                if (null)
                    std::fill(x, x + c.width, NAN);
                else
                    array_to_floats(d, s.feature_types[j], x, c.width, c.name.c_str(), r->rows + 1);
                x += c.width;
                break;
        }
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(r->numeric_cxt);
    ++r->rows;
    return true;
}

void receiver_startup(DestReceiver*, int, TupleDesc) {}
void receiver_shutdown(DestReceiver*) {}
void receiver_destroy(DestReceiver*) {}

}  // namespace

// What resolve_relation reads while the relation is open: plain C in
// palloc'd memory, so that no C++ object is built (and none can throw)
// between relation_open and relation_close.
struct RawShape {
    const char* qualified_name;
    const char* select_sql;
    int natts;                 // feature columns
    const char** names;        // [natts]
    const char** type_names;   // [natts]
    Oid* types;                // [natts], base types (arrays: of the elements)
    char* kinds;               // [natts]: 'n' numeric, 'c' categorical, 'a' array
    const char** label_type_names;  // [nlabels]
    Oid* label_types;               // [nlabels]
};

// The width of each array column: the elements of its first non-NULL value
// in the scan (every row is then checked against it).
Result<void> array_widths(RelationShape& shape) {
    for (size_t j = 0; j < shape.plan.columns.size(); ++j) {
        preprocess::Column& c = shape.plan.columns[j];
        if (c.kind != preprocess::Kind::array) continue;
        const Oid element = shape.feature_types[j];
        size_t width = 0;
        const std::string sql = "SELECT " + std::string(quote_identifier(c.name.c_str())) + " FROM " +
                                shape.qualified_name + " WHERE " + quote_identifier(c.name.c_str()) +
                                " IS NOT NULL LIMIT 1";
        auto r = pg::call([&] {
            if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
            int rc = SPI_execute(sql.c_str(), true, 1);
            if (rc != SPI_OK_SELECT) elog(ERROR, "reading column %s failed", c.name.c_str());
            if (SPI_processed == 1) {
                bool isnull;
                Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
                width = array_to_floats(d, element, nullptr, SIZE_MAX, c.name.c_str(), 1);
            }
            SPI_finish();
        });
        if (!r) return tl::unexpected(r.error());
        if (width == 0)
            return fail(sqlstate::data_exception, "array column \"" + c.name + "\" has no elements to learn from",
                        "Leave out the column, or fill it.");
        c.width = static_cast<uint32_t>(width);
    }
    return {};
}

Result<RelationShape> resolve_relation(const char* relation_name, const std::vector<std::string>& label_names) {
    const int nlabels = static_cast<int>(label_names.size());
    if (nlabels < 1 || label_names.size() > kMaxLabels)
        return fail(sqlstate::invalid_parameter,
                    "y_column_name must name between 1 and " + std::to_string(kMaxLabels) + " label columns");
    for (int i = 0; i < nlabels; ++i)
        for (int j = 0; j < i; ++j)
            if (label_names[i] == label_names[j])
                return fail(sqlstate::invalid_parameter, "y_column_name names \"" + label_names[i] + "\" twice");
    std::vector<const char*> labels;
    for (const auto& l : label_names) labels.push_back(l.c_str());
    RawShape raw{};
    auto r = pg::call([&] {
        List* names = stringToQualifiedNameList(relation_name);
        RangeVar* rv = makeRangeVarFromNameList(names);
        Oid relid = RangeVarGetRelid(rv, AccessShareLock, false);
        Relation rel = relation_open(relid, NoLock);
        char relkind = rel->rd_rel->relkind;
        if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX ||
            relkind == RELKIND_SEQUENCE || relkind == RELKIND_COMPOSITE_TYPE ||
            relkind == RELKIND_TOASTVALUE)
            ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                            errmsg("\"%s\" is not a table or view", relation_name)));
        raw.qualified_name = quote_qualified_identifier(
            get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
        TupleDesc desc = RelationGetDescr(rel);
        raw.names = static_cast<const char**>(palloc(sizeof(char*) * (desc->natts + 1)));
        raw.type_names = static_cast<const char**>(palloc(sizeof(char*) * (desc->natts + 1)));
        raw.types = static_cast<Oid*>(palloc(sizeof(Oid) * (desc->natts + 1)));
        raw.kinds = static_cast<char*>(palloc(desc->natts + 1));
        raw.label_type_names = static_cast<const char**>(palloc0(sizeof(char*) * nlabels));
        raw.label_types = static_cast<Oid*>(palloc0(sizeof(Oid) * nlabels));
        StringInfoData sql;
        initStringInfo(&sql);
        for (int t = 0; t < nlabels; ++t)
            appendStringInfo(&sql, "%s%s", t ? ", " : "SELECT ", quote_identifier(labels[t]));
        for (int i = 0; i < desc->natts; ++i) {
            Form_pg_attribute att = TupleDescAttr(desc, i);
            if (att->attisdropped) continue;
            const char* name = pstrdup(NameStr(att->attname));
            Oid base = getBaseType(att->atttypid);
            const char* type_name = format_type_be(att->atttypid);
            int label = -1;
            for (int t = 0; t < nlabels; ++t)
                if (strcmp(name, labels[t]) == 0) label = t;
            const bool is_label = label >= 0;
            Oid element = get_element_type(base);
            char kind = supported_type(base) ? 'n'
                        : categorical_type(base) ? 'c'
                        : OidIsValid(element) && supported_type(getBaseType(element)) ? 'a'
                        : 0;
            if (kind == 'a') base = getBaseType(element);
            if (is_label ? kind != 'n' : kind == 0)
                ereport(ERROR,
                        (errcode(ERRCODE_DATATYPE_MISMATCH),
                         is_label ? errmsg("label column \"%s\" has type %s, which is not numeric",
                                           name, type_name)
                                  : errmsg("column \"%s\" of %s has type %s, which cannot be a feature",
                                           name, relation_name, type_name),
                         is_label ? errhint("Labels must be smallint, integer, bigint, real, double precision, "
                                            "numeric or boolean.")
                                  : errhint("Features must be smallint, integer, bigint, real, double precision, "
                                            "numeric or boolean, arrays of these, or text, varchar, char or "
                                            "an enum (categories). Train on a view that casts or leaves out "
                                            "the others.")));
            if (is_label) {
                raw.label_type_names[label] = type_name;
                raw.label_types[label] = base;
            } else {
                raw.names[raw.natts] = name;
                raw.type_names[raw.natts] = type_name;
                raw.types[raw.natts] = base;
                raw.kinds[raw.natts] = kind;
                ++raw.natts;
                appendStringInfo(&sql, ", %s", quote_identifier(name));
            }
        }
        for (int t = 0; t < nlabels; ++t)
            if (!raw.label_type_names[t])
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                                errmsg("column \"%s\" does not exist in %s", labels[t], relation_name),
                                errhint("y_column_name is the label column's name, case-sensitive.")));
        if (raw.natts == 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                            errmsg("%s has no feature columns besides the label", relation_name)));
        appendStringInfo(&sql, " FROM %s", raw.qualified_name);
        relation_close(rel, NoLock);
        raw.select_sql = sql.data;
    });
    if (!r) return tl::unexpected(r.error());
    // The lock taken above (held to the end of the transaction) keeps these
    // names valid until the relation is read.
    RelationShape shape;
    shape.qualified_name = raw.qualified_name;
    for (int t = 0; t < nlabels; ++t) {
        shape.labels.push_back(Column{labels[t], raw.label_type_names[t]});
        shape.label_types.push_back(raw.label_types[t]);
    }
    for (int i = 0; i < raw.natts; ++i) {
        shape.features.push_back(Column{raw.names[i], raw.type_names[i]});
        shape.feature_types.push_back(raw.types[i]);
        preprocess::Column c;
        c.name = raw.names[i];
        c.type = raw.type_names[i];
        c.kind = raw.kinds[i] == 'n' ? preprocess::Kind::numeric
                 : raw.kinds[i] == 'c' ? preprocess::Kind::categorical
                                       : preprocess::Kind::array;
        shape.plan.columns.push_back(std::move(c));
    }
    shape.plan.dictionaries.resize(shape.plan.columns.size());
    shape.select_sql = raw.select_sql;
    if (auto w = array_widths(shape); !w) return tl::unexpected(w.error());
    return shape;
}

Result<void> read_relation(RelationShape& shape, Dataset& data) {
    return pg::call([&] {
        DatasetReceiver receiver{};
        receiver.pub.receiveSlot = receive_slot;
        receiver.pub.rStartup = receiver_startup;
        receiver.pub.rShutdown = receiver_shutdown;
        receiver.pub.rDestroy = receiver_destroy;
        receiver.pub.mydest = DestNone;
        receiver.shape = &shape;
        receiver.data = &data;
        receiver.numeric_cxt =
            AllocSetContextCreate(CurrentMemoryContext, "pgml numeric conversion",
                                  ALLOCSET_SMALL_SIZES);
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        SPIExecuteOptions options{};
        options.read_only = true;
        options.dest = &receiver.pub;
        int rc = SPI_execute_extended(shape.select_sql.c_str(), &options);
        // With our own receiver SPI reports SPI_OK_UTILITY for the SELECT.
        if (rc < 0) elog(ERROR, "reading the relation failed: %s", SPI_result_code_string(rc));
        SPI_finish();
        MemoryContextDelete(receiver.numeric_cxt);
        if (receiver.rows == 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                            errmsg("%s has no rows to train on", shape.qualified_name.c_str())));
    });
}

}  // namespace pgml::backend
