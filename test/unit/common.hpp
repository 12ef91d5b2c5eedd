// Helpers shared by the unit tests: a region in ordinary memory, ring and
// slot inspection, bounded waits, and a tiny real XGBoost model.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/model.hpp"
#include "shmem/region.hpp"

namespace pgml::unit {

// A region in zeroed, 64-byte aligned heap memory, as Postgres' shared
// memory would hold it (the tests' threads play backends and the worker).
class TestRegion {
public:
    // forest_memory: bytes of the forests' arena; tokens: in-place scoring
    // tokens (forests.hpp).
    explicit TestRegion(uint32_t nslots, uint32_t max_features = 4, uint32_t max_models = 8,
                        uint64_t forest_memory = 0, uint32_t tokens = 1) {
        size_ = shm::region_size(nslots, max_features, max_models, forest_memory);
        const size_t rounded = (size_ + 63) & ~size_t{63};
        mem_ = std::aligned_alloc(64, rounded);
        std::memset(mem_, 0, rounded);
        r_ = shm::init_region(mem_, nslots, max_features, max_models, forest_memory, tokens);
    }
    ~TestRegion() { std::free(mem_); }
    TestRegion(const TestRegion&) = delete;
    TestRegion& operator=(const TestRegion&) = delete;

    shm::Region* get() const { return r_; }
    shm::Region* operator->() const { return r_; }
    operator shm::Region*() const { return r_; }
    size_t size() const { return size_; }

private:
    void* mem_ = nullptr;
    size_t size_ = 0;
    shm::Region* r_ = nullptr;
};

// The indices on a ring, in pop order (read under the region's lock).
inline std::vector<uint32_t> ring_contents(shm::Region* r, const shm::Ring& ring) {
    shm::Guard g(r->lock);
    std::vector<uint32_t> v;
    const uint32_t* a = shm::ring_array(r, ring);
    for (uint32_t i = 0; i < ring.count; ++i) v.push_back(a[(ring.head + i) % ring.capacity]);
    return v;
}

// Every slot FREE and on the free ring exactly once; the queues empty.
inline ::testing::AssertionResult all_slots_free(shm::Region* r) {
    std::vector<uint32_t> free = ring_contents(r, r->free_slots);
    if (free.size() != r->nslots)
        return ::testing::AssertionFailure()
               << "free_slots.count is " << free.size() << ", expected " << r->nslots;
    std::vector<uint32_t> sorted = free;
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t i = 0; i < r->nslots; ++i)
        if (sorted[i] != i)
            return ::testing::AssertionFailure() << "free ring does not hold each slot once (position "
                                                 << i << " holds " << sorted[i] << ")";
    for (uint32_t i = 0; i < r->nslots; ++i) {
        uint32_t st = shm::slot(r, i)->state.load();
        if (st != shm::FREE)
            return ::testing::AssertionFailure() << "slot " << i << " is on the free ring in state " << st;
    }
    if (shm::depth(r, r->requests) != 0 || shm::depth(r, r->control) != 0)
        return ::testing::AssertionFailure() << "queues not empty";
    return ::testing::AssertionSuccess();
}

// Polls pred (yielding) until it holds or timeout passes; its last value.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= until) return pred();
        std::this_thread::yield();
    }
    return true;
}

// A backend's wait for its answer, as the backend does it (await_inner in
// src/backend/worker_client.cpp): wait_for_answer again until the slot is
// DONE or timeout passes; the state it saw last. One wait_for_answer may
// return early with the request still on its way: the futex wait returns
// at once when the state moved from QUEUED to TAKEN before it slept, and
// may wake spuriously. Tests that took one call for the answer failed now
// and then (under ThreadSanitizer's slower threads, often).
inline uint32_t wait_done(shm::Slot* s, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                          uint64_t spin_ns = 0) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) return s->state.load();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
        // The whole time left each time: a lost wake-up still shows as a
        // wait until the timeout.
        const uint32_t st = shm::wait_for_answer(s, spin_ns, static_cast<int>(left + 1));
        if (st == shm::DONE) return st;
    }
}

inline uint32_t sleepers(shm::Region* r) {
    shm::Guard g(r->lock);
    return r->sleepers;
}

// A backend's request: acquires a slot, stamps and publishes it.
struct Queued {
    uint32_t index;
    uint32_t gen;
};
inline Queued queue_request(shm::Region* r, shm::Kind kind = shm::PREDICT, uint32_t db = 1,
                            int64_t model_id = 1, bool control = false) {
    Queued q{};
    if (!shm::acquire_slot(r, q.index)) {
        ADD_FAILURE() << "no free slot";
        return q;
    }
    q.gen = shm::stamp(r, shm::slot(r, q.index), kind, db, model_id);
    if (control)
        shm::publish_control(r, q.index);
    else
        shm::publish_request(r, q.index);
    return q;
}

// The tiny regression model: 3 features, label 3*x0 - 2*x1 + x2, trained
// once per process with pgml::train; its UBJSON bytes.
inline constexpr size_t kTinyFeatures = 3;
const std::vector<uint8_t>& tiny_model_bytes();
Model load_tiny_model();
// Deterministic feature rows for requests (kTinyFeatures each, in [0, 10)).
void tiny_row(uint32_t i, float* out);
// A tiny classifier on the same rows with k classes (label floor(x0 * k / 10)):
// its model and the label value of each class.
struct TinyClassifier {
    std::vector<uint8_t> ubj;
    std::vector<double> classes;
};
TinyClassifier train_tiny_classifier(int k);

}  // namespace pgml::unit
