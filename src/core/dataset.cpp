#include "core/dataset.hpp"

#include <algorithm>
#include <new>
#include <numeric>
#include <random>

namespace pgml {

float* Dataset::append_row(float label) noexcept {
    try {
        size_t slot = rows_ % kChunkRows;
        if (slot == 0) {
            chunk_x_.reserve(chunk_x_.size() + 1);
            chunk_y_.reserve(chunk_y_.size() + 1);
            chunk_x_.emplace_back(new float[kChunkRows * cols_]);
            chunk_y_.emplace_back(new float[kChunkRows]);
        }
        chunk_y_.back()[slot] = label;
        ++rows_;
        return chunk_x_.back().get() + slot * cols_;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

Split::Split(size_t rows, size_t test_rows, Sampling sampling, uint64_t seed)
    : train_rows_(rows - test_rows), test_rows_(test_rows), test_first_(sampling == Sampling::first) {
    if (sampling == Sampling::random) {
        order_.resize(rows);
        std::iota(order_.begin(), order_.end(), 0u);
        // A fixed engine and our own Fisher-Yates keep the permutation the
        // same across library versions (std::shuffle's is unspecified).
        std::mt19937_64 rng(seed);
        for (size_t i = rows; i > 1; --i) {
            size_t j = static_cast<size_t>(rng() % i);
            std::swap(order_[i - 1], order_[j]);
        }
    }
}

}  // namespace pgml
