// The serving statistics in shared memory: counters written by pool threads
// on every batch, read by any backend without locks (relaxed atomics), and
// a latency histogram fine enough that its percentiles are within a few
// per cent of the true ones.
#pragma once

#include <atomic>
#include <cstdint>

namespace pgml::shm {

// Log-linear buckets: values below 16 ns have a bucket each; above, every
// power of two is split into 16 equal buckets, so a bucket is at most
// 1/16 of its lower bound wide and its midpoint within 1/32 (3.1 %) of
// any value in it.
inline constexpr int kSubBuckets = 16;
inline constexpr int kLatencyBuckets = (64 - 3) * kSubBuckets;

struct Stats {
    std::atomic<uint64_t> requests;
    std::atomic<uint64_t> batches;
    std::atomic<uint64_t> batched_rows;
    std::atomic<uint64_t> max_batch;
    std::atomic<uint64_t> latency[kLatencyBuckets];
};

int latency_bucket(uint64_t ns) noexcept;
// The midpoint of bucket b, in ns.
uint64_t bucket_midpoint(int b) noexcept;

void record_latency(Stats& s, uint64_t ns) noexcept;
// One batch of n requests scored.
void record_batch(Stats& s, uint64_t n) noexcept;
// The latency below which a fraction q of the recorded answers fell (the
// midpoint of the bucket that holds it); 0 when nothing was recorded.
uint64_t latency_quantile(const Stats& s, double q) noexcept;

}  // namespace pgml::shm
