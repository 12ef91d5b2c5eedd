// Training data as XGBoost consumes it: float32 features (NaN = missing) and
// a float32 label per row, stored in fixed-size chunks. Chunks let a table
// scan write each value straight into its final place without knowing the
// row count up front and without the copy-on-grow of one big vector, and they
// are handed to XGBoost batch by batch (see train.cpp), so the table is never
// held twice as floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace pgml {

class Dataset {
public:
    static constexpr size_t kChunkRows = 65536;

    // targets: labels per row (more than one for joint regression).
    explicit Dataset(size_t cols, size_t targets = 1) : cols_(cols), targets_(targets) {}

    size_t rows() const { return rows_; }
    size_t cols() const { return cols_; }
    size_t targets() const { return targets_; }

    // Reserves the next row, stores its labels (targets() of them) and
    // returns where its features go, or nullptr when memory is exhausted.
    // noexcept because the table scan that calls it runs between Postgres
    // calls that may longjmp.
    float* append_row(const float* labels) noexcept;
    float* append_row(float label) noexcept { return append_row(&label); }

    const float* row(size_t i) const { return chunk_x_[i / kChunkRows].get() + (i % kChunkRows) * cols_; }
    // The first label, and all of them.
    float label(size_t i) const { return labels(i)[0]; }
    const float* labels(size_t i) const {
        return chunk_y_[i / kChunkRows].get() + (i % kChunkRows) * targets_;
    }
    void set_label(size_t i, float v) { chunk_y_[i / kChunkRows][(i % kChunkRows) * targets_] = v; }

private:
    size_t cols_, targets_;
    size_t rows_ = 0;
    std::vector<std::unique_ptr<float[]>> chunk_x_;
    std::vector<std::unique_ptr<float[]>> chunk_y_;
};

enum class Sampling { first, last, random, stratified };

// Which rows are the training set and which the test set. For first/last
// the sets are ranges of the scan order; random and stratified use a seeded
// permutation, so retraining on the same snapshot reproduces the same split.
class Split {
public:
    // first, last or random.
    Split(size_t rows, size_t test_rows, Sampling sampling, uint64_t seed);
    // stratified: every distinct label value (class) lands in the test set
    // in proportion to its rows (largest remainders settle the rounding),
    // the rows of each picked at random. The training rows are ordered so
    // that each class is spread evenly over them: contiguous folds of them
    // (fold()) are stratified too.
    static Split stratified(const Dataset& d, size_t test_rows, uint64_t seed);

    size_t train_rows() const { return train_rows_; }
    size_t test_rows() const { return test_rows_; }
    size_t train_index(size_t i) const { return at(test_first_ ? test_rows_ + i : i); }
    size_t test_index(size_t i) const { return at(test_first_ ? i : train_rows_ + i); }

    // Fold k of `folds` for cross-validation on the training rows, as
    // PostgresML cuts them: its test set is the k-th block of
    // train_rows() / folds training rows, its training set the others
    // (the remainder rows always train). Needs 2 <= folds <= train_rows().
    Split fold(size_t k, size_t folds) const;

private:
    Split(std::vector<uint32_t> order, size_t test_rows);
    size_t at(size_t pos) const { return order_.empty() ? pos : order_[pos]; }
    size_t train_rows_, test_rows_;
    bool test_first_;
    std::vector<uint32_t> order_;  // empty for first and last
};

// Copies rows [begin, begin + n) of a selection into dense row-major
// buffers, features to x and labels (targets() per row) to y (may be null).
template <typename IndexFn>
void gather(const Dataset& d, IndexFn index, size_t begin, size_t n, float* x, float* y) {
    const size_t c = d.cols(), k = d.targets();
    for (size_t i = 0; i < n; ++i) {
        size_t r = index(begin + i);
        const float* src = d.row(r);
        for (size_t j = 0; j < c; ++j) x[i * c + j] = src[j];
        if (y)
            for (size_t t = 0; t < k; ++t) y[i * k + t] = d.labels(r)[t];
    }
}

}  // namespace pgml
