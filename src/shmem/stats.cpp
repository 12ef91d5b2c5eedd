#include "shmem/stats.hpp"

#include <cmath>

namespace pgml::shm {

int latency_bucket(uint64_t ns) noexcept {
    if (ns < kSubBuckets) return static_cast<int>(ns);
    const int msb = 63 - __builtin_clzll(ns);  // >= 4
    const int sub = static_cast<int>((ns >> (msb - 4)) & (kSubBuckets - 1));
    return (msb - 3) * kSubBuckets + sub;
}

uint64_t bucket_midpoint(int b) noexcept {
    if (b < kSubBuckets) return static_cast<uint64_t>(b);
    const int msb = b / kSubBuckets + 3;
    const int sub = b % kSubBuckets;
    const uint64_t width = uint64_t{1} << (msb - 4);
    const uint64_t low = static_cast<uint64_t>(kSubBuckets + sub) * width;
    return low + width / 2;
}

void record_latency(Stats& s, uint64_t ns) noexcept {
    s.latency[latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
}

void record_batch(Stats& s, uint64_t n) noexcept {
    s.batches.fetch_add(1, std::memory_order_relaxed);
    s.batched_rows.fetch_add(n, std::memory_order_relaxed);
    uint64_t seen = s.max_batch.load(std::memory_order_relaxed);
    while (n > seen && !s.max_batch.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
    }
}

uint64_t latency_quantile(const Stats& s, double q) noexcept {
    uint64_t total = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) total += s.latency[b].load(std::memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    if (target == 0) target = 1;
    uint64_t seen = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) {
        seen += s.latency[b].load(std::memory_order_relaxed);
        if (seen >= target) return bucket_midpoint(b);
    }
    return bucket_midpoint(kLatencyBuckets - 1);
}

}  // namespace pgml::shm
