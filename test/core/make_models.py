#!/usr/bin/python3
"""Writes the legitimate XGBoost 1.7 models the harness must accept.

Usage: /usr/bin/python3 test/core/make_models.py OUTDIR [--big]
Each model is saved with booster.save_raw('ubj') as OUTDIR/<name>.ubj, and
beside it OUTDIR/<name>.pred: rows to predict and what this xgboost predicts
for them, which the harness's --valid compares with what the C API predicts
from the saved bytes. Deterministic: fixed seeds, one thread.
"""
import os
import sys

import numpy as np
import xgboost as xgb


def data(rng, rows, cols, nan_fraction=0.0):
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    if nan_fraction:
        x[rng.random(size=x.shape) < nan_fraction] = np.nan
    return x


def train(params, x, y, rounds):
    params = dict({"nthread": 1, "seed": 7}, **params)
    return xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=rounds)


def save_predictions(path, booster):
    """Writes "rows cols outputs", the rows (nan for missing), then one line
    of predictions a row, each float32 in 9 digits (read back exactly)."""
    x = data(np.random.default_rng(11), 32, booster.num_features(), 0.1)
    x[0] = np.nan  # every split takes its default direction
    # Through a DMatrix, not inplace_predict: another path than the C API
    # call the harness (and the extension) makes.
    y = booster.predict(xgb.DMatrix(x)).reshape(len(x), -1)
    with open(path, "w") as f:
        f.write("%d %d %d\n" % (x.shape[0], x.shape[1], y.shape[1]))
        for rows in (x, y):
            for row in rows:
                f.write(" ".join("%.9g" % v for v in row) + "\n")


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240601)
    x = data(rng, 400, 6)
    reg_y = x[:, 0] * 2 + np.sin(x[:, 1]) + rng.normal(scale=0.1, size=400)
    bin_y = (x[:, 0] + x[:, 2] > 0).astype(np.float32)
    cls_y = np.digitize(x[:, 0], [-0.5, 0.5]).astype(np.float32)

    models = {
        "gbtree_reg": train({"objective": "reg:squarederror", "max_depth": 4}, x, reg_y, 20),
        "gbtree_small": train({"objective": "reg:squarederror", "max_depth": 2}, x, reg_y, 3),
        "binary_logistic": train({"objective": "binary:logistic", "max_depth": 3}, x, bin_y, 15),
        "multi_softprob": train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                                x, cls_y, 10),
        "multi_softmax": train({"objective": "multi:softmax", "num_class": 3, "max_depth": 2},
                               x, cls_y, 5),
        "dart": train({"booster": "dart", "objective": "reg:squarederror", "max_depth": 3,
                       "rate_drop": 0.2, "skip_drop": 0.1}, x, reg_y, 12),
        "dart_multi": train({"booster": "dart", "objective": "multi:softprob", "num_class": 3,
                             "max_depth": 2, "rate_drop": 0.3}, x, cls_y, 6),
        "gblinear_reg": train({"booster": "gblinear", "objective": "reg:squarederror"},
                              x, reg_y, 10),
        "gblinear_binary": train({"booster": "gblinear", "objective": "binary:logistic"},
                                 x, bin_y, 10),
        "gblinear_multi": train({"booster": "gblinear", "objective": "multi:softprob",
                                 "num_class": 3}, x, cls_y, 10),
        "missing_values": train({"objective": "reg:squarederror", "max_depth": 4},
                                data(np.random.default_rng(3), 400, 6, 0.3), reg_y, 20),
        "random_forest": train({"objective": "reg:squarederror", "max_depth": 3,
                                "num_parallel_tree": 4, "subsample": 0.8,
                                "colsample_bynode": 0.8, "learning_rate": 1.0}, x, reg_y, 3),
        "exact_pruned": train({"objective": "reg:squarederror", "tree_method": "exact",
                               "max_depth": 6, "gamma": 5}, x, reg_y + rng.normal(size=400), 10),
        "approx": train({"objective": "reg:squarederror", "tree_method": "approx",
                         "max_depth": 5}, x, reg_y, 10),
        "multi_target": train({"objective": "reg:squarederror", "tree_method": "hist",
                               "max_depth": 3}, x, np.stack([reg_y, x[:, 3]], axis=1), 8),
        "gblinear_multi_target": train({"booster": "gblinear", "objective": "reg:squarederror"},
                                       x, np.stack([reg_y, x[:, 3]], axis=1), 5),
        "poisson": train({"objective": "count:poisson", "max_depth": 3}, x,
                         np.floor(np.abs(reg_y)), 10),
        "stump_only": train({"objective": "reg:squarederror", "max_depth": 1,
                             "min_child_weight": 1e9}, x, reg_y, 3),
    }
    xd = data(rng, 5000, 20)
    yd = xd[:, 0] * xd[:, 1] + np.cos(xd[:, 2]) + rng.normal(scale=0.1, size=5000)
    models["deep"] = train({"objective": "reg:squarederror", "max_depth": 8}, xd, yd, 200)
    if len(sys.argv) > 2 and sys.argv[2] == "--big":
        # About 15 MB: 1000 full depth-8 trees on noisy data.
        xb = data(rng, 50000, 20)
        yb = xb[:, 0] * xb[:, 1] + rng.normal(size=50000)
        models["big"] = train({"objective": "reg:squarederror", "max_depth": 8,
                               "min_child_weight": 0, "lambda": 0, "nthread": 2}, xb, yb, 1000)
    for name, booster in models.items():
        with open(os.path.join(out, name + ".ubj"), "wb") as f:
            f.write(booster.save_raw("ubj"))
        save_predictions(os.path.join(out, name + ".pred"), booster)


if __name__ == "__main__":
    main(sys.argv[1])
