// The memory shared by backends and the serving worker: sizing, the
// worker's identity, the queues, the request slots, hand-over claims,
// statistics, the model table and the deployed-model table. Pure C++: pool
// threads use it, so nothing here calls Postgres. README.md beside this
// file says why each synchronization primitive was chosen.
//
// The region lives in Postgres' main shared memory, which every process
// maps at the same address; still, everything refers to slots by index,
// never by pointer, so the layout does not depend on that.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shmem/claims.hpp"
#include "shmem/deployed.hpp"
#include "shmem/forests.hpp"
#include "shmem/model_table.hpp"
#include "shmem/queue.hpp"
#include "shmem/slot.hpp"
#include "shmem/stats.hpp"
#include "shmem/sync.hpp"

namespace pgml::shm {

struct Region {
    // Sizing, fixed at server start.
    uint32_t nslots;
    uint32_t max_features;
    uint32_t slot_size;   // bytes, multiple of 64
    uint32_t max_models;
    uint64_t slots_offset;   // the region may pass 4 GB (many slots of wide rows)
    uint64_t models_offset;
    uint32_t nforests;       // forest entries: twice max_models, for retired
                             // forests still pinned by a reader
    uint64_t forests_offset;
    uint64_t arena_offset;   // the forests' bytes (forests.hpp)
    uint64_t arena_size;
    uint32_t ncounters;      // per-backend counters (by BackendId)
    uint64_t counters_offset;

    // The worker. ready is set once its pool runs and cleared before it
    // stops; backends start a request only while it is set (one that
    // raced a stop is answered by fail_queued or the next worker).
    std::atomic<uint32_t> ready;
    std::atomic<int32_t> worker_pid;
    std::atomic<uint32_t> worker_procno;
    std::atomic<uint64_t> worker_started_ns;  // system clock
    std::atomic<uint32_t> next_generation;

    // The queues (queue.hpp).
    Mutex lock;        // guards the rings and the two counters below
    Semaphore work;    // wakes sleeping pool threads
    uint32_t sleepers; // pool threads waiting on `work`
    uint32_t wakeups;  // posts to `work` not yet consumed
    // A pool thread polling the ring instead of sleeping: while one does,
    // enqueue need not post `work` (a futex wake-up, which on a VM costs
    // tens of microseconds). Cleared before the poller's locked re-check,
    // and while it yields the CPU.
    std::atomic<uint32_t> spinning;
    // Pool threads return from take_requests. Written under the lock; read
    // without it too (a polling thread, a pool thread after a fault), hence
    // atomic. Relaxed everywhere: what it orders is under the lock.
    std::atomic<bool> stopping;
    uint32_t sweeps;   // reclaim_orphans' sweeps so far
    Ring free_slots;
    Ring requests;     // PREDICT / PROBA, for the pool threads
    Ring control;      // LOAD / RETIRE, for the worker's main thread

    Claims claims;
    Stats stats;
    ForestCounters forest_counters;
    DeployedTable deployed;  // backends only; see deployed.hpp
};

// Size of the region for these settings. forest_memory: bytes of the
// forests' arena; tokens: how many backends may score in place at once.
size_t region_size(uint32_t nslots, uint32_t max_features, uint32_t max_models,
                   uint64_t forest_memory = 0, uint32_t counters = 0) noexcept;
// Builds the region in zeroed memory of region_size() bytes.
// counters: how many backends get a counter of their own (BackendIds
// 0 .. counters - 1); others share one.
Region* init_region(void* memory, uint32_t nslots, uint32_t max_features, uint32_t max_models,
                    uint64_t forest_memory = 0, uint32_t tokens = 1, uint32_t counters = 0) noexcept;

inline Slot* slot(Region* r, uint32_t i) noexcept {
    return reinterpret_cast<Slot*>(reinterpret_cast<char*>(r) + r->slots_offset +
                                   static_cast<size_t>(i) * r->slot_size);
}
inline ModelStat* model_stats(Region* r) noexcept {
    return reinterpret_cast<ModelStat*>(reinterpret_cast<char*>(r) + r->models_offset);
}
inline ForestEntry* forest_entries(Region* r) noexcept {
    return reinterpret_cast<ForestEntry*>(reinterpret_cast<char*>(r) + r->forests_offset);
}
inline BackendCounters* backend_counters(Region* r) noexcept {
    return reinterpret_cast<BackendCounters*>(reinterpret_cast<char*>(r) + r->counters_offset);
}
inline char* forest_arena(Region* r) noexcept {
    return reinterpret_cast<char*>(r) + r->arena_offset;
}
inline uint32_t* ring_array(Region* r, const Ring& ring) noexcept {
    return reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(r) + ring.offset);
}

}  // namespace pgml::shm
