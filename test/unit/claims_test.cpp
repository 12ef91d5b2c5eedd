// Model hand-over claims (src/shmem/claims.*).
#include <atomic>
#include <barrier>
#include <set>
#include <thread>

#include "common.hpp"
#include "shmem/claims.hpp"

namespace pgml::unit {
namespace {

using shm::Claim;
using shm::claim_key;
using shm::Claims;
using shm::kClaimStaleNs;
using shm::kLoadClaims;

constexpr uint64_t T0 = 1'000'000'000'000ull;  // an arbitrary steady time

TEST(Claims, KeysAreNeverZeroAndDiffer) {
    EXPECT_NE(claim_key(0, 0), 0u);
    EXPECT_NE(claim_key(1, 5), claim_key(2, 5));
    EXPECT_NE(claim_key(1, 5), claim_key(1, 6));
}

TEST(Claims, ClaimIsExclusivePerKey) {
    Claims c{};
    const uint64_t k1 = claim_key(1, 10), k2 = claim_key(1, 11);
    Claim a = shm::claim_load(c, k1, T0);
    ASSERT_GE(a.index, 0);
    EXPECT_TRUE(shm::load_claimed(c, k1, T0 + 1));
    EXPECT_FALSE(shm::load_claimed(c, k2, T0 + 1));
    EXPECT_EQ(shm::claim_load(c, k1, T0 + 2).index, -1);
    Claim b = shm::claim_load(c, k2, T0 + 3);
    ASSERT_GE(b.index, 0);
    EXPECT_NE(a.index, b.index);
    shm::release_load(c, a);
    EXPECT_FALSE(shm::load_claimed(c, k1, T0 + 4));
    EXPECT_TRUE(shm::load_claimed(c, k2, T0 + 4));
    Claim a2 = shm::claim_load(c, k1, T0 + 5);
    EXPECT_GE(a2.index, 0);
    EXPECT_TRUE(shm::load_claimed(c, k1, T0 + 6));
    // Releasing the first claim again frees nothing: a2 is another claim.
    shm::release_load(c, a);
    EXPECT_TRUE(shm::load_claimed(c, k1, T0 + 7));
}

TEST(Claims, AllEntriesTakenThenReleaseAndReclaim) {
    Claims c{};
    std::set<int> used;
    std::vector<Claim> held;
    for (int i = 0; i < kLoadClaims; ++i) {
        Claim e = shm::claim_load(c, claim_key(2, i), T0 + i);
        ASSERT_GE(e.index, 0) << "claim " << i;
        used.insert(e.index);
        held.push_back(e);
    }
    EXPECT_EQ(used.size(), static_cast<size_t>(kLoadClaims));
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 100), T0 + 20).index, -2);
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 3), T0 + 20).index, -1);  // held, whatever is full
    // A release with another claim's ticket is a no-op.
    shm::release_load(c, Claim{held[5].index, held[6].ticket});
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 100), T0 + 21).index, -2);
    // Bad indices, and the answers -1 and -2, are ignored.
    shm::release_load(c, Claim{-1, 0});
    shm::release_load(c, Claim{-2, 0});
    shm::release_load(c, Claim{kLoadClaims, held[0].ticket});
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 100), T0 + 21).index, -2);
    // Entry of key (2,5) freed: the next claim gets it.
    shm::release_load(c, held[5]);
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 100), T0 + 22).index, held[5].index);
    EXPECT_EQ(shm::claim_load(c, claim_key(2, 101), T0 + 23).index, -2);
}

TEST(Claims, StaleClaimIsTakenOverAndOldReleaseDoesNotFreeIt) {
    Claims c{};
    const uint64_t old_key = claim_key(3, 1), new_key = claim_key(3, 2);
    Claim old_claim = shm::claim_load(c, old_key, T0);
    ASSERT_GE(old_claim.index, 0);
    // Live up to kClaimStaleNs, stale after it.
    EXPECT_TRUE(shm::load_claimed(c, old_key, T0 + kClaimStaleNs));
    EXPECT_EQ(shm::claim_load(c, old_key, T0 + kClaimStaleNs).index, -1);
    // Fill every other entry (while the first is live), so the new claim can
    // only take the stale one.
    for (int i = 0; i < kLoadClaims - 1; ++i) ASSERT_GE(shm::claim_load(c, claim_key(4, i), T0 + 10).index, 0);
    const uint64_t later = T0 + kClaimStaleNs + 1;
    EXPECT_FALSE(shm::load_claimed(c, old_key, later));
    EXPECT_TRUE(shm::load_claimed(c, claim_key(4, 0), later));
    Claim taken_over = shm::claim_load(c, new_key, later);
    ASSERT_EQ(taken_over.index, old_claim.index);
    // The old holder comes back and releases: the new claim stands.
    shm::release_load(c, old_claim);
    EXPECT_TRUE(shm::load_claimed(c, new_key, later + 1));
    EXPECT_EQ(shm::claim_load(c, new_key, later + 2).index, -1);
    // And the new claim is judged by its own time, not the old one's.
    EXPECT_TRUE(shm::load_claimed(c, new_key, later + kClaimStaleNs - 1));
}

// The same, when the stale claim is taken over for the same model: the old
// holder's release must not free the new holder's claim (once, it compared
// only the key), or a third backend would claim and send the model again.
TEST(Claims, StaleClaimTakenOverForTheSameKeySurvivesTheOldRelease) {
    Claims c{};
    const uint64_t key = claim_key(3, 1);
    Claim old_claim = shm::claim_load(c, key, T0);
    ASSERT_GE(old_claim.index, 0);
    const uint64_t later = T0 + kClaimStaleNs + 1;
    Claim new_claim = shm::claim_load(c, key, later);
    ASSERT_GE(new_claim.index, 0) << "a stale claim could not be taken over";
    shm::release_load(c, old_claim);  // the old holder, done at last
    EXPECT_TRUE(shm::load_claimed(c, key, later + 1))
        << "the old holder's release freed the claim that took over from it";
    EXPECT_EQ(shm::claim_load(c, key, later + 2).index, -1) << "a third backend could claim the same model";
}

// A backend reads steady_ns() and then calls claim_load; another backend
// that claims in between stamps a later since_ns. The claim is young, not
// 2^64 ns old (once, the unsigned difference wrapped, and the fresh claim
// was taken over).
TEST(Claims, ClaimStampedJustAfterOurClockReadIsLive) {
    Claims c{};
    const uint64_t k1 = claim_key(5, 1), k2 = claim_key(5, 2);
    // Backend B read the clock at T0; backend A claims at T0 + 1 us, before
    // B gets to look.
    Claim a = shm::claim_load(c, k1, T0 + 1000);
    ASSERT_GE(a.index, 0);
    EXPECT_TRUE(shm::load_claimed(c, k1, T0)) << "a claim 1 us younger than `now` was judged stale";
    EXPECT_EQ(shm::claim_load(c, k1, T0).index, -1) << "a second backend claimed the same model";
    Claim b = shm::claim_load(c, k2, T0);
    EXPECT_NE(b.index, a.index) << "a live claim was taken over for another model";
    EXPECT_EQ(c.entries[a.index].key, k1);
}

// Backends claiming the same key at the same moment: one wins (once, the
// look for a claim and the CAS were separate steps, and two could take two
// entries and both hand the model over). Counted over many rounds.
TEST(Claims, SimultaneousClaimsOfOneKeyHaveOneWinner) {
    constexpr int kThreads = 4, kRounds = 20000;
    Claims c{};
    const uint64_t key = claim_key(6, 1);
    std::barrier sync(kThreads);
    std::atomic<int> winners{0};
    std::atomic<int> rounds_with_two{0};
    std::vector<Claim> won(kThreads, Claim{-1, 0});
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                sync.arrive_and_wait();
                won[t] = shm::claim_load(c, key, T0 + round);
                if (won[t].index >= 0) winners.fetch_add(1);
                sync.arrive_and_wait();
                if (t == 0) {
                    if (winners.load() > 1) rounds_with_two.fetch_add(1);
                    if (winners.load() == 0) ADD_FAILURE() << "round " << round << ": nobody got the claim";
                    winners.store(0);
                    for (int i = 0; i < kThreads; ++i)
                        if (won[i].index >= 0) shm::release_load(c, won[i]);
                }
                sync.arrive_and_wait();
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(rounds_with_two.load(), 0)
        << "in " << rounds_with_two.load() << " of " << kRounds
        << " rounds, two backends held a claim on the same model at once";
}

}  // namespace
}  // namespace pgml::unit
