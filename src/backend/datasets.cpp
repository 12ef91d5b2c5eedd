#include "backend/datasets.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "pg/guard.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace pgml::backend {

namespace {

constexpr const char* kUndefinedFile = "58P01";

// What a load is doing, for the CONTEXT line of an error raised meanwhile.
struct Step {
    const char* set;
    const char* what;  // while line == 0
    const char* path;
    size_t line;       // the data file's line being inserted, or 0
};

void step_context(void* arg) {
    const Step* s = static_cast<const Step*>(arg);
    if (s->line > 0)
        errcontext("pgml.load_dataset('%s'): line %zu of %s", s->set, s->line, s->path);
    else
        errcontext("pgml.load_dataset('%s'): %s", s->set, s->what);
}

// The whole file: the largest set (digits) is about 300 kB. Read with
// stdio, not Postgres' AllocateFile, because nothing here calls Postgres
// while the file is open: no error can leave it open.
Result<std::string> read_file(const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(path.c_str(), "rb"), fclose);
    if (!f) {
        const int err = errno;
        return fail(err == ENOENT ? kUndefinedFile : sqlstate::system_error,
                    "could not open the data file \"" + path + "\": " + strerror(err),
                    "make install of pgml_worker installs the built-in data sets there.");
    }
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
    if (ferror(f.get()))
        return fail(sqlstate::system_error, "could not read the data file \"" + path + "\"");
    return text;
}

}  // namespace

std::string data_file_path(const builtin::DataSet& set) {
    char share[MAXPGPATH];
    get_share_path(my_exec_path, share);
    return std::string(share) + "/extension/pgml_worker/datasets/" + set.name + ".csv";
}

Result<LoadedSet> load_builtin(const builtin::DataSet& set, std::optional<int64_t> limit) {
    const std::string path = data_file_path(set);
    auto text = read_file(path);
    if (!text) return tl::unexpected(text.error());
    builtin::CsvReader csv(*text);
    std::vector<builtin::Field> fields;
    // A CSV error names the line; the message names the file.
    auto malformed = [&](const Error& e) {
        return fail(e.sqlstate.c_str(), "the data file \"" + path + "\" is not valid CSV",
                    "Reinstall pgml_worker (make install).", e.message);
    };
    auto header = csv.next(fields);
    if (!header) return malformed(header.error());
    if (!*header) return fail(sqlstate::data_exception, "the data file \"" + path + "\" is empty");
    if (auto ok = builtin::check_header(set, fields, path); !ok) return tl::unexpected(ok.error());

    const std::string table = std::string("pgml.") + set.name;
    const std::string drop_sql = "DROP TABLE pgml." + builtin::quote_identifier(set.name);
    const std::string create_sql = builtin::create_table_sql(set);
    const std::string insert_sql = builtin::insert_sql(set);
    const std::string replacing = "replacing table " + table;
    const std::string creating = "creating table " + table;
    const int ncols = static_cast<int>(set.columns.size());
    std::vector<Datum> values(set.columns.size());
    std::vector<char> nulls(set.columns.size());
    // Loads of one set take turns on a lock of their own: the schema's
    // object lock with the set's number as sub-id, a tag nothing else uses
    // (DDL on the schema locks sub-id 0), so it blocks no other work.
    const int32 lock_subid = 1 + static_cast<int32>(&set - builtin::data_sets().data());

    Step step{set.name, "", path.c_str(), 0};
    SPIPlanPtr plan = nullptr;
    MemoryContext row_cxt = nullptr;
    auto r = pg::call([&] {
        ErrorContextCallback cb;
        cb.callback = step_context;
        cb.arg = &step;
        cb.previous = error_context_stack;
        error_context_stack = &cb;

        PreventCommandIfReadOnly("pgml.load_dataset()");
        // Checked before taking the lock: a role that may not create the
        // table may not make others wait either.
        const Oid nsp = get_namespace_oid("pgml", false);
        const AclResult acl = pg_namespace_aclcheck(nsp, GetUserId(), ACL_CREATE);
        if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_SCHEMA, "pgml");
        LockDatabaseObject(NamespaceRelationId, nsp, lock_subid, ExclusiveLock);

        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        // Looked up after the lock (taking it processed the catalog's
        // invalidations): a load that waited sees the table the other made.
        if (OidIsValid(get_relname_relid(set.name, nsp))) {
            step.what = replacing.c_str();
            const int rc = SPI_execute(drop_sql.c_str(), false, 0);
            if (rc != SPI_OK_UTILITY) elog(ERROR, "DROP TABLE failed: %s", SPI_result_code_string(rc));
        }
        step.what = creating.c_str();
        const int rc = SPI_execute(create_sql.c_str(), false, 0);
        if (rc != SPI_OK_UTILITY) elog(ERROR, "CREATE TABLE failed: %s", SPI_result_code_string(rc));
        Oid* types = static_cast<Oid*>(palloc(sizeof(Oid) * ncols));
        for (int i = 0; i < ncols; ++i) types[i] = TEXTOID;
        plan = SPI_prepare(insert_sql.c_str(), ncols, types);
        if (!plan) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgml.load_dataset row",
                                        ALLOCSET_SMALL_SIZES);
        error_context_stack = cb.previous;
    });
    if (!r) {
        // DROP's own hint (use DROP ... CASCADE) speaks of a command the
        // caller did not type: say what load_dataset needs instead, keeping
        // Postgres' list of the dependent objects.
        if (step.what == replacing.c_str() && r.error().sqlstate == "2BP01" && r.error().pg_error) {
            const ErrorData* pg = static_cast<const ErrorData*>(r.error().pg_error);
            return fail("2BP01",
                        "cannot replace table " + table + " because other objects depend on it",
                        "Drop them first; pgml.load_dataset does not drop other objects.",
                        pg->detail ? pg->detail : "");
        }
        return tl::unexpected(r.error());
    }

    const int64_t wanted = limit ? *limit : std::numeric_limits<int64_t>::max();
    int64_t inserted = 0;
    bool at_end = false;
    while (inserted < wanted) {
        auto more = csv.next(fields);
        if (!more) return malformed(more.error());
        if (!*more) {
            at_end = true;
            break;
        }
        if (fields.size() != set.columns.size())
            return fail(sqlstate::data_exception,
                        "line " + std::to_string(csv.line()) + " of the data file \"" + path +
                            "\" has " + std::to_string(fields.size()) + " fields, not " +
                            std::to_string(set.columns.size()));
        step.line = csv.line();
        auto row = pg::call([&] {
            ErrorContextCallback cb;
            cb.callback = step_context;
            cb.arg = &step;
            cb.previous = error_context_stack;
            error_context_stack = &cb;
            CHECK_FOR_INTERRUPTS();
            MemoryContext old = MemoryContextSwitchTo(row_cxt);
            for (int i = 0; i < ncols; ++i) {
                nulls[i] = fields[i].null ? 'n' : ' ';
                values[i] = fields[i].null ? static_cast<Datum>(0)
                                           : PointerGetDatum(cstring_to_text_with_len(
                                                 fields[i].text.data(),
                                                 static_cast<int>(fields[i].text.size())));
            }
            const int rc = SPI_execute_plan(plan, values.data(), nulls.data(), false, 0);
            MemoryContextSwitchTo(old);
            if (rc != SPI_OK_INSERT) elog(ERROR, "INSERT failed: %s", SPI_result_code_string(rc));
            MemoryContextReset(row_cxt);
            error_context_stack = cb.previous;
        });
        if (!row) return tl::unexpected(row.error());
        ++inserted;
    }
    // A whole file must hold the whole set: a truncated one is refused
    // rather than loaded short.
    if (at_end && inserted != set.rows)
        return fail(sqlstate::data_exception,
                    "the data file \"" + path + "\" holds " + std::to_string(inserted) +
                        " rows of \"" + set.name + "\", not " + std::to_string(set.rows),
                    "Reinstall pgml_worker (make install).");

    auto done = pg::call([&] {
        if (SPI_finish() != SPI_OK_FINISH) elog(ERROR, "SPI_finish failed");
    });
    if (!done) return tl::unexpected(done.error());
    return LoadedSet{table, inserted};
}

}  // namespace pgml::backend
