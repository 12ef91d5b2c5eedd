// Which model each project has deployed, shared by every backend of the
// cluster, so that after a deployment changes one backend reads the catalog
// and the others copy its answer. Without it each of a hundred connections
// plans and runs the catalog query once, which costs every connection about
// 0.5 MB of catalog and plan caches: together more than the model itself.
//
// Entries are valid for one epoch. The epoch is bumped after a transaction
// that changed pgml.deployments, models or projects commits (its statement
// trigger asks for that). A backend reads the epoch before it reads the
// catalog and publishes its answer under that epoch, so an answer read
// before a commit became visible can never outlive the bump after it.
//
// A miss is resolved by one backend per (database, project): a hundred
// connections that miss at once (after a restart, or a deployment) would
// otherwise all read the catalog at the same moment, which is what the
// table is there to avoid. The first claims the project (claims.hpp's
// claims, in a table of their own) and reads the catalog; the others wait
// a bounded time for its answer to appear here, and read the catalog
// themselves if it does not: the resolver failed, was cancelled, found
// nothing to share, or the epoch moved and its answer was refused. So the
// wait only saves work; it never decides the answer.
// Pure C++: no Postgres calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "shmem/claims.hpp"
#include "shmem/sync.hpp"

namespace pgml::shm {

inline constexpr int kDeployedEntries = 256;
inline constexpr int kDeployedNameMax = 120;   // longer names are not shared
inline constexpr int kDeployedClassesMax = 16;  // classifiers with more are not shared

// What a backend needs to serve a project's deployed model.
struct DeployedFacts {
    uint32_t db;               // database Oid
    uint32_t catalog_relid;    // Oid of pgml.deployments: changes if the extension is re-created
    int64_t model_id;
    uint32_t task;             // pgml::Task
    uint32_t num_features;
    uint32_t num_classes;      // 0 for regression
    uint32_t num_targets;      // 1, or a joint regression's labels
    double classes[kDeployedClassesMax];
};

struct DeployedEntry {
    uint64_t epoch;  // 0: empty
    uint32_t name_len;
    char name[kDeployedNameMax];
    DeployedFacts facts;
};

struct DeployedTable {
    std::atomic<uint64_t> epoch{1};
    Mutex lock;  // guards the entries, held for a scan at most
    uint32_t next_victim = 0;
    DeployedEntry entries[kDeployedEntries] = {};
    // Who is reading the catalog for a (database, project) right now, keyed
    // by resolve_key. A full table (-2) only means a miss reads unclaimed.
    Claims resolving = {};
};

inline uint64_t current_epoch(const DeployedTable& t) { return t.epoch.load(std::memory_order_acquire); }
// After a catalog change commits: every entry becomes stale.
inline void bump_epoch(DeployedTable& t) { t.epoch.fetch_add(1, std::memory_order_acq_rel); }

bool shareable(std::string_view project, uint32_t num_classes) noexcept;
// The current entry for (db, catalog_relid, project), copied to out.
bool find_deployed(DeployedTable& t, uint32_t db, uint32_t catalog_relid, std::string_view project,
                   DeployedFacts& out) noexcept;
// Publishes what the catalog said, read after seeing epoch seen_epoch; does
// nothing if the epoch has moved on since. Returns the model the project's
// previous entry named, if it was another one (else 0): the one backend that
// publishes a change is the one that tells the worker to free the old model.
int64_t publish_deployed(DeployedTable& t, uint64_t seen_epoch, std::string_view project,
                         const DeployedFacts& facts) noexcept;

// Resolving a miss (see the top). The key is a hash of (db, project): a
// collision only makes a backend wait for another project's resolver, then
// find no answer for its own and read the catalog itself.
uint64_t resolve_key(uint32_t db, std::string_view project) noexcept;
// index >= 0: this backend reads the catalog, publishes, then releases;
// -1: another backend is reading it (wait with await_resolved); -2: no
// entry free, read unclaimed.
Claim claim_resolving(DeployedTable& t, uint32_t db, std::string_view project, uint64_t now_ns) noexcept;
void release_resolving(DeployedTable& t, const Claim& claim) noexcept;

enum class Resolved {
    found,    // the resolver is done; out holds its answer
    pending,  // the resolver is still at it: look again a little later
    gone,     // its claim is gone and no answer with it: read the catalog
};
// One look of a backend waiting for another's answer.
Resolved await_resolved(DeployedTable& t, uint32_t db, uint32_t catalog_relid, std::string_view project,
                        uint64_t now_ns, DeployedFacts& out) noexcept;

}  // namespace pgml::shm
