// Compiles and scores forests (forest.hpp). The arithmetic follows XGBoost
// 1.7.4 exactly (src/predictor/cpu_predictor.cc, predict_fn.h,
// src/common/math.h, src/objective/*); each rule below says where it is.
//
// Covered: booster gbtree (any num_parallel_tree), scalar leaves,
// numerical splits, several targets (identity objectives), and the
// objectives whose ProbToMargin and PredTransform are implemented here. Refused, to be served by XGBoost:
// dart (weight_drop scales each tree), gblinear, vector leaves and
// categorical splits (check_document already refuses both), any other
// objective (count:poisson, reg:gamma, reg:tweedie, survival:*,
// binary:hinge, rank:*: transforms not implemented or not verified), and
// trees whose shape XGBoost's predictor would not walk as written (below).
#include "core/forest.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model_check.hpp"

namespace pgml::forest {

namespace {

using ubjson::Document;
using ubjson::Kind;
using ubjson::Typed;
using ubjson::Value;

constexpr const char* kNotSupported = sqlstate::feature_not_supported;

// More output groups than this stay on XGBoost: scoring keeps every
// margin of a batch (up to 4096 rows) in a per-thread buffer.
constexpr uint64_t kMaxGroups = 1024;
// Wider rows stay on XGBoost: the worker path takes at most 65536
// features a row anyway, and the load-time check scores rows this wide.
constexpr uint64_t kMaxFeatures = 65536;

tl::unexpected<Error> refuse(const std::string& why) {
    return fail(kNotSupported, "not compiled into a forest: " + why);
}

// What the checks found, for sizing and for building.
struct Plan {
    const Value* trees = nullptr;
    const Value* tree_info = nullptr;
    uint32_t num_feature = 0;
    uint32_t num_groups = 1;
    uint32_t num_trees = 0;
    Transform transform = Transform::identity;
    float base_margin = 0;
    uint64_t num_nodes = 0;
    uint32_t depth = 0;           // the deepest tree's depth (a lone leaf: 0)
    uint32_t complete_depth = 0;  // the layout: 0 general, else complete
    size_t trees_offset = 0, nodes_offset = 0, size = 0;
};

const Value* member(const Document& d, const Value* obj, std::string_view key) {
    return obj && obj->kind == Kind::object ? d.find(*obj, key) : nullptr;
}

// A decimal string member ("3"), as XGBoost saves its parameters.
bool decimal(const Document& d, const Value* obj, std::string_view key, uint64_t& out) {
    const Value* v = member(d, obj, key);
    if (!v || v->kind != Kind::string) return false;
    std::string_view s = d.string(*v);
    if (s.empty() || s.size() > 10) return false;
    uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    out = n;
    return true;
}

Result<Transform> objective(std::string_view name) {
    // ProbToMargin and PredTransform are the identity for all of these
    // (regression_loss.h LinearSquareLoss, SquaredLogError, LogisticRaw;
    // regression_obj.cu PseudoHuberRegression and MeanAbsoluteError keep
    // ObjFunction's defaults; reg:linear is LinearSquareLoss).
    for (const char* id : {"reg:squarederror", "reg:linear", "reg:squaredlogerror",
                           "reg:absoluteerror", "reg:pseudohubererror", "binary:logitraw"})
        if (name == id) return Transform::identity;
    if (name == "binary:logistic" || name == "reg:logistic") return Transform::sigmoid;
    if (name == "multi:softprob") return Transform::softprob;
    if (name == "multi:softmax") return Transform::softmax;
    std::string shown;
    for (size_t i = 0; i < name.size() && i < 40; ++i)
        shown.push_back(name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?');
    return refuse("objective \"" + shown + "\" is not covered");
}

// base_score is saved in probability space as the shortest string that
// reads back to the float ("5E-1"); XGBoost reads it with its own
// correctly rounded from_chars, so strtof gives the same float.
Result<float> base_score(const Document& d, const Value* param) {
    const Value* v = member(d, param, "base_score");
    if (!v || v->kind != Kind::string) return refuse("base_score is not a string");
    std::string s(d.string(*v));
    char* end = nullptr;
    float b = std::strtof(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(b))
        return refuse("base_score is not a finite number");
    return b;
}

// Trees XGBoost's predictor walks as the arrays say: it goes to
// LeftChild() + 1 for "not less than" (predict_fn.h) but to RightChild()
// for a missing value, so right = left + 1 must hold on every reachable
// split. Children after their parent makes a forward pass find every
// reachable node and makes every walk end; XGBoost writes trees that way
// (it allocates children after their parent; only reused deleted nodes
// could break it, and those are refused).
// Also finds the depth of the tree's deepest reachable leaf (reached[i] is
// 1 + the depth of node i, 0 where no walk goes).
bool tree_shape(const Document& d, const Value& t, uint64_t index, uint64_t& nodes, uint32_t& depth,
                std::vector<uint32_t>& reached, std::string& why) {
    uint64_t n = 0;
    decimal(d, member(d, &t, "tree_param"), "num_nodes", n);  // checked already
    Typed left = d.typed(*member(d, &t, "left_children"));
    Typed right = d.typed(*member(d, &t, "right_children"));
    reached.assign(n, 0);
    reached[0] = 1;
    depth = 0;
    for (uint64_t i = 0; i < n; ++i) {
        int64_t l = left.integer(i);
        if (reached[i]) depth = std::max(depth, reached[i] - 1);
        if (!reached[i] || l == -1) continue;
        if (l <= static_cast<int64_t>(i) || right.integer(i) != l + 1) {
            why = "tree " + std::to_string(index) + ", node " + std::to_string(i) +
                  ": children " + std::to_string(l) + " and " + std::to_string(right.integer(i)) +
                  " are not consecutive nodes after their parent";
            return false;
        }
        reached[l] = reached[l + 1] = reached[i] + 1;
    }
    nodes = n;
    return true;
}

Result<Plan> plan(const Document& d, Layout layout) {
    if (auto ok = ubjson::check_document(d); !ok) return tl::unexpected(ok.error());
    Plan p;
    const Value* learner = member(d, &d.root(), "learner");
    const Value* gb = member(d, learner, "gradient_booster");
    std::string_view booster = d.string(*member(d, gb, "name"));
    if (booster != "gbtree")
        return refuse("booster " + std::string(booster) + " is not covered (gbtree only)");

    const Value* param = member(d, learner, "learner_model_param");
    uint64_t num_feature = 0, num_class = 0, num_target = 1;
    decimal(d, param, "num_feature", num_feature);  // all checked already
    decimal(d, param, "num_class", num_class);
    if (member(d, param, "num_target")) decimal(d, param, "num_target", num_target);
    // Several targets (joint regression): one output group per target, as
    // for classes; XGBoost adds base_score to each and leaves them as they
    // are (identity objectives only, checked below).
    if (num_target != 1 && num_class != 0) return refuse("both num_class and num_target are set");
    if (num_feature > kMaxFeatures) return refuse(std::to_string(num_feature) + " features, more than a forest takes");
    if (num_class > kMaxGroups) return refuse(std::to_string(num_class) + " classes, more than a forest takes");
    if (num_target > kMaxGroups) return refuse(std::to_string(num_target) + " targets, more than a forest takes");
    p.num_feature = static_cast<uint32_t>(num_feature);
    p.num_groups = static_cast<uint32_t>(std::max<uint64_t>({num_class, num_target, 1}));

    const Value* obj = member(d, learner, "objective");
    auto transform = objective(d.string(*member(d, obj, "name")));
    if (!transform) return tl::unexpected(transform.error());
    p.transform = *transform;
    auto b = base_score(d, param);
    if (!b) return tl::unexpected(b.error());
    if (p.transform == Transform::softprob || p.transform == Transform::softmax) {
        // The transform uses the objective's own num_class (multiclass_obj.cu).
        uint64_t k = 0;
        if (!decimal(d, member(d, obj, "softmax_multiclass_param"), "num_class", k) ||
            k != p.num_groups)
            return refuse("the objective's num_class does not match the model's " +
                          std::to_string(p.num_groups) + " classes");
        p.base_margin = *b;
    } else {
        if (p.num_groups != 1 && !(num_target == p.num_groups && p.transform == Transform::identity))
            return refuse("num_class is " + std::to_string(num_class) + ", num_target " +
                          std::to_string(num_target) + " for objective " +
                          std::string(d.string(*member(d, obj, "name"))));
        if (p.transform == Transform::sigmoid) {
            // LogisticRegression::ProbToMargin, which CHECK-fails outside (0, 1).
            if (!(*b > 0.0f && *b < 1.0f))
                return refuse("base_score is not in (0, 1) for a logistic objective");
            p.base_margin = -logf(1.0f / *b - 1.0f);
        } else {
            p.base_margin = *b;  // ProbToMargin is the identity
        }
    }

    const Value* model = member(d, gb, "model");
    p.trees = member(d, model, "trees");
    p.tree_info = member(d, model, "tree_info");
    p.num_trees = static_cast<uint32_t>(p.trees->bits);
    std::vector<uint32_t> reached;
    std::string why;
    uint64_t i = 0;
    for (const Value* t = d.first(*p.trees); t; t = d.next(*t), ++i) {
        uint64_t n = 0;
        uint32_t depth = 0;
        if (!tree_shape(d, *t, i, n, depth, reached, why)) return refuse(why);
        p.num_nodes += n;
        p.depth = std::max(p.depth, depth);
    }
    p.trees_offset = sizeof(Forest);
    p.nodes_offset = p.trees_offset + sizeof(Tree) * p.num_trees;
    const uint64_t general = sizeof(Node) * p.num_nodes;
    // The complete layout's blocks start on a cache line of the block
    // (its storage is cache-line aligned: the shared arena, Model's heap).
    const uint64_t complete_offset = complete_nodes_offset(p.num_trees);
    // The complete layout needs a split somewhere (depth >= 1) and a
    // feature for its padding to read.
    const bool can_complete = p.depth >= 1 && p.depth <= kMaxCompleteDepth && p.num_feature >= 1;
    const uint64_t complete = can_complete ? sizeof(Split) * complete_tree_units(p.depth) * p.num_trees : 0;
    if (layout == Layout::complete && !can_complete)
        return fail(sqlstate::invalid_parameter, "the complete layout needs a depth from 1 to " +
                                                     std::to_string(kMaxCompleteDepth));
    if (layout == Layout::complete ||
        (layout == Layout::automatic && can_complete && complete_offset + complete <= p.nodes_offset + general)) {
        p.complete_depth = p.depth;
        p.nodes_offset = complete_offset;
    }
    p.size = p.nodes_offset + (p.complete_depth ? complete : general);
    p.size = (p.size + kForestAlign - 1) & ~(kForestAlign - 1);
    return p;
}

// One tree in the general layout: XGBoost's nodes as they are.
void build_general(const Document& d, const Value& t, uint64_t n, Node* out, std::vector<uint32_t>& reached) {
    Typed left = d.typed(*member(d, &t, "left_children"));
    Typed split = d.typed(*member(d, &t, "split_indices"));
    Typed cond = d.typed(*member(d, &t, "split_conditions"));
    Typed dleft = d.typed(*member(d, &t, "default_left"));
    // A leaf's value is its split_conditions entry (RegTree::Node keeps
    // both in one union). Nodes no walk reaches (deleted by pruning)
    // become leaves, so every split in the block is one open_forest
    // can check. plan() checked the reachable splits' children.
    reached.assign(n, 0);
    reached[0] = 1;
    for (uint64_t i = 0; i < n; ++i) {
        int64_t l = left.integer(i);
        out[i].value = cond.number(i);
        if (!reached[i] || l == -1) continue;  // leaf: left 0, feature 0
        reached[l] = reached[l + 1] = 1;
        out[i].left = static_cast<uint32_t>(l);
        out[i].feature = (static_cast<uint32_t>(split.integer(i)) & kFeatureMask) |
                         (dleft.integer(i) ? kDefaultLeft : 0);
    }
}

// One tree in the complete layout of depth D (at least the tree's own):
// heap position p (level l, the q-th of its level) holds the node
// source[p], stored at complete_unit(D, l, q); a leaf's position above
// depth D passes it on to both children, as padding, down to the leaves.
// Units no position takes stay zero.
void build_complete(const Document& d, const Value& t, uint32_t depth, Split* out,
                    std::vector<uint32_t>& source) {
    Typed left = d.typed(*member(d, &t, "left_children"));
    Typed split = d.typed(*member(d, &t, "split_indices"));
    Typed cond = d.typed(*member(d, &t, "split_conditions"));
    Typed dleft = d.typed(*member(d, &t, "default_left"));
    const uint64_t splits = (uint64_t{1} << depth) - 1;
    source.assign(2 * splits + 1, 0);
    for (uint32_t level = 0; level < depth; ++level) {
        const uint64_t first = (uint64_t{1} << level) - 1;
        for (uint64_t q = 0; q <= first; ++q) {
            const uint64_t p = first + q;
            const uint32_t s = source[p];
            const int64_t l = left.integer(s);
            Split& n = out[complete_unit(depth, level, q)];
            if (l == -1) {
                n = Split{0.0f, kPadding};
                source[2 * p + 1] = source[2 * p + 2] = s;
            } else {
                n = Split{cond.number(s), (static_cast<uint32_t>(split.integer(s)) & kSplitFeatureMask) |
                                              (dleft.integer(s) ? kDefaultLeft : 0)};
                source[2 * p + 1] = static_cast<uint32_t>(l);
                source[2 * p + 2] = static_cast<uint32_t>(l + 1);
            }
        }
    }
    // Every walk ends at depth D, where plan() saw only leaves: a leaf's
    // value in its unit's threshold, feature 0.
    for (uint64_t q = 0; q <= splits; ++q)
        out[complete_unit(depth, depth, q)] = Split{cond.number(source[splits + q]), 0};
}

void build(const Document& d, const Plan& p, void* buffer) {
    std::memset(buffer, 0, p.size);
    auto* f = static_cast<Forest*>(buffer);
    f->magic = kForestMagic;
    f->version = kForestVersion;
    f->size = p.size;
    f->num_feature = p.num_feature;
    f->num_groups = p.num_groups;
    f->num_trees = p.num_trees;
    f->transform = p.transform;
    f->base_margin = p.base_margin;
    f->complete_depth = p.complete_depth;
    f->trees_offset = p.trees_offset;
    f->nodes_offset = p.nodes_offset;
    f->num_nodes = p.num_nodes;
    auto* trees = reinterpret_cast<Tree*>(static_cast<char*>(buffer) + p.trees_offset);
    char* nodes = static_cast<char*>(buffer) + p.nodes_offset;
    const uint64_t units = p.complete_depth ? complete_tree_units(p.complete_depth) : 0;
    uint64_t first_node = 0, first_split = 0;
    std::vector<uint32_t> scratch;
    const Value* g = d.first(*p.tree_info);
    for (const Value* t = d.first(*p.trees); t; t = d.next(*t), g = d.next(*g), ++trees) {
        uint64_t n = 0;
        decimal(d, member(d, t, "tree_param"), "num_nodes", n);
        const uint64_t first = p.complete_depth ? first_split : first_node;
        *trees = Tree{first, static_cast<uint32_t>(n), static_cast<uint32_t>(g->bits)};
        if (p.complete_depth)
            build_complete(d, *t, p.complete_depth, reinterpret_cast<Split*>(nodes) + first_split, scratch);
        else
            build_general(d, *t, n, reinterpret_cast<Node*>(nodes) + first_node, scratch);
        first_node += n;
        first_split += units;
    }
}

// Scoring. A walk down a tree is a chain of dependent loads (node, then
// the row's feature, then the child), so one walk at a time leaves the CPU
// mostly waiting. Walks of different trees, or of different rows, do not
// depend on each other: advancing kLanes of them in one loop lets their
// loads overlap. On this project's 2-vCPU machines 8 lanes did best:
// about 2-3x one walk at a time (as in FOREST.md); 4 lanes gave 1.4-1.7x,
// 16 no more than 8 (they run out of registers).
//
// Interleaving only changes when a leaf is found, never the arithmetic:
// each row's margins still start from the base margin and add the leaves
// in float, in tree order, per output group, which is what makes the
// result bit for bit XGBoost's (PredictByAllTrees).
constexpr size_t kLanes = 8;

// Whether XGBoost's GetNextNode goes right at a split: NaN takes the
// default child; everything else, ±Inf included, goes left iff
// value < threshold. Three ways, the same answer:
// - kBranchy tests for NaN with a branch: nearly free while the rows have
//   no NaN, a mispredicted branch for every NaN a walk meets;
// - kBranchless combines the NaN test and the default-left bit in
//   arithmetic: a few more instructions a step, never a misprediction;
// - kNone, for rows known to hold no NaN (any_nan looked first): no test
//   at all, two instructions fewer a step than kBranchy.
// Measured over blocks of rows: with no NaN, the branchy walk is 1.2-1.3x
// the branchless; with 5 % NaN the branchless is 1.15-1.3x the branchy.
// So a block of rows, or a single row, with no NaN takes kNone; a block
// with NaN the branchless walk; a single row with NaN the branchy one
// (one row at a time it did as well or better, within the noise).
enum class NaNTest { kNone, kBranchy, kBranchless };

template <NaNTest kNaN>
inline uint32_t go_right(float v, float threshold, uint32_t feature) noexcept {
    if constexpr (kNaN == NaNTest::kNone)
        return !(v < threshold);
    else if constexpr (kNaN == NaNTest::kBranchy)
        return std::isnan(v) ? !(feature & kDefaultLeft) : !(v < threshold);
    else  // right unless v < threshold, or v is NaN and NaN goes left
        return !(v < threshold) & !((v != v) & (feature >> 31));
}

// The general layout: the child of split n (the right child is left + 1).
template <NaNTest kNaN = NaNTest::kBranchy>
inline uint32_t child(const Node& n, const float* row) noexcept {
    return n.left + go_right<kNaN>(row[n.feature & kFeatureMask], n.value, n.feature);
}

// Whether any of the n floats is NaN. In chunks of 16, which GCC
// vectorizes (4 floats an instruction), stopping at the chunk with a NaN.
inline bool any_nan(const float* v, size_t n) noexcept {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int nan = 0;
        for (size_t k = 0; k < 16; ++k) nan |= std::isnan(v[i + k]);
        if (nan) return true;
    }
    for (; i < n; ++i)
        if (std::isnan(v[i])) return true;
    return false;
}

// The trees of a general-layout forest, as the scoring loops walk them.
struct GeneralTrees {
    const Tree* trees;
    const Node* nodes;
    explicit GeneralTrees(const Forest& f) : trees(f.trees()), nodes(f.nodes()) {}

    const Node* root(uint32_t t) const noexcept { return nodes + trees[t].first_node; }

    // One tree, one row.
    float leaf(uint32_t t, const float* row) const noexcept {
        const Node* n = root(t);
        uint32_t i = 0;
        while (n[i].left != 0) i = child(n[i], row);
        return n[i].value;
    }

    // kLanes walks at once: lane k walks tree(k) (its root) for row(k), and
    // leaves[k] gets its leaf value. A lane at a leaf stops (a leaf's
    // feature is not read: open_forest checks only the splits' features),
    // the others go on; every walk ends because children follow their
    // parent. The inner loop is unrolled so that each lane keeps its node
    // pointer in a register (GCC 12 unrolls it in this for (;;) ... break
    // shape, not when the outer loop tests a flag in its condition: check
    // the assembly when changing it). Lanes that reach leaves at different
    // depths cost a branch each; a version with conditional moves instead
    // ran 1.15x slower (measured), and the complete layout needs neither.
    template <NaNTest kNaN, typename TreeOf, typename RowOf>
    static void walk(TreeOf tree, RowOf row, float* leaves) noexcept {
        const Node* at[kLanes];
#pragma GCC unroll 8
        for (size_t k = 0; k < kLanes; ++k) at[k] = tree(k);
        for (;;) {
            bool moved = false;
#pragma GCC unroll 8
            for (size_t k = 0; k < kLanes; ++k) {
                if (at[k]->left != 0) {
                    at[k] = tree(k) + child<kNaN>(*at[k], row(k));
                    moved = true;
                }
            }
            if (!moved) break;
        }
#pragma GCC unroll 8
        for (size_t k = 0; k < kLanes; ++k) leaves[k] = at[k]->value;
    }
    template <NaNTest kNaN, typename TreeOf, typename RowOf>
    void lanes(TreeOf tree, RowOf row, float* leaves) const noexcept {
        walk<kNaN>(tree, row, leaves);
    }
};

// The walk's steps of every depth (complete_step), for the walks whose
// depth is known only when running.
using Steps = std::array<CompleteStep, kMaxCompleteDepth>;
constexpr std::array<Steps, kMaxCompleteDepth + 1> kSteps = [] {
    std::array<Steps, kMaxCompleteDepth + 1> all{};
    for (uint32_t d = 1; d <= kMaxCompleteDepth; ++d)
        for (uint32_t l = 0; l < d; ++l) all[d][l] = complete_step(d, l);
    return all;
}();

// The trees of a complete-layout forest: depth steps from the root, to a
// leaf's unit.
struct CompleteTrees {
    const Tree* trees;
    const Split* splits;
    uint32_t depth;
    uint64_t units;       // Splits a tree takes (open_forest checked first_node)
    const Steps& steps;
    explicit CompleteTrees(const Forest& f)
        : trees(f.trees()), splits(f.splits()), depth(f.complete_depth),
          units(complete_tree_units(f.complete_depth)), steps(kSteps[f.complete_depth]) {}

    const Split* root(uint32_t t) const noexcept { return splits + t * units; }

    static uint64_t step(const CompleteStep& s, uint64_t at, uint32_t right) noexcept {
        return s.mul * (at + (at & s.mask) + right) + s.add;
    }

    float leaf(uint32_t t, const float* row) const noexcept {
        const Split* s = root(t);
        uint64_t at = 0;
        for (uint32_t d = 0; d < depth; ++d) {
            const Split n = s[at];
            at = step(steps[d], at, go_right<NaNTest::kBranchy>(row[n.feature & kSplitFeatureMask], n.threshold, n.feature));
        }
        return s[at].threshold;
    }

    // kLanes walks at once, each exactly depth steps: no lane waits for
    // another and no step tests for a leaf.
    template <NaNTest kNaN, typename TreeOf, typename RowOf>
    void lanes(TreeOf tree, RowOf row, float* leaves) const noexcept {
        const Split* base[kLanes];
        uint64_t at[kLanes];
#pragma GCC unroll 8
        for (size_t k = 0; k < kLanes; ++k) {
            base[k] = tree(k);
            at[k] = 0;
        }
        for (uint32_t d = 0; d < depth; ++d) {
            const CompleteStep s = steps[d];
#pragma GCC unroll 8
            for (size_t k = 0; k < kLanes; ++k) {
                const Split n = base[k][at[k]];
                const float v = row(k)[n.feature & kSplitFeatureMask];
                at[k] = step(s, at[k], go_right<kNaN>(v, n.threshold, n.feature));
            }
        }
#pragma GCC unroll 8
        for (size_t k = 0; k < kLanes; ++k) leaves[k] = base[k][at[k]].threshold;
    }
};

// One row's margins: kLanes trees walked at once, their leaves then added
// one by one in tree order; the last num_trees % kLanes trees one at a
// time. For fewer rows than kLanes this is the fastest way: a tree-major
// sweep of so few rows has nothing to interleave, and walking them one by
// one there took 1.4-2.7x as long (1 to 7 rows; measured). From 8 rows on
// the sweep wins (1.3-1.5x this at 8 rows).
//
// predict_row and predict_block stay out of line: inlined together into
// predict_margin they competed for registers, and each ran 5-10 %
// slower (measured).
//
// The walks of one row hand each leaf, in tree order, to an Add:
// add(tree, leaf). With one output group (regression, binary) the margin
// stays in a register; adding through out[group] made each addition wait
// for the store of the one before (store forwarding, about 10 cycles a
// tree: 29 % of a 25-tree row's walk, measured in a backend).
template <typename Walk>
inline void add_row_leaves(const Forest& f, float* out, Walk walk) noexcept {
    if (f.num_groups == 1) {
        float sum = f.base_margin;
        walk([&sum](uint32_t, float leaf) { sum += leaf; });
        out[0] = sum;
    } else {
        const Tree* trees = f.trees();
        std::fill(out, out + f.num_groups, f.base_margin);
        walk([out, trees](uint32_t t, float leaf) { out[trees[t].group] += leaf; });
    }
}

template <typename Trees, NaNTest kNaN>
[[gnu::noinline]] void predict_row(const Forest& f, const float* row, float* out) noexcept {
    const Trees trees(f);
    add_row_leaves(f, out, [&](auto add) {
        uint32_t t = 0;
        for (; f.num_trees - t >= kLanes; t += kLanes) {
            float leaves[kLanes];
            trees.template lanes<kNaN>([&](size_t k) { return trees.root(t + k); },
                                       [row](size_t) { return row; }, leaves);
            for (size_t k = 0; k < kLanes; ++k) add(t + k, leaves[k]);
        }
        for (; t < f.num_trees; ++t) add(t, trees.leaf(t, row));
    });
}

// Walks compiled for one depth D of the complete layout, for rows without
// NaN (the common case: a serving row with a NaN takes the walks above).
// Knowing D when compiling lets three things go:
// - the per-lane base pointer: a tile walks kT consecutive trees, tree j
//   of the tile at j * kUnits splits from the first, a constant the
//   compiler folds into each step, so the lanes share one base register
//   (the runtime-depth walk keeps a base per lane and spilled half of
//   them to the stack);
// - the loop over the depth, unrolled, and with it the table of steps:
//   each level's step between the layout's blocks is constants;
// - the mask of the feature word: the forest has at most
//   kMaxFixedFeatures features (fixed_depth checks), so the index is its
//   low 16 bits, one zero-extending load.
// A step is then 7 instructions in heap order, 8 trees at once (in blocks,
// 16 at once: 10.7 on average at depth 6, the stack spills of lanes that do
// not fit in registers included), from 12-16. With the one-group sum of
// add_row_leaves, one row of the benchmark's 25-tree depth-6 forest took
// 122 ns against 216 ns (bench/forest_batch, best of 5), 1000 trees of
// depth 8 about 13 us against 19 (both in heap order, before the blocked
// layout). Deeper forests than kMaxFixedDepth take the runtime-depth walk,
// whose code does not grow with the depth: XGBoost's default max_depth is
// 6, and depths up to 10 keep the code these walks add near 200 kB, of
// which a forest runs one depth's.
constexpr uint32_t kMaxFixedDepth = 10;
constexpr uint32_t kMaxFixedFeatures = 0x10000;  // a feature index fits in 16 bits

// fixed_tile walks kT trees from g (tree j at g + j * kUnits) for kR rows
// (row(i)) at once and hands each leaf to add(j, i, leaf), trees in order.
// Each level's step (complete_step) is a constant here: within a block,
// a' = a + (a & mask) + 1 + right; into the next band, a multiply by its
// block size and a constant, less what the multiply adds to tree j's
// offset.
template <uint32_t D, size_t kT, size_t kR, typename RowOf, typename Add>
[[gnu::always_inline]] inline void fixed_tile(const Split* g, RowOf row, Add add) noexcept {
    constexpr uint64_t kUnits = complete_tree_units(D);
    uint64_t at[kT][kR];
#pragma GCC unroll 32
    for (size_t j = 0; j < kT; ++j)
#pragma GCC unroll 16
        for (size_t i = 0; i < kR; ++i) at[j][i] = j * kUnits;
    auto level = [&]<uint32_t L>() {
        constexpr CompleteStep s = complete_step(D, L);
#pragma GCC unroll 32
        for (size_t j = 0; j < kT; ++j) {
#pragma GCC unroll 16
            for (size_t i = 0; i < kR; ++i) {
                const uint64_t a = at[j][i];
                const Split& n = g[a];
                const float v = row(i)[n.feature & (kMaxFixedFeatures - 1)];
                at[j][i] = s.mul * (a + (a & s.mask) + !(v < n.threshold)) + (s.add - (s.mul - 1) * j * kUnits);
            }
        }
    };
    [&]<uint32_t... L>(std::integer_sequence<uint32_t, L...>) {
        (level.template operator()<L>(), ...);
    }(std::make_integer_sequence<uint32_t, D>{});
#pragma GCC unroll 32
    for (size_t j = 0; j < kT; ++j)
#pragma GCC unroll 16
        for (size_t i = 0; i < kR; ++i) add(j, i, g[at[j][i]].threshold);
}

// One row: tiles of 16 trees, then one of 8, of 4, and the last trees one
// by one. A tile's walks are independent chains of loads; with the forest
// out of cache (a large model between two requests) each is a cache miss
// a band, and 16 in flight took 1000 trees of depth 8 from 50 us to 41-47
// (bench/forest_batch's cold rows), and in cache from 9.5 to 7.7 us; 24
// did no better than 16.
constexpr size_t kRowTile = 16;

template <uint32_t D>
[[gnu::noinline]] void predict_row_fixed(const Forest& f, const float* row, float* out) noexcept {
    add_row_leaves(f, out, [&](auto add) {
        uint32_t t = 0;
        const Split* splits = f.splits();
        constexpr uint64_t kUnits = complete_tree_units(D);
        auto same_row = [row](size_t) { return row; };
        auto tile = [&]<size_t kT>() {
            fixed_tile<D, kT, 1>(splits + t * kUnits, same_row, [&](size_t j, size_t, float leaf) { add(t + j, leaf); });
            t += kT;
        };
        while (f.num_trees - t >= kRowTile) tile.template operator()<kRowTile>();
        if (f.num_trees - t >= 8) tile.template operator()<8>();
        if (f.num_trees - t >= 4) tile.template operator()<4>();
        while (t < f.num_trees) tile.template operator()<1>();
    });
}

// predict_block for a complete forest of depth D and rows without NaN:
// tiles of eight trees by two rows, one pointer per row (eight rows of
// one tree need eight row pointers, and spilled). In heap order 4 x 2 did
// best (1.26x the rows a second of the runtime-depth walk for the 25-tree
// forest, 1.24x for 1000 trees of depth 8); in blocks, whose steps share
// more constants, 8 x 2 and 6 x 2 scored 1.17-1.2x the rows a second of
// 4 x 2, 4 x 4 and 2 x 4 no better than it (bench/forest_batch, best of 4
// alternating runs: 25 trees 11.1M rows/s against 9.4M, 1000 trees 195k
// against 168k). Each row still gets tree t's leaf before tree t + 1's.
template <uint32_t D>
[[gnu::noinline]] void predict_block_fixed(const Forest& f, const float* rows, size_t m,
                                           float* out) noexcept {
    constexpr uint64_t kUnits = complete_tree_units(D);
    constexpr size_t kTileTrees = 8, kTileRows = 2;
    static_assert(kLanes % kTileRows == 0);  // m is a multiple of kLanes
    const Tree* trees = f.trees();
    const Split* splits = f.splits();
    const size_t groups = f.num_groups, width = f.num_feature;
    std::fill(out, out + m * groups, f.base_margin);
    auto sweep = [&]<size_t kT, bool kOneGroup>(uint32_t t) {
        const Split* g = splits + t * kUnits;
        uint32_t group[kT];
        for (size_t j = 0; j < kT; ++j) group[j] = trees[t + j].group;
        for (size_t r = 0; r < m; r += kTileRows) {
            const float* lane = rows + r * width;
            auto row = [lane, width](size_t i) { return lane + i * width; };
            float* o = out + r * groups;
            if constexpr (kOneGroup) {
                // The row's kT leaves summed in a register, in tree order,
                // then stored: as for one row (add_row_leaves), adding
                // through memory made each addition wait for the last.
                float sum[kTileRows];
                for (size_t i = 0; i < kTileRows; ++i) sum[i] = o[i];
                fixed_tile<D, kT, kTileRows>(g, row, [&sum](size_t, size_t i, float leaf) { sum[i] += leaf; });
                for (size_t i = 0; i < kTileRows; ++i) o[i] = sum[i];
            } else {
                fixed_tile<D, kT, kTileRows>(g, row, [o, groups, &group](size_t j, size_t i, float leaf) {
                    o[i * groups + group[j]] += leaf;
                });
            }
        }
    };
    uint32_t t = 0;
    if (groups == 1) {
        for (; f.num_trees - t >= kTileTrees; t += kTileTrees) sweep.template operator()<kTileTrees, true>(t);
        for (; t < f.num_trees; ++t) sweep.template operator()<1, true>(t);
    } else {
        for (; f.num_trees - t >= kTileTrees; t += kTileTrees) sweep.template operator()<kTileTrees, false>(t);
        for (; t < f.num_trees; ++t) sweep.template operator()<1, false>(t);
    }
}

using RowFn = void (*)(const Forest&, const float*, float*) noexcept;
using BlockFn = void (*)(const Forest&, const float*, size_t, float*) noexcept;

// Whether the fixed-depth walks take this forest's rows without NaN.
bool fixed_depth(const Forest& f) noexcept {
    return f.complete_depth != 0 && f.complete_depth <= kMaxFixedDepth && f.num_feature <= kMaxFixedFeatures;
}

// The fixed-depth walks, by depth (index 0 unused).
template <size_t... D>
constexpr std::array<RowFn, kMaxFixedDepth + 1> fixed_rows(std::index_sequence<D...>) {
    return {nullptr, &predict_row_fixed<D + 1>...};
}
template <size_t... D>
constexpr std::array<BlockFn, kMaxFixedDepth + 1> fixed_blocks(std::index_sequence<D...>) {
    return {nullptr, &predict_block_fixed<D + 1>...};
}
constexpr auto kFixedRow = fixed_rows(std::make_index_sequence<kMaxFixedDepth>{});
constexpr auto kFixedBlock = fixed_blocks(std::make_index_sequence<kMaxFixedDepth>{});

// Rows a tree-major sweep takes at once (a multiple of kLanes). Each
// sweep reads the whole forest, so bigger blocks read it less often: for
// a 1000-tree depth-8 forest (5.5 MB, past L2), 1024-row blocks scored
// 4096 rows about 1.15x faster than XGBoost's 64-row blocks (measured;
// a 25-tree forest, in L2 anyway, does not care). The block's rows and
// margins should stay in L2 while every tree passes over them, so wide
// rows get fewer, never below XGBoost's 64. The block size changes no
// bit: each row still adds its leaves in tree order.
constexpr size_t kMinBlock = 64, kMaxBlock = 1024;
constexpr size_t kBlockBytes = 256 * 1024;

size_t block_rows(const Forest& f) noexcept {
    const size_t row_bytes = sizeof(float) * (size_t{f.num_feature} + f.num_groups);
    const size_t rows = std::clamp(kBlockBytes / row_bytes, kMinBlock, kMaxBlock);
    return rows / kLanes * kLanes;
}

// Margins of m rows, m a multiple of kLanes: out filled with the base
// margin, then tree by tree (as XGBoost sweeps a block), each tree walked
// for kLanes rows at once and its leaves added to their rows' group.
template <typename Trees, NaNTest kNaN>
[[gnu::noinline]] void predict_block(const Forest& f, const float* rows, size_t m,
                                     float* out) noexcept {
    const Trees trees(f);
    const size_t groups = f.num_groups, width = f.num_feature;
    std::fill(out, out + m * groups, f.base_margin);
    for (uint32_t t = 0; t < f.num_trees; ++t) {
        const auto* root = trees.root(t);
        float* og = out + trees.trees[t].group;
        for (size_t r = 0; r < m; r += kLanes) {
            const float* lane = rows + r * width;
            float leaves[kLanes];
            trees.template lanes<kNaN>([root](size_t) { return root; },
                                       [lane, width](size_t k) { return lane + k * width; }, leaves);
            for (size_t k = 0; k < kLanes; ++k) og[(r + k) * groups] += leaves[k];
        }
    }
}

// predict_margin for one layout.
template <typename Trees>
void margins(const Forest& f, const float* rows, size_t n, float* out) noexcept {
    const size_t groups = f.num_groups, width = f.num_feature;
    // Whole groups of kLanes rows tree-major, in blocks; the rest (all of
    // a call for fewer than kLanes rows, such as the pool's lone request)
    // row by row with kLanes trees at a time.
    const size_t swept = n - n % kLanes, block = block_rows(f);
    // Looking for NaN in a block (to take the branchy walk without) costs
    // about a cycle per 4 floats: worth it unless the rows are wide next to
    // the forest. At most 4 features a tree, it is at most a cycle a tree
    // and row, against a walk of several steps of several cycles each.
    const bool look_for_nan = width <= size_t{4} * f.num_trees;
    const bool fixed = fixed_depth(f);
    for (size_t begin = 0; begin < swept; begin += block) {
        const size_t m = std::min(block, swept - begin);
        const float* b = rows + begin * width;
        float* o = out + begin * groups;
        if (look_for_nan && !any_nan(b, m * width)) {
            if (fixed)
                kFixedBlock[f.complete_depth](f, b, m, o);
            else
                predict_block<Trees, NaNTest::kNone>(f, b, m, o);
        } else {
            predict_block<Trees, NaNTest::kBranchless>(f, b, m, o);
        }
    }
    for (size_t r = swept; r < n; ++r) {
        const float* row = rows + r * width;
        if (any_nan(row, width))
            predict_row<Trees, NaNTest::kBranchy>(f, row, out + r * groups);
        else if (fixed)
            kFixedRow[f.complete_depth](f, row, out + r * groups);
        else
            predict_row<Trees, NaNTest::kNone>(f, row, out + r * groups);
    }
}

// common::Sigmoid, in float, as XGBoost computes it.
inline float sigmoid(float x) noexcept {
    constexpr float kEps = 1e-16f;
    x = std::min(-x, 88.7f);
    float denom = expf(x) + 1.0f + kEps;
    return 1.0f / denom;
}

// common::Softmax: max with fmaxf, the sum of the float exponentials in
// double, each divided by the sum cast to float.
inline void softmax(float* p, uint32_t k) noexcept {
    float wmax = p[0];
    for (uint32_t i = 1; i < k; ++i) wmax = fmaxf(p[i], wmax);
    double wsum = 0.0f;
    for (uint32_t i = 0; i < k; ++i) {
        p[i] = expf(p[i] - wmax);
        wsum += p[i];
    }
    for (uint32_t i = 0; i < k; ++i) p[i] /= static_cast<float>(wsum);
}

template <typename F>
auto no_throw(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return fail(sqlstate::out_of_memory, "out of memory compiling a forest");
    } catch (...) {
        return fail(sqlstate::internal, "unexpected exception compiling a forest");
    }
}

}  // namespace

Result<size_t> forest_size(const ubjson::Document& doc, Layout layout) {
    return no_throw([&]() -> Result<size_t> {
        auto p = plan(doc, layout);
        if (!p) return tl::unexpected(p.error());
        return p->size;
    });
}

Result<const Forest*> compile_forest(const ubjson::Document& doc, void* buffer, size_t size,
                                     Layout layout) {
    return no_throw([&]() -> Result<const Forest*> {
        if (reinterpret_cast<uintptr_t>(buffer) % kForestAlign != 0)
            return fail(sqlstate::invalid_parameter, "forest buffer is not 8-byte aligned");
        auto p = plan(doc, layout);
        if (!p) return tl::unexpected(p.error());
        if (size < p->size)
            return fail(sqlstate::invalid_parameter,
                        "forest buffer of " + std::to_string(size) + " bytes, " +
                            std::to_string(p->size) + " needed");
        build(doc, *p, buffer);
        return static_cast<const Forest*>(buffer);
    });
}

Result<const Forest*> open_forest(const void* bytes, size_t size) {
    return no_throw([&]() -> Result<const Forest*> {
        auto bad = [](const std::string& why) {
            return fail(sqlstate::invalid_binary, "not a valid compiled forest: " + why);
        };
        if (reinterpret_cast<uintptr_t>(bytes) % kForestAlign != 0) return bad("misaligned");
        if (size < sizeof(Forest)) return bad("shorter than its header");
        const auto* f = static_cast<const Forest*>(bytes);
        if (f->magic != kForestMagic || f->version != kForestVersion)
            return bad("wrong magic or layout version");
        if (f->size > size || f->num_groups == 0 || f->transform > Transform::softmax)
            return bad("header out of range");
        // Offsets and counts within the block, in 64-bit arithmetic that
        // cannot overflow for counts below 2^32 and 2^58.
        if (f->trees_offset != sizeof(Forest) ||
            f->nodes_offset > f->size ||
            f->nodes_offset != (f->complete_depth == 0 ? f->trees_offset + uint64_t{sizeof(Tree)} * f->num_trees
                                                        : complete_nodes_offset(f->num_trees)))
            return bad("offsets out of range");
        const uint64_t room = f->size - f->nodes_offset;
        const Tree* trees = f->trees();
        auto bad_tree = [&](uint32_t t) { return bad("tree " + std::to_string(t) + " out of range"); };
        uint64_t next = 0;
        if (f->complete_depth == 0) {
            if (f->num_nodes > room / sizeof(Node)) return bad("offsets out of range");
            const Node* nodes = f->nodes();
            for (uint32_t t = 0; t < f->num_trees; ++t) {
                const Tree& tr = trees[t];
                if (tr.first_node != next || tr.num_nodes == 0 || tr.group >= f->num_groups ||
                    tr.num_nodes > f->num_nodes - next)
                    return bad_tree(t);
                const Node* n = nodes + next;
                for (uint32_t i = 0; i < tr.num_nodes; ++i)
                    if (n[i].left != 0 &&
                        (n[i].left <= i || n[i].left >= tr.num_nodes - 1 ||
                         (n[i].feature & kFeatureMask) >= f->num_feature))
                        return bad("tree " + std::to_string(t) + ", node " + std::to_string(i) +
                                   " out of range");
                next += tr.num_nodes;
            }
            if (next != f->num_nodes) return bad("node count does not match the trees");
            return f;
        }
        // Complete: every tree the same number of units, every split's
        // feature (padding's too: the walk reads it) within the row.
        if (f->complete_depth > kMaxCompleteDepth || f->num_feature == 0)
            return bad("complete layout of depth " + std::to_string(f->complete_depth));
        const uint64_t units = complete_tree_units(f->complete_depth);
        if (units * f->num_trees > room / sizeof(Split)) return bad("offsets out of range");
        uint64_t nodes = 0;
        for (uint32_t t = 0; t < f->num_trees; ++t) {
            const Tree& tr = trees[t];
            if (tr.first_node != next || tr.num_nodes == 0 || tr.group >= f->num_groups) return bad_tree(t);
            const Split* s = f->splits() + next;
            for (uint32_t level = 0; level < f->complete_depth; ++level)
                for (uint64_t q = 0; q < (uint64_t{1} << level); ++q)
                    if ((s[complete_unit(f->complete_depth, level, q)].feature & kSplitFeatureMask) >= f->num_feature)
                        return bad("tree " + std::to_string(t) + ", split " + std::to_string((uint64_t{1} << level) - 1 + q) +
                                   " out of range");
            next += units;
            nodes += tr.num_nodes;
        }
        if (nodes != f->num_nodes) return bad("node count does not match the trees");
        return f;
    });
}

void predict_margin(const Forest& f, const float* rows, size_t n, float* out) noexcept {
    if (f.complete_depth != 0)
        margins<CompleteTrees>(f, rows, n, out);
    else
        margins<GeneralTrees>(f, rows, n, out);
}

void predict(const Forest& f, const float* rows, size_t n, float* out) noexcept {
    predict_margin(f, rows, n, out);
    const uint32_t k = f.num_groups;
    switch (f.transform) {
        case Transform::identity:
            break;
        case Transform::sigmoid:
            for (size_t i = 0; i < n * k; ++i) out[i] = sigmoid(out[i]);
            break;
        case Transform::softprob:
            for (size_t r = 0; r < n; ++r) softmax(out + r * k, k);
            break;
        case Transform::softmax:
            // FindMaxIndex: the first largest margin. Row r's answer lands
            // at out[r] <= r * k, in rows already read.
            for (size_t r = 0; r < n; ++r) {
                const float* p = out + r * k;
                uint32_t best = 0;
                for (uint32_t i = 1; i < k; ++i)
                    if (p[i] > p[best]) best = i;
                out[r] = static_cast<float>(best);
            }
            break;
    }
}

}  // namespace pgml::forest
