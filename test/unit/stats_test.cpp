// The serving statistics and the latency histogram (src/shmem/stats.*).
#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <thread>

#include "common.hpp"
#include "shmem/stats.hpp"

namespace pgml::unit {
namespace {

std::unique_ptr<shm::Stats> new_stats() {
    auto s = std::make_unique<shm::Stats>();  // value-initialized: zero
    return s;
}

// The exact q-quantile as latency_quantile defines it: the smallest value
// with at least ceil(q * n) samples at or below it.
uint64_t exact_quantile(std::vector<uint64_t> sorted, double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    if (rank == 0) rank = 1;
    return sorted[rank - 1];
}

double rel_error(uint64_t got, uint64_t want) {
    return std::fabs(static_cast<double>(got) - static_cast<double>(want)) / static_cast<double>(want);
}

void check_quantiles(const std::vector<uint64_t>& samples, std::initializer_list<double> qs,
                     double tolerance, const char* what) {
    auto s = new_stats();
    for (uint64_t v : samples) shm::record_latency(*s, v);
    std::vector<uint64_t> sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    for (double q : qs) {
        uint64_t want = exact_quantile(sorted, q);
        uint64_t got = shm::latency_quantile(*s, q);
        EXPECT_LE(rel_error(got, want), tolerance)
            << what << ": p" << q * 100 << " reported " << got << " ns, exact " << want << " ns";
    }
}

TEST(Histogram, EmptyIsZero) {
    auto s = new_stats();
    EXPECT_EQ(shm::latency_quantile(*s, 0.5), 0u);
    EXPECT_EQ(shm::latency_quantile(*s, 0.99), 0u);
}

TEST(Histogram, BucketsAreMonotoneAndMidpointsClose) {
    std::mt19937_64 rng(3);
    int last_bucket = -1;
    // Every value up to 4096, then a sweep of growing values.
    for (uint64_t v = 0; v < 4096; ++v) {
        int b = shm::latency_bucket(v);
        ASSERT_GE(b, last_bucket);
        ASSERT_LE(b, last_bucket + 1);
        last_bucket = b;
        uint64_t mid = shm::bucket_midpoint(b);
        if (v >= 16) {
            ASSERT_LE(rel_error(mid, v), 1.0 / 32 + 1e-12) << v;
        } else {
            ASSERT_EQ(mid, v);
        }
    }
    for (int i = 0; i < 200000; ++i) {
        uint64_t v = rng() >> (rng() % 60);
        if (v < 16) continue;
        int b = shm::latency_bucket(v);
        ASSERT_GE(b, 0);
        ASSERT_LT(b, shm::kLatencyBuckets);
        ASSERT_EQ(shm::latency_bucket(shm::bucket_midpoint(b)), b) << v;
        ASSERT_LE(rel_error(shm::bucket_midpoint(b), v), 1.0 / 32 + 1e-12) << v;
    }
    EXPECT_EQ(shm::latency_bucket(UINT64_MAX), shm::kLatencyBuckets - 1);
}

TEST(Histogram, LogUniformQuantilesWithinTenPercent) {
    // 200,000 latencies, log-uniform between 1 us and 100 ms.
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(std::log(1e3), std::log(1e8));
    std::vector<uint64_t> samples(200000);
    for (auto& v : samples) v = static_cast<uint64_t>(std::exp(u(rng)));
    check_quantiles(samples, {0.5, 0.9, 0.99, 0.999}, 0.10, "log-uniform 1us..100ms");
}

TEST(Histogram, MixtureQuantilesWithinTenPercent) {
    // Mostly fast answers around 40 us, some around 2 ms, a tail near 80 ms.
    std::mt19937_64 rng(9);
    std::normal_distribution<double> fast(40e3, 5e3), slow(2e6, 2e5), tail(80e6, 5e6);
    std::uniform_real_distribution<double> pick(0, 1);
    std::vector<uint64_t> samples(200000);
    for (auto& v : samples) {
        double p = pick(rng), x = p < 0.9 ? fast(rng) : p < 0.995 ? slow(rng) : tail(rng);
        v = static_cast<uint64_t>(std::max(x, 1000.0));
    }
    check_quantiles(samples, {0.5, 0.9, 0.95, 0.99, 0.999}, 0.10, "mixture");
}

TEST(Histogram, ValuesAroundAPowerOfTwoAreNotReportedAsIt) {
    // 8.4 ms is just above 2^23 ns (8.388608 ms): a histogram of power-of-
    // two buckets would report 2^23 (or 2^24) for all of them.
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<uint64_t> around(8'300'000, 8'500'000);
    std::vector<uint64_t> samples(200000);
    for (auto& v : samples) v = around(rng);
    check_quantiles(samples, {0.5, 0.99}, 0.10, "around 8.4 ms");
    auto s = new_stats();
    for (uint64_t v : samples) shm::record_latency(*s, v);
    EXPECT_NE(shm::latency_quantile(*s, 0.99), uint64_t{1} << 23);
    EXPECT_NE(shm::latency_quantile(*s, 0.99), uint64_t{1} << 24);
    // A distinct answer below and above 2^23: the histogram resolves it.
    auto t = new_stats();
    for (int i = 0; i < 1000; ++i) shm::record_latency(*t, 8'000'000);
    for (int i = 0; i < 1000; ++i) shm::record_latency(*t, 8'400'000);
    EXPECT_LE(rel_error(shm::latency_quantile(*t, 0.25), 8'000'000), 0.04);
    EXPECT_LE(rel_error(shm::latency_quantile(*t, 0.99), 8'400'000), 0.04);
}

TEST(Histogram, ExactPowersOfTwo) {
    for (int e = 4; e < 40; ++e) {
        auto s = new_stats();
        const uint64_t v = uint64_t{1} << e;
        for (int i = 0; i < 100; ++i) shm::record_latency(*s, v);
        EXPECT_LE(rel_error(shm::latency_quantile(*s, 0.5), v), 1.0 / 32 + 1e-12) << "2^" << e;
        EXPECT_LE(rel_error(shm::latency_quantile(*s, 1.0), v), 1.0 / 32 + 1e-12) << "2^" << e;
    }
}

TEST(Histogram, QuantileRanks) {
    auto s = new_stats();
    // 99 answers of 1 us and one of 50 ms: p99 is 1 us, p99.5 and p100 50 ms.
    for (int i = 0; i < 99; ++i) shm::record_latency(*s, 1000);
    shm::record_latency(*s, 50'000'000);
    EXPECT_LE(rel_error(shm::latency_quantile(*s, 0.99), 1000), 0.04);
    EXPECT_LE(rel_error(shm::latency_quantile(*s, 0.995), 50'000'000), 0.04);
    EXPECT_LE(rel_error(shm::latency_quantile(*s, 1.0), 50'000'000), 0.04);
    EXPECT_LE(rel_error(shm::latency_quantile(*s, 0.0), 1000), 0.04);
}

TEST(Stats, RecordBatchAndConcurrentLatencies) {
    auto s = new_stats();
    shm::record_batch(*s, 3);
    shm::record_batch(*s, 10);
    shm::record_batch(*s, 1);
    EXPECT_EQ(s->batches.load(), 3u);
    EXPECT_EQ(s->batched_rows.load(), 14u);
    EXPECT_EQ(s->max_batch.load(), 10u);

    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 50000; ++i) {
                shm::record_latency(*s, 1000 + t);
                shm::record_batch(*s, static_cast<uint64_t>(i % 97) + 1);
            }
        });
    for (auto& t : ts) t.join();
    uint64_t total = 0;
    for (int b = 0; b < shm::kLatencyBuckets; ++b) total += s->latency[b].load();
    EXPECT_EQ(total, 200000u);
    EXPECT_EQ(s->batches.load(), 3u + 200000u);
    EXPECT_EQ(s->max_batch.load(), 97u);
}

}  // namespace
}  // namespace pgml::unit
