// The worker's scoring threads. Each takes every queued request it can (up
// to max_batch), groups them by model, scores each group in one call of
// the model (its compiled forest, tree by tree over the group, or
// XGBoost), writes the answers into the slots and wakes the backends.
//
// Pure C++, and the threads never call Postgres (DESIGN.md invariant 2): a
// backend waiting for its answer is woken through a futex on its slot's
// state word. The threads are created with every signal blocked, so every
// signal sent to the worker is handled by its main thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "shmem/region.hpp"
#include "worker/pool/registry.hpp"

namespace pgml::pool {

inline constexpr uint32_t kMaxBatchLimit = 4096;

// Faults the tests inject (pgml_worker.inject_fault), to show that every
// slot comes back whatever fails.
enum Fault : uint32_t {
    no_fault = 0,
    fault_score = 1,  // a scoring thread throws in the middle of a batch
    fault_load = 2,   // the main thread throws while it loads a model
    fault_handoff = 4,  // a Postgres ERROR while a hand-over segment is attached
};

class Pool {
public:
    Pool(shm::Region* region, Registry& registry);
    ~Pool();

    // Starts n threads with all signals blocked. Their buffers are
    // allocated here, on the caller's thread: a failure throws (the worker
    // reports it and stops) instead of leaving a thread that cannot serve.
    void start(int n);
    // Makes the threads finish what they hold and return; joins them.
    void stop() noexcept;

    // Changed on configuration reload; read by the threads per batch.
    std::atomic<uint32_t> max_batch{64};
    std::atomic<uint32_t> max_wait_us{0};
    std::atomic<uint32_t> spin_us{200};
    std::atomic<uint32_t> fault{no_fault};
    // Batches that failed with an exception (each of their requests was
    // answered FAILED).
    std::atomic<uint64_t> failed_batches{0};

    struct Request {
        uint32_t index;
        shm::Slot* slot;
        bool finished;
    };

    // Per thread, sized once for the largest batch: no allocation per batch.
    struct Buffers;

private:
    void run(Buffers* b) noexcept;
    void run_loop(Buffers& b);
    void serve(const uint32_t* indices, uint32_t n, Buffers& b) noexcept;
    void score(Buffers& b);
    void score_group(const Model& model, Request* group, size_t n, Buffers& b);

    shm::Region* region_;
    Registry& registry_;
    std::vector<std::thread> threads_;
    std::vector<std::unique_ptr<Buffers>> buffers_;
};

}  // namespace pgml::pool
