// Compiled forests in shared memory: one per (database, model id) for the
// whole cluster, written once by the worker's main thread and read in place
// by any backend and by the pool threads. Pure C++, every function noexcept.
//
// The arena is a fixed part of the region (pgml_worker.forest_memory bytes,
// set at server start). It has one allocator, the worker's main thread, so
// allocation takes no lock: the occupied ranges are those of the entries
// that are not FREE, and a new forest goes into the first gap between them
// that is big enough. No bookkeeping lives inside the arena, so nothing a
// reader could touch corrupts it.
//
// Life of an entry:
//
//   FREE --reserve (main thread)--> BUILDING --publish--> READY
//   BUILDING or READY --retire (any thread)--> RETIRED
//   RETIRED with no pins --collect (main thread)--> FREE
//
// A reader pins an entry (pins + 1), then checks that it is READY and of
// the generation it expects; otherwise it unpins and does not read. The
// worker frees an entry only once it is RETIRED and it then sees no pins.
// Both sides use sequentially consistent operations, so either the reader
// sees RETIRED or the collector sees the pin (DESIGN.md invariant 8). A
// generation is never reused, so a reader that pinned an entry meanwhile
// freed and reused sees a new generation and lets go.
//
// Readers pin only around pure C++ code that cannot raise a Postgres ERROR
// or exit, so no pin outlives its reader: a backend that dies holding one
// has crashed, and Postgres rebuilds shared memory after a crash.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pgml::shm {

struct Region;

enum ForestState : uint32_t { FOREST_FREE = 0, FOREST_BUILDING = 1, FOREST_READY = 2, FOREST_RETIRED = 3 };

inline constexpr uint32_t kNoForest = UINT32_MAX;

struct alignas(64) ForestEntry {
    std::atomic<uint32_t> state;
    std::atomic<uint32_t> pins;
    std::atomic<uint64_t> generation;  // set before READY; never reused
    std::atomic<uint32_t> db;
    std::atomic<uint32_t> stat_index;  // its ModelStat entry, or kNoForest
    std::atomic<int64_t> model_id;
    std::atomic<uint64_t> offset;      // from the arena's start
    std::atomic<uint64_t> size;        // bytes
    std::atomic<uint64_t> uses;        // pins so far (for idle eviction)
};

// What one backend counts, on a cache line of its own: written by that
// backend only (a plain load and store, no locked instruction), summed by
// readers.
struct alignas(64) BackendCounters {
    std::atomic<uint64_t> in_place;  // requests it scored in place
};

// At most this many in-place scoring tokens (pgml_worker.threads' maximum).
inline constexpr uint32_t kMaxTokens = 256;

struct alignas(64) ForestCounters {
    std::atomic<uint64_t> in_place;         // those of backends without counters of their own
    std::atomic<uint64_t> next_generation;  // the last generation given out
    uint32_t ntokens;                       // in-place scoring tokens (set once)
    // Token i: 0 when free, else the steady_ns its holder took it at.
    alignas(64) std::atomic<uint64_t> token_since[kMaxTokens];
};

// Where a reader finds a forest again: the entry and its generation.
struct ForestRef {
    uint32_t index = kNoForest;
    uint64_t generation = 0;
};

// Forests of at most this many nodes (48 kB, a few microseconds to walk at
// most) are scored in place without a token.
inline constexpr uint64_t kCheapForestNodes = 4096;

// The byte a freed forest is filled with.
inline constexpr int kForestPoison = 0xA5;

// The arena's alignment (a cache line; forests need 8 bytes).
inline constexpr size_t kForestArenaAlign = 64;

// --- the worker's main thread

// A BUILDING entry of size bytes for (db, model_id), or kNoForest when no
// entry is free or no gap is big enough (after collecting what it can).
uint32_t reserve_forest(Region* r, uint32_t db, int64_t model_id, uint64_t size) noexcept;
// The entry's bytes, for building the forest in.
void* forest_bytes(Region* r, uint32_t index) noexcept;
// BUILDING -> READY: readers may use it from now on.
void publish_forest(Region* r, uint32_t index, uint32_t stat_index) noexcept;
// RETIRED entries nobody pins become FREE; returns how many.
uint32_t collect_forests(Region* r) noexcept;
// A new worker: everything its predecessor left is retired.
void retire_all_forests(Region* r) noexcept;

// --- any thread

// BUILDING or READY -> RETIRED: no new reader gets it; it is freed once the
// last one lets go.
void retire_forest(Region* r, uint32_t index) noexcept;

// --- readers (backends, pool threads)

// The READY forest of (db, model_id), or an empty ref.
ForestRef find_forest(Region* r, uint32_t db, int64_t model_id) noexcept;
// Pins ref's forest and returns its bytes (and size, and its ModelStat
// index), or nullptr, unpinned, when it is no longer READY at that
// generation. Every non-null return must be matched by unpin_forest.
const void* pin_forest(Region* r, const ForestRef& ref, uint64_t* size, uint32_t* stat_index) noexcept;
void unpin_forest(Region* r, const ForestRef& ref) noexcept;

// In-place scoring tokens (pgml_worker.threads of them): for a forest
// larger than kCheapForestNodes a backend scores in place only when it takes
// one; one that finds none queues its request. Smaller forests are always
// scored in place: their walk costs less than a token's two locked
// instructions are worth bounding, and far less than the hop to the pool.
//
// A token bounds the walks that run at once, and a holder the kernel has
// descheduled in the middle of its walk runs none. So a token held for
// longer than stale_ns (far longer than the walk: its holder is off the
// CPU) may be taken over; its first holder's return then leaves it alone.
// Without this, on a machine with as many CPUs as tokens and many more
// connections, one preempted holder sends the other CPU's requests to the
// queue for a scheduler slice (measured: 14 % of big's requests queued at
// 100 clients on 2 vCPUs, each costing more than its walk).
struct TokenHeld {
    uint32_t index = kMaxTokens;  // kMaxTokens: none
    uint64_t since = 0;
    explicit operator bool() const { return index < kMaxTokens; }
};
TokenHeld take_token(Region* r, uint64_t now_ns, uint64_t stale_ns) noexcept;
void return_token(Region* r, const TokenHeld& t) noexcept;
// n more requests scored in place by the backend of this BackendId.
void count_in_place(Region* r, int backend_id, uint64_t n) noexcept;

// --- statistics

struct ForestTotals {
    uint32_t forests;    // entries not FREE
    uint64_t bytes;      // their bytes
    uint64_t in_place;
};
ForestTotals forest_totals(Region* r) noexcept;

}  // namespace pgml::shm
