// The rings of the region and the pool's request queue (src/shmem/queue.*).
#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "common.hpp"
#include "shmem/clock.hpp"

namespace pgml::unit {
namespace {

using namespace std::chrono_literals;

TEST(Ring, InitialFreeRingHoldsEverySlotInOrder) {
    TestRegion r(5);
    EXPECT_EQ(ring_contents(r, r->free_slots), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(shm::depth(r, r->requests), 0u);
    EXPECT_EQ(shm::depth(r, r->control), 0u);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Ring, WrapsAroundManyTimesInFifoOrder) {
    constexpr uint32_t kCap = 7;
    TestRegion r(kCap);
    shm::Ring& ring = r->requests;
    std::mt19937 rng(7);
    uint32_t next_in = 0, next_out = 0;
    uint64_t pushed = 0;
    for (int round = 0; round < 5000; ++round) {
        // Fill to a random level (never past capacity), then drain part of it
        // in pops of random sizes: head moves by amounts unrelated to kCap.
        uint32_t room = kCap - shm::depth(r, ring);
        uint32_t k = room ? 1 + rng() % room : 0;
        for (uint32_t i = 0; i < k; ++i) shm::push(r, ring, next_in++);
        pushed += k;
        ASSERT_EQ(shm::depth(r, ring), next_in - next_out);
        uint32_t drain = rng() % (shm::depth(r, ring) + 1);
        while (drain > 0) {
            uint32_t out[kCap];
            uint32_t want = 1 + rng() % drain;
            uint32_t n = shm::pop_many(r, ring, out, want);
            ASSERT_EQ(n, want);
            for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(out[i], next_out++) << "round " << round;
            drain -= n;
        }
        ASSERT_LT(ring.head, kCap);
    }
    EXPECT_GT(pushed, 100u * kCap);  // wrapped many times
    uint32_t out[kCap];
    uint32_t n = shm::pop_many(r, ring, out, kCap);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(out[i], next_out++);
    EXPECT_EQ(next_out, next_in);
    EXPECT_EQ(shm::pop_many(r, ring, out, kCap), 0u);
}

TEST(Ring, FullRingAndPopLimit) {
    constexpr uint32_t kCap = 4;
    TestRegion r(kCap);
    for (int cycle = 0; cycle < 10; ++cycle) {
        for (uint32_t i = 0; i < kCap; ++i) shm::push(r, r->control, 100 * cycle + i);
        EXPECT_EQ(shm::depth(r, r->control), kCap);
        uint32_t out[kCap] = {};
        EXPECT_EQ(shm::pop_many(r, r->control, out, 3), 3u);  // at most max
        EXPECT_EQ(shm::depth(r, r->control), 1u);
        EXPECT_EQ(out[0], 100u * cycle);
        EXPECT_EQ(out[2], 100u * cycle + 2);
        // Pushed behind the remaining one (the ring wraps here).
        shm::push(r, r->control, 999);
        EXPECT_EQ(shm::pop_many(r, r->control, out, kCap), 2u);
        EXPECT_EQ(out[0], 100u * cycle + 3);
        EXPECT_EQ(out[1], 999u);
    }
    // The rings do not share storage.
    EXPECT_EQ(shm::depth(r, r->free_slots), kCap);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(RequestQueue, NonBlockingPollAndTakeWithWork) {
    TestRegion r(4);
    uint32_t out[4];
    EXPECT_EQ(shm::poll_requests(r, out, 4), 0u);
    shm::enqueue_request(r, 2);
    shm::enqueue_request(r, 0);
    // Nobody sleeps: no post.
    EXPECT_EQ(r->wakeups, 0u);
    EXPECT_EQ(shm::take_requests(r, out, 4), 2u);  // does not block: work is queued
    EXPECT_EQ(out[0], 2u);
    EXPECT_EQ(out[1], 0u);
}

TEST(RequestQueue, BlockedTakeIsWokenByEnqueue) {
    TestRegion r(4);
    auto taker = std::async(std::launch::async, [&] {
        uint32_t out[4] = {};
        uint32_t n = shm::take_requests(r, out, 4);
        return std::make_pair(n, out[0]);
    });
    ASSERT_TRUE(wait_until([&] { return sleepers(r) == 1; })) << "take_requests did not sleep";
    shm::enqueue_request(r, 3);
    if (taker.wait_for(10s) != std::future_status::ready) {
        shm::stop_requests(r);  // let it go before failing
        FAIL() << "a request did not wake the blocked take_requests";
    }
    auto [n, idx] = taker.get();
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(idx, 3u);
    shm::Guard g(r->lock);
    EXPECT_EQ(r->sleepers, 0u);
    EXPECT_EQ(r->wakeups, 0u);
}

// Producers take tokens (slot indices) from the free ring and enqueue them,
// consumers blocked in take_requests serve them and give them back, as
// backends and pool threads do: everything is delivered once, in FIFO order
// per producer, and the wake-up accounting ends balanced.
TEST(RequestQueue, ProducersAndBlockingConsumers) {
    constexpr uint32_t kSlots = 8;
    constexpr int kProducers = 2, kConsumers = 2, kPerProducer = 20000;
    TestRegion r(kSlots);
    // What each token carries now: written before enqueue, read after the pop
    // (both under the region's lock).
    std::vector<uint32_t> payload(kSlots);
    std::atomic<int> received{0};
    std::vector<std::vector<uint32_t>> got(kConsumers);
    std::vector<std::thread> consumers;
    for (int c = 0; c < kConsumers; ++c)
        consumers.emplace_back([&, c] {
            uint32_t out[3];
            uint32_t n;
            while ((n = shm::take_requests(r, out, 3)) > 0)
                for (uint32_t i = 0; i < n; ++i) {
                    got[c].push_back(payload[out[i]]);
                    shm::push(r, r->free_slots, out[i]);
                    received.fetch_add(1);
                }
        });
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p)
        producers.emplace_back([&, p] {
            for (int k = 0; k < kPerProducer; ++k) {
                uint32_t idx;
                while (shm::pop_many(r, r->free_slots, &idx, 1) != 1) std::this_thread::yield();
                payload[idx] = static_cast<uint32_t>(p) << 24 | static_cast<uint32_t>(k);
                shm::enqueue_request(r, idx);
            }
        });
    for (auto& t : producers) t.join();
    bool all = wait_until([&] { return received.load() == kProducers * kPerProducer; }, 20000ms);
    shm::stop_requests(r);
    for (auto& t : consumers) t.join();
    ASSERT_TRUE(all) << "only " << received.load() << " of " << kProducers * kPerProducer
                     << " requests were taken: a request was left without a thread";
    std::vector<int> seen(kProducers * kPerProducer, 0);
    for (int c = 0; c < kConsumers; ++c) {
        std::vector<int> last(kProducers, -1);
        for (uint32_t v : got[c]) {
            int p = static_cast<int>(v >> 24), k = static_cast<int>(v & 0xffffff);
            ASSERT_LT(p, kProducers);
            EXPECT_GT(k, last[p]) << "consumer " << c << " got producer " << p << "'s requests out of order";
            last[p] = k;
            ++seen[p * kPerProducer + k];
        }
    }
    for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], 1) << "request " << i;
    EXPECT_TRUE(all_slots_free(r));
    shm::Guard g(r->lock);
    EXPECT_EQ(r->sleepers, 0u);
    EXPECT_EQ(r->wakeups, 0u);
}

TEST(RequestQueue, StopReleasesBlockedTakersAndStaysStopped) {
    TestRegion r(4);
    std::vector<std::future<uint32_t>> takers;
    for (int i = 0; i < 3; ++i)
        takers.push_back(std::async(std::launch::async, [&] {
            uint32_t out[4];
            return shm::take_requests(r, out, 4);
        }));
    ASSERT_TRUE(wait_until([&] { return sleepers(r) == 3; }));
    shm::stop_requests(r);
    for (auto& f : takers) {
        ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "stop_requests left a taker blocked";
        EXPECT_EQ(f.get(), 0u);
    }
    // Until start_requests, a poller stops at once when nothing is queued,
    // and take_requests returns 0 at once, even with work queued (the
    // worker answers that with fail_queued).
    uint32_t out[4];
    const uint64_t t0 = shm::steady_ns();
    EXPECT_EQ(shm::spin_for_requests(r, out, 4, 2'000'000'000ull), 0u);
    EXPECT_LT(shm::steady_ns() - t0, 1'000'000'000ull) << "a poller kept polling while stopping";
    shm::enqueue_request(r, 1);
    EXPECT_EQ(shm::take_requests(r, out, 4), 0u);
    shm::start_requests(r);
    EXPECT_EQ(shm::take_requests(r, out, 4), 1u);
    EXPECT_EQ(out[0], 1u);
}

TEST(RequestQueue, StartRequestsDropsLeftoverPosts) {
    TestRegion r(4);
    // A post left by a stopped pool would wake a new thread for nothing and
    // unbalance the accounting; after start_requests a taker really sleeps.
    r->work.post();
    r->work.post();
    shm::start_requests(r);
    auto taker = std::async(std::launch::async, [&] {
        uint32_t out[4];
        return shm::take_requests(r, out, 4);
    });
    ASSERT_TRUE(wait_until([&] { return sleepers(r) == 1; }));
    shm::enqueue_request(r, 2);
    ASSERT_EQ(taker.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(taker.get(), 1u);
    shm::Guard g(r->lock);
    EXPECT_EQ(r->wakeups, 0u);
}

TEST(RequestQueue, SpinPicksUpARequestEnqueuedWhileItPolls) {
    TestRegion r(4);
    std::atomic<int> attempts{0};
    auto poller = std::async(std::launch::async, [&] {
        uint32_t out[4] = {};
        const auto until = std::chrono::steady_clock::now() + 10s;
        // spin_for_requests gives up when a yield shows the CPU is wanted;
        // retry such give-ups (each try polls anew).
        while (std::chrono::steady_clock::now() < until) {
            attempts.fetch_add(1);
            uint32_t n = shm::spin_for_requests(r, out, 4, 2'000'000'000ull);
            if (n > 0) return std::make_pair(n, out[0]);
        }
        return std::make_pair(0u, 0u);
    });
    ASSERT_TRUE(wait_until([&] { return r->spinning.load() == 1; })) << "the poller never polled";
    shm::enqueue_request(r, 3);
    ASSERT_EQ(poller.wait_for(15s), std::future_status::ready);
    auto [n, idx] = poller.get();
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(idx, 3u);
    EXPECT_EQ(r->spinning.load(), 0u) << "the poller left `spinning` set";
    EXPECT_EQ(shm::depth(r, r->requests), 0u);
    // No thread slept, so nothing was posted.
    shm::Guard g(r->lock);
    EXPECT_EQ(r->wakeups, 0u);
    RecordProperty("spin_attempts", attempts.load());
}

TEST(RequestQueue, OnlyOnePollerAtATime) {
    TestRegion r(4);
    shm::enqueue_request(r, 1);
    r->spinning.store(1);  // another thread polls
    uint32_t out[4];
    const uint64_t t0 = shm::steady_ns();
    EXPECT_EQ(shm::spin_for_requests(r, out, 4, 2'000'000'000ull), 0u);
    EXPECT_LT(shm::steady_ns() - t0, 1'000'000'000ull) << "a second poller waited";
    EXPECT_EQ(shm::depth(r, r->requests), 1u);
    EXPECT_EQ(r->spinning.load(), 1u);  // not ours to clear
    r->spinning.store(0);
    EXPECT_EQ(shm::spin_for_requests(r, out, 4, 1'000'000ull), 1u);
    EXPECT_EQ(out[0], 1u);
}

TEST(RequestQueue, SpinTimesOutWithNothingQueued) {
    TestRegion r(4);
    uint32_t out[4];
    const uint64_t t0 = shm::steady_ns();
    EXPECT_EQ(shm::spin_for_requests(r, out, 4, 2'000'000ull), 0u);
    EXPECT_LT(shm::steady_ns() - t0, 2'000'000'000ull);
    EXPECT_EQ(r->spinning.load(), 0u);
}

// While a thread polls, enqueue does not post; a request the poller leaves
// behind (its batch was full) must still reach a sleeping thread. Whatever
// the interleaving, both requests are taken, each once.
TEST(RequestQueue, RequestLeftByAPollerReachesASleeper) {
    TestRegion r(4);
    std::atomic<int> total{0};
    std::vector<uint32_t> by_sleeper;
    std::thread sleeper([&] {
        uint32_t out[4];
        uint32_t n;
        while ((n = shm::take_requests(r, out, 4)) > 0) {
            by_sleeper.insert(by_sleeper.end(), out, out + n);
            total.fetch_add(static_cast<int>(n));
        }
    });
    ASSERT_TRUE(wait_until([&] { return sleepers(r) == 1; }));
    std::thread producer([&] {
        wait_until([&] { return r->spinning.load() == 1; });
        shm::enqueue_request(r, 1);
        shm::enqueue_request(r, 2);
    });
    // The poller takes batches of one; it stops once it has one, or once
    // the sleeper has taken everything (a give-up let enqueue post).
    std::vector<uint32_t> taken;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until && total.load() < 2) {
        uint32_t out[1];
        if (shm::spin_for_requests(r, out, 1, 2'000'000'000ull) == 1) {
            taken.push_back(out[0]);
            total.fetch_add(1);
            break;
        }
    }
    producer.join();
    const bool all = wait_until([&] { return total.load() == 2; });
    shm::stop_requests(r);
    sleeper.join();
    ASSERT_TRUE(all) << "a request the poller left behind stranded: the sleeping thread was never woken";
    taken.insert(taken.end(), by_sleeper.begin(), by_sleeper.end());
    std::sort(taken.begin(), taken.end());
    EXPECT_EQ(taken, (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(shm::depth(r, r->requests), 0u);
}

}  // namespace
}  // namespace pgml::unit
