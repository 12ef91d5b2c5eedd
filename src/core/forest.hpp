// A compiled forest: an XGBoost 1.7.4 gbtree model laid out in flat arrays
// and scored without XGBoost, bit for bit what XGBoost's CPU predictor
// returns (XGBoosterPredictFromDense, type 0 and type 1). XGBoost's C API
// costs 12-28 us a call whatever the model; a flat walk of a small model
// takes well under 1 us (the project's shared FOREST.md has the measurements).
//
// The forest is one position-independent block of bytes: a header, then
// the trees, then the nodes, found by byte offsets from the header and
// holding no pointer and no std container. A later step puts it in shared
// memory, mapped at different addresses by many processes, so everything
// a reader needs is in the block and reading it needs no writable state.
//
// Only what was implemented and compared bit for bit against XGBoost is
// compiled; every other model is refused with an Error saying why, and the
// caller serves it with XGBoost (see forest.cpp for the list).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "core/error.hpp"
#include "core/ubjson.hpp"

namespace pgml::forest {

// How XGBoost turns the margin into its type-0 output.
enum class Transform : uint32_t {
    identity = 0,  // reg:squarederror, reg:linear, reg:squaredlogerror,
                   // reg:absoluteerror, reg:pseudohubererror, binary:logitraw
    sigmoid = 1,   // binary:logistic, reg:logistic
    softprob = 2,  // multi:softprob: a probability per class
    softmax = 3,   // multi:softmax: the index of the largest margin, as float
};

// 12 bytes. XGBoost's own predictor goes to left + !(value < threshold),
// so right = left + 1 holds for every tree it predicts as written (others
// are refused), and one child index is enough.
struct Node {
    float value;       // split threshold, or the leaf value when left == 0
    uint32_t left;     // left child, an index within the tree; 0 = leaf (the
                       // root is nobody's child); children always follow
                       // their parent (left > own index), so walks end
    uint32_t feature;  // split feature, | kDefaultLeft when NaN goes left
};
inline constexpr uint32_t kDefaultLeft = 0x80000000u;
inline constexpr uint32_t kFeatureMask = 0x7fffffffu;

struct Tree {
    uint64_t first_node;  // index of its root in the forest's node array
    uint32_t num_nodes;
    uint32_t group;       // output group its leaves add to (tree_info)
};

// The header at the start of the block. Offsets count bytes from it.
struct Forest {
    uint32_t magic;        // kForestMagic
    uint32_t version;      // kForestVersion: the layout
    uint64_t size;         // bytes of the whole block
    uint32_t num_feature;  // floats per input row
    uint32_t num_groups;   // margins per row (classes for multi:*, else 1)
    uint32_t num_trees;
    Transform transform;
    float base_margin;     // base_score already through ProbToMargin
    uint32_t reserved;     // 0
    uint64_t trees_offset;
    uint64_t nodes_offset;
    uint64_t num_nodes;

    const Tree* trees() const {
        return reinterpret_cast<const Tree*>(reinterpret_cast<const char*>(this) + trees_offset);
    }
    const Node* nodes() const {
        return reinterpret_cast<const Node*>(reinterpret_cast<const char*>(this) + nodes_offset);
    }
    // Floats predict() leaves per row: 1 for multi:softmax, else num_groups.
    uint32_t outputs_per_row() const {
        return transform == Transform::softmax ? 1 : num_groups;
    }
};

inline constexpr uint32_t kForestMagic = 0x46474d50u;  // "PMGF"
inline constexpr uint32_t kForestVersion = 1;
// The buffer given to compile_forest (and any address a forest is read
// at) must be aligned to this.
inline constexpr size_t kForestAlign = alignof(Forest);

static_assert(sizeof(Node) == 12 && alignof(Node) == 4);
static_assert(sizeof(Tree) == 16);
static_assert(std::is_trivially_copyable_v<Forest> && std::is_trivially_copyable_v<Tree> &&
              std::is_trivially_copyable_v<Node>);
static_assert(std::is_standard_layout_v<Forest>);

// The bytes compile_forest needs for this model, or why the model cannot be
// compiled: the document fails check_document (invalid_binary), or it uses
// something not covered (feature_not_supported, "not compiled into a
// forest: ..."), for XGBoost to serve.
Result<size_t> forest_size(const ubjson::Document& doc);

// Builds the forest into buffer (kForestAlign-aligned, at least
// forest_size(doc) bytes) and returns it, at buffer. The block is complete
// and self-contained: it may be copied anywhere (memcpy) and read there.
Result<const Forest*> compile_forest(const ubjson::Document& doc, void* buffer, size_t size);

// A forest found in size bytes at bytes (as another process mapped them):
// the header, every offset and every node checked, so that scoring it
// stays inside the block and ends. O(nodes).
Result<const Forest*> open_forest(const void* bytes, size_t size);

// Scores n rows (row-major, num_feature floats each, NaN = missing).
// predict_margin writes num_groups margins per row (XGBoost's type 1).
// predict writes outputs_per_row() floats per row, XGBoost's type 0, but
// out must have room for n * num_groups floats (multi:softmax computes the
// margins there first). Rows in groups of 8 are scored tree-major over
// blocks of rows, each tree walked for 8 rows at once; other rows (every
// call of fewer than 8) one by one, 8 trees walked at once. Either way
// each row's margins add the leaves in tree order, as XGBoost does.
void predict_margin(const Forest& f, const float* rows, size_t n, float* out) noexcept;
void predict(const Forest& f, const float* rows, size_t n, float* out) noexcept;

}  // namespace pgml::forest
