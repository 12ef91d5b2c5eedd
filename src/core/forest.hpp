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

// Two layouts of the trees; compile_forest picks one per forest.
//
// General: each tree's nodes as XGBoost numbers them, 12 bytes a node.
// XGBoost's own predictor goes to left + !(value < threshold), so
// right = left + 1 holds for every tree it predicts as written (others
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

// Complete: every tree padded to the forest's depth D and stored in heap
// order, 2^D - 1 splits (the children of split i are 2i + 1 and 2i + 2)
// then 2^D leaf values. A leaf above depth D becomes padding splits whose
// every path ends at copies of its value. A walk is then exactly D steps of
// i = 2i + 1 + (go right), with no child to load and no leaf to test for:
// one row at a time 1.07x the general walk's speed for a 25-tree depth-6
// forest and 1.6x for 1000 trees of depth 8, in chunks 1.07x and 1.14x
// (bench/forest_batch in bench/quick). The layout is taken only when it is no larger
// than the general one, which near-complete trees (XGBoost's depthwise
// growth) make it: half the bytes for full trees. Sparse deep trees keep
// the general layout.
struct Split {
    float threshold;
    uint32_t feature;  // split feature, | kDefaultLeft, | kPadding
};
// A split under a leaf: both its subtrees end at copies of that leaf. Its
// feature is 0 (the walk reads it like any other).
inline constexpr uint32_t kPadding = 0x40000000u;
inline constexpr uint32_t kSplitFeatureMask = 0x3fffffffu;
// Deepest forest the complete layout takes (2^D leaves a tree).
inline constexpr uint32_t kMaxCompleteDepth = 20;

enum class Layout { automatic, general, complete };

struct Tree {
    uint64_t first_node;  // general: index of its root in the node array;
                          // complete: index of its first split in the
                          // split array (counted in 8-byte Splits, leaves
                          // included: a tree takes complete_tree_units())
    uint32_t num_nodes;
    uint32_t group;       // output group its leaves add to (tree_info)
};

// The header at the start of the block. Offsets count bytes from it.
struct Forest {
    uint32_t magic;        // kForestMagic
    uint32_t version;      // kForestVersion: the layout
    uint64_t size;         // bytes of the whole block
    uint32_t num_feature;  // floats per input row
    uint32_t num_groups;   // margins per row (classes for multi:*, targets for joint regression, else 1)
    uint32_t num_trees;
    Transform transform;
    float base_margin;     // base_score already through ProbToMargin
    uint32_t complete_depth;  // 0: general layout; D: complete, of depth D
    uint64_t trees_offset;
    uint64_t nodes_offset;
    uint64_t num_nodes;    // the model's nodes (either layout)

    const Tree* trees() const {
        return reinterpret_cast<const Tree*>(reinterpret_cast<const char*>(this) + trees_offset);
    }
    const Node* nodes() const {  // general layout
        return reinterpret_cast<const Node*>(reinterpret_cast<const char*>(this) + nodes_offset);
    }
    const Split* splits() const {  // complete layout
        return reinterpret_cast<const Split*>(reinterpret_cast<const char*>(this) + nodes_offset);
    }
    // Floats predict() leaves per row: 1 for multi:softmax, else num_groups.
    uint32_t outputs_per_row() const {
        return transform == Transform::softmax ? 1 : num_groups;
    }
};

inline constexpr uint32_t kForestMagic = 0x46474d50u;  // "PMGF"
inline constexpr uint32_t kForestVersion = 2;
// The buffer given to compile_forest (and any address a forest is read
// at) must be aligned to this.
inline constexpr size_t kForestAlign = alignof(Forest);

static_assert(sizeof(Node) == 12 && alignof(Node) == 4);
static_assert(sizeof(Split) == 8 && alignof(Split) == 4);
static_assert(sizeof(Tree) == 16);
static_assert(std::is_trivially_copyable_v<Forest> && std::is_trivially_copyable_v<Tree> &&
              std::is_trivially_copyable_v<Node> && std::is_trivially_copyable_v<Split>);

// A complete tree of depth d in 8-byte units: 2^d - 1 splits, then 2^d
// leaf floats (2^(d-1) units; d >= 1).
constexpr uint64_t complete_tree_units(uint32_t d) {
    return (uint64_t{1} << d) - 1 + (uint64_t{1} << (d - 1));
}

// Calls fn(tree, feature, threshold) for every split of every tree (not
// the complete layout's padding), in tree order: what a caller needs to
// know of a forest's thresholds whatever its layout.
template <typename Fn>
void for_each_split(const Forest& f, Fn fn) {
    const Tree* trees = f.trees();
    for (uint32_t t = 0; t < f.num_trees; ++t) {
        if (f.complete_depth == 0) {
            const Node* n = f.nodes() + trees[t].first_node;
            for (uint32_t i = 0; i < trees[t].num_nodes; ++i)
                if (n[i].left != 0) fn(t, n[i].feature & kFeatureMask, n[i].value);
        } else {
            const Split* s = f.splits() + trees[t].first_node;
            const uint64_t splits = (uint64_t{1} << f.complete_depth) - 1;
            for (uint64_t i = 0; i < splits; ++i)
                if (!(s[i].feature & kPadding)) fn(t, s[i].feature & kSplitFeatureMask, s[i].threshold);
        }
    }
}
static_assert(std::is_standard_layout_v<Forest>);

// The bytes compile_forest needs for this model, or why the model cannot be
// compiled: the document fails check_document (invalid_binary), or it uses
// something not covered (feature_not_supported, "not compiled into a
// forest: ..."), for XGBoost to serve.
// The layout is chosen from the model alone (automatic: complete when no
// larger), so the same document gives the same size and block; tests force
// either.
Result<size_t> forest_size(const ubjson::Document& doc, Layout layout = Layout::automatic);

// Builds the forest into buffer (kForestAlign-aligned, at least
// forest_size(doc) bytes) and returns it, at buffer. The block is complete
// and self-contained: it may be copied anywhere (memcpy) and read there.
Result<const Forest*> compile_forest(const ubjson::Document& doc, void* buffer, size_t size,
                                     Layout layout = Layout::automatic);

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
