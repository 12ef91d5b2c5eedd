"""Checks pgml_worker's preprocessing against scikit-learn's.

Reads CSV lines on stdin (from sql/preprocess.sql): one
("model", preprocessing JSON, feature names JSON), then one
("row", the table row as JSON, the features pgml.encode_row gave) per
row in scan order. The first TRAIN rows are the training rows. Fits
scikit-learn's imputers, scalers and encoders (numpy for what sklearn
has no class for: target means, first-seen category numbers, min/max
imputes) on the training rows with the options the model records, encodes
every row, and compares with pgml_worker's features. Writes one verdict
line to OUT.

Usage: compare_preprocess.py TRAIN LABEL OUT
"""
import csv
import json
import math
import sys
from collections import Counter

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (MaxAbsScaler, MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler,
                                   StandardScaler)


def f32(v):
    """A number as pgml_worker reads it: through float32."""
    return float(np.float32(v)) if v is not None else math.nan


def main():
    train, label, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    columns = names = None
    rows, ours = [], []
    for kind, a, b in csv.reader(sys.stdin):
        if kind == "model":
            columns, names = json.loads(a), json.loads(b)
        else:
            rows.append(json.loads(a))
            ours.append([float(x) for x in json.loads(b)])
    ours = np.array(ours, dtype=np.float32)
    y = np.array([f32(r[label]) for r in rows])
    tr = slice(0, train)
    parts = []
    for c in columns:
        name, kind = c["name"], c["kind"]
        if kind == "array":
            parts.append(np.array([[f32(v) for v in r[name]] for r in rows], dtype=np.float64))
            continue
        if kind == "numeric":
            x = np.array([[f32(r[name])] for r in rows])
            imp = c["impute"]
            if imp in ("mean", "median"):
                x = SimpleImputer(strategy=imp).fit(x[tr]).transform(x)
            elif imp == "mode":
                x = SimpleImputer(strategy="most_frequent").fit(x[tr]).transform(x)
            elif imp == "zero":
                x = SimpleImputer(strategy="constant", fill_value=0).fit(x[tr]).transform(x)
            elif imp in ("min", "max"):
                fill = np.nanmin(x[tr]) if imp == "min" else np.nanmax(x[tr])
                x = np.where(np.isnan(x), fill, x)
        else:
            values = [r[name] for r in rows]
            if c["type"].startswith("character") and not c["type"].startswith("character varying"):
                values = [v.rstrip(" ") if v is not None else None for v in values]  # char(n) padding
            enc = c["encode"]
            present = [v for v in values[tr] if v is not None]
            counts = Counter(present)
            first_seen = list(dict.fromkeys(present))
            fill = None
            if c["impute"] == "mode":  # the most frequent; of ties the first seen
                fill = max(first_seen, key=lambda k: (counts[k], -first_seen.index(k)))
            filled = [fill if v is None else v for v in values]
            if enc == "one_hot":
                cats = [n.split("=", 1)[1] for n in names if n.startswith(name + "=")]
                ohe = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                train_vals = [[v] for v in filled[tr] if v is not None]
                ohe.fit(train_vals)
                got = ohe.transform([[v if v is not None else "\0none"] for v in filled])
                order = [list(ohe.categories_[0]).index(k) for k in cats]
                if sorted(cats) != sorted(ohe.categories_[0]):
                    raise SystemExit(f"one_hot categories of {name}: {cats} vs {list(ohe.categories_[0])}")
                parts.append(got[:, order])
                continue
            if enc == "ordinal":
                cats = c["categories"]
                oe = OrdinalEncoder(categories=[cats], handle_unknown="use_encoded_value", unknown_value=np.nan)
                oe.fit([[k] for k in cats])
                x = np.array([oe.transform([[v]])[0] + 1 if v is not None else [math.nan] for v in filled])
            elif enc == "target":
                by = {k: float(np.mean([y[i] for i in range(train) if values[i] == k])) for k in first_seen}
                unseen = float(np.mean(y[tr]))
                x = np.array([[by.get(v, unseen) if v is not None else math.nan] for v in filled])
            else:  # native: numbered as the training rows first show them
                x = np.array([[first_seen.index(v) + 1 if v in counts else math.nan] for v in filled])
        scaler = {"standard": StandardScaler(), "min_max": MinMaxScaler(), "max_abs": MaxAbsScaler(),
                  "robust": RobustScaler()}.get(c["scale"])
        if scaler is not None:
            x = scaler.fit(x[tr]).transform(x)
        parts.append(x)
    theirs = np.hstack(parts).astype(np.float32)
    with open(out_path, "w") as out:
        if theirs.shape != ours.shape:
            out.write(f"preprocess: shapes differ: pgml_worker {ours.shape}, scikit-learn {theirs.shape}\n")
            return
        close = np.isclose(ours, theirs, rtol=1e-6, atol=1e-6, equal_nan=True)
        bad = np.argwhere(~close)
        if len(bad):
            r, k = bad[0]
            out.write(f"preprocess: {len(bad)} features differ, first row {r} feature {names[k]}: "
                      f"pgml_worker {ours[r, k]!r}, scikit-learn {theirs[r, k]!r}\n")
        else:
            out.write(f"preprocess: {ours.shape[0]} rows x {ours.shape[1]} features agree with scikit-learn "
                      f"(fitted on the first {train} rows)\n")


main()
