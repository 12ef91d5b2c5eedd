// The polling policy shared by the pool's poller and a polling backend:
// poll only CPU nobody else wants. sched_yield() returns at once when
// nothing else is runnable on this CPU; one that takes longer than
// kBusyYieldNs ran another task, which needed the CPU more than a poller.
#pragma once

#include <cstdint>

#include <sched.h>

#include "shmem/clock.hpp"

namespace pgml::shm {

inline constexpr uint64_t kBusyYieldNs = 5000;
// Looks at a queue between two yields: a few microseconds.
inline constexpr unsigned kLooksPerYield = 128;

// Yields the CPU; false if another task ran meanwhile.
inline bool yield_while_idle() noexcept {
    const uint64_t before = steady_ns();
    sched_yield();
    return steady_ns() - before <= kBusyYieldNs;
}

}  // namespace pgml::shm
