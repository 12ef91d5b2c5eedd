#include "shmem/forests.hpp"

#include <algorithm>
#include <cstring>

#include "shmem/region.hpp"

namespace pgml::shm {

namespace {

constexpr auto sc = std::memory_order_seq_cst;
constexpr auto rlx = std::memory_order_relaxed;

uint64_t round_up(uint64_t n) { return (n + kForestArenaAlign - 1) & ~uint64_t{kForestArenaAlign - 1}; }

// Generations start at 1 (0 means none) and only grow; kept in the region
// so a new worker does not reuse its predecessor's.
std::atomic<uint64_t>& generations(Region* r) { return r->forest_counters.next_generation; }

// The first offset at which `size` bytes fit between the entries that are
// not FREE, or UINT64_MAX. At most 2 x max_models entries (a few hundred):
// a quadratic scan costs microseconds, once per model load.
uint64_t first_gap(Region* r, uint64_t size) {
    ForestEntry* e = forest_entries(r);
    uint64_t at = 0;
    for (;;) {
        if (at + size > r->arena_size || at + size < at) return UINT64_MAX;
        // The occupied range overlapping [at, at + size) that ends last.
        uint64_t end = 0;
        for (uint32_t i = 0; i < r->nforests; ++i) {
            if (e[i].state.load(sc) == FOREST_FREE) continue;
            const uint64_t b = e[i].offset.load(rlx), s = round_up(e[i].size.load(rlx));
            if (b < at + size && at < b + s) end = std::max(end, b + s);
        }
        if (end == 0) return at;
        at = end;
    }
}

}  // namespace

uint32_t reserve_forest(Region* r, uint32_t db, int64_t model_id, uint64_t size) noexcept {
    if (size == 0) return kNoForest;
    collect_forests(r);
    ForestEntry* e = forest_entries(r);
    uint32_t index = kNoForest;
    for (uint32_t i = 0; i < r->nforests && index == kNoForest; ++i)
        if (e[i].state.load(sc) == FOREST_FREE) index = i;
    if (index == kNoForest) return kNoForest;
    const uint64_t at = first_gap(r, size);
    if (at == UINT64_MAX) return kNoForest;
    ForestEntry& f = e[index];
    f.db.store(db, rlx);
    f.model_id.store(model_id, rlx);
    f.offset.store(at, rlx);
    f.size.store(size, rlx);
    f.stat_index.store(kNoForest, rlx);
    f.generation.store(0, rlx);
    f.uses.store(0, rlx);
    f.state.store(FOREST_BUILDING, sc);
    return index;
}

void* forest_bytes(Region* r, uint32_t index) noexcept {
    return forest_arena(r) + forest_entries(r)[index].offset.load(rlx);
}

void publish_forest(Region* r, uint32_t index, uint32_t stat_index) noexcept {
    ForestEntry& f = forest_entries(r)[index];
    uint32_t building = FOREST_BUILDING;
    f.stat_index.store(stat_index, rlx);
    f.generation.store(generations(r).fetch_add(1, rlx) + 1, rlx);
    // The forest's bytes and the fields above before READY (release, and
    // sequentially consistent for the pin protocol). An entry retired while
    // it was built stays retired.
    f.state.compare_exchange_strong(building, FOREST_READY, sc);
}

void retire_forest(Region* r, uint32_t index) noexcept {
    if (index >= r->nforests) return;
    ForestEntry& f = forest_entries(r)[index];
    uint32_t s = f.state.load(sc);
    while ((s == FOREST_BUILDING || s == FOREST_READY) && !f.state.compare_exchange_weak(s, FOREST_RETIRED, sc)) {
    }
}

uint32_t collect_forests(Region* r) noexcept {
    ForestEntry* e = forest_entries(r);
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->nforests; ++i) {
        if (e[i].state.load(sc) != FOREST_RETIRED || e[i].pins.load(sc) != 0) continue;
        // Poisoned, so that a reader the protocol failed to keep out would
        // find no forest header (readers check it) and, mid-walk, child
        // indices far outside the block: a loud failure, not a stale answer.
        std::memset(forest_arena(r) + e[i].offset.load(rlx), kForestPoison, e[i].size.load(rlx));
        e[i].state.store(FOREST_FREE, sc);
        ++n;
    }
    return n;
}

void retire_all_forests(Region* r) noexcept {
    for (uint32_t i = 0; i < r->nforests; ++i) retire_forest(r, i);
    collect_forests(r);
}

ForestRef find_forest(Region* r, uint32_t db, int64_t model_id) noexcept {
    ForestEntry* e = forest_entries(r);
    for (uint32_t i = 0; i < r->nforests; ++i) {
        ForestEntry& f = e[i];
        if (f.state.load(std::memory_order_acquire) != FOREST_READY) continue;
        const uint64_t g = f.generation.load(rlx);
        if (f.db.load(rlx) != db || f.model_id.load(rlx) != model_id) continue;
        // The fields may belong to a later forest by now; pin_forest checks
        // the generation before anyone reads.
        return ForestRef{i, g};
    }
    return {};
}

const void* pin_forest(Region* r, const ForestRef& ref, uint64_t* size, uint32_t* stat_index) noexcept {
    if (ref.index >= r->nforests || ref.generation == 0) return nullptr;
    ForestEntry& f = forest_entries(r)[ref.index];
    f.pins.fetch_add(1, sc);
    if (f.state.load(sc) != FOREST_READY || f.generation.load(sc) != ref.generation) {
        f.pins.fetch_sub(1, sc);
        return nullptr;
    }
    // A count for idle eviction, which only asks whether it changed: a
    // plain load and store (no locked instruction); a lost update is harmless.
    f.uses.store(f.uses.load(rlx) + 1, rlx);
    if (size) *size = f.size.load(rlx);
    if (stat_index) *stat_index = f.stat_index.load(rlx);
    return forest_arena(r) + f.offset.load(rlx);
}

void unpin_forest(Region* r, const ForestRef& ref) noexcept {
    forest_entries(r)[ref.index].pins.fetch_sub(1, sc);
}

TokenHeld take_token(Region* r, uint64_t now_ns, uint64_t stale_ns) noexcept {
    auto* slots = r->forest_counters.token_since;
    // A stamp is never 0 (free), and a taker over a stale token stamps it
    // with a later time than its first holder's, so that holder's return
    // (a compare-and-swap of its own stamp) cannot free it.
    const uint64_t stamp = now_ns | 1;
    for (uint32_t i = 0; i < r->forest_counters.ntokens; ++i) {
        uint64_t since = slots[i].load(rlx);
        if (since != 0 && (now_ns <= since || now_ns - since <= stale_ns)) continue;
        if (slots[i].compare_exchange_strong(since, stamp, std::memory_order_acquire, rlx))
            return TokenHeld{i, stamp};
    }
    return {};
}

void count_in_place(Region* r, int backend_id, uint64_t n) noexcept {
    if (backend_id >= 0 && static_cast<uint32_t>(backend_id) < r->ncounters) {
        auto& c = backend_counters(r)[backend_id].in_place;
        c.store(c.load(rlx) + n, rlx);  // its only writer
    } else {
        r->forest_counters.in_place.fetch_add(n, rlx);
    }
}

void return_token(Region* r, const TokenHeld& t) noexcept {
    if (!t) return;
    uint64_t mine = t.since;
    // Fails only when the token was taken over: it is its new holder's.
    r->forest_counters.token_since[t.index].compare_exchange_strong(mine, 0, std::memory_order_release, rlx);
}

ForestTotals forest_totals(Region* r) noexcept {
    ForestTotals t{};
    ForestEntry* e = forest_entries(r);
    for (uint32_t i = 0; i < r->nforests; ++i) {
        if (e[i].state.load(std::memory_order_acquire) == FOREST_FREE) continue;
        ++t.forests;
        t.bytes += e[i].size.load(rlx);
    }
    t.in_place = r->forest_counters.in_place.load(rlx);
    for (uint32_t i = 0; i < r->ncounters; ++i) t.in_place += backend_counters(r)[i].in_place.load(rlx);
    return t;
}

}  // namespace pgml::shm
