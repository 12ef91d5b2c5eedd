#include "backend/model_cache.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/model_bytes.hpp"
#include "backend/worker_client.hpp"
#include "pg/guard.hpp"
#include "pg/region.hpp"
#include "shmem/clock.hpp"
#include "shmem/region.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
}

namespace pgml::backend {

namespace {

struct Cache {
    std::unordered_map<std::string, std::shared_ptr<CachedModel>> by_project;
    std::unordered_map<int64_t, std::shared_ptr<CachedModel>> by_id;
    uint64_t epoch = 1;       // bumped whenever the maps are emptied
    bool stale = false;       // set by the invalidation callback
    Oid deployments_relid = InvalidOid;  // learned when the cache is filled
    TimestampTz statement = 0;
};

// Never destroyed: at process exit XGBoost's own static and thread-local
// state may already be gone, and freeing a booster then crashes the backend
// (which makes the postmaster reinitialize the cluster). Exit frees it all.
Cache& cache() {
    // Static storage, so that first use cannot fail to allocate.
    alignas(Cache) static unsigned char storage[sizeof(Cache)];
    static Cache* c = new (storage) Cache;
    return *c;
}

// Set by the catalog trigger: this transaction changed what is deployed, so
// the shared table's entries go stale once it commits. Until then this
// backend neither reads nor publishes there: it alone sees its changes.
bool bump_at_commit = false;

// Called by Postgres while it processes invalidations: it must not fail or
// free anything, so it only marks the cache stale.
void on_relcache_invalidation(Datum, Oid relid) {
    Cache& c = cache();
    if (relid == InvalidOid || relid == c.deployments_relid) c.stale = true;
}

// A committed deployment must be used by the next statement even inside an
// open transaction, where Postgres would not otherwise look at pending
// invalidations until a new lock is taken. Checking once per statement is
// one comparison per call. Plain C: runs before any C++ object exists.
void sync_with_catalog(Cache& c) {
    TimestampTz now = GetCurrentStatementStartTimestamp();
    if (now != c.statement) {
        c.statement = now;
        AcceptInvalidationMessages();
    }
}

void drop_if_stale(Cache& c) {
    if (!c.stale) return;
    c.by_project.clear();
    c.by_id.clear();
    c.stale = false;
    ++c.epoch;
}

// One row of the catalog.
struct CatalogModel {
    bool project_exists = false;
    bool deployed = false;
    int64_t model_id = 0;
    bool classification = false;
    uint32_t num_features = 0;
    std::vector<double> classes;
    uint32_t targets = 1;
};

// A model's targets: the label columns of its snapshot (text[] since 0.6,
// one text before: to_jsonb reads both, so a database not yet updated
// keeps serving). Imported models have no snapshot and one target.
// Every operator is qualified: the caller's search_path may shadow them.
#define PGML_TARGETS                                                                                 \
    "(SELECT CASE WHEN pg_catalog.jsonb_typeof(pg_catalog.to_jsonb(s.y_column_name))"                \
    "                  OPERATOR(pg_catalog.=) 'array'"                                             \
    "        THEN pg_catalog.jsonb_array_length(pg_catalog.to_jsonb(s.y_column_name)) ELSE 1 END"    \
    "   FROM pgml.snapshots s WHERE s.id OPERATOR(pg_catalog.=) m.snapshot_id)"

constexpr const char* kDeployedQuery =
    "SELECT p.id, m.id, p.task, m.classes, m.num_features, 'pgml.deployments'::regclass::oid, " PGML_TARGETS
    "  FROM pgml.projects p"
    "  LEFT JOIN LATERAL (SELECT d.model_id FROM pgml.deployments d"
    "                      WHERE d.project_id OPERATOR(pg_catalog.=) p.id"
    "                      ORDER BY d.id DESC LIMIT 1) d ON true"
    "  LEFT JOIN pgml.models m ON m.id OPERATOR(pg_catalog.=) d.model_id"
    " WHERE p.name OPERATOR(pg_catalog.=) $1";

constexpr const char* kModelQuery =
    "SELECT m.project_id, m.id, p.task, m.classes, m.num_features, 'pgml.deployments'::regclass::oid, " PGML_TARGETS
    "  FROM pgml.models m JOIN pgml.projects p ON p.id OPERATOR(pg_catalog.=) m.project_id"
    " WHERE m.id OPERATOR(pg_catalog.=) $1";
#undef PGML_TARGETS

// The query's one parameter: a project name or a model id.
struct Key {
    const char* name;
    int name_len;
    int64_t id;
};

// The row as read inside SPI: plain C, so nothing there has a destructor or
// allocates outside Postgres between SPI_connect and SPI_finish.
struct CatalogRow {
    bool project_exists;
    bool deployed;
    int64_t model_id;
    bool classification;
    uint32_t num_features;
    double* classes;  // in the caller's memory context (SPI_palloc)
    int nclasses;
    uint32_t targets;
};

Result<CatalogModel> fetch(const char* query, const Key& key, Oid& deployments_relid) {
    CatalogRow out{};
    auto r = pg::call([&] {
        Oid argtype = key.name ? TEXTOID : INT8OID;
        Datum arg = key.name ? PointerGetDatum(cstring_to_text_with_len(key.name, key.name_len))
                             : Int64GetDatum(key.id);
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        // The latest committed state, not the statement's (or, in
        // REPEATABLE READ, the transaction's) snapshot: a deployment whose
        // invalidation we just processed must be visible to this lookup.
        // A parallel worker may not take a new snapshot; it uses the
        // leader's, which the whole parallel query shares anyway.
        bool latest = !IsInParallelMode();
        if (latest) PushActiveSnapshot(GetLatestSnapshot());
        int rc = SPI_execute_with_args(query, 1, &argtype, &arg, nullptr, true, 1);
        if (latest) PopActiveSnapshot();
        if (rc != SPI_OK_SELECT) elog(ERROR, "reading the model catalog failed: %s", SPI_result_code_string(rc));
        if (SPI_processed == 1) {
            HeapTuple tup = SPI_tuptable->vals[0];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull;
            out.project_exists = true;
            Datum id = SPI_getbinval(tup, desc, 2, &isnull);
            out.deployed = !isnull;
            deployments_relid = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
            if (out.deployed) {
                out.model_id = DatumGetInt64(id);
                char* task = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
                out.classification = strcmp(task, "classification") == 0;
                Datum classes = SPI_getbinval(tup, desc, 4, &isnull);
                if (!isnull) {
                    ArrayType* a = DatumGetArrayTypeP(classes);
                    int n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
                    if (ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
                        elog(ERROR, "pgml.models.classes of model %lld is malformed",
                             static_cast<long long>(out.model_id));
                    out.classes = static_cast<double*>(SPI_palloc(sizeof(double) * (n + 1)));
                    memcpy(out.classes, ARR_DATA_PTR(a), sizeof(double) * n);
                    out.nclasses = n;
                }
                out.num_features = static_cast<uint32_t>(DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull)));
                Datum targets = SPI_getbinval(tup, desc, 7, &isnull);
                out.targets = isnull ? 1 : static_cast<uint32_t>(std::max(1, DatumGetInt32(targets)));
            }
        }
        SPI_finish();
    });
    if (!r) return tl::unexpected(r.error());
    CatalogModel m;
    m.project_exists = out.project_exists;
    m.deployed = out.deployed;
    m.model_id = out.model_id;
    m.classification = out.classification;
    m.num_features = out.num_features;
    m.targets = out.targets;
    if (out.classes) {
        m.classes.assign(out.classes, out.classes + out.nclasses);
        pfree(out.classes);  // cannot fail
    }
    return m;
}

std::shared_ptr<CachedModel> entry_of(CatalogModel&& row) {
    return std::make_shared<CachedModel>(CachedModel{
        row.model_id, row.classification ? Task::classification : Task::regression,
        row.num_features, std::move(row.classes), row.targets, std::nullopt, {}, std::nullopt, 0});
}

// The shared table of deployed models (shmem/deployed.hpp) is used on a
// primary with the library preloaded. A hot standby has no commit of its own
// to bump the epoch after (deployments arrive by replay), so there each
// backend reads the catalog itself; so does a transaction that changed the
// catalog, until it commits.
Result<shm::DeployedTable*> shared_table() {
    shm::Region* r = pg::region();
    if (!r || bump_at_commit) return nullptr;
    bool recovering = true;
    if (auto c = pg::call([&] { recovering = RecoveryInProgress(); }); !c) return tl::unexpected(c.error());
    return recovering ? nullptr : &r->deployed;
}

CatalogModel row_of(const shm::DeployedFacts& facts) {
    CatalogModel row;
    row.project_exists = row.deployed = true;
    row.model_id = facts.model_id;
    row.classification = facts.task == static_cast<uint32_t>(Task::classification);
    row.num_features = facts.num_features;
    row.classes.assign(facts.classes, facts.classes + facts.num_classes);
    row.targets = facts.num_targets;
    return row;
}

// Reads the catalog and, if `publish`, publishes the answer in the table.
Result<CatalogModel> fetch_and_publish(Cache& c, shm::DeployedTable& table, const std::string& project,
                                       bool publish) {
    const uint64_t seen = shm::current_epoch(table);  // before the catalog read
    auto row = fetch(kDeployedQuery, Key{project.data(), static_cast<int>(project.size()), 0}, c.deployments_relid);
    if (publish && row && row->deployed && shm::shareable(project, static_cast<uint32_t>(row->classes.size()))) {
        shm::DeployedFacts facts{};
        facts.db = MyDatabaseId;
        facts.catalog_relid = c.deployments_relid;
        facts.model_id = row->model_id;
        facts.task = static_cast<uint32_t>(row->classification ? Task::classification : Task::regression);
        facts.num_features = row->num_features;
        facts.num_classes = static_cast<uint32_t>(row->classes.size());
        facts.num_targets = row->targets;
        std::copy(row->classes.begin(), row->classes.end(), facts.classes);
        // A deployment moved this project to another model: the worker may
        // free the old one (it is handed over again if someone still asks
        // for it). Only the backend that publishes the change says so, or
        // every connection would, long after the model was handed back.
        if (int64_t previous = shm::publish_deployed(table, seen, project, facts))
            if (auto retired = pg::call([&] { retire_model(previous); }); !retired)
                return tl::unexpected(retired.error());
    }
    return row;
}

// The resolving claim (shm::claim_resolving) this backend holds, for its
// exit hook: a FATAL (pg_terminate_backend, say) in the catalog read skips
// everything else.
shm::Claim held_resolving{-1, 0};

void release_resolving_at_exit(int, Datum) noexcept {
    if (held_resolving.index >= 0)
        if (shm::Region* r = pg::region()) shm::release_resolving(r->deployed, held_resolving);
    held_resolving = shm::Claim{-1, 0};
}

// A resolving claim for one scope: released when the catalog read and the
// publish are done, whatever they returned. Postgres ERRORs come back from
// pg::call as values, so the scope ends on every path but process exit.
class ResolvingClaim {
public:
    ResolvingClaim(shm::DeployedTable& t, const std::string& project) noexcept
        : table_(t), claim_(shm::claim_resolving(t, MyDatabaseId, project, shm::steady_ns())) {
        if (held()) held_resolving = claim_;
    }
    ~ResolvingClaim() {
        if (!held()) return;
        shm::release_resolving(table_, claim_);
        held_resolving = shm::Claim{-1, 0};
    }
    ResolvingClaim(const ResolvingClaim&) = delete;
    ResolvingClaim& operator=(const ResolvingClaim&) = delete;
    bool held() const { return claim_.index >= 0; }
    bool another_resolves() const { return claim_.index == -1; }

private:
    shm::DeployedTable& table_;
    shm::Claim claim_;
};

// How long a backend waits for another's catalog read before it reads the
// catalog itself. A resolver that fails, is cancelled or exits releases its
// claim, and its waiters read at once; the bound is for one that goes on
// and on, and that is mostly one blocked on a lock of the catalog, which
// the waiters would block on too when they read. So it is long next to a
// read (10 ms for the first of 100 connections predicting at once on 2
// cores, bench/quick) and still short for a first prediction.
constexpr uint64_t kResolveWaitNs = 500 * 1000 * 1000;

// Waits, 1 ms at a time and cancellably, for the answer of the backend
// that claimed the project. False if none came in time: then the caller
// reads the catalog itself.
Result<bool> await_resolver(shm::DeployedTable& table, Oid relid, const std::string& project,
                            shm::DeployedFacts& facts) {
    const uint64_t until = shm::steady_ns() + kResolveWaitNs;
    for (;;) {
        const uint64_t now = shm::steady_ns();
        switch (shm::await_resolved(table, MyDatabaseId, relid, project, now, facts)) {
            case shm::Resolved::found: return true;
            case shm::Resolved::gone: return false;
            case shm::Resolved::pending: break;
        }
        if (now >= until) return false;
        auto r = pg::call([] {
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        });
        if (!r) return tl::unexpected(r.error());
    }
}

// A project's deployed model: copied from the shared table, or read from
// the catalog and then published there. Of the backends that miss at once,
// one reads the catalog and the others wait for its answer (deployed.hpp).
Result<CatalogModel> shared_or_fetch(Cache& c, const std::string& project) {
    auto found_table = shared_table();
    if (!found_table) return tl::unexpected(found_table.error());
    shm::DeployedTable* table = *found_table;
    if (!table) return fetch(kDeployedQuery, Key{project.data(), static_cast<int>(project.size()), 0}, c.deployments_relid);
    // Entries carry the Oid of pgml.deployments: one left over from a dropped
    // and re-created extension (whose model ids start again) never matches.
    Oid relid = InvalidOid;
    bool parallel = false;
    auto r = pg::call([&] {
        Oid ns = get_namespace_oid("pgml", true);
        if (OidIsValid(ns)) relid = get_relname_relid("deployments", ns);
        parallel = IsInParallelMode();
    });
    if (!r) return tl::unexpected(r.error());
    shm::DeployedFacts facts;
    if (!OidIsValid(relid)) return fetch_and_publish(c, *table, project, true);
    if (shm::find_deployed(*table, MyDatabaseId, relid, project, facts)) {
        c.deployments_relid = relid;
        return row_of(facts);
    }
    // In parallel mode (a parallel worker, or its leader during the query)
    // fetch reads with the query's snapshot, which may predate a deployment
    // committed (and the epoch bumped) since: such a read may use the table,
    // but neither resolves for others nor publishes. A name too long for the
    // table has no answer to wait for.
    if (parallel || !shm::shareable(project, 0)) return fetch_and_publish(c, *table, project, !parallel);
    ResolvingClaim claim(*table, project);
    // Answered between our miss and our claim, or by the backend that holds it.
    bool answered = false;
    if (claim.held()) {
        answered = shm::find_deployed(*table, MyDatabaseId, relid, project, facts);
    } else if (claim.another_resolves()) {
        auto waited = await_resolver(*table, relid, project, facts);
        if (!waited) return tl::unexpected(waited.error());
        answered = *waited;
    }
    if (answered) {
        c.deployments_relid = relid;
        return row_of(facts);
    }
    return fetch_and_publish(c, *table, project, true);
}

// What a call site remembers between calls.
struct CallSite {
    uint64_t epoch;
    CachedModel* model;
    int capacity;
    int name_len;
    char name[FLEXIBLE_ARRAY_MEMBER];
};

Result<CachedModel*> lookup_project(Cache& c, const char* name, int len) {
    // A miss: take in any invalidation first, then look with a fresh snapshot.
    if (auto r = pg::call([] { AcceptInvalidationMessages(); }); !r) return tl::unexpected(r.error());
    drop_if_stale(c);
    std::string key(name, static_cast<size_t>(len));
    if (auto it = c.by_project.find(key); it != c.by_project.end()) return it->second.get();

    auto row = shared_or_fetch(c, key);
    if (!row) return tl::unexpected(row.error());
    if (!row->project_exists)
        return fail(sqlstate::undefined_object, "project \"" + key + "\" does not exist",
                    "Create it with pgml.train() or pgml.import_model().");
    if (!row->deployed)
        return fail(sqlstate::not_in_prerequisite_state, "project \"" + key + "\" has no deployed model",
                    "Deploy one with pgml.deploy().");
    // A model deployed for one project may already be cached by id.
    std::shared_ptr<CachedModel> entry;
    if (auto it = c.by_id.find(row->model_id); it != c.by_id.end()) {
        entry = it->second;
    } else {
        entry = entry_of(std::move(*row));
        c.by_id.emplace(entry->model_id, entry);
    }
    c.by_project.emplace(std::move(key), entry);
    return entry.get();
}

}  // namespace

Result<CachedModel*> deployed_model(FunctionCallInfo fcinfo, text* project) {
    Cache& c = cache();
    const char* name = VARDATA_ANY(project);
    int len = static_cast<int>(VARSIZE_ANY_EXHDR(project));
    auto* site = static_cast<CallSite*>(fcinfo->flinfo->fn_extra);
    if (site && !c.stale && site->epoch == c.epoch && site->name_len == len &&
        memcmp(site->name, name, static_cast<size_t>(len)) == 0)
        return site->model;

    auto found = lookup_project(c, name, len);
    if (!found) return found;
    CachedModel* model = *found;
    uint64_t epoch = c.epoch;
    auto r = pg::call([&] {
        if (!site || site->capacity < len) {
            if (site) pfree(site);
            site = static_cast<CallSite*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
                                                             offsetof(CallSite, name) + len));
            site->capacity = len;
        }
        site->epoch = epoch;
        site->model = model;
        site->name_len = len;
        memcpy(site->name, name, static_cast<size_t>(len));
        fcinfo->flinfo->fn_extra = site;
    });
    if (!r) return tl::unexpected(r.error());
    return model;
}

Result<CachedModel*> deployed_model(text* project) {
    return lookup_project(cache(), VARDATA_ANY(project), static_cast<int>(VARSIZE_ANY_EXHDR(project)));
}

Result<CachedModel*> model_by_id(int64_t model_id) {
    Cache& c = cache();
    drop_if_stale(c);
    if (auto it = c.by_id.find(model_id); it != c.by_id.end()) return it->second.get();
    auto row = fetch(kModelQuery, Key{nullptr, 0, model_id}, c.deployments_relid);
    if (!row) return tl::unexpected(row.error());
    if (!row->project_exists)
        return fail(sqlstate::undefined_object, "model " + std::to_string(model_id) + " does not exist");
    return c.by_id.emplace(model_id, entry_of(std::move(*row))).first->second.get();
}

Result<const Model*> backend_booster(CachedModel& m) {
    if (m.booster) return &*m.booster;
    bytea* data = nullptr;
    if (auto r = pg::call([&] { data = fetch_model_data(m.model_id); }); !r) return tl::unexpected(r.error());
    auto model = Model::load(VARDATA(data), VARSIZE(data) - VARHDRSZ, m.task, m.classes);
    if (!model) {
        Error e = model.error();
        e.message = "could not load model " + std::to_string(m.model_id) + ": " + e.message;
        return tl::unexpected(e);
    }
    m.booster.emplace(std::move(*model));
    return &*m.booster;
}

namespace {

void on_xact_event(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_PREPARE:
            // COMMIT PREPARED may run in another session, after which no
            // callback of ours runs: the shared table would keep the old
            // deployment.
            if (bump_at_commit)
                ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                                errmsg("cannot PREPARE a transaction that changed pgml's models or deployments")));
            break;
        case XACT_EVENT_COMMIT:
            // Runs after the commit became visible to other snapshots.
            if (bump_at_commit) {
                if (shm::Region* r = pg::region()) shm::bump_epoch(r->deployed);
            }
            bump_at_commit = false;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PREPARE:
            bump_at_commit = false;
            break;
        default:
            break;
    }
}

// Registered on a process's first prediction or catalog change, the two
// ways in before the cache holds anything or a change must be published.
void register_callbacks_once() {
    static bool registered = false;
    if (registered) return;
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
    RegisterXactCallback(on_xact_event, nullptr);
    before_shmem_exit(release_resolving_at_exit, 0);
    registered = true;
}

}  // namespace

void catalog_changed() {
    register_callbacks_once();
    bump_at_commit = true;
}

void begin_predict() {
    register_callbacks_once();
    sync_with_catalog(cache());
}

}  // namespace pgml::backend
