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

// Complete: every tree padded to the forest's depth D, so that a walk is
// exactly D steps with no child to load and no leaf to test for. A leaf
// above depth D becomes padding splits whose every path ends at copies of
// its value. The splits are stored in blocks of three levels (a subtree of
// 7 splits, 56 bytes, in one 64-byte cache line), the blocks of a band of
// three levels side by side; the last band's blocks (1 to 3 levels) hold
// their splits and then their leaves, one 8-byte unit a leaf. A walk of a
// depth-8 tree then touches 3 cache lines, where heap order touched 7
// (levels 0-2 share a line there, every deeper level and the leaf row
// take one each); a walk is a chain of dependent loads, so when the forest
// is not in cache (a large model between two requests) its time is the
// number of lines times the memory's latency: one row of 1000 trees of
// depth 8 after 64 MB of other memory was written took 50 us in blocks
// against 79 us in heap order, 8 trees walked at once, and 47 against 72
// walking 16 (best of 3 alternating runs of each).
// The walk's step stays arithmetic on one index (complete_step). The
// layout takes about 1.5x the bytes of heap order (blocks of 8 units for 7
// splits, leaves in 8-byte units), and is taken whenever it is no larger
// than the general layout, which near-complete trees (XGBoost's depthwise
// growth) make it; sparse deep trees keep the general layout.
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
inline constexpr uint32_t kForestVersion = 3;
// Where a complete forest's splits start: after the tree table, at the
// next multiple of a cache line (64 bytes) from the header.
constexpr uint64_t complete_nodes_offset(uint64_t num_trees) {
    return (sizeof(Forest) + sizeof(Tree) * num_trees + 63) / 64 * 64;
}

// The buffer given to compile_forest (and any address a forest is read
// at) must be aligned to this.
inline constexpr size_t kForestAlign = alignof(Forest);

static_assert(sizeof(Node) == 12 && alignof(Node) == 4);
static_assert(sizeof(Split) == 8 && alignof(Split) == 4);
static_assert(sizeof(Tree) == 16);
static_assert(std::is_trivially_copyable_v<Forest> && std::is_trivially_copyable_v<Tree> &&
              std::is_trivially_copyable_v<Node> && std::is_trivially_copyable_v<Split>);

// The complete layout's geometry, in 8-byte units from a tree's first
// (every tree takes complete_tree_units(d), a multiple of 16). Levels are
// grouped into bands of three from the root; the last band has 1 to 3.
constexpr uint32_t complete_bands(uint32_t d) { return (d + 2) / 3; }
constexpr uint32_t complete_last_levels(uint32_t d) { return d - 3 * (complete_bands(d) - 1); }
// Units of one block of band c: 7 splits and a spare unit, or in the last
// band 2^r - 1 splits, 2^r leaves and a spare unit (r its levels).
constexpr uint64_t complete_block_units(uint32_t d, uint32_t c) {
    return c + 1 < complete_bands(d) ? 8 : uint64_t{2} << complete_last_levels(d);
}
// Where band c's blocks start (band c has 8^c blocks), aligned to its
// block size so that a position's offset within its block is its low bits.
constexpr uint64_t complete_band_offset(uint32_t d, uint32_t c) {
    uint64_t at = 0;
    for (uint32_t b = 0; b < c; ++b) {
        at += complete_block_units(d, b) << (3 * b);
        const uint64_t next = complete_block_units(d, b + 1);
        at = (at + next - 1) / next * next;
    }
    return at;
}
constexpr uint64_t complete_tree_units(uint32_t d) {
    const uint32_t last = complete_bands(d) - 1;
    const uint64_t end = complete_band_offset(d, last) + (complete_block_units(d, last) << (3 * last));
    return (end + 15) / 16 * 16;
}
// The unit of the node at position q (0 .. 2^level - 1, left to right) of
// a level: level < d a split, level == d a leaf.
constexpr uint64_t complete_unit(uint32_t d, uint32_t level, uint64_t q) {
    const uint32_t c = level / 3 < complete_bands(d) ? level / 3 : complete_bands(d) - 1;
    const uint32_t t = level - 3 * c;  // the level within its band's blocks
    return complete_band_offset(d, c) + complete_block_units(d, c) * (q >> t) + ((uint64_t{1} << t) - 1) +
           (q & ((uint64_t{1} << t) - 1));
}
// A walk's step from a split at unit a of level `level` to its child:
// a' = mul * (a + (a & mask) + right) + add, in unsigned 64-bit arithmetic
// (add may wrap). Within a block (mul 1, add 1) the child is a + w + 1 +
// right, w = a & mask the split's place in its block (heap order there);
// from a band's last level (mul = the next band's block units S) it is the
// first unit of child block 8 x block + 2(w - 3) + right of the next band.
// The offsets of the trees of a tile (multiples of 16 units) keep a & mask
// the same; the step multiplies them by mul (a tile subtracts the excess).
struct CompleteStep {
    uint64_t mask, mul, add;
};
constexpr CompleteStep complete_step(uint32_t d, uint32_t level) {
    const uint32_t c = level / 3;
    if (level % 3 != 2 || c + 1 >= complete_bands(d))
        return {complete_block_units(d, c < complete_bands(d) ? c : complete_bands(d) - 1) - 1, 1, 1};
    const uint64_t s = complete_block_units(d, c + 1);
    return {7, s, complete_band_offset(d, c + 1) - s * complete_band_offset(d, c) - 6 * s};
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
            for (uint32_t level = 0; level < f.complete_depth; ++level)
                for (uint64_t q = 0; q < (uint64_t{1} << level); ++q) {
                    const Split& n = s[complete_unit(f.complete_depth, level, q)];
                    if (!(n.feature & kPadding)) fn(t, n.feature & kSplitFeatureMask, n.threshold);
                }
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
