#!/usr/bin/python3
"""Checks pgml_worker's predictions against XGBoost's Python package.

Reads CSV on stdin: one row ('model', task, base64 UBJSON bytes), then rows
('row', '{features}', prediction) where the prediction is pgml.predict's
value (regression), pgml.predict_proba's array (classification) or
pgml.predict_joint's array (task 'joint': a multi-output regression). Scores
the same float32 rows with xgboost.Booster.inplace_predict on the same model
bytes and writes one verdict line to the file named by argv[1].
"""
import base64
import csv
import sys

import numpy as np
import xgboost as xgb


def parse_array(text):
    return [float(v) for v in text.strip("{}").split(",")]


def main():
    reader = csv.reader(sys.stdin)
    kind, task, model_b64 = next(reader)
    assert kind == "model", kind
    booster = xgb.Booster()
    booster.load_model(bytearray(base64.b64decode(model_b64)))
    features, ours = [], []
    for kind, x, y in reader:
        features.append(parse_array(x))
        ours.append(parse_array(y) if task in ("classification", "joint") else [float(y)])
    x = np.asarray(features, dtype=np.float32)
    try:
        theirs = booster.inplace_predict(x, missing=np.nan)
    except xgb.core.XGBoostError:  # gblinear: XGBoost 1.7 predicts it through a DMatrix only
        theirs = booster.predict(xgb.DMatrix(x, missing=np.nan))
    theirs = theirs.astype(np.float32)
    ours = np.asarray(ours, dtype=np.float32)
    if theirs.ndim == 1:
        theirs = theirs.reshape(-1, 1)
    if ours.shape[1] == 2 and theirs.shape[1] == 1:  # binary: P(class 1)
        theirs = np.hstack([1 - theirs, theirs])
    worst = float(np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))))
    # Postgres prints real with shortest round-trip text, so equal floats
    # compare exactly; allow one float32 ulp of slack for the 1 - p above.
    ok = ours.shape == theirs.shape and worst <= 1e-6
    with open(sys.argv[1], "w") as out:
        verdict = "equal" if ok else f"DIFFERENT (worst relative error {worst:g})"
        out.write(f"{task}: {len(ours)} rows x {ours.shape[1]} outputs: {verdict}\n")


if __name__ == "__main__":
    main()
