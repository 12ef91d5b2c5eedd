// The semantic half of check_model (ubjson.hpp): XGBoost 1.7 loads a model
// document and predicts with it trusting what it says, so a tree whose
// arrays are shorter than num_nodes, a child index out of range, a cycle or
// a tree_info entry past the output groups crashes or hangs the process.
// check_document refuses those before XGBoost sees the bytes.
#pragma once

#include "core/error.hpp"
#include "core/ubjson.hpp"

namespace pgml::ubjson {

// Ok when doc is an XGBoost 1.7 model (booster gbtree, dart or gblinear)
// whose parts XGBoost trusts agree with each other:
//  - learner_model_param: num_feature in [0, 2^24], num_class in [0, 2^16],
//    num_target in [1, 2^16] (decimal strings);
//  - tree boosters: num_trees = length of trees = length of tree_info, every
//    tree_info entry an output group, tree ids in order, dart's weight_drop
//    one number a tree; gblinear: (num_feature + 1) x groups weights;
//  - every tree: num_nodes >= 1 and every node array that long, typed as
//    XGBoost writes it; each node a leaf (both children -1) or two children
//    in [1, num_nodes); every parent in range; split features below
//    num_feature; finite split conditions and leaf values; and a walk from
//    the root reaches no node twice (no cycle, no shared child).
// Refused although XGBoost 1.7 could write them: categorical splits and
// vector leaves (size_leaf_vector != 0). Errors are invalid_binary,
// "not a valid XGBoost model: <what, naming the tree and node>".
Result<void> check_document(const Document& doc);

}  // namespace pgml::ubjson
