#include "backend/relation_reader.hpp"

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
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
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

// Receives the executor's rows one slot at a time and writes them straight
// into the Dataset: no tuple copies, no per-row allocation.
struct DatasetReceiver {
    DestReceiver pub;  // first, so a DestReceiver* is a DatasetReceiver*
    const RelationShape* shape;
    Dataset* data;
    MemoryContext numeric_cxt;  // for numeric conversions, reset per row
    uint64 rows;
};

bool receive_slot(TupleTableSlot* slot, DestReceiver* self) {
    auto* r = reinterpret_cast<DatasetReceiver*>(self);
    const RelationShape& s = *r->shape;
    // The query selects the label first, then the features in order.
    slot_getallattrs(slot);
    if (slot->tts_isnull[0])
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                 errmsg("label column \"%s\" is NULL in row %llu of %s", s.label.name.c_str(),
                        static_cast<unsigned long long>(r->rows + 1), s.qualified_name.c_str()),
                 errhint("Train on a view that leaves these rows out, e.g. WHERE %s IS NOT NULL.",
                         quote_identifier(s.label.name.c_str()))));
    MemoryContext old = MemoryContextSwitchTo(r->numeric_cxt);
    float label = to_float(slot->tts_values[0], s.label_type);
    if (!std::isfinite(label))
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION),
                 errmsg("label column \"%s\" is %g in row %llu of %s", s.label.name.c_str(),
                        static_cast<double>(label), static_cast<unsigned long long>(r->rows + 1),
                        s.qualified_name.c_str()),
                 errhint("Labels must be finite numbers (a float4 label also overflows past 3.4e38).")));
    float* x = r->data->append_row(label);
    if (!x)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory reading row %llu of %s",
                               static_cast<unsigned long long>(r->rows + 1),
                               s.qualified_name.c_str())));
    const size_t n = s.feature_types.size();
    for (size_t j = 0; j < n; ++j)
        x[j] = slot->tts_isnull[j + 1] ? NAN : to_float(slot->tts_values[j + 1], s.feature_types[j]);
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
    Oid* types;                // [natts], base types
    const char* label_type_name;
    Oid label_type;
};

Result<RelationShape> resolve_relation(const char* relation_name, const char* label_name) {
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
        bool found_label = false;
        StringInfoData sql;
        initStringInfo(&sql);
        appendStringInfo(&sql, "SELECT %s", quote_identifier(label_name));
        for (int i = 0; i < desc->natts; ++i) {
            Form_pg_attribute att = TupleDescAttr(desc, i);
            if (att->attisdropped) continue;
            const char* name = pstrdup(NameStr(att->attname));
            Oid base = getBaseType(att->atttypid);
            const char* type_name = format_type_be(att->atttypid);
            bool is_label = strcmp(name, label_name) == 0;
            if (!supported_type(base))
                ereport(ERROR,
                        (errcode(ERRCODE_DATATYPE_MISMATCH),
                         is_label ? errmsg("label column \"%s\" has type %s, which is not numeric",
                                           name, type_name)
                                  : errmsg("column \"%s\" of %s has type %s, which cannot be a feature",
                                           name, relation_name, type_name),
                         errhint("Features and labels must be smallint, integer, bigint, real, "
                                 "double precision, numeric or boolean. Train on a view that "
                                 "casts or leaves out the others.")));
            if (is_label) {
                found_label = true;
                raw.label_type_name = type_name;
                raw.label_type = base;
            } else {
                raw.names[raw.natts] = name;
                raw.type_names[raw.natts] = type_name;
                raw.types[raw.natts] = base;
                ++raw.natts;
                appendStringInfo(&sql, ", %s", quote_identifier(name));
            }
        }
        if (!found_label)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" does not exist in %s", label_name, relation_name),
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
    shape.label = Column{label_name, raw.label_type_name};
    shape.label_type = raw.label_type;
    for (int i = 0; i < raw.natts; ++i) {
        shape.features.push_back(Column{raw.names[i], raw.type_names[i]});
        shape.feature_types.push_back(raw.types[i]);
    }
    shape.select_sql = raw.select_sql;
    return shape;
}

Result<void> read_relation(const RelationShape& shape, Dataset& data) {
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
