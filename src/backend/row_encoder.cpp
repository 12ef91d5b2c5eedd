#include "backend/row_encoder.hpp"

#include <string>

#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
}

namespace pgml::backend {

namespace {

// What the catalog holds for one model: palloc'd, plain C.
struct Stored {
    char* preprocessing;  // jsonb as text, or null
    int num_names;
    char** names;         // feature_names, or null
};

Stored read_stored(int64_t model_id) {
    Stored out{nullptr, 0, nullptr};
    MemoryContext caller = CurrentMemoryContext;
    Oid argtype = INT8OID;
    Datum arg = Int64GetDatum(model_id);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    // As model_cache.cpp reads the catalog: with a fresh snapshot (a model
    // trained earlier in this statement is seen), unless in a parallel
    // worker, which must keep the leader's.
    bool latest = !IsInParallelMode();
    if (latest) PushActiveSnapshot(GetLatestSnapshot());
    int rc = SPI_execute_with_args(
        "SELECT preprocessing::text, feature_names FROM pgml.models WHERE id OPERATOR(pg_catalog.=) $1", 1,
        &argtype, &arg, nullptr, true, 1);
    if (latest) PopActiveSnapshot();
    if (rc != SPI_OK_SELECT) elog(ERROR, "reading model %lld failed", static_cast<long long>(model_id));
    if (SPI_processed == 1) {
        HeapTuple tup = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        Datum pp = SPI_getbinval(tup, desc, 1, &isnull);
        MemoryContext spi = MemoryContextSwitchTo(caller);
        if (!isnull) out.preprocessing = TextDatumGetCString(pp);
        Datum names = SPI_getbinval(tup, desc, 2, &isnull);
        if (!isnull) {
            Datum* elems;
            bool* nulls;
            deconstruct_array(DatumGetArrayTypeP(names), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                              &out.num_names);
            out.names = static_cast<char**>(palloc(sizeof(char*) * (out.num_names + 1)));
            for (int i = 0; i < out.num_names; ++i) out.names[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
        }
        MemoryContextSwitchTo(spi);
    }
    SPI_finish();
    return out;
}

// The last row type mapped, and its answer: a statement maps every row of
// one type to one model, so one entry is what repeated calls need.
struct Mapping {
    uint64_t serial = 0;  // the encoder's (CachedModel::encoder_serial)
    Oid type = InvalidOid;
    int typmod = -1;
    std::vector<int> attno;
};
Mapping last_mapping;
uint64_t encoders_made = 0;

}  // namespace

Result<const preprocess::RowEncoder*> row_encoder(CachedModel& m) {
    if (m.encoder) return &*m.encoder;
    Stored stored{nullptr, 0, nullptr};
    if (auto r = pg::call([&] { stored = read_stored(m.model_id); }); !r) return tl::unexpected(r.error());
    std::vector<preprocess::Column> columns;
    if (stored.preprocessing) {
        auto parsed = preprocess::from_json(stored.preprocessing);
        if (!parsed) return tl::unexpected(parsed.error());
        columns = std::move(*parsed);
    } else if (stored.names) {
        // Trained before 0.5: every feature a column of numbers.
        for (int i = 0; i < stored.num_names; ++i) {
            preprocess::Column c;
            c.name = stored.names[i];
            columns.push_back(std::move(c));
        }
    } else {
        return fail(sqlstate::feature_not_supported,
                    "model " + std::to_string(m.model_id) + " was imported, and has no columns to take from a row",
                    "Pass its features as an array: pgml.predict(model_id, ARRAY[...]).");
    }
    auto e = preprocess::RowEncoder::make(std::move(columns));
    if (!e) return tl::unexpected(e.error());
    if (e->width() != m.num_features)
        return fail(sqlstate::data_exception,
                    "model " + std::to_string(m.model_id) + " has " + std::to_string(m.num_features) +
                        " features, but its columns make " + std::to_string(e->width()),
                    "Train the model again.");
    m.encoder.emplace(std::move(*e));
    m.encoder_serial = ++encoders_made;
    return &*m.encoder;
}

Result<const std::vector<int>*> row_mapping(const CachedModel& m, unsigned int type, int typmod) {
    if (last_mapping.serial == m.encoder_serial && last_mapping.type == type && last_mapping.typmod == typmod)
        return &last_mapping.attno;
    last_mapping.serial = 0;
    const auto& columns = m.encoder->columns();
    // The row type's field names, read under pg::call into plain C memory.
    int natts = 0;
    char** names = nullptr;
    auto r = pg::call([&] {
        TupleDesc desc = lookup_rowtype_tupdesc(type, typmod);
        names = static_cast<char**>(palloc(sizeof(char*) * (desc->natts + 1)));
        for (int i = 0; i < desc->natts; ++i) {
            Form_pg_attribute a = TupleDescAttr(desc, i);
            names[natts++] = a->attisdropped ? nullptr : pstrdup(NameStr(a->attname));
        }
        ReleaseTupleDesc(desc);
    });
    if (!r) return tl::unexpected(r.error());
    std::vector<int> attno(columns.size(), -1);
    bool by_name = true;
    for (size_t c = 0; c < columns.size() && by_name; ++c) {
        for (int i = 0; i < natts; ++i)
            if (names[i] && columns[c].name == names[i]) attno[c] = i;
        by_name = attno[c] >= 0;
    }
    int live = 0;
    for (int i = 0; i < natts; ++i) live += names[i] != nullptr;
    if (!by_name) {
        if (static_cast<size_t>(live) != columns.size()) {
            std::string expected;
            for (const auto& c : columns) expected += (expected.empty() ? "" : ", ") + c.name + " " + c.type;
            return fail(sqlstate::datatype_mismatch,
                        "the row has " + std::to_string(live) + " fields, and not the model's " +
                            std::to_string(columns.size()) + " columns by name",
                        "Pass a row of the training relation, or a row constructor of its feature columns "
                        "in order: (" + expected + ").");
        }
        for (int i = 0, c = 0; i < natts; ++i)
            if (names[i]) attno[static_cast<size_t>(c++)] = i;
    }
    last_mapping.attno = std::move(attno);
    last_mapping.type = type;
    last_mapping.typmod = typmod;
    last_mapping.serial = m.encoder_serial;
    return &last_mapping.attno;
}

}  // namespace pgml::backend
