// The shared-memory forest table (src/shmem/forests.*): the entry life
// (FREE -> BUILDING -> READY -> RETIRED -> FREE), pins and generations, the
// first-fit arena allocator, totals, in-place scoring tokens, and readers
// pinning a forest while the worker replaces it over and over.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "common.hpp"
#include "shmem/clock.hpp"

namespace pgml::unit {
namespace {

using shm::ForestRef;
using shm::kNoForest;

uint64_t rounded(uint64_t n) { return (n + shm::kForestArenaAlign - 1) / shm::kForestArenaAlign * shm::kForestArenaAlign; }

shm::ForestEntry& entry(shm::Region* r, uint32_t i) { return shm::forest_entries(r)[i]; }
uint32_t state_of(shm::Region* r, uint32_t i) { return entry(r, i).state.load(); }
uint32_t pins_of(shm::Region* r, uint32_t i) { return entry(r, i).pins.load(); }
uint64_t offset_of(shm::Region* r, uint32_t i) { return entry(r, i).offset.load(); }

// Bytes seed, seed + 31, seed + 62, ... (mod 256), so a shifted or
// overwritten block does not pass for another.
void fill_bytes(void* p, uint64_t size, uint8_t seed) {
    auto* b = static_cast<uint8_t*>(p);
    for (uint64_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(seed + 31 * i);
}
::testing::AssertionResult bytes_are(const void* p, uint64_t size, uint8_t seed) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (uint64_t i = 0; i < size; ++i)
        if (b[i] != static_cast<uint8_t>(seed + 31 * i))
            return ::testing::AssertionFailure() << "byte " << i << " of " << size << " is " << int(b[i])
                                                 << ", expected " << int(static_cast<uint8_t>(seed + 31 * i));
    return ::testing::AssertionSuccess();
}

// reserve + fill + publish; kNoForest (and a test failure) if it did not fit.
uint32_t make_forest(shm::Region* r, uint32_t db, int64_t model_id, uint64_t size, uint8_t seed,
                     uint32_t stat_index = 0) {
    const uint32_t i = shm::reserve_forest(r, db, model_id, size);
    EXPECT_NE(i, kNoForest) << "reserve of " << size << " bytes failed";
    if (i == kNoForest) return i;
    fill_bytes(shm::forest_bytes(r, i), size, seed);
    shm::publish_forest(r, i, stat_index);
    return i;
}

struct Range {
    uint64_t begin, end;
    uint32_t index;
};
// The (rounded) ranges of the entries that are not FREE, by offset.
std::vector<Range> occupied(shm::Region* r) {
    std::vector<Range> v;
    for (uint32_t i = 0; i < r->nforests; ++i)
        if (state_of(r, i) != shm::FOREST_FREE)
            v.push_back({offset_of(r, i), offset_of(r, i) + rounded(entry(r, i).size.load()), i});
    std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
    return v;
}

// Every entry that is not FREE: 64-byte aligned, inside the arena, and
// overlapping no other (every pair compared).
::testing::AssertionResult arena_consistent(shm::Region* r) {
    for (uint32_t i = 0; i < r->nforests; ++i) {
        if (state_of(r, i) == shm::FOREST_FREE) continue;
        const uint64_t b = offset_of(r, i), s = entry(r, i).size.load();
        if (b % shm::kForestArenaAlign != 0)
            return ::testing::AssertionFailure() << "entry " << i << " at offset " << b << " is not 64-byte aligned";
        if (s == 0 || b + rounded(s) > r->arena_size)
            return ::testing::AssertionFailure() << "entry " << i << " [" << b << ", +" << s
                                                 << ") is not inside the arena of " << r->arena_size;
        for (uint32_t j = i + 1; j < r->nforests; ++j) {
            if (state_of(r, j) == shm::FOREST_FREE) continue;
            const uint64_t b2 = offset_of(r, j), s2 = entry(r, j).size.load();
            if (b < b2 + rounded(s2) && b2 < b + rounded(s))
                return ::testing::AssertionFailure() << "entries " << i << " [" << b << ", +" << s << ") and " << j
                                                     << " [" << b2 << ", +" << s2 << ") overlap";
        }
    }
    return ::testing::AssertionSuccess();
}

// Where first fit must put size bytes now, or UINT64_MAX if no gap fits.
uint64_t first_fit(shm::Region* r, uint64_t size) {
    uint64_t at = 0;
    for (const Range& g : occupied(r)) {
        if (at + size <= g.begin) return at;
        at = std::max(at, g.end);
    }
    return at + size <= r->arena_size ? at : UINT64_MAX;
}

uint32_t first_free_entry(shm::Region* r) {
    for (uint32_t i = 0; i < r->nforests; ++i)
        if (state_of(r, i) == shm::FOREST_FREE) return i;
    return kNoForest;
}

// --- 1. the normal life

TEST(ForestTable, ReservePublishFindPinUnpin) {
    TestRegion r(1, 4, 4, 64 * 1024);
    EXPECT_EQ(r->nforests, 8u);
    EXPECT_EQ(r->arena_size, 64u * 1024);
    EXPECT_EQ(r->arena_offset % shm::kForestArenaAlign, 0u);

    const uint32_t i = shm::reserve_forest(r, 7, 42, 1000);
    ASSERT_NE(i, kNoForest);
    EXPECT_EQ(state_of(r, i), shm::FOREST_BUILDING);
    void* bytes = shm::forest_bytes(r, i);
    ASSERT_NE(bytes, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes) % shm::kForestArenaAlign, 0u);
    EXPECT_GE(static_cast<char*>(bytes), shm::forest_arena(r));
    EXPECT_LE(static_cast<char*>(bytes) + 1000, shm::forest_arena(r) + r->arena_size);
    fill_bytes(bytes, 1000, 5);
    shm::publish_forest(r, i, 3);
    EXPECT_EQ(state_of(r, i), shm::FOREST_READY);

    const ForestRef ref = shm::find_forest(r, 7, 42);
    EXPECT_EQ(ref.index, i);
    EXPECT_NE(ref.generation, 0u);
    EXPECT_EQ(ref.generation, entry(r, i).generation.load());

    uint64_t size = 0;
    uint32_t stat = kNoForest;
    const void* p = shm::pin_forest(r, ref, &size, &stat);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p, bytes);
    EXPECT_EQ(size, 1000u);
    EXPECT_EQ(stat, 3u);
    EXPECT_EQ(pins_of(r, i), 1u);
    EXPECT_EQ(entry(r, i).uses.load(), 1u);
    EXPECT_TRUE(bytes_are(p, 1000, 5));
    // Null out-parameters are allowed.
    const void* p2 = shm::pin_forest(r, ref, nullptr, nullptr);
    EXPECT_EQ(p2, bytes);
    EXPECT_EQ(pins_of(r, i), 2u);
    EXPECT_EQ(entry(r, i).uses.load(), 2u);
    shm::unpin_forest(r, ref);
    shm::unpin_forest(r, ref);
    EXPECT_EQ(pins_of(r, i), 0u);
    EXPECT_EQ(state_of(r, i), shm::FOREST_READY);  // unpinning does not retire

    // Another database or model id: nothing.
    for (auto [db, id] : {std::pair<uint32_t, int64_t>{8, 42}, {7, 43}, {0, 42}, {7, 0}}) {
        const ForestRef none = shm::find_forest(r, db, id);
        EXPECT_EQ(none.generation, 0u) << db << "/" << id;
        EXPECT_EQ(none.index, kNoForest) << db << "/" << id;
        EXPECT_EQ(shm::pin_forest(r, none, &size, &stat), nullptr);
    }

    // A second forest is found apart from the first, with its own bytes.
    const uint32_t j = make_forest(r, 7, 43, 200, 99, 4);
    ASSERT_NE(j, kNoForest);
    EXPECT_NE(j, i);
    const ForestRef ref2 = shm::find_forest(r, 7, 43);
    EXPECT_EQ(ref2.index, j);
    EXPECT_GT(ref2.generation, ref.generation);
    const void* q = shm::pin_forest(r, ref2, &size, &stat);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(size, 200u);
    EXPECT_EQ(stat, 4u);
    EXPECT_TRUE(bytes_are(q, 200, 99));
    shm::unpin_forest(r, ref2);
    EXPECT_EQ(shm::find_forest(r, 7, 42).index, i);
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, i), 1000, 5));
    EXPECT_TRUE(arena_consistent(r));
}

TEST(ForestTable, NothingFitsANoArenaOrAnEmptyOrHugeForest) {
    {
        TestRegion r(1, 4, 4);  // forest_memory 0
        EXPECT_EQ(r->arena_size, 0u);
        EXPECT_EQ(shm::reserve_forest(r, 1, 1, 1), kNoForest);
        EXPECT_EQ(shm::forest_totals(r).forests, 0u);
    }
    TestRegion r(1, 4, 4, 4096);
    EXPECT_EQ(shm::reserve_forest(r, 1, 1, 0), kNoForest);
    EXPECT_EQ(shm::reserve_forest(r, 1, 1, 4097), kNoForest);
    EXPECT_EQ(shm::reserve_forest(r, 1, 1, UINT64_MAX), kNoForest);  // at + size wraps
    EXPECT_EQ(shm::reserve_forest(r, 1, 1, UINT64_MAX - 10), kNoForest);
    EXPECT_EQ(shm::forest_totals(r).forests, 0u);
    const uint32_t i = shm::reserve_forest(r, 1, 1, 4096);  // exactly the arena
    ASSERT_NE(i, kNoForest);
    EXPECT_EQ(offset_of(r, i), 0u);
    EXPECT_EQ(shm::reserve_forest(r, 1, 2, 1), kNoForest);
}

// --- 2. only a READY forest at the generation the reader found is pinned

TEST(ForestTable, OnlyReadyAtItsGenerationCanBePinned) {
    TestRegion r(1, 4, 4, 4096);
    const uint32_t b = shm::reserve_forest(r, 1, 1, 100);
    ASSERT_NE(b, kNoForest);
    fill_bytes(shm::forest_bytes(r, b), 100, 1);
    EXPECT_EQ(state_of(r, b), shm::FOREST_BUILDING);
    EXPECT_EQ(shm::find_forest(r, 1, 1).generation, 0u);
    // Forged refs: generation 0, and the generation publish is about to give.
    const uint64_t next = r->forest_counters.next_generation.load() + 1;
    EXPECT_EQ(shm::pin_forest(r, ForestRef{b, 0}, nullptr, nullptr), nullptr);
    EXPECT_EQ(shm::pin_forest(r, ForestRef{b, next}, nullptr, nullptr), nullptr);
    EXPECT_EQ(pins_of(r, b), 0u);  // a refused pin is let go

    shm::publish_forest(r, b, 0);
    const ForestRef ref = shm::find_forest(r, 1, 1);
    EXPECT_EQ(ref.index, b);
    EXPECT_EQ(ref.generation, next);
    ASSERT_NE(shm::pin_forest(r, ref, nullptr, nullptr), nullptr);
    shm::unpin_forest(r, ref);
    // A ref of the right entry with a wrong generation.
    EXPECT_EQ(shm::pin_forest(r, ForestRef{b, next + 1}, nullptr, nullptr), nullptr);
    EXPECT_EQ(pins_of(r, b), 0u);

    // Retired: not found, not pinned.
    shm::retire_forest(r, b);
    EXPECT_EQ(state_of(r, b), shm::FOREST_RETIRED);
    EXPECT_EQ(shm::find_forest(r, 1, 1).generation, 0u);
    EXPECT_EQ(shm::pin_forest(r, ref, nullptr, nullptr), nullptr);
    EXPECT_EQ(pins_of(r, b), 0u);
    shm::retire_forest(r, b);  // twice is harmless
    EXPECT_EQ(state_of(r, b), shm::FOREST_RETIRED);

    // Collected, then the same entry reserved and published for another
    // model: the old ref's generation is stale.
    EXPECT_EQ(shm::collect_forests(r), 1u);
    EXPECT_EQ(state_of(r, b), shm::FOREST_FREE);
    EXPECT_EQ(shm::pin_forest(r, ref, nullptr, nullptr), nullptr);
    shm::retire_forest(r, b);  // retiring a FREE entry leaves it FREE
    EXPECT_EQ(state_of(r, b), shm::FOREST_FREE);
    const uint32_t c = make_forest(r, 1, 2, 100, 2);
    ASSERT_EQ(c, b) << "the freed entry should be the one reused";
    EXPECT_EQ(offset_of(r, c), offset_of(r, b));
    const ForestRef ref2 = shm::find_forest(r, 1, 2);
    EXPECT_EQ(ref2.index, b);
    EXPECT_GT(ref2.generation, ref.generation);
    EXPECT_EQ(shm::pin_forest(r, ref, nullptr, nullptr), nullptr) << "a stale generation was pinned";
    EXPECT_EQ(pins_of(r, b), 0u);
    EXPECT_EQ(shm::find_forest(r, 1, 1).generation, 0u);
    const void* p = shm::pin_forest(r, ref2, nullptr, nullptr);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(bytes_are(p, 100, 2));
    shm::unpin_forest(r, ref2);

    // Retired while BUILDING: publish leaves it retired; never findable.
    const uint32_t d = shm::reserve_forest(r, 1, 3, 100);
    ASSERT_NE(d, kNoForest);
    shm::retire_forest(r, d);
    EXPECT_EQ(state_of(r, d), shm::FOREST_RETIRED);
    shm::publish_forest(r, d, 0);
    EXPECT_EQ(state_of(r, d), shm::FOREST_RETIRED);
    EXPECT_EQ(shm::find_forest(r, 1, 3).generation, 0u);
    EXPECT_EQ(shm::pin_forest(r, ForestRef{d, entry(r, d).generation.load()}, nullptr, nullptr), nullptr);
    EXPECT_EQ(pins_of(r, d), 0u);

    // Indices out of range are refused, not followed.
    EXPECT_EQ(shm::pin_forest(r, ForestRef{r->nforests, ref2.generation}, nullptr, nullptr), nullptr);
    EXPECT_EQ(shm::pin_forest(r, ForestRef{kNoForest, ref2.generation}, nullptr, nullptr), nullptr);
    shm::retire_forest(r, r->nforests);
    shm::retire_forest(r, kNoForest);
    EXPECT_EQ(state_of(r, c), shm::FOREST_READY);
}

// --- 3. pins hold memory

TEST(ForestTable, PinsHoldMemory) {
    TestRegion r(1, 4, 2, 4096);  // 4 entries
    const uint32_t a = make_forest(r, 1, 1, 1000, 11);
    ASSERT_NE(a, kNoForest);
    EXPECT_EQ(offset_of(r, a), 0u);
    const ForestRef ref = shm::find_forest(r, 1, 1);
    const void* p = shm::pin_forest(r, ref, nullptr, nullptr);  // two readers
    const void* p2 = shm::pin_forest(r, ref, nullptr, nullptr);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(p2, p);

    shm::retire_forest(r, a);
    EXPECT_EQ(shm::collect_forests(r), 0u);
    EXPECT_EQ(state_of(r, a), shm::FOREST_RETIRED);
    EXPECT_EQ(shm::forest_totals(r).forests, 1u);
    EXPECT_EQ(shm::forest_totals(r).bytes, 1000u);

    // The replacement goes elsewhere and does not touch the pinned bytes.
    const uint32_t b = shm::reserve_forest(r, 1, 1, 1000);
    ASSERT_NE(b, kNoForest);
    EXPECT_NE(b, a);
    EXPECT_TRUE(offset_of(r, b) >= offset_of(r, a) + rounded(1000) || offset_of(r, b) + rounded(1000) <= offset_of(r, a))
        << "new forest at " << offset_of(r, b) << " overlaps the pinned one at " << offset_of(r, a);
    EXPECT_EQ(offset_of(r, b), rounded(1000));  // first fit: right after it
    fill_bytes(shm::forest_bytes(r, b), 1000, 22);
    shm::publish_forest(r, b, 0);
    EXPECT_TRUE(arena_consistent(r));
    EXPECT_TRUE(bytes_are(p, 1000, 11));
    EXPECT_EQ(shm::find_forest(r, 1, 1).index, b);

    shm::unpin_forest(r, ref);
    EXPECT_EQ(shm::collect_forests(r), 0u) << "freed while one reader still pins it";
    EXPECT_EQ(state_of(r, a), shm::FOREST_RETIRED);
    EXPECT_TRUE(bytes_are(p2, 1000, 11));
    shm::unpin_forest(r, ref);
    EXPECT_EQ(pins_of(r, a), 0u);
    EXPECT_EQ(shm::collect_forests(r), 1u);
    EXPECT_EQ(state_of(r, a), shm::FOREST_FREE);
    EXPECT_EQ(shm::collect_forests(r), 0u);
    EXPECT_EQ(shm::forest_totals(r).forests, 1u);

    // Its space is reused.
    const uint32_t c = make_forest(r, 1, 2, 1000, 33);
    ASSERT_NE(c, kNoForest);
    EXPECT_EQ(offset_of(r, c), 0u);
    EXPECT_TRUE(arena_consistent(r));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, b), 1000, 22));
}

// --- 4. the allocator

TEST(ForestTable, FirstFitFillsTheArenaAndReusesGaps) {
    TestRegion r(1, 4, 4, 6400);  // 8 entries
    ASSERT_EQ(r->arena_size, 6400u);
    // Rounded: 1024 + 512 + 2048 + 128 + 2688 = 6400, the whole arena.
    const uint64_t sizes[] = {1000, 500, 2000, 100, 2688};
    const uint64_t offsets[] = {0, 1024, 1536, 3584, 3712};
    uint32_t idx[5];
    for (int k = 0; k < 5; ++k) {
        idx[k] = make_forest(r, 1, k + 1, sizes[k], static_cast<uint8_t>(k));
        ASSERT_NE(idx[k], kNoForest);
        EXPECT_EQ(offset_of(r, idx[k]), offsets[k]) << "forest " << k;
        EXPECT_TRUE(arena_consistent(r));
    }
    EXPECT_EQ(shm::reserve_forest(r, 1, 9, 1), kNoForest) << "the arena is full";
    EXPECT_EQ(shm::forest_totals(r).forests, 5u);
    EXPECT_EQ(shm::forest_totals(r).bytes, 1000u + 500 + 2000 + 100 + 2688);

    // Free the 512 at 1024 and the 128 at 3584 (reserve collects them).
    shm::retire_forest(r, idx[1]);
    shm::retire_forest(r, idx[3]);
    EXPECT_EQ(shm::reserve_forest(r, 1, 9, 513), kNoForest) << "no gap holds 513 bytes";
    EXPECT_EQ(state_of(r, idx[1]), shm::FOREST_FREE);
    EXPECT_EQ(state_of(r, idx[3]), shm::FOREST_FREE);
    // First fit, not best fit: 100 bytes go into the first gap (1024), not
    // the exact 128 at 3584.
    const uint32_t s1 = make_forest(r, 1, 10, 100, 50);
    ASSERT_NE(s1, kNoForest);
    EXPECT_EQ(offset_of(r, s1), 1024u);
    EXPECT_EQ(shm::reserve_forest(r, 1, 11, 400), kNoForest) << "384 and 128 bytes left: 400 fits neither";
    const uint32_t s2 = make_forest(r, 1, 11, 384, 51);
    ASSERT_NE(s2, kNoForest);
    EXPECT_EQ(offset_of(r, s2), 1152u);
    const uint32_t s3 = make_forest(r, 1, 12, 128, 52);
    ASSERT_NE(s3, kNoForest);
    EXPECT_EQ(offset_of(r, s3), 3584u);
    EXPECT_EQ(shm::reserve_forest(r, 1, 13, 1), kNoForest) << "full again";
    EXPECT_TRUE(arena_consistent(r));

    // Freeing the middle 2048 lets a forest of that size in again, there.
    shm::retire_forest(r, idx[2]);
    EXPECT_EQ(shm::reserve_forest(r, 1, 14, 2049), kNoForest);
    const uint32_t s4 = make_forest(r, 1, 14, 2048, 53);
    ASSERT_NE(s4, kNoForest);
    EXPECT_EQ(offset_of(r, s4), 1536u);
    EXPECT_TRUE(arena_consistent(r));

    // Nobody's bytes were touched by their neighbours.
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, idx[0]), 1000, 0));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, idx[4]), 2688, 4));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, s1), 100, 50));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, s2), 384, 51));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, s3), 128, 52));
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, s4), 2048, 53));
}

TEST(ForestTable, ReserveFailsWhenEveryEntryIsInUse) {
    TestRegion r(1, 4, 4, 64 * 64);  // 8 entries, room for 64 forests of 64 bytes
    ASSERT_EQ(r->nforests, 8u);
    std::vector<uint32_t> idx;
    std::vector<ForestRef> refs;
    for (int k = 0; k < 8; ++k) {
        const uint32_t i = shm::reserve_forest(r, 1, k, 64);
        ASSERT_NE(i, kNoForest) << "entry " << k;
        idx.push_back(i);
    }
    // 0-2 READY, 3-4 BUILDING, 5-7 READY, pinned and retired.
    for (int k : {0, 1, 2, 5, 6, 7}) shm::publish_forest(r, idx[k], 0);
    for (int k : {5, 6, 7}) {
        refs.push_back(shm::find_forest(r, 1, k));
        ASSERT_NE(shm::pin_forest(r, refs.back(), nullptr, nullptr), nullptr);
        shm::retire_forest(r, idx[k]);
    }
    EXPECT_EQ(shm::reserve_forest(r, 1, 100, 64), kNoForest) << "all 8 entries in use";
    EXPECT_EQ(shm::forest_totals(r).forests, 8u);
    EXPECT_LT(shm::forest_totals(r).bytes, r->arena_size);  // the arena had room
    EXPECT_TRUE(arena_consistent(r));

    shm::unpin_forest(r, refs[1]);  // entry 6's last reader
    const uint32_t n = shm::reserve_forest(r, 1, 100, 64);
    EXPECT_EQ(n, idx[6]);
    EXPECT_EQ(offset_of(r, n), 6u * 64);  // the first gap is the one it left
    EXPECT_EQ(shm::reserve_forest(r, 1, 101, 64), kNoForest);
    EXPECT_TRUE(arena_consistent(r));
    shm::unpin_forest(r, refs[0]);
    shm::unpin_forest(r, refs[2]);
    EXPECT_EQ(shm::collect_forests(r), 2u);
    EXPECT_EQ(shm::forest_totals(r).forests, 6u);
}

// Random reserves, publishes, retires, pins and unpins against a model of
// the table: every reserve lands where first fit says (and fails only when
// no entry is free or no gap fits), collect frees exactly the retired
// entries nobody pins, nothing overlaps, and no forest's bytes change.
TEST(ForestTable, RandomReservesAreFirstFitAndNeverOverlap) {
    TestRegion r(1, 4, 4, 8192);  // 8 entries
    const uint32_t n = r->nforests;
    struct Model {
        uint32_t state = shm::FOREST_FREE;
        uint32_t pins = 0;
        uint64_t size = 0;
        uint8_t seed = 0;
        ForestRef ref;
    };
    std::vector<Model> m(n);
    std::mt19937 rng(20240611);
    uint64_t ok = 0, no_entry = 0, no_gap = 0, freed_pinned_later = 0;
    auto pick = [&](auto pred) -> uint32_t {
        std::vector<uint32_t> c;
        for (uint32_t i = 0; i < n; ++i)
            if (pred(m[i])) c.push_back(i);
        return c.empty() ? kNoForest : c[rng() % c.size()];
    };
    auto collect_model = [&] {
        for (uint32_t i = 0; i < n; ++i)
            if (m[i].state == shm::FOREST_RETIRED && m[i].pins == 0) m[i].state = shm::FOREST_FREE;
    };
    for (int step = 0; step < 6000; ++step) {
        const int op = static_cast<int>(rng() % 10);
        if (op < 4) {
            const uint64_t size = 1 + rng() % 2500;
            // reserve collects first; do it here so the expectation sees what
            // reserve will see.
            shm::collect_forests(r);
            collect_model();
            const uint32_t want_entry = first_free_entry(r);
            const uint64_t want_at = first_fit(r, size);
            const uint32_t i = shm::reserve_forest(r, 1, step, size);
            if (want_entry == kNoForest || want_at == UINT64_MAX) {
                ASSERT_EQ(i, kNoForest) << "step " << step << ": " << size << " bytes should not fit";
                ++(want_entry == kNoForest ? no_entry : no_gap);
            } else {
                ASSERT_EQ(i, want_entry) << "step " << step;
                ASSERT_EQ(offset_of(r, i), want_at) << "step " << step << ": not first fit for " << size;
                m[i] = Model{shm::FOREST_BUILDING, 0, size, static_cast<uint8_t>(rng()), {}};
                fill_bytes(shm::forest_bytes(r, i), size, m[i].seed);
                ++ok;
            }
        } else if (op < 6) {
            const uint32_t i = pick([](const Model& e) { return e.state == shm::FOREST_BUILDING; });
            if (i != kNoForest) {
                shm::publish_forest(r, i, i);
                m[i].state = shm::FOREST_READY;
                m[i].ref = ForestRef{i, entry(r, i).generation.load()};
                ASSERT_EQ(shm::find_forest(r, 1, entry(r, i).model_id.load()).index, i);
            }
        } else if (op < 8) {
            const uint32_t i = pick([](const Model& e) {
                return e.state == shm::FOREST_BUILDING || e.state == shm::FOREST_READY;
            });
            if (i != kNoForest) {
                shm::retire_forest(r, i);
                m[i].state = shm::FOREST_RETIRED;
                if (m[i].pins) ++freed_pinned_later;
            }
        } else if (op < 9) {
            const uint32_t i = pick([](const Model& e) { return e.state == shm::FOREST_READY && e.pins < 3; });
            if (i != kNoForest) {
                uint64_t size = 0;
                const void* p = shm::pin_forest(r, m[i].ref, &size, nullptr);
                ASSERT_NE(p, nullptr) << "step " << step;
                ASSERT_EQ(size, m[i].size);
                ++m[i].pins;
            }
        } else {
            const uint32_t i = pick([](const Model& e) { return e.pins > 0; });
            if (i != kNoForest) {
                shm::unpin_forest(r, m[i].ref);
                --m[i].pins;
            }
        }
        // The table matches the model; the arena is consistent; every
        // forest not FREE keeps its bytes.
        for (uint32_t i = 0; i < n; ++i) {
            ASSERT_EQ(state_of(r, i), m[i].state) << "step " << step << " entry " << i;
            ASSERT_EQ(pins_of(r, i), m[i].pins) << "step " << step << " entry " << i;
            if (m[i].state != shm::FOREST_FREE) {
                ASSERT_TRUE(bytes_are(shm::forest_bytes(r, i), m[i].size, m[i].seed)) << "step " << step << " entry " << i;
            }
        }
        ASSERT_TRUE(arena_consistent(r)) << "step " << step;
    }
    // Every path was taken.
    EXPECT_GT(ok, 100u);
    EXPECT_GT(no_entry, 0u);
    EXPECT_GT(no_gap, 0u);
    EXPECT_GT(freed_pinned_later, 0u);
}

// --- 5. a new worker, and the totals

TEST(ForestTable, RetireAllAndTotals) {
    TestRegion r(1, 4, 4, 8192);
    EXPECT_EQ(shm::forest_totals(r).forests, 0u);
    EXPECT_EQ(shm::forest_totals(r).bytes, 0u);
    const uint32_t a = make_forest(r, 1, 1, 1000, 1);
    const uint32_t c = make_forest(r, 2, 1, 200, 3);
    const uint32_t d = make_forest(r, 1, 3, 64, 4);
    const uint32_t b = shm::reserve_forest(r, 1, 2, 300);  // BUILDING
    ASSERT_NE(a, kNoForest);
    ASSERT_NE(b, kNoForest);
    ASSERT_NE(c, kNoForest);
    ASSERT_NE(d, kNoForest);
    shm::retire_forest(r, d);  // RETIRED, not yet collected
    const ForestRef cref = shm::find_forest(r, 2, 1);
    ASSERT_NE(shm::pin_forest(r, cref, nullptr, nullptr), nullptr);
    r->forest_counters.in_place.store(7);

    shm::ForestTotals t = shm::forest_totals(r);
    EXPECT_EQ(t.forests, 4u);
    EXPECT_EQ(t.bytes, 1000u + 300 + 200 + 64);  // sizes asked for, not rounded
    EXPECT_EQ(t.in_place, 7u);
    const uint64_t last_gen = r->forest_counters.next_generation.load();
    EXPECT_EQ(last_gen, 3u);

    shm::retire_all_forests(r);
    for (uint32_t i = 0; i < r->nforests; ++i) {
        EXPECT_NE(state_of(r, i), shm::FOREST_READY) << i;
        EXPECT_NE(state_of(r, i), shm::FOREST_BUILDING) << i;
    }
    EXPECT_EQ(state_of(r, a), shm::FOREST_FREE);
    EXPECT_EQ(state_of(r, b), shm::FOREST_FREE);
    EXPECT_EQ(state_of(r, d), shm::FOREST_FREE);
    EXPECT_EQ(state_of(r, c), shm::FOREST_RETIRED) << "a pinned forest must outlive retire_all";
    EXPECT_EQ(shm::find_forest(r, 1, 1).generation, 0u);
    EXPECT_EQ(shm::find_forest(r, 2, 1).generation, 0u);
    EXPECT_EQ(shm::pin_forest(r, cref, nullptr, nullptr), nullptr);
    EXPECT_TRUE(bytes_are(shm::forest_bytes(r, c), 200, 3));
    t = shm::forest_totals(r);
    EXPECT_EQ(t.forests, 1u);
    EXPECT_EQ(t.bytes, 200u);
    EXPECT_EQ(t.in_place, 7u);

    shm::unpin_forest(r, cref);
    EXPECT_EQ(shm::collect_forests(r), 1u);
    t = shm::forest_totals(r);
    EXPECT_EQ(t.forests, 0u);
    EXPECT_EQ(t.bytes, 0u);

    // The next worker's generations carry on; nothing is reused.
    const uint32_t e = make_forest(r, 1, 1, 100, 5);
    ASSERT_NE(e, kNoForest);
    EXPECT_GT(shm::find_forest(r, 1, 1).generation, last_gen);
    EXPECT_EQ(shm::forest_totals(r).forests, 1u);
    EXPECT_EQ(shm::forest_totals(r).bytes, 100u);
}

// --- 6. in-place scoring tokens

// Tokens at a fixed clock: none is ever stale (stale_ns far away).
constexpr uint64_t kNow = 1'000'000'001;  // odd: a token taken at it is stamped with it
constexpr uint64_t kNeverStale = ~uint64_t{0};

uint32_t tokens_free(shm::Region* r) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->forest_counters.ntokens; ++i) n += r->forest_counters.token_since[i].load() == 0;
    return n;
}

TEST(ForestTable, TokensAreCounted) {
    TestRegion r(1, 4, 4, 0, 2);
    auto a = shm::take_token(r, kNow, kNeverStale);
    auto b = shm::take_token(r, kNow, kNeverStale);
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
    EXPECT_NE(a.index, b.index);
    EXPECT_FALSE(shm::take_token(r, kNow, kNeverStale));
    EXPECT_FALSE(shm::take_token(r, kNow + 5, kNeverStale));
    shm::return_token(r, a);
    auto c = shm::take_token(r, kNow, kNeverStale);
    EXPECT_TRUE(c);
    EXPECT_FALSE(shm::take_token(r, kNow, kNeverStale));
    shm::return_token(r, b);
    shm::return_token(r, c);
    shm::return_token(r, shm::TokenHeld{});  // none held: nothing changes
    EXPECT_EQ(tokens_free(r), 2u);

    TestRegion none(1, 4, 4, 0, 0);
    EXPECT_FALSE(shm::take_token(none, kNow, kNeverStale));
    TestRegion deflt(1);
    EXPECT_TRUE(shm::take_token(deflt, kNow, kNeverStale));  // one by default
    EXPECT_FALSE(shm::take_token(deflt, kNow, kNeverStale));
    TestRegion many(1, 4, 4, 0, 100000);
    EXPECT_EQ(many->forest_counters.ntokens, shm::kMaxTokens);
}

// A token held longer than stale_ns is taken over; its first holder's late
// return leaves it to the new holder; a clock that went backwards or a
// token taken at this very nanosecond is never stale.
TEST(ForestTable, StaleTokensAreTakenOverOnce) {
    TestRegion r(1, 4, 4, 0, 1);
    auto first = shm::take_token(r, kNow, 100);
    ASSERT_TRUE(first);
    EXPECT_FALSE(shm::take_token(r, kNow + 100, 100));  // held exactly stale_ns: not yet
    EXPECT_FALSE(shm::take_token(r, kNow - 1000, 100));  // clock behind the stamp
    auto second = shm::take_token(r, kNow + 101, 100);
    ASSERT_TRUE(second);
    EXPECT_EQ(second.index, first.index);
    EXPECT_NE(second.since, first.since);
    shm::return_token(r, first);  // the descheduled holder comes back
    EXPECT_EQ(tokens_free(r), 0u);
    EXPECT_FALSE(shm::take_token(r, kNow + 150, 100));
    shm::return_token(r, second);
    EXPECT_EQ(tokens_free(r), 1u);
    auto third = shm::take_token(r, kNow + 150, 100);
    EXPECT_TRUE(third);
    shm::return_token(r, first);  // a stale return again: still not its to free
    EXPECT_EQ(tokens_free(r), 0u);
    shm::return_token(r, third);
    EXPECT_EQ(tokens_free(r), 1u);
}

// Threads take and return tokens with the real clock and a stale time no
// walk here reaches: never more holders than tokens, and every token is
// free at the end.
TEST(ForestTable, TokensNeverOverbookedUnderContention) {
    TestRegion r(1, 4, 4, 0, 2);
    std::atomic<int> holders{0}, most{0};
    std::atomic<uint64_t> taken{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int k = 0; k < 20000; ++k) {
                auto held = shm::take_token(r, shm::steady_ns(), uint64_t{60} * 1000 * 1000 * 1000);
                if (!held) continue;
                const int h = holders.fetch_add(1) + 1;
                int m = most.load();
                while (h > m && !most.compare_exchange_weak(m, h)) {
                }
                taken.fetch_add(1);
                holders.fetch_sub(1);
                shm::return_token(r, held);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_LE(most.load(), 2);
    EXPECT_GT(taken.load(), 0u);
    EXPECT_EQ(tokens_free(r), 2u);

    // Every token stale at once (stale_ns 0): holders take each other's
    // over all the time, and still none is left taken at the end.
    ts.clear();
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int k = 0; k < 20000; ++k) {
                auto held = shm::take_token(r, shm::steady_ns(), 0);
                if (!held) continue;
                taken.fetch_add(1);
                shm::return_token(r, held);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(tokens_free(r), 2u);
}

// --- 7. readers against a worker replacing the forest

// Three readers find and pin model 1's forest and read all of it while the
// main thread retires it, collects, reserves a new one (of the same or
// another size), fills it and publishes, thousands of times. Every 8-byte
// word of a forest holds its generation, so a reader whose pinned memory
// was freed and reused sees another generation's words.
TEST(ForestTable, ReadersNeverSeeMemoryReusedUnderThem) {
    constexpr int kReaders = 3;
    TestRegion r(1, 4, 4, 256 * 1024);  // 8 entries; readers pin at most 3 retired
    struct Seen {
        uint64_t pins = 0, misses = 0, generations = 0;
        uint64_t bad = 0, bad_pinned = 0, bad_word = 0, bad_at = 0;
        uint64_t backwards = 0, bad_stat = 0, bad_size = 0;
    };
    std::vector<Seen> seen(kReaders);
    std::atomic<bool> stop{false};

    auto reader = [&](int id) {
        Seen& s = seen[id];
        std::minstd_rand rng(id + 1);
        uint64_t last = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const ForestRef ref = shm::find_forest(r, 1, 1);
            uint64_t size = 0;
            uint32_t stat = 0;
            const void* p = shm::pin_forest(r, ref, &size, &stat);
            if (p == nullptr) {
                ++s.misses;
                if (s.misses % 16 == 0) std::this_thread::yield();
                continue;
            }
            ++s.pins;
            if (ref.generation < last) ++s.backwards;
            if (ref.generation != last) ++s.generations;
            last = ref.generation;
            if (stat != static_cast<uint32_t>(ref.generation)) ++s.bad_stat;
            if (size % 8 != 0 || size < 1024) ++s.bad_size;
            const volatile uint64_t* w = static_cast<const volatile uint64_t*>(p);
            const uint64_t words = size / 8;
            // Now and then read it again, or hold the pin across a yield
            // and read it again.
            const uint32_t dice = rng() % 8;
            const int passes = dice < 2 ? 2 : dice < 4 ? 3 : 1;
            for (int pass = 0; pass < passes; ++pass) {
                if (pass && dice < 2) std::this_thread::yield();
                for (uint64_t i = 0; i < words; ++i) {
                    const uint64_t v = w[i];
                    if (v != ref.generation) {
                        if (s.bad++ == 0) {
                            s.bad_pinned = ref.generation;
                            s.bad_word = v;
                            s.bad_at = i;
                        }
                        break;
                    }
                }
            }
            shm::unpin_forest(r, ref);
        }
    };
    std::vector<std::thread> ts;
    for (int i = 0; i < kReaders; ++i) ts.emplace_back(reader, i);

    // The worker's main thread.
    std::mt19937 rng(99);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::milliseconds(1500);
    uint32_t cur = kNoForest;
    uint64_t size = 0, iterations = 0, full = 0, wrong_gen = 0;
    bool stuck = false;
    for (; iterations < 50000 && std::chrono::steady_clock::now() < deadline && !stuck; ++iterations) {
        if (cur != kNoForest) shm::retire_forest(r, cur);
        shm::collect_forests(r);
        if (cur == kNoForest || rng() % 3 != 0) size = 8 * (128 + rng() % 2048);  // 1-17 KB
        uint32_t i;
        while ((i = shm::reserve_forest(r, 1, 1, size)) == kNoForest) {
            ++full;
            if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(5)) {
                stuck = true;
                break;
            }
            std::this_thread::yield();
        }
        if (stuck) break;
        // Only this thread publishes, so the generation publish will give is
        // the next one.
        const uint64_t gen = r->forest_counters.next_generation.load() + 1;
        auto* w = static_cast<uint64_t*>(shm::forest_bytes(r, i));
        std::fill(w, w + size / 8, gen);
        shm::publish_forest(r, i, static_cast<uint32_t>(gen));
        if (entry(r, i).generation.load() != gen) ++wrong_gen;
        cur = i;
        if (rng() % 8 == 0) std::this_thread::yield();  // let readers pin this one
    }
    stop.store(true);
    for (auto& t : ts) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    EXPECT_FALSE(stuck) << "reserve kept failing (a pin never let go?)";
    EXPECT_EQ(wrong_gen, 0u) << "publish gave an unexpected generation";
    EXPECT_GE(iterations, 2000u) << "too few replacements in " << secs << " s";
    uint64_t pins = 0;
    for (int i = 0; i < kReaders; ++i) {
        const Seen& s = seen[i];
        EXPECT_EQ(s.bad, 0u) << "reader " << i << " pinned generation " << s.bad_pinned << " but read " << s.bad_word
                             << " at word " << s.bad_at << " (" << s.bad << " bad reads of " << s.pins << ")";
        EXPECT_EQ(s.backwards, 0u) << "reader " << i << " pinned an older generation after a newer one";
        EXPECT_EQ(s.bad_stat, 0u) << "reader " << i << ": stat_index of another forest";
        EXPECT_EQ(s.bad_size, 0u) << "reader " << i << ": size of no forest";
        EXPECT_GT(s.pins, 0u) << "reader " << i << " never pinned";
        EXPECT_GT(s.generations, 1u) << "reader " << i << " saw one forest only";
        pins += s.pins;
    }
    std::printf("[          ] %llu replacements, %llu pins, %llu failed reserves in %.2f s\n",
                static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(pins),
                static_cast<unsigned long long>(full), secs);
    for (int i = 0; i < kReaders; ++i)
        std::printf("[          ] reader %d: %llu pins, %llu misses, %llu generations\n", i,
                    static_cast<unsigned long long>(seen[i].pins), static_cast<unsigned long long>(seen[i].misses),
                    static_cast<unsigned long long>(seen[i].generations));

    // Everything let go: retiring the last one frees the whole arena.
    for (uint32_t i = 0; i < r->nforests; ++i) EXPECT_EQ(pins_of(r, i), 0u) << i;
    shm::retire_forest(r, cur);
    shm::collect_forests(r);
    EXPECT_EQ(shm::forest_totals(r).forests, 0u);
    EXPECT_TRUE(arena_consistent(r));
}

}  // namespace
}  // namespace pgml::unit
