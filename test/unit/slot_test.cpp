// The slot state machine (src/shmem/slot.*): who moves a slot on, and who
// frees it, on every path.
#include <atomic>
#include <barrier>
#include <future>
#include <random>
#include <thread>

#include "common.hpp"
#include "shmem/clock.hpp"

namespace pgml::unit {
namespace {

using namespace std::chrono_literals;
using shm::Slot;

uint32_t state_of(shm::Region* r, uint32_t i) { return shm::slot(r, i)->state.load(); }

// The worker's side of one request: pop it from the request ring.
uint32_t pop_request(shm::Region* r) {
    uint32_t idx = UINT32_MAX;
    EXPECT_EQ(shm::poll_requests(r, &idx, 1), 1u);
    return idx;
}

TEST(Slot, NormalLife) {
    TestRegion r(4, 3);
    uint32_t idx;
    ASSERT_TRUE(shm::acquire_slot(r, idx));
    EXPECT_EQ(state_of(r, idx), shm::FILLING);
    EXPECT_EQ(shm::depth(r, r->free_slots), 3u);
    Slot* s = shm::slot(r, idx);
    const uint32_t gen = shm::stamp(r, s, shm::PREDICT, 7, 42);
    EXPECT_EQ(s->generation, gen);
    EXPECT_EQ(s->kind, shm::PREDICT);
    EXPECT_EQ(s->db, 7u);
    EXPECT_EQ(s->model_id, 42);
    EXPECT_EQ(s->status, shm::OK);
    EXPECT_GT(s->enqueued_ns, 0u);
    s->nfeatures = 3;
    s->data[0] = 1;
    s->data[1] = 2;
    s->data[2] = 3;  // the last float of the slot: max_features fit
    shm::publish_request(r, idx);
    EXPECT_EQ(state_of(r, idx), shm::QUEUED);
    EXPECT_EQ(shm::depth(r, r->requests), 1u);

    // The worker.
    ASSERT_EQ(pop_request(r), idx);
    ASSERT_TRUE(shm::take(r, idx));
    EXPECT_EQ(state_of(r, idx), shm::TAKEN);
    EXPECT_EQ(s->answered, gen);
    EXPECT_EQ(s->data[2], 3.0f);
    s->value = 2.5;
    s->nresult = 1;
    shm::finish(r, idx);
    EXPECT_EQ(state_of(r, idx), shm::DONE);

    // The backend.
    EXPECT_EQ(shm::wait_for_answer(s, 0, 10), shm::DONE);
    EXPECT_EQ(s->answered, gen);
    EXPECT_EQ(s->value, 2.5);
    shm::release(r, idx);
    EXPECT_TRUE(all_slots_free(r));

    // The next request in a slot carries a new generation, so an answer
    // meant for the previous one is told apart.
    uint32_t idx2;
    uint32_t gens = gen;
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(shm::acquire_slot(r, idx2));
        uint32_t g2 = shm::stamp(r, shm::slot(r, idx2), shm::PROBA, 7, 42);
        EXPECT_NE(g2, gens);
        gens = g2;
        shm::release(r, idx2);
    }
}

TEST(Slot, AcquireFailsWhenEveryoneHoldsOne) {
    TestRegion r(3);
    uint32_t a, b, c, d;
    ASSERT_TRUE(shm::acquire_slot(r, a));
    ASSERT_TRUE(shm::acquire_slot(r, b));
    ASSERT_TRUE(shm::acquire_slot(r, c));
    EXPECT_FALSE(shm::acquire_slot(r, d));
    EXPECT_NE(a, b);
    EXPECT_NE(b, c);
    EXPECT_NE(a, c);
    shm::release(r, b);
    ASSERT_TRUE(shm::acquire_slot(r, d));
    EXPECT_EQ(d, b);
    shm::release(r, a);
    shm::release(r, c);
    shm::release(r, d);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, SleepingBackendIsWokenByFinish) {
    TestRegion r(2);
    Queued q = queue_request(r);
    Slot* s = shm::slot(r, q.index);
    auto backend = std::async(std::launch::async, [&] {
        const uint64_t t0 = shm::steady_ns();
        uint32_t st = wait_done(s, 8000ms);  // no polling: sleeps at once
        return std::make_pair(st, shm::steady_ns() - t0);
    });
    ASSERT_TRUE(wait_until([&] { return s->sleeping.load() == 1; }));
    ASSERT_EQ(pop_request(r), q.index);
    ASSERT_TRUE(shm::take(r, q.index));
    shm::finish(r, q.index);
    ASSERT_EQ(backend.wait_for(10s), std::future_status::ready);
    auto [st, waited] = backend.get();
    EXPECT_EQ(st, shm::DONE);
    EXPECT_LT(waited, 6'000'000'000ull) << "the backend slept until its timeout: finish did not wake it";
    EXPECT_EQ(s->sleeping.load(), 0u);
    shm::release(r, q.index);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, WaitTimesOutWithoutAnAnswer) {
    TestRegion r(2);
    Queued q = queue_request(r);
    EXPECT_EQ(shm::wait_for_answer(shm::slot(r, q.index), 100'000, 5), shm::QUEUED);
    shm::abandon(r, q.index);
    pop_request(r);
    EXPECT_FALSE(shm::take(r, q.index));
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, AbandonWhileFilling) {
    TestRegion r(2);
    uint32_t idx;
    ASSERT_TRUE(shm::acquire_slot(r, idx));
    shm::abandon(r, idx);  // never published: the backend's own to free
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, AbandonWhileQueuedTakeFreesIt) {
    TestRegion r(3);
    Queued q = queue_request(r);
    shm::abandon(r, q.index);
    EXPECT_EQ(state_of(r, q.index), shm::ABANDONED);
    EXPECT_EQ(shm::depth(r, r->free_slots), 2u) << "abandon freed a slot still on the request ring";
    ASSERT_EQ(pop_request(r), q.index);
    EXPECT_FALSE(shm::take(r, q.index));
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, AbandonWhileTakenFinishFreesIt) {
    TestRegion r(3);
    Queued q = queue_request(r);
    ASSERT_EQ(pop_request(r), q.index);
    ASSERT_TRUE(shm::take(r, q.index));
    shm::abandon(r, q.index);
    EXPECT_EQ(state_of(r, q.index), shm::ABANDONED);
    EXPECT_EQ(shm::depth(r, r->free_slots), 2u);
    shm::set_failed(shm::slot(r, q.index), "whatever");
    shm::finish(r, q.index);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, AbandonAfterDoneFreesIt) {
    TestRegion r(3);
    Queued q = queue_request(r);
    ASSERT_EQ(pop_request(r), q.index);
    ASSERT_TRUE(shm::take(r, q.index));
    shm::finish(r, q.index);
    EXPECT_EQ(state_of(r, q.index), shm::DONE);
    shm::abandon(r, q.index);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(Slot, SetFailedTruncatesTheMessage) {
    TestRegion r(1);
    Slot* s = shm::slot(r, 0);
    std::string long_message(1000, 'x');
    s->nresult = 0;
    shm::set_failed(s, long_message.c_str());
    EXPECT_EQ(s->status, shm::FAILED);
    EXPECT_EQ(std::strlen(s->message), sizeof s->message - 1);
    shm::set_failed(s, nullptr);
    EXPECT_STREQ(s->message, "");
}

// A backend abandoning its requests (cancel, timeout) while the worker takes
// and finishes the same slots: whichever way each race goes, every slot ends
// up on the free ring exactly once.
TEST(Slot, AbandonRacesTakeAndFinish) {
    constexpr uint32_t kSlots = 8;
    constexpr int kIterations = 20000;
    TestRegion r(kSlots);
    std::barrier sync(3);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> take_lost{0}, take_won{0}, abandoned_taken{0};
    std::vector<uint32_t> published(kSlots);

    // Each round: the main thread publishes, then (first barrier) the two
    // race, then (second barrier) the main thread checks.
    std::thread backend([&] {
        std::mt19937 rng(1);
        for (;;) {
            sync.arrive_and_wait();
            if (stop.load()) return;
            for (uint32_t i = 0; i < kSlots; ++i) {
                for (uint32_t k = rng() % 64; k > 0; --k) __builtin_ia32_pause();
                shm::abandon(r, published[i]);
            }
            sync.arrive_and_wait();
        }
    });
    std::thread worker([&] {
        std::mt19937 rng(2);
        for (;;) {
            sync.arrive_and_wait();
            if (stop.load()) return;
            uint32_t idx[kSlots];
            uint32_t n = shm::poll_requests(r, idx, kSlots);
            for (uint32_t i = 0; i < n; ++i) {
                for (uint32_t k = rng() % 64; k > 0; --k) __builtin_ia32_pause();
                if (!shm::take(r, idx[i])) {
                    take_lost.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                take_won.fetch_add(1, std::memory_order_relaxed);
                for (uint32_t k = rng() % 32; k > 0; --k) __builtin_ia32_pause();
                // (Only counted: the backend may still abandon after this look.)
                if (shm::slot(r, idx[i])->state.load() == shm::ABANDONED)
                    abandoned_taken.fetch_add(1, std::memory_order_relaxed);
                shm::finish(r, idx[i]);
            }
            sync.arrive_and_wait();
        }
    });
    for (int it = 0; it < kIterations; ++it) {
        for (uint32_t i = 0; i < kSlots; ++i) published[i] = queue_request(r).index;
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        auto free = all_slots_free(r);
        if (!free) {
            ADD_FAILURE() << "iteration " << it << ": " << free.message();
            break;
        }
    }
    stop.store(true);
    sync.arrive_and_wait();
    backend.join();
    worker.join();
    // How the races went (timing decides; all must end with every slot free).
    std::printf("[          ] abandon race: abandoned while queued %llu, taken %llu "
                "(abandoned while taken, at least %llu)\n",
                static_cast<unsigned long long>(take_lost.load()),
                static_cast<unsigned long long>(take_won.load()),
                static_cast<unsigned long long>(abandoned_taken.load()));
    EXPECT_TRUE(all_slots_free(r));
}

// The same with backends that wait for their answers and abandon at random
// after a short wait, against a worker thread serving the queue.
TEST(Slot, BackendsTimingOutAgainstAWorker) {
    constexpr uint32_t kSlots = 6;
    TestRegion r(kSlots);
    std::atomic<int> answered{0}, abandoned{0};
    std::thread worker([&] {
        uint32_t idx[kSlots];
        uint32_t n;
        while ((n = shm::take_requests(r, idx, kSlots)) > 0)
            for (uint32_t i = 0; i < n; ++i)
                if (shm::take(r, idx[i])) {
                    Slot* s = shm::slot(r, idx[i]);
                    s->value = static_cast<double>(s->generation);
                    shm::finish(r, idx[i]);
                }
    });
    std::vector<std::thread> backends;
    for (int b = 0; b < 3; ++b)
        backends.emplace_back([&, b] {
            std::mt19937 rng(b);
            for (int k = 0; k < 3000; ++k) {
                uint32_t idx;
                while (!shm::acquire_slot(r, idx)) std::this_thread::yield();
                Slot* s = shm::slot(r, idx);
                uint32_t gen = shm::stamp(r, s, shm::PREDICT, 1, 1);
                shm::publish_request(r, idx);
                if (rng() % 3 == 0) {
                    for (uint32_t p = rng() % 2000; p > 0; --p) __builtin_ia32_pause();
                    shm::abandon(r, idx);
                    abandoned.fetch_add(1);
                    continue;
                }
                if (wait_done(s, 5000ms) != shm::DONE) {
                    ADD_FAILURE() << "no answer within 5 s";
                    shm::abandon(r, idx);
                    continue;
                }
                EXPECT_EQ(s->answered, gen);
                EXPECT_EQ(s->value, static_cast<double>(gen));
                answered.fetch_add(1);
                shm::release(r, idx);
            }
        });
    for (auto& t : backends) t.join();
    // The worker frees what was abandoned while queued; wait for the queue.
    EXPECT_TRUE(wait_until([&] { return shm::depth(r, r->requests) == 0; }));
    shm::stop_requests(r);
    worker.join();
    EXPECT_GT(answered.load(), 0);
    EXPECT_GT(abandoned.load(), 0);
    EXPECT_TRUE(all_slots_free(r));
}

// A worker that died: what it left is made good by the next one's sweep.
TEST(ReclaimOrphans, AfterAWorkerDied) {
    TestRegion r(10);
    // 0: taken by the dead worker, never finished.
    Queued taken = queue_request(r);
    ASSERT_EQ(pop_request(r), taken.index);
    ASSERT_TRUE(shm::take(r, taken.index));
    // 1: popped by the dead worker but not yet taken, then abandoned.
    Queued popped_abandoned = queue_request(r);
    ASSERT_EQ(pop_request(r), popped_abandoned.index);
    shm::abandon(r, popped_abandoned.index);
    // 2: taken, then abandoned by its backend.
    Queued taken_abandoned = queue_request(r);
    ASSERT_EQ(pop_request(r), taken_abandoned.index);
    ASSERT_TRUE(shm::take(r, taken_abandoned.index));
    shm::abandon(r, taken_abandoned.index);
    // 3: abandoned while still on the request ring; 4: still queued there.
    Queued ring_abandoned = queue_request(r);
    shm::abandon(r, ring_abandoned.index);
    Queued queued = queue_request(r);
    // 5: a LOAD abandoned on the control ring; 6: a LOAD queued there.
    Queued control_abandoned = queue_request(r, shm::LOAD, 1, 1, true);
    shm::abandon(r, control_abandoned.index);
    Queued control_queued = queue_request(r, shm::LOAD, 1, 2, true);
    // 7: a backend filling a request meanwhile.
    uint32_t filling;
    ASSERT_TRUE(shm::acquire_slot(r, filling));
    ASSERT_EQ(shm::depth(r, r->free_slots), 2u);

    EXPECT_EQ(shm::reclaim_orphans(r), 3u);

    Slot* t = shm::slot(r, taken.index);
    EXPECT_EQ(state_of(r, taken.index), shm::DONE);
    EXPECT_EQ(t->status, shm::WORKER_GONE);
    EXPECT_EQ(t->answered, taken.gen);
    EXPECT_EQ(state_of(r, popped_abandoned.index), shm::FREE);
    EXPECT_EQ(state_of(r, taken_abandoned.index), shm::FREE);
    EXPECT_EQ(state_of(r, ring_abandoned.index), shm::ABANDONED) << "freed while still on a ring";
    EXPECT_EQ(state_of(r, queued.index), shm::QUEUED);
    EXPECT_EQ(state_of(r, control_abandoned.index), shm::ABANDONED);
    EXPECT_EQ(state_of(r, control_queued.index), shm::QUEUED);
    EXPECT_EQ(state_of(r, filling), shm::FILLING);
    EXPECT_EQ(shm::depth(r, r->free_slots), 4u);
    EXPECT_EQ(shm::depth(r, r->requests), 2u);
    EXPECT_EQ(shm::depth(r, r->control), 2u);

    // A second sweep finds nothing more (its marks are new ones).
    EXPECT_EQ(shm::reclaim_orphans(r), 0u);

    // The new worker serves the rings.
    uint32_t idx[4];
    ASSERT_EQ(shm::poll_requests(r, idx, 4), 2u);
    EXPECT_EQ(idx[0], ring_abandoned.index);
    EXPECT_FALSE(shm::take(r, idx[0]));  // frees it
    ASSERT_TRUE(shm::take(r, idx[1]));
    shm::finish(r, idx[1]);
    ASSERT_EQ(shm::pop_many(r, r->control, idx, 4), 2u);
    EXPECT_FALSE(shm::take(r, idx[0]));
    ASSERT_TRUE(shm::take(r, idx[1]));
    shm::finish(r, idx[1]);

    // The backends read their answers and release.
    shm::release(r, taken.index);
    shm::release(r, queued.index);
    shm::release(r, control_queued.index);
    shm::release(r, filling);
    EXPECT_TRUE(all_slots_free(r));
}

// A slot on the ring during one sweep and popped (never taken) by a worker
// that then died: the next sweep must not trust the earlier sweep's mark.
TEST(ReclaimOrphans, MarksOfAnEarlierSweepDoNotProtect) {
    TestRegion r(3);
    Queued q = queue_request(r);
    shm::abandon(r, q.index);
    EXPECT_EQ(shm::reclaim_orphans(r), 0u);  // on the ring: left alone
    ASSERT_EQ(pop_request(r), q.index);      // popped, then the worker died
    EXPECT_EQ(shm::reclaim_orphans(r), 1u);
    EXPECT_TRUE(all_slots_free(r));
}

// Left QUEUED but on no ring (popped by a worker that died before take):
// left alone; once its backend gives up, the next sweep frees it.
TEST(ReclaimOrphans, QueuedOffRingIsLeftUntilAbandoned) {
    TestRegion r(3);
    Queued q = queue_request(r);
    ASSERT_EQ(pop_request(r), q.index);
    EXPECT_EQ(shm::reclaim_orphans(r), 0u);
    EXPECT_EQ(state_of(r, q.index), shm::QUEUED);
    shm::abandon(r, q.index);
    EXPECT_EQ(shm::reclaim_orphans(r), 1u);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(ReclaimOrphans, WakesASleepingBackend) {
    TestRegion r(2);
    Queued q = queue_request(r);
    Slot* s = shm::slot(r, q.index);
    ASSERT_EQ(pop_request(r), q.index);
    ASSERT_TRUE(shm::take(r, q.index));
    auto backend = std::async(std::launch::async, [&] { return wait_done(s, 8000ms); });
    ASSERT_TRUE(wait_until([&] { return s->sleeping.load() == 1; }));
    const uint64_t t0 = shm::steady_ns();
    EXPECT_EQ(shm::reclaim_orphans(r), 1u);
    ASSERT_EQ(backend.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(backend.get(), shm::DONE);
    EXPECT_LT(shm::steady_ns() - t0, 6'000'000'000ull);
    EXPECT_EQ(s->status, shm::WORKER_GONE);
    shm::release(r, q.index);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(FailQueued, AnswersWorkerGoneAndFreesRetires) {
    TestRegion r(8);
    Queued p1 = queue_request(r, shm::PREDICT);
    Queued p2 = queue_request(r, shm::PROBA);
    Queued gone = queue_request(r, shm::PREDICT);
    shm::abandon(r, gone.index);
    Queued load = queue_request(r, shm::LOAD, 1, 5, true);
    Queued retire = queue_request(r, shm::RETIRE, 1, 6, true);
    shm::fail_queued(r);
    EXPECT_EQ(shm::depth(r, r->requests), 0u);
    EXPECT_EQ(shm::depth(r, r->control), 0u);
    for (Queued q : {p1, p2, load}) {
        Slot* s = shm::slot(r, q.index);
        EXPECT_EQ(s->state.load(), shm::DONE) << "slot " << q.index;
        EXPECT_EQ(s->status, shm::WORKER_GONE);
        EXPECT_EQ(s->answered, q.gen);
    }
    EXPECT_EQ(state_of(r, gone.index), shm::FREE);
    EXPECT_EQ(state_of(r, retire.index), shm::FREE);
    EXPECT_EQ(shm::depth(r, r->free_slots), 5u);
    for (Queued q : {p1, p2, load}) shm::release(r, q.index);
    EXPECT_TRUE(all_slots_free(r));
}

TEST(FailQueued, ManyRequestsInSeveralPops) {
    // More than the 64 fail_queued pops at once.
    TestRegion r(150);
    std::vector<Queued> qs;
    for (int i = 0; i < 150; ++i) qs.push_back(queue_request(r, shm::PREDICT, 1, i));
    shm::fail_queued(r);
    for (Queued q : qs) {
        ASSERT_EQ(state_of(r, q.index), shm::DONE);
        shm::release(r, q.index);
    }
    EXPECT_TRUE(all_slots_free(r));
}

}  // namespace
}  // namespace pgml::unit
