#!/usr/bin/python3
"""The physical limit of bulk scoring: XGBoost's own batch predict over the
whole table, already in memory as one float32 matrix.

Loads the CSV (bench/gen_flights.py's columns), keeps the ten features,
loads the model bytes exported by pgml.export_model, and times
Booster.inplace_predict over all rows with XGBoost's default threads (every
core; --nthread N sets N, as bench/quick does with 1 to compare with
pgml.predict_batch, which scores in one backend with one thread), best of
--repeat. Prints one CSV line:
  rows,seconds,predictions_per_s,sum
sum is the sum of the predictions (float64), for bench/run to compare with
the SQL side's.
"""
import argparse
import time

import numpy as np
import xgboost as xgb

try:
    import pandas as pd
except ImportError:  # bench/quick does not install pandas; numpy's reader is slower
    pd = None


def read_features(path):
    if pd is not None:
        return pd.read_csv(path, header=None, usecols=range(1, 11),
                           dtype=np.float32).to_numpy()
    return np.loadtxt(path, delimiter=",", usecols=range(1, 11),
                      dtype=np.float32, ndmin=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("model")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nthread", type=int, default=0,
                    help="XGBoost threads (0: its default, every core)")
    args = ap.parse_args()

    x = np.ascontiguousarray(read_features(args.csv))
    booster = xgb.Booster()
    with open(args.model, "rb") as f:
        booster.load_model(bytearray(f.read()))
    if args.nthread > 0:
        booster.set_param({"nthread": args.nthread})
    best, total = float("inf"), 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pred = booster.inplace_predict(x)
        best = min(best, time.perf_counter() - t0)
        total = float(pred.astype(np.float64).sum())
    print(f"{len(x)},{best:.4f},{len(x) / best:.0f},{total:.6f}")


if __name__ == "__main__":
    main()
