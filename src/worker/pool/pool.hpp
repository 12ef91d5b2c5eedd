// The worker's scoring threads. Each takes every queued request it can (up
// to max_batch), groups them by model, scores each group with one XGBoost
// call, writes the answers into the slots and wakes the backends.
//
// Pure C++, and the threads never call Postgres (DESIGN.md invariant 2): a
// backend waiting for its answer is woken through a futex on its slot's
// state word. The threads are created with every signal blocked, so
// Postgres' signal handlers only ever run on the main thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "shmem/layout.hpp"
#include "worker/pool/registry.hpp"

namespace pgml::pool {

inline constexpr uint32_t kMaxBatchLimit = 4096;

class Pool {
public:
    Pool(shm::Region* region, Registry& registry) : region_(region), registry_(registry) {}
    ~Pool() { stop(); }

    // Starts n threads with all signals blocked.
    void start(int n);
    // Makes the threads finish what they hold and return; joins them.
    void stop();

    // Changed on configuration reload; read by the threads per batch.
    std::atomic<uint32_t> max_batch{64};
    std::atomic<uint32_t> max_wait_us{0};
    std::atomic<uint32_t> spin_us{200};

    // Marks a TAKEN slot answered and wakes its backend, or frees it if
    // the backend abandoned it meanwhile.
    static void finish(shm::Region* r, uint32_t index);

    struct Request {
        uint32_t index;
        shm::Slot* slot;
    };

    // Takes a QUEUED slot (QUEUED -> TAKEN) and notes the generation taken;
    // false (and the slot freed) if its backend abandoned it.
    static bool take(shm::Region* r, uint32_t index);

private:
    void run();
    void run_loop();
    // Buffers are per thread, sized once: no allocation per batch.
    void serve(uint32_t* indices, uint32_t n, std::vector<Request>& reqs, float* rows,
               double* values, float* proba);

    shm::Region* region_;
    Registry& registry_;
    std::vector<std::thread> threads_;
};

}  // namespace pgml::pool
