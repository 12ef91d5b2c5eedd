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
// Pure C++: no Postgres calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

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

}  // namespace pgml::shm
