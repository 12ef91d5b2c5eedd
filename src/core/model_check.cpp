#include "core/model_check.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace pgml::ubjson {

namespace {

constexpr uint64_t kMaxFeatures = uint64_t{1} << 24;
constexpr uint64_t kMaxClasses = uint64_t{1} << 16;
constexpr uint64_t kMaxParallelTrees = uint64_t{1} << 16;
constexpr uint64_t kMaxInt32 = 0x7fffffff;
// XGBoost saves the root's parent (-1) masked to 31 bits.
constexpr int64_t kRootParent = 0x7fffffff;

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::null: return "null";
        case Kind::boolean: return "a boolean";
        case Kind::integer: return "an integer";
        case Kind::number: return "a number";
        case Kind::string: return "a string";
        case Kind::object: return "an object";
        case Kind::array: return "an array";
        case Kind::typed: return "a typed array";
    }
    return "?";
}

const char* elem_name(uint8_t elem) {
    switch (elem) {
        case 'd': return "float32";
        case 'U': return "uint8";
        case 'l': return "int32";
        default: return "int64";
    }
}

// A string from the model, quoted for a message: bytes from corrupted
// models must not reach the client as they are (they may not be UTF-8).
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size() && i < 40; ++i)
        out.push_back(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
    if (s.size() > 40) out += "...";
    return out + "\"";
}

std::string join(const std::string& where, std::string_view key) {
    if (where.empty()) return std::string(key);
    return where + (where.back() == ':' ? " " : ".") + std::string(key);
}

class ModelCheck {
public:
    explicit ModelCheck(const Document& doc) : d_(doc) {}

    bool run() {
        const Value& root = d_.root();
        if (const Value* v = d_.find(root, "version")) {
            if (v->kind != Kind::array || v->bits != 3) return bad("version is not an array of 3");
            for (const Value* e = d_.first(*v); e; e = d_.next(*e))
                if (e->kind != Kind::integer) return bad("version is not an array of 3 integers");
        }
        const Value* learner = need(root, "learner", Kind::object, "");
        if (!learner || !learner_param(*learner)) return false;
        const Value* objective = need(*learner, "objective", Kind::object, "learner");
        if (!objective || !need(*objective, "name", Kind::string, "learner.objective")) return false;
        const Value* attributes = need(*learner, "attributes", Kind::object, "learner");
        if (!attributes || !all_strings(*attributes, "learner.attributes")) return false;
        for (const char* key : {"feature_names", "feature_types"}) {
            const Value* v = d_.find(*learner, key);
            if (v && (v->kind != Kind::array || !all_strings(*v, join("learner", key))))
                return bad(join("learner", key) + " is not an array of strings");
        }
        return booster(*learner);
    }

    const std::string& error() const { return error_; }

private:
    bool bad(std::string message) {
        error_ = std::move(message);
        return false;
    }

    // The member key of obj, of this kind; nullptr (and the error set,
    // naming where.key) when it is missing or of another kind.
    const Value* need(const Value& obj, const char* key, Kind kind, const std::string& where) {
        const Value* v = d_.find(obj, key);
        if (!v) {
            bad(join(where, key) + " is missing");
            return nullptr;
        }
        if (v->kind != kind) {
            bad(join(where, key) + " is " + kind_name(v->kind) + ", not " + kind_name(kind));
            return nullptr;
        }
        return v;
    }

    bool all_strings(const Value& v, const std::string& where) {
        for (const Value* e = d_.first(v); e; e = d_.next(*e))
            if (e->kind != Kind::string) return bad(where + " holds " + kind_name(e->kind) +
                                                    ", not only strings");
        return true;
    }

    // A member holding a whole number in [min, max] as a decimal string,
    // the way XGBoost saves its parameters.
    bool decimal(const Value& obj, const char* key, uint64_t min, uint64_t max,
                 const std::string& where, uint64_t& out) {
        const Value* v = need(obj, key, Kind::string, where);
        if (!v) return false;
        std::string_view s = d_.string(*v);
        uint64_t n = 0;
        bool ok = !s.empty() && s.size() <= 10;
        for (size_t i = 0; ok && i < s.size(); ++i) {
            ok = s[i] >= '0' && s[i] <= '9';
            n = n * 10 + static_cast<uint64_t>(s[i] - '0');
        }
        if (!ok || n < min || n > max)
            return bad(join(where, key) + " is " + quote(s) + ", not a whole number from " +
                       std::to_string(min) + " to " + std::to_string(max));
        out = n;
        return true;
    }

    // The same for a member XGBoost does without (it has a default).
    bool opt_decimal(const Value& obj, const char* key, uint64_t min, uint64_t max,
                     const std::string& where, uint64_t& out) {
        return !d_.find(obj, key) || decimal(obj, key, min, max, where, out);
    }

    // size_leaf_vector, where present, is 0: XGBoost 1.7 can write vector
    // leaves (multi-target trees), which this check does not cover.
    bool scalar_leaves(const Value& param, const std::string& where) {
        uint64_t size = 0;
        return opt_decimal(param, "size_leaf_vector", 0, 0, where, size) ||
               bad(error_ + " (vector leaves are not supported)");
    }

    // A typed array ("[$l#L...") of one of the element types in elems, of
    // exactly n elements.
    bool typed(const Value& obj, const char* key, std::string_view elems, uint64_t n,
               const std::string& where, Typed& out) {
        const Value* v = d_.find(obj, key);
        if (!v) return bad(where + ": " + key + " is missing");
        if (v->kind != Kind::typed || elems.find(static_cast<char>(v->elem)) == elems.npos)
            return bad(where + ": " + key + " is not a typed " + elem_name(elems[0]) + " array");
        if (v->bits != n)
            return bad(where + ": " + key + " has " + std::to_string(v->bits) +
                       " elements, num_nodes is " + std::to_string(n));
        out = d_.typed(*v);
        return true;
    }

    bool learner_param(const Value& learner) {
        const std::string where = "learner.learner_model_param";
        const Value* p = need(learner, "learner_model_param", Kind::object, "learner");
        uint64_t num_class = 0, num_target = 1;
        if (!p || !decimal(*p, "num_feature", 0, kMaxFeatures, where, num_feature_) ||
            !decimal(*p, "num_class", 0, kMaxClasses, where, num_class) ||
            !need(*p, "base_score", Kind::string, where))
            return false;
        if (!opt_decimal(*p, "num_target", 1, kMaxClasses, where, num_target)) return false;
        groups_ = std::max({num_class, uint64_t{1}, num_target});
        return true;
    }

    bool booster(const Value& learner) {
        const std::string where = "learner.gradient_booster";
        const Value* gb = need(learner, "gradient_booster", Kind::object, "learner");
        const Value* name = gb ? need(*gb, "name", Kind::string, where) : nullptr;
        if (!name) return false;
        std::string_view booster = d_.string(*name);
        if (booster == "gbtree") return gbtree(*gb, where);
        if (booster == "gblinear") return gblinear(*gb, where);
        if (booster != "dart")
            return bad(where + ".name is " + quote(booster) + ", not gbtree, dart or gblinear");
        const Value* inner = need(*gb, "gbtree", Kind::object, where);
        if (!inner || !gbtree(*inner, where + ".gbtree")) return false;
        const Value* drop = need(*gb, "weight_drop", Kind::array, where);
        if (!drop) return false;
        if (drop->bits != num_trees_)
            return bad(where + ".weight_drop has " + std::to_string(drop->bits) +
                       " weights for " + std::to_string(num_trees_) + " trees");
        for (const Value* w = d_.first(*drop); w; w = d_.next(*w))
            if (w->kind != Kind::number) return bad(where + ".weight_drop holds " +
                                                    kind_name(w->kind) + ", not only numbers");
        return true;
    }

    bool gblinear(const Value& gb, const std::string& where) {
        const Value* model = need(gb, "model", Kind::object, where);
        if (!model) return false;
        const Value* w = need(*model, "weights", Kind::typed, where + ".model");
        if (!w) return false;
        uint64_t expected = (num_feature_ + 1) * groups_;
        if (w->elem != 'd')
            return bad(where + ".model.weights is not a typed float32 array");
        if (w->bits != expected)
            return bad(where + ".model.weights has " + std::to_string(w->bits) +
                       " weights, expected (num_feature + 1) x " + std::to_string(groups_) +
                       " = " + std::to_string(expected));
        const Value* rounds = d_.find(*model, "boosted_rounds");
        if (rounds && rounds->kind != Kind::integer)
            return bad(where + ".model.boosted_rounds is not an integer");
        return true;
    }

    bool gbtree(const Value& gb, const std::string& where) {
        const Value* name = need(gb, "name", Kind::string, where);
        if (!name) return false;
        if (d_.string(*name) != "gbtree")
            return bad(where + ".name is " + quote(d_.string(*name)) + ", not gbtree");
        const std::string mw = where + ".model";
        const std::string pw = mw + ".gbtree_model_param";
        const Value* model = need(gb, "model", Kind::object, where);
        const Value* param = model ? need(*model, "gbtree_model_param", Kind::object, mw) : nullptr;
        uint64_t parallel = 0;
        if (!param || !decimal(*param, "num_trees", 0, kMaxInt32, pw, num_trees_) ||
            !decimal(*param, "num_parallel_tree", 1, kMaxParallelTrees, pw, parallel))
            return false;
        if (!scalar_leaves(*param, pw)) return false;
        const Value* trees = need(*model, "trees", Kind::array, mw);
        const Value* info = trees ? need(*model, "tree_info", Kind::array, mw) : nullptr;
        if (!info) return false;
        if (trees->bits != num_trees_ || info->bits != num_trees_)
            return bad(mw + " has " + std::to_string(trees->bits) + " trees and " +
                       std::to_string(info->bits) + " tree_info entries, num_trees is " +
                       std::to_string(num_trees_));
        uint64_t i = 0;
        for (const Value* g = d_.first(*info); g; g = d_.next(*g), ++i)
            if (g->kind != Kind::integer || g->bits >= groups_)
                return bad(mw + ".tree_info[" + std::to_string(i) + "] is not an output group " +
                           "in [0, " + std::to_string(groups_) + ")");
        i = 0;
        for (const Value* t = d_.first(*trees); t; t = d_.next(*t), ++i)
            if (!tree(*t, i)) return false;
        return true;
    }

    bool tree(const Value& t, uint64_t index) {
        const std::string where = "tree " + std::to_string(index);
        if (t.kind != Kind::object) return bad(where + " is " + kind_name(t.kind));
        const Value* id = need(t, "id", Kind::integer, where + ":");
        if (!id) return false;
        if (id->bits != index)
            return bad(where + ": id is " + std::to_string(static_cast<int64_t>(id->bits)));
        const std::string pw = where + ": tree_param";
        const Value* param = need(t, "tree_param", Kind::object, where + ":");
        uint64_t n = 0, features = 0, deleted = 0;
        if (!param || !decimal(*param, "num_nodes", 1, kMaxInt32, pw, n) ||
            !decimal(*param, "num_feature", 0, num_feature_, pw, features))
            return false;
        if (!scalar_leaves(*param, pw)) return false;
        if (!opt_decimal(*param, "num_deleted", 0, n, pw, deleted)) return false;

        Typed left, right, parents, split, cond, default_left, scratch;
        if (!typed(t, "left_children", "l", n, where, left) ||
            !typed(t, "right_children", "l", n, where, right) ||
            !typed(t, "parents", "l", n, where, parents) ||
            !typed(t, "split_indices", "lL", n, where, split) ||
            !typed(t, "split_conditions", "d", n, where, cond) ||
            !typed(t, "default_left", "U", n, where, default_left))
            return false;
        for (const char* key : {"base_weights", "loss_changes", "sum_hessian"})
            if (!typed(t, key, "d", n, where, scratch)) return false;
        if (!categorical(t, n, where)) return false;
        return nodes(n, left, right, parents, cond, where) && walk(n, left, right, parents, split, where);
    }

    // XGBoost 1.7 reads split_type and the categories arrays; refused
    // unless every split is numerical and the categories are empty.
    bool categorical(const Value& t, uint64_t n, const std::string& where) {
        if (d_.find(t, "split_type")) {
            Typed types;
            if (!typed(t, "split_type", "U", n, where, types)) return false;
            for (uint64_t i = 0; i < n; ++i)
                if (types.integer(i) != 0)
                    return bad(where + ", node " + std::to_string(i) +
                               ": categorical splits are not supported");
        }
        for (const char* key : {"categories", "categories_nodes"})
            if (!empty_typed(t, key, 'l', where)) return false;
        for (const char* key : {"categories_segments", "categories_sizes"})
            if (!empty_typed(t, key, 'L', where)) return false;
        return true;
    }

    bool empty_typed(const Value& t, const char* key, uint8_t elem, const std::string& where) {
        const Value* v = d_.find(t, key);
        if (!v) return true;
        if (v->kind != Kind::typed || v->elem != elem)
            return bad(where + ": " + key + " is not a typed " + elem_name(elem) + " array");
        if (v->bits != 0) return bad(where + ": categorical splits are not supported");
        return true;
    }

    // Every node, reachable or not (pruning leaves deleted nodes behind):
    // a leaf or two children in range, a parent in range, a finite value.
    bool nodes(uint64_t n, const Typed& left, const Typed& right, const Typed& parents,
               const Typed& cond, const std::string& where) {
        const int64_t size = static_cast<int64_t>(n);
        for (uint64_t i = 0; i < n; ++i) {
            int64_t l = left.integer(i), r = right.integer(i);
            if (l == -1 && r != -1)
                return bad(node(where, i) + "a leaf (left child -1) has right child " +
                           std::to_string(r));
            if (l != -1 || r != -1) {
                if (l < 1 || l >= size) return bad(node(where, i) + "left child " +
                                                   std::to_string(l) + range(1, size));
                if (r < 1 || r >= size) return bad(node(where, i) + "right child " +
                                                   std::to_string(r) + range(1, size));
            }
            int64_t p = parents.integer(i);
            if (i == 0 ? p != kRootParent && p != -1 : p < 0 || p >= size)
                return bad(node(where, i) + "parent " + std::to_string(p) +
                           (i == 0 ? " is not -1" : range(0, size)));
            if (!std::isfinite(cond.number(i)))
                return bad(node(where, i) + (l == -1 ? "leaf value" : "split condition") +
                           " is not finite");
        }
        return true;
    }

    // From the root, with an explicit stack: no node reached twice, each
    // child's parent pointing back, split features below num_feature.
    bool walk(uint64_t n, const Typed& left, const Typed& right, const Typed& parents,
              const Typed& split, const std::string& where) {
        seen_.assign(n, 0);
        stack_.clear();
        stack_.push_back(0);
        seen_[0] = 1;
        while (!stack_.empty()) {
            int64_t i = stack_.back();
            stack_.pop_back();
            int64_t l = left.integer(static_cast<size_t>(i));
            if (l == -1) continue;
            int64_t f = split.integer(static_cast<size_t>(i));
            if (f < 0 || static_cast<uint64_t>(f) >= num_feature_)
                return bad(node(where, static_cast<uint64_t>(i)) + "split feature " +
                           std::to_string(f) + range(0, static_cast<int64_t>(num_feature_)));
            for (int64_t c : {l, right.integer(static_cast<size_t>(i))}) {
                auto child = static_cast<size_t>(c);
                if (seen_[child])
                    return bad(node(where, static_cast<uint64_t>(i)) + "child " +
                               std::to_string(c) + " is reached twice (a cycle or a shared node)");
                if (parents.integer(child) != i)
                    return bad(node(where, child) + "parent is " +
                               std::to_string(parents.integer(child)) + ", but node " +
                               std::to_string(i) + " has it as a child");
                seen_[child] = 1;
                stack_.push_back(c);
            }
        }
        return true;
    }

    static std::string node(const std::string& where, uint64_t i) {
        return where + ", node " + std::to_string(i) + ": ";
    }
    static std::string range(int64_t lo, int64_t hi) {
        return " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")";
    }

    const Document& d_;
    std::string error_;
    uint64_t num_feature_ = 0;
    uint64_t groups_ = 1;
    uint64_t num_trees_ = 0;
    std::vector<uint8_t> seen_;
    std::vector<int64_t> stack_;
};

}  // namespace

Result<void> check_document(const Document& doc) {
    ModelCheck check(doc);
    if (!check.run())
        return fail(sqlstate::invalid_binary, "not a valid XGBoost model: " + check.error());
    return {};
}

}  // namespace pgml::ubjson
