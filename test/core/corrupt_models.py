#!/usr/bin/python3
"""Writes corrupted copies of real models for the model-check harness.

Usage: /usr/bin/python3 test/core/corrupt_models.py MODELDIR OUTDIR
MODELDIR holds make_models.py's output. Writes, deterministically:
  OUTDIR/truncated/  every truncation length of gbtree_small.ubj
  OUTDIR/flips/      2000 copies of gbtree_reg.ubj with 1-4 random bit
                     flips, and 300 each of dart.ubj and gblinear_multi.ubj
  OUTDIR/invalid/    targeted corruptions the check must refuse
"""
import copy
import math
import os
import random
import sys

import ubj


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def trees_of(doc):
    gb = doc["learner"]["gradient_booster"]
    if gb["name"] == "dart":
        gb = gb["gbtree"]
    return gb["model"]


def targeted(model, dart, linear):
    """(name, document or bytes) pairs that must all be refused."""
    out = []

    def tree_case(name, fn, source=model):
        doc = copy.deepcopy(source)
        fn(doc, trees_of(doc)["trees"][0])
        out.append((name, doc))

    def set_elem(key, i, value):
        def fn(doc, t):
            t[key][i] = value
        return fn

    tree_case("left_child_1000000", set_elem("left_children", 0, 1000000))
    tree_case("left_child_self_cycle", set_elem("left_children", 0, 0))
    tree_case("left_child_minus_2", set_elem("left_children", 0, -2))
    def leaf_with_right_child(doc, t):
        t["right_children"][t["left_children"].index(-1)] = 1
    tree_case("leaf_with_right_child", leaf_with_right_child)

    def ancestor(doc, t):
        # An internal node below the root's children points back to its parent.
        lc = t["left_children"]
        c = next(i for i in range(1, len(lc)) if lc[i] != -1 and t["parents"][i] != 0)
        t["right_children"][c] = t["parents"][c]
    tree_case("right_child_to_ancestor", ancestor)

    def shared(doc, t):
        t["right_children"][0] = t["left_children"][0]
    tree_case("shared_child", shared)

    def num_nodes(delta):
        def fn(doc, t):
            t["tree_param"]["num_nodes"] = str(int(t["tree_param"]["num_nodes"]) + delta)
        return fn
    tree_case("num_nodes_plus_1", num_nodes(1))
    tree_case("num_nodes_minus_1", num_nodes(-1))
    tree_case("num_nodes_zero", lambda d, t: t["tree_param"].__setitem__("num_nodes", "0"))
    tree_case("num_nodes_text", lambda d, t: t["tree_param"].__setitem__("num_nodes", "7x"))
    for key in ("left_children", "right_children", "parents", "split_indices",
                "split_conditions", "default_left", "base_weights", "loss_changes",
                "sum_hessian", "split_type"):
        tree_case("short_" + key, lambda d, t, k=key: t[k].pop())
    for key in ("left_children", "parents", "split_conditions", "tree_param", "id"):
        tree_case("missing_" + key, lambda d, t, k=key: t.pop(k))
    tree_case("untyped_left_children", lambda d, t: t.__setitem__(
        "left_children", list(t["left_children"])))
    tree_case("parent_out_of_range", set_elem("parents", 1, 1000))
    tree_case("parent_negative", set_elem("parents", 2, -1))
    tree_case("parent_mismatch", lambda d, t: t["parents"].__setitem__(
        1, t["right_children"][0]))
    tree_case("split_feature_out_of_range", set_elem("split_indices", 0, 6))
    tree_case("split_feature_negative", set_elem("split_indices", 0, -3))
    tree_case("split_condition_nan", set_elem("split_conditions", 0, math.nan))
    tree_case("leaf_value_inf", lambda d, t: t["split_conditions"].__setitem__(
        t["left_children"].index(-1), math.inf))
    tree_case("categorical_split", set_elem("split_type", 0, 1))
    tree_case("categories_nonempty", lambda d, t: t["categories"].append(1))
    tree_case("size_leaf_vector", lambda d, t: t["tree_param"].__setitem__(
        "size_leaf_vector", "2"))
    tree_case("tree_num_feature_too_big", lambda d, t: t["tree_param"].__setitem__(
        "num_feature", "7"))
    tree_case("tree_id_duplicate", lambda d, t: t.__setitem__("id", 1))

    def model_case(name, fn, source=model):
        doc = copy.deepcopy(source)
        fn(doc, trees_of(doc))
        out.append((name, doc))

    model_case("tree_info_out_of_range", lambda d, m: m["tree_info"].__setitem__(0, 1))
    model_case("tree_info_negative", lambda d, m: m["tree_info"].__setitem__(0, -1))
    model_case("tree_info_short", lambda d, m: m["tree_info"].pop())
    model_case("num_trees_plus_1", lambda d, m: m["gbtree_model_param"].__setitem__(
        "num_trees", str(int(m["gbtree_model_param"]["num_trees"]) + 1)))
    model_case("num_trees_minus_1", lambda d, m: m["gbtree_model_param"].__setitem__(
        "num_trees", str(int(m["gbtree_model_param"]["num_trees"]) - 1)))
    model_case("trees_short", lambda d, m: m["trees"].pop())
    model_case("num_parallel_tree_zero", lambda d, m: m["gbtree_model_param"].__setitem__(
        "num_parallel_tree", "0"))
    model_case("tree_not_object", lambda d, m: m["trees"].__setitem__(0, 5))

    def learner_case(name, fn, source=model):
        doc = copy.deepcopy(source)
        fn(doc["learner"])
        out.append((name, doc))

    def lmp(key, value):
        return lambda ln: ln["learner_model_param"].__setitem__(key, value)
    learner_case("num_feature_huge", lmp("num_feature", "99999999999"))
    learner_case("num_feature_negative", lmp("num_feature", "-6"))
    learner_case("num_feature_smaller", lmp("num_feature", "1"))
    learner_case("num_class_huge", lmp("num_class", "1000000"))
    learner_case("num_class_not_string", lmp("num_class", 3))
    learner_case("num_target_zero", lmp("num_target", "0"))
    learner_case("booster_name_bogus", lambda ln: ln["gradient_booster"].__setitem__(
        "name", "gbforest"))
    learner_case("missing_gradient_booster", lambda ln: ln.pop("gradient_booster"))
    learner_case("missing_learner_model_param", lambda ln: ln.pop("learner_model_param"))
    learner_case("missing_objective", lambda ln: ln.pop("objective"))
    learner_case("dart_weight_drop_short", lambda ln: ln["gradient_booster"][
        "weight_drop"].pop(), dart)
    learner_case("dart_weight_drop_integer", lambda ln: ln["gradient_booster"][
        "weight_drop"].__setitem__(0, 1), dart)
    learner_case("dart_inner_left_child", lambda ln: ln["gradient_booster"]["gbtree"][
        "model"]["trees"][0]["left_children"].__setitem__(0, 99), dart)
    learner_case("gblinear_weights_short", lambda ln: ln["gradient_booster"]["model"][
        "weights"].pop(), linear)
    learner_case("gblinear_weights_long", lambda ln: ln["gradient_booster"]["model"][
        "weights"].append(0.5), linear)
    learner_case("gblinear_num_class_changed", lmp("num_class", "2"), linear)
    learner_case("gblinear_missing_weights", lambda ln: ln["gradient_booster"][
        "model"].pop("weights"), linear)
    out.append(("version_short", dict(model, version=[1, 7])))

    good = ubj.encode(model)
    raw = [("json_text", b'{"learner": {}}'),
           ("trailing_byte", good + b"}"),
           ("no_op_marker", good[:1] + b"N" + good[1:]),
           ("empty", b""),
           ("legacy_binary", b"\x00\x00\x00\x3f" + good[:50])]
    # A key length written as int8 (valid UBJSON, not what XGBoost reads).
    raw.append(("key_length_int8", b"{i\x07learner" + good[len(b"{L") + 8 + 7:]))
    return [(n, d if isinstance(d, bytes) else ubj.encode(d)) for n, d in out] + raw


def flips(data, rng, count, outdir, prefix):
    for i in range(count):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(b) * 8)
            b[pos // 8] ^= 1 << (pos % 8)
        write(os.path.join(outdir, "%s_%04d.ubj" % (prefix, i)), bytes(b))


def main(models, out):
    rng = random.Random(20240601)
    for sub in ("truncated", "flips", "invalid"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    def load(name):
        with open(os.path.join(models, name + ".ubj"), "rb") as f:
            return f.read()

    small = load("gbtree_small")
    for n in range(len(small)):
        write(os.path.join(out, "truncated", "small_%05d.ubj" % n), small[:n])
    flips(load("gbtree_reg"), rng, 2000, os.path.join(out, "flips"), "gbtree_reg")
    flips(load("dart"), rng, 300, os.path.join(out, "flips"), "dart")
    flips(load("gblinear_multi"), rng, 300, os.path.join(out, "flips"), "gblinear_multi")

    model = ubj.decode(load("gbtree_reg"))
    dart = ubj.decode(load("dart"))
    linear = ubj.decode(load("gblinear_multi"))
    for name, data in targeted(model, dart, linear):
        write(os.path.join(out, "invalid", name + ".ubj"), data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
