#!/usr/bin/python3
"""Writes corrupted copies of real models for the model-check harness.

Usage: /usr/bin/python3 test/core/corrupt_models.py MODELDIR OUTDIR [--full]
MODELDIR holds make_models.py's output. Writes, deterministically:
  OUTDIR/flips/         2000 copies of gbtree_reg.ubj with 1-4 random bit
                        flips, and 300 each of dart.ubj and gblinear_multi.ubj
                        (--full: five times as many)
  OUTDIR/invalid/       targeted corruptions the check must refuse
  OUTDIR/mispredicted/  models with wrong saved predictions (NAME.pred),
                        which the harness's --valid must fail
(Truncations need no files: the harness's --truncated cuts every model.)
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


def mispredicted(models):
    """Models whose NAME.pred is wrong, as (name, model bytes, pred text or
    None for no file): --valid must fail each, or it does not compare."""
    def load(name, ext):
        with open(os.path.join(models, name + ext), "rb") as f:
            return f.read()

    def edit(text, fn):
        # fn gets the header [rows, cols, outputs], the rows and the
        # predictions (lists of words) and changes them in place.
        lines = [line.split() for line in text.decode().splitlines()]
        head = [int(w) for w in lines[0]]
        x, y = lines[1:1 + head[0]], lines[1 + head[0]:]
        fn(head, x, y)
        return "\n".join(" ".join(map(str, line)) for line in [head] + x + y) + "\n"

    def nudge(head, x, y):
        y[-1][0] = "%.9g" % (float(y[-1][0]) * 1.001 + 0.001)

    def fewer_outputs(head, x, y):
        head[2] = 2
        y[:] = [row[:2] for row in y]

    def fewer_columns(head, x, y):
        head[1] -= 1
        x[:] = [row[:-1] for row in x]

    reg, small, prob = (load(n, ".ubj") for n in ("gbtree_reg", "gbtree_small", "multi_softprob"))
    return [("prediction_nudged", reg, edit(load("gbtree_reg", ".pred"), nudge)),
            # gbtree_small predicting gbtree_reg's rows (the same rows).
            ("other_models_predictions", small, load("gbtree_reg", ".pred").decode()),
            ("fewer_outputs", prob, edit(load("multi_softprob", ".pred"), fewer_outputs)),
            ("fewer_columns", reg, edit(load("gbtree_reg", ".pred"), fewer_columns)),
            ("no_predictions", reg, None)]


def main(models, out, full):
    rng = random.Random(20240601)
    for sub in ("flips", "invalid", "mispredicted"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    def load(name):
        with open(os.path.join(models, name + ".ubj"), "rb") as f:
            return f.read()

    # The quick set takes seconds (few flips are accepted and predicted);
    # --full's takes 300 MB.
    for name, count in (("gbtree_reg", 2000), ("dart", 300), ("gblinear_multi", 300)):
        flips(load(name), rng, count * (5 if full else 1), os.path.join(out, "flips"), name)

    model = ubj.decode(load("gbtree_reg"))
    dart = ubj.decode(load("dart"))
    linear = ubj.decode(load("gblinear_multi"))
    for name, data in targeted(model, dart, linear):
        write(os.path.join(out, "invalid", name + ".ubj"), data)
    for name, data, pred in mispredicted(models):
        write(os.path.join(out, "mispredicted", name + ".ubj"), data)
        if pred is not None:
            write(os.path.join(out, "mispredicted", name + ".pred"), pred.encode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] == ["--full"])
