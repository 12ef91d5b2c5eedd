// The worker's models: one copy per (database, model id) for the whole
// cluster (DESIGN.md invariant 6), bounded in bytes with least-recently-used
// eviction, and mirrored into the shared ModelStat table so backends can see
// them in pgml.worker_stats(). Pure C++: read by pool threads, changed by the
// worker's main thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

#include "core/error.hpp"
#include "core/model.hpp"
#include "shmem/model_table.hpp"
#include "shmem/region.hpp"

namespace pgml::pool {

struct ModelKey {
    uint32_t db;
    int64_t id;
    bool operator==(const ModelKey& o) const { return db == o.db && id == o.id; }
};

struct ModelKeyHash {
    size_t operator()(const ModelKey& k) const {
        return std::hash<uint64_t>()((static_cast<uint64_t>(k.db) << 40) ^ static_cast<uint64_t>(k.id));
    }
};

// What a pool thread holds while it scores: the model stays alive even if
// it is evicted meanwhile.
struct Lease {
    std::shared_ptr<const Model> model;
    shm::ModelStat* stat = nullptr;
};

class Registry {
public:
    // Clears the shared model table: a new worker holds no model yet.
    explicit Registry(shm::Region* region);
    // Only once no pool thread runs.
    ~Registry();

    Lease find(const ModelKey& key);
    bool contains(const ModelKey& key);
    // Whether a model of `bytes` (its serialized size) may be held at all:
    // checked before it is parsed, and again by insert.
    static Result<void> fits(const ModelKey& key, uint64_t bytes, uint64_t limit_bytes);
    // Adds a model of `bytes`, evicting the least recently used models to
    // stay within limit_bytes. Should it throw (memory), the registry and
    // the shared table are as before, but for models it evicted.
    // engine_note: why the model is not on its compiled forest ("" when it is).
    Result<void> insert(const ModelKey& key, Model&& model, uint64_t bytes, uint64_t limit_bytes,
                        const char* engine_note = "");
    void retire(const ModelKey& key);
    // The index of key's entry in the shared model table, or
    // shm::kNoForest when it is not listed.
    uint32_t stat_index(const ModelKey& key);
    // Counts as used now every model whose shared forest a reader pinned
    // since the last call (backends scoring in place bypass find()).
    void note_in_place_use();
    // Frees the models last used before `before_ns` (steady clock); returns
    // how many.
    size_t evict_unused_since(uint64_t before_ns);

private:
    struct Entry {
        std::shared_ptr<const Model> model;
        uint64_t bytes;
        std::atomic<uint64_t> last_used;
        shm::ModelStat* stat;
        uint64_t forest_uses;  // its shared forest's pins at the last look
    };
    using Map = std::unordered_map<ModelKey, std::unique_ptr<Entry>, ModelKeyHash>;
    void erase_locked(Map::iterator it) noexcept;

    shm::Region* region_;
    std::shared_mutex mu_;
    Map models_;
    uint64_t bytes_ = 0;  // under mu_
};

}  // namespace pgml::pool
