// The shared table of deployed models (src/shmem/deployed.*).
#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"
#include "shmem/clock.hpp"
#include "shmem/deployed.hpp"

namespace pgml::unit {
namespace {

shm::DeployedFacts facts(uint32_t db, int64_t model, uint32_t relid = 500) {
    shm::DeployedFacts f{};
    f.db = db;
    f.catalog_relid = relid;
    f.model_id = model;
    f.num_features = 3;
    return f;
}

TEST(Deployed, PublishFindAndEpochs) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    const uint64_t e = shm::current_epoch(*t);
    EXPECT_EQ(shm::publish_deployed(*t, e, "p", facts(1, 10)), 0);
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p", out));
    EXPECT_EQ(out.model_id, 10);
    // Keyed by database, catalog and the whole name.
    EXPECT_FALSE(shm::find_deployed(*t, 2, 500, "p", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 501, "p", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "pp", out));
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "", out));
    // A catalog change: stale at once.
    shm::bump_epoch(*t);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    // An answer read before the bump is not published.
    EXPECT_EQ(shm::publish_deployed(*t, e, "p", facts(1, 11)), 0);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "p", out));
    // Read after it: published, and it names the model it replaces.
    const uint64_t e2 = shm::current_epoch(*t);
    EXPECT_EQ(shm::publish_deployed(*t, e2, "p", facts(1, 12)), 10);
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p", out));
    EXPECT_EQ(out.model_id, 12);
    // The same again: no previous model to free.
    EXPECT_EQ(shm::publish_deployed(*t, e2, "p", facts(1, 12)), 0);
}

TEST(Deployed, FullTableReusesEntries) {
    auto t = std::make_unique<shm::DeployedTable>();
    const uint64_t e = shm::current_epoch(*t);
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        shm::publish_deployed(*t, e, "p" + std::to_string(i), facts(1, i + 1));
    shm::DeployedFacts out{};
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "p" + std::to_string(i), out)) << i;
    // One more evicts exactly one other entry; every project is found at most once.
    shm::publish_deployed(*t, e, "new", facts(1, 1000));
    ASSERT_TRUE(shm::find_deployed(*t, 1, 500, "new", out));
    EXPECT_EQ(out.model_id, 1000);
    int found = 0;
    for (int i = 0; i < shm::kDeployedEntries; ++i)
        found += shm::find_deployed(*t, 1, 500, "p" + std::to_string(i), out);
    EXPECT_EQ(found, shm::kDeployedEntries - 1);
}

TEST(Deployed, WhatIsNotShared) {
    auto t = std::make_unique<shm::DeployedTable>();
    const uint64_t e = shm::current_epoch(*t);
    const std::string long_name(shm::kDeployedNameMax + 1, 'x');
    EXPECT_FALSE(shm::shareable(long_name, 2));
    EXPECT_TRUE(shm::shareable(std::string(shm::kDeployedNameMax, 'x'), shm::kDeployedClassesMax));
    EXPECT_FALSE(shm::shareable("p", shm::kDeployedClassesMax + 1));
    shm::publish_deployed(*t, e, long_name, facts(1, 1));
    shm::DeployedFacts out{};
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, long_name, out));
    shm::DeployedFacts many = facts(1, 2);
    many.num_classes = shm::kDeployedClassesMax + 1;
    shm::publish_deployed(*t, e, "many", many);
    EXPECT_FALSE(shm::find_deployed(*t, 1, 500, "many", out));
}


// --- resolving a miss: one backend per (database, project) reads the catalog

constexpr uint64_t T0 = 1'000'000'000'000ull;  // an arbitrary steady time

TEST(DeployedResolve, KeysAreNonZeroAndDiffer) {
    EXPECT_NE(shm::resolve_key(0, ""), 0u);
    EXPECT_EQ(shm::resolve_key(1, "p"), shm::resolve_key(1, "p"));
    EXPECT_NE(shm::resolve_key(1, "p"), shm::resolve_key(2, "p"));
    EXPECT_NE(shm::resolve_key(1, "p"), shm::resolve_key(1, "q"));
    EXPECT_NE(shm::resolve_key(1, "p"), shm::resolve_key(1, "pp"));
}

TEST(DeployedResolve, OneResolvesTheOthersWaitForItsAnswer) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    shm::Claim first = shm::claim_resolving(*t, 1, "p", T0);
    ASSERT_GE(first.index, 0);
    EXPECT_EQ(shm::claim_resolving(*t, 1, "p", T0 + 1).index, -1) << "a second resolver for the same project";
    // Other projects and databases are resolved independently.
    shm::Claim other_db = shm::claim_resolving(*t, 2, "p", T0 + 1);
    EXPECT_GE(other_db.index, 0);
    EXPECT_GE(shm::claim_resolving(*t, 1, "q", T0 + 1).index, 0);
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 2, out), shm::Resolved::pending);
    // The resolver publishes, then releases: its answer is found once the
    // claim is gone (waiters look at the 16 claims, not the whole table).
    shm::publish_deployed(*t, shm::current_epoch(*t), "p", facts(1, 10));
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 3, out), shm::Resolved::pending);
    shm::release_resolving(*t, first);
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 4, out), shm::Resolved::found);
    EXPECT_EQ(out.model_id, 10);
    // Database 2's resolver has published nothing yet.
    EXPECT_EQ(shm::await_resolved(*t, 2, 500, "p", T0 + 4, out), shm::Resolved::pending);
    shm::release_resolving(*t, other_db);
    EXPECT_EQ(shm::await_resolved(*t, 2, 500, "p", T0 + 5, out), shm::Resolved::gone);
}

// A resolver that failed, was cancelled, or found nothing to publish
// releases its claim with no answer: its waiters read the catalog
// themselves. So do they when the epoch moved and its answer was refused.
TEST(DeployedResolve, NoAnswerMeansReadItYourself) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    shm::Claim c = shm::claim_resolving(*t, 1, "p", T0);
    ASSERT_GE(c.index, 0);
    shm::release_resolving(*t, c);
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 1, out), shm::Resolved::gone);

    c = shm::claim_resolving(*t, 1, "p", T0 + 2);
    ASSERT_GE(c.index, 0);
    const uint64_t seen = shm::current_epoch(*t);
    shm::bump_epoch(*t);  // a deployment committed during the read
    shm::publish_deployed(*t, seen, "p", facts(1, 10));
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 3, out), shm::Resolved::pending);
    shm::release_resolving(*t, c);
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 4, out), shm::Resolved::gone)
        << "a waiter took an answer read before the deployment committed";
    // An entry of another catalog (a re-created extension) is no answer.
    shm::publish_deployed(*t, shm::current_epoch(*t), "p", facts(1, 11, 777));
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", T0 + 5, out), shm::Resolved::gone);
}

// Two projects whose keys collide share one claim: the second waits for the
// first's resolver, finds no answer of its own when that claim goes, and
// reads the catalog itself. Simulated by claiming q's key while publishing p.
TEST(DeployedResolve, AKeyCollisionOnlyDelaysTheOtherProject) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    shm::Claim c = shm::claim_load(t->resolving, shm::resolve_key(1, "q"), T0);
    ASSERT_GE(c.index, 0);
    EXPECT_EQ(shm::claim_resolving(*t, 1, "q", T0 + 1).index, -1);
    shm::publish_deployed(*t, shm::current_epoch(*t), "p", facts(1, 10));
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "q", T0 + 2, out), shm::Resolved::pending);
    shm::release_load(t->resolving, c);
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "q", T0 + 3, out), shm::Resolved::gone);
}

// A claim whose holder died without releasing it (which the backend's exit
// hook prevents; waiters give up after a bound anyway) is abandoned once
// stale, and the next miss claims it.
TEST(DeployedResolve, AStaleClaimIsGoneAndTakenOver) {
    auto t = std::make_unique<shm::DeployedTable>();
    shm::DeployedFacts out{};
    shm::Claim dead = shm::claim_resolving(*t, 1, "p", T0);
    ASSERT_GE(dead.index, 0);
    const uint64_t later = T0 + shm::kClaimStaleNs + 1;
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", later, out), shm::Resolved::gone);
    shm::Claim next = shm::claim_resolving(*t, 1, "p", later);
    EXPECT_GE(next.index, 0);
    shm::release_resolving(*t, dead);  // the old holder, back at last
    EXPECT_EQ(shm::await_resolved(*t, 1, 500, "p", later + 1, out), shm::Resolved::pending)
        << "the old holder's release freed the claim that took over from it";
}

// Backends missing the same project at once, as after a restart, play the
// protocol of backend/model_cache.cpp: look, claim, then either read the
// catalog (re-looking first) and publish, or wait for the answer and read
// only if none comes. Each round one reads; every backend ends with the
// round's model. With a resolver that fails (publishes nothing), everyone
// reads and nobody hangs.
int herd_round(shm::DeployedTable& t, int backends, int64_t model, bool resolver_fails,
               std::vector<int64_t>& answers) {
    std::atomic<int> reads{0};
    std::barrier start(backends);
    std::vector<std::thread> ts;
    for (int b = 0; b < backends; ++b)
        ts.emplace_back([&, b] {
            start.arrive_and_wait();
            auto read_catalog = [&](bool publish) {
                const uint64_t seen = shm::current_epoch(t);
                reads.fetch_add(1);
                std::this_thread::sleep_for(std::chrono::milliseconds(3));  // SPI and its caches
                if (publish) shm::publish_deployed(t, seen, "p", facts(1, model));
                answers[b] = model;
            };
            shm::DeployedFacts out{};
            if (shm::find_deployed(t, 1, 500, "p", out)) {
                answers[b] = out.model_id;
                return;
            }
            shm::Claim c = shm::claim_resolving(t, 1, "p", shm::steady_ns());
            if (c.index >= 0) {
                if (shm::find_deployed(t, 1, 500, "p", out)) answers[b] = out.model_id;
                else read_catalog(!resolver_fails);
                shm::release_resolving(t, c);
                return;
            }
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            for (;;) {
                shm::Resolved r = shm::await_resolved(t, 1, 500, "p", shm::steady_ns(), out);
                if (r == shm::Resolved::found) {
                    answers[b] = out.model_id;
                    return;
                }
                if (r == shm::Resolved::gone || std::chrono::steady_clock::now() > until) break;
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            read_catalog(false);
        });
    for (auto& th : ts) th.join();
    return reads.load();
}

TEST(DeployedResolve, AHerdOfMissesReadsTheCatalogOnce) {
    constexpr int kBackends = 24, kRounds = 30;
    auto t = std::make_unique<shm::DeployedTable>();
    std::vector<int64_t> answers(kBackends);
    for (int round = 0; round < kRounds; ++round) {
        shm::bump_epoch(*t);  // a deployment (or a restart): every entry stale
        std::fill(answers.begin(), answers.end(), 0);
        EXPECT_EQ(herd_round(*t, kBackends, 100 + round, false, answers), 1) << "round " << round;
        for (int b = 0; b < kBackends; ++b) EXPECT_EQ(answers[b], 100 + round) << "round " << round;
    }
    for (int round = 0; round < 3; ++round) {
        shm::bump_epoch(*t);
        std::fill(answers.begin(), answers.end(), 0);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(herd_round(*t, kBackends, 200 + round, true, answers), kBackends);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
        for (int b = 0; b < kBackends; ++b) EXPECT_EQ(answers[b], 200 + round);
    }
}

}  // namespace
}  // namespace pgml::unit
