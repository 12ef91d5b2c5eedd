#include "core/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>
#include <random>

namespace pgml {

float* Dataset::append_row(const float* labels) noexcept {
    try {
        size_t slot = rows_ % kChunkRows;
        if (slot == 0) {
            chunk_x_.reserve(chunk_x_.size() + 1);
            chunk_y_.reserve(chunk_y_.size() + 1);
            chunk_x_.emplace_back(new float[kChunkRows * cols_]);
            chunk_y_.emplace_back(new float[kChunkRows * targets_]);
        }
        for (size_t t = 0; t < targets_; ++t) chunk_y_.back()[slot * targets_ + t] = labels[t];
        ++rows_;
        return chunk_x_.back().get() + slot * cols_;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

namespace {

// A seeded permutation of 0..n-1. A fixed engine and our own Fisher-Yates
// keep it the same across library versions (std::shuffle's is unspecified).
std::vector<uint32_t> permutation(size_t n, uint64_t seed) {
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(seed);
    for (size_t i = n; i > 1; --i) {
        size_t j = static_cast<size_t>(rng() % i);
        std::swap(order[i - 1], order[j]);
    }
    return order;
}

// Label order for grouping rows into strata; NaN (never a label today) is
// a stratum of its own, after the others, instead of breaking the sort.
bool label_before(float a, float b) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return a < b;
}

bool same_label(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

Split::Split(size_t rows, size_t test_rows, Sampling sampling, uint64_t seed)
    : train_rows_(rows - test_rows), test_rows_(test_rows), test_first_(sampling == Sampling::first) {
    if (sampling == Sampling::random || sampling == Sampling::stratified) order_ = permutation(rows, seed);
}

Split::Split(std::vector<uint32_t> order, size_t test_rows)
    : train_rows_(order.size() - test_rows), test_rows_(test_rows), test_first_(false),
      order_(std::move(order)) {}

Split Split::stratified(const Dataset& d, size_t test_rows, uint64_t seed) {
    const size_t n = d.rows();
    // Rows grouped by label, in random order within each group.
    std::vector<uint32_t> rows = permutation(n, seed);
    std::stable_sort(rows.begin(), rows.end(),
                     [&](uint32_t a, uint32_t b) { return label_before(d.label(a), d.label(b)); });
    struct Stratum {
        size_t begin, size, test = 0;
        size_t remainder = 0;  // of size * test_rows / n, for the rounding
    };
    std::vector<Stratum> strata;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_label(d.label(rows[j]), d.label(rows[i]))) ++j;
        strata.push_back({i, j - i});
        i = j;
    }
    // Each stratum's share of the test rows, rounded down, then one more
    // row to those with the largest remainders until the test set is full.
    // Ties go to the larger stratum, then to a random one: with a
    // continuous label every stratum is one row, all tied, and the test
    // set must then be a random sample, not the lowest labels.
    size_t given = 0;
    for (auto& s : strata) {
        const unsigned __int128 share = static_cast<unsigned __int128>(s.size) * test_rows;
        s.test = static_cast<size_t>(share / n);
        s.remainder = static_cast<size_t>(share % n);
        given += s.test;
    }
    std::vector<size_t> by_remainder(strata.size());
    std::iota(by_remainder.begin(), by_remainder.end(), size_t{0});
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
    for (size_t i = by_remainder.size(); i > 1; --i) std::swap(by_remainder[i - 1], by_remainder[rng() % i]);
    std::stable_sort(by_remainder.begin(), by_remainder.end(), [&](size_t a, size_t b) {
        if (strata[a].remainder != strata[b].remainder) return strata[a].remainder > strata[b].remainder;
        return strata[a].size > strata[b].size;
    });
    for (size_t k = 0; given < test_rows && k < by_remainder.size(); ++k) {
        Stratum& s = strata[by_remainder[k]];
        if (s.test < s.size) {
            ++s.test;
            ++given;
        }
    }

    // Training rows first, each at (rank + 0.5) / its stratum's training
    // rows, so that every class is spread evenly over the training order;
    // then the test rows.
    struct Placed {
        double key;
        uint32_t stratum, row;
    };
    std::vector<Placed> train;
    train.reserve(n - test_rows);
    std::vector<uint32_t> order;
    order.reserve(n);
    for (size_t si = 0; si < strata.size(); ++si) {
        const Stratum& s = strata[si];
        const size_t m = s.size - s.test;
        for (size_t r = 0; r < m; ++r)
            train.push_back({(static_cast<double>(r) + 0.5) / static_cast<double>(m),
                             static_cast<uint32_t>(si), rows[s.begin + s.test + r]});
    }
    std::sort(train.begin(), train.end(), [](const Placed& a, const Placed& b) {
        return a.key != b.key ? a.key < b.key : a.stratum < b.stratum;
    });
    for (const Placed& p : train) order.push_back(p.row);
    for (const Stratum& s : strata)
        for (size_t r = 0; r < s.test; ++r) order.push_back(rows[s.begin + r]);
    return Split(std::move(order), test_rows);
}

Split Split::fold(size_t k, size_t folds) const {
    const size_t block = train_rows_ / folds;
    const size_t begin = k * block, end = begin + block;
    std::vector<uint32_t> order;
    order.reserve(train_rows_);
    for (size_t i = 0; i < train_rows_; ++i)
        if (i < begin || i >= end) order.push_back(static_cast<uint32_t>(train_index(i)));
    for (size_t i = begin; i < end; ++i) order.push_back(static_cast<uint32_t>(train_index(i)));
    return Split(std::move(order), block);
}

}  // namespace pgml
