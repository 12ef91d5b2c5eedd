// The worker's model registry (src/worker/pool/registry.*) and the shared
// model table it mirrors into (src/shmem/model_table.*).
#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include "common.hpp"
#include "shmem/clock.hpp"
#include "worker/pool/registry.hpp"

namespace pgml::unit {
namespace {

using pool::ModelKey;
using pool::Registry;

// What the shared table lists: (db, id) -> bytes.
std::map<std::pair<uint32_t, int64_t>, uint64_t> listed(shm::Region* r) {
    std::map<std::pair<uint32_t, int64_t>, uint64_t> out;
    for (uint32_t i = 0; i < r->max_models; ++i) {
        shm::ModelRow row;
        if (shm::read_model_stat(shm::model_stats(r)[i], row)) {
            EXPECT_TRUE(out.emplace(std::make_pair(row.db, row.model_id), row.bytes).second)
                << "listed twice: " << row.db << "/" << row.model_id;
        }
    }
    return out;
}

using Listed = std::map<std::pair<uint32_t, int64_t>, uint64_t>;

// The steady clock has moved on from t (so last-use times differ).
void tick() {
    const uint64_t t = shm::steady_ns();
    while (shm::steady_ns() == t) {
    }
}

Result<void> insert(Registry& reg, uint32_t db, int64_t id, uint64_t bytes, uint64_t limit) {
    tick();
    return reg.insert(ModelKey{db, id}, load_tiny_model(), bytes, limit);
}

TEST(Registry, InsertWithinTheLimit) {
    TestRegion r(2, 4, 8);
    Registry reg(r);
    EXPECT_TRUE(listed(r).empty());
    ASSERT_TRUE(insert(reg, 1, 1, 100, 300).has_value());
    ASSERT_TRUE(insert(reg, 1, 2, 100, 300).has_value());
    ASSERT_TRUE(insert(reg, 2, 1, 100, 300).has_value());  // same id, another database
    EXPECT_TRUE(reg.contains({1, 1}));
    EXPECT_TRUE(reg.contains({1, 2}));
    EXPECT_TRUE(reg.contains({2, 1}));
    EXPECT_FALSE(reg.contains({2, 2}));
    EXPECT_EQ(listed(r), (Listed{{{1, 1}, 100}, {{1, 2}, 100}, {{2, 1}, 100}}));
    pool::Lease l = reg.find({1, 2});
    ASSERT_TRUE(l.model);
    EXPECT_EQ(l.model->num_features(), kTinyFeatures);
    ASSERT_NE(l.stat, nullptr);
    EXPECT_EQ(l.stat->model_id, 2);
    EXPECT_FALSE(reg.find({3, 3}).model);
}

TEST(Registry, PastTheLimitEvictsTheLeastRecentlyUsed) {
    TestRegion r(2, 4, 8);
    Registry reg(r);
    ASSERT_TRUE(insert(reg, 1, 1, 100, 250).has_value());
    ASSERT_TRUE(insert(reg, 1, 2, 100, 250).has_value());
    tick();
    ASSERT_TRUE(reg.find({1, 1}).model);  // 1 used after 2 was loaded
    ASSERT_TRUE(insert(reg, 1, 3, 100, 250).has_value());
    EXPECT_TRUE(reg.contains({1, 1}));
    EXPECT_FALSE(reg.contains({1, 2})) << "evicted the recently used model instead";
    EXPECT_TRUE(reg.contains({1, 3}));
    EXPECT_EQ(listed(r), (Listed{{{1, 1}, 100}, {{1, 3}, 100}}));
    // A big one evicts as many as it needs, oldest first.
    tick();
    ASSERT_TRUE(reg.find({1, 3}).model);
    ASSERT_TRUE(insert(reg, 1, 4, 150, 250).has_value());
    EXPECT_FALSE(reg.contains({1, 1}));
    EXPECT_TRUE(reg.contains({1, 3}));
    EXPECT_TRUE(reg.contains({1, 4}));
    ASSERT_TRUE(insert(reg, 1, 5, 250, 250).has_value());  // exactly the limit: alone
    EXPECT_EQ(listed(r), (Listed{{{1, 5}, 250}}));
}

TEST(Registry, ReloadingAModelReplacesItsBytes) {
    TestRegion r(2, 4, 8);
    Registry reg(r);
    ASSERT_TRUE(insert(reg, 1, 1, 100, 250).has_value());
    ASSERT_TRUE(insert(reg, 1, 1, 100, 250).has_value());  // the same model again
    ASSERT_TRUE(insert(reg, 1, 2, 100, 250).has_value());
    // 200 bytes held, not 300: nothing had to go.
    EXPECT_TRUE(reg.contains({1, 1}));
    EXPECT_TRUE(reg.contains({1, 2}));
    EXPECT_EQ(listed(r), (Listed{{{1, 1}, 100}, {{1, 2}, 100}}));
}

TEST(Registry, FitsRefusesAModelLargerThanTheLimit) {
    EXPECT_TRUE(Registry::fits({1, 1}, 100, 100).has_value());
    auto no = Registry::fits({1, 7}, 101, 100);
    ASSERT_FALSE(no.has_value());
    EXPECT_EQ(no.error().sqlstate, sqlstate::limit_exceeded);
    EXPECT_NE(no.error().message.find("model 7"), std::string::npos) << no.error().message;

    TestRegion r(2, 4, 8);
    Registry reg(r);
    ASSERT_TRUE(insert(reg, 1, 1, 100, 250).has_value());
    auto big = insert(reg, 1, 2, 300, 250);
    ASSERT_FALSE(big.has_value());
    EXPECT_EQ(big.error().sqlstate, sqlstate::limit_exceeded);
    // Refused before anything was evicted.
    EXPECT_TRUE(reg.contains({1, 1}));
    EXPECT_FALSE(reg.contains({1, 2}));
    EXPECT_EQ(listed(r), (Listed{{{1, 1}, 100}}));
}

TEST(Registry, EvictUnusedSinceFreesOnlyTheIdle) {
    TestRegion r(2, 4, 8);
    Registry reg(r);
    ASSERT_TRUE(insert(reg, 1, 1, 10, 1000).has_value());
    ASSERT_TRUE(insert(reg, 1, 2, 10, 1000).has_value());
    ASSERT_TRUE(insert(reg, 1, 3, 10, 1000).has_value());
    tick();
    const uint64_t cut = shm::steady_ns();
    tick();
    ASSERT_TRUE(reg.find({1, 2}).model);  // used after the cut
    EXPECT_EQ(reg.evict_unused_since(cut), 2u);
    EXPECT_FALSE(reg.contains({1, 1}));
    EXPECT_TRUE(reg.contains({1, 2}));
    EXPECT_FALSE(reg.contains({1, 3}));
    EXPECT_EQ(listed(r), (Listed{{{1, 2}, 10}}));
    EXPECT_EQ(reg.evict_unused_since(cut), 0u);
    // Freed bytes are freed: 990 more fit beside the one left.
    ASSERT_TRUE(insert(reg, 1, 4, 990, 1000).has_value());
    EXPECT_TRUE(reg.contains({1, 2}));
}

TEST(Registry, RetireRemovesAndALeaseOutlivesIt) {
    TestRegion r(2, 4, 8);
    Registry reg(r);
    ASSERT_TRUE(insert(reg, 1, 1, 100, 1000).has_value());
    ASSERT_TRUE(insert(reg, 1, 2, 100, 1000).has_value());
    pool::Lease lease = reg.find({1, 1});
    ASSERT_TRUE(lease.model);
    reg.retire({1, 1});
    reg.retire({9, 9});  // not held: nothing happens
    EXPECT_FALSE(reg.contains({1, 1}));
    EXPECT_TRUE(reg.contains({1, 2}));
    EXPECT_EQ(listed(r), (Listed{{{1, 2}, 100}}));
    // A pool thread still scoring with it keeps it alive.
    float row[kTinyFeatures];
    tiny_row(3, row);
    auto v = lease.model->predict(row);
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(std::isfinite(*v));
}

TEST(Registry, ANewRegistryClearsWhatAnEarlierWorkerListed) {
    TestRegion r(2, 4, 8);
    shm::set_model_stat(shm::model_stats(r)[3], 5, 55, 5555, shm::ENGINE_XGBOOST, "");  // left by a worker that died
    EXPECT_EQ(listed(r).size(), 1u);
    Registry reg(r);
    EXPECT_TRUE(listed(r).empty());
}

TEST(Registry, DestructorUnlistsEverything) {
    TestRegion r(2, 4, 8);
    {
        Registry reg(r);
        ASSERT_TRUE(insert(reg, 1, 1, 10, 1000).has_value());
        ASSERT_TRUE(insert(reg, 1, 2, 10, 1000).has_value());
        EXPECT_EQ(listed(r).size(), 2u);
    }
    EXPECT_TRUE(listed(r).empty());
}

TEST(Registry, FullTableStillServes) {
    TestRegion r(2, 4, 2);  // room to list two models
    Registry reg(r);
    for (int id = 1; id <= 3; ++id) ASSERT_TRUE(insert(reg, 1, id, 10, 1000).has_value());
    EXPECT_EQ(listed(r).size(), 2u);
    pool::Lease third = reg.find({1, 3});
    EXPECT_TRUE(third.model);
    EXPECT_EQ(third.stat, nullptr);
    reg.retire({1, 1});
    EXPECT_EQ(listed(r), (Listed{{{1, 2}, 10}}));
}

// One writer changing an entry, readers copying it: a copy that read_model_stat
// accepts never mixes two models.
TEST(ModelTable, ReadersNeverSeeAMixedEntry) {
    TestRegion r(1, 1, 1);
    shm::ModelStat& m = shm::model_stats(r)[0];
    shm::set_model_stat(m, 1, 10, 100, shm::ENGINE_XGBOOST, "");
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> writes{0};
    std::thread writer([&] {
        for (uint32_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
            const uint32_t v = 1 + i % 3;
            shm::set_model_stat(m, v, v * 10, v * 100, shm::ENGINE_XGBOOST, "");
            // A moment between changes, as a real writer leaves: without it
            // a reader on a contended CPU may never find the entry still.
            for (int k = 0; k < 20; ++k) __builtin_ia32_pause();
            if (i % 7 == 0) shm::clear_model_stat(m);
            writes.fetch_add(1, std::memory_order_relaxed);
        }
    });
    uint64_t good = 0, refused = 0;
    // Read while the writer makes 50,000 changes, and until some copies
    // were accepted (at most 10 s).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((writes.load(std::memory_order_relaxed) < 50000 || good < 1000) &&
           std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < 1000; ++i) {
            shm::ModelRow row{};
            if (!shm::read_model_stat(m, row)) {
                ++refused;
                continue;
            }
            ++good;
            ASSERT_EQ(row.model_id, static_cast<int64_t>(row.db) * 10) << "a torn copy was accepted";
            ASSERT_EQ(row.bytes, uint64_t{row.db} * 100) << "a torn copy was accepted";
            ASSERT_GT(row.loaded_ns, 0u);
        }
    }
    stop = true;
    writer.join();
    EXPECT_GT(good, 0u);
    std::printf("[          ] model table: %llu copies accepted, %llu refused, %llu changes\n",
                static_cast<unsigned long long>(good), static_cast<unsigned long long>(refused),
                static_cast<unsigned long long>(writes.load()));
    shm::clear_model_stat(m);
    shm::ModelRow row;
    EXPECT_FALSE(shm::read_model_stat(m, row));
}

}  // namespace
}  // namespace pgml::unit
