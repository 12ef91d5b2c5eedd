// Clocks for shared-memory timestamps. Steady time (enqueue-to-answer
// latency, claim expiry, idle eviction) is CLOCK_MONOTONIC, which every
// process of the machine shares; system time is for what users read.
#pragma once

#include <chrono>
#include <cstdint>

namespace pgml::shm {

inline uint64_t steady_ns() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

inline uint64_t system_ns() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace pgml::shm
