#!/usr/bin/python3
"""The Python side of the training comparison, run in a fresh process.

Does what pgml.train('r2', 'regression', 'flights_delay_mat',
'depdelayminutes', hyperparams => '{"n_estimators": 25}') does, the way the
seed's Python service trained: pandas read_csv of the table's rows (default
dtypes), the same split (test_size 0.25, the last rows), XGBRegressor with 25
estimators and the hist tree method (pgml.train's default), fit, then score
the test rows (r2). Prints one CSV line:
  rows,wall_s,read_s,fit_s,peak_rss_mb,r2
wall_s covers read, fit and scoring (not the imports); peak_rss_mb is the
process's ru_maxrss, imports included.
"""
import argparse
import resource
import time

import pandas as pd
import xgboost as xgb

COLUMNS = ["depdelayminutes", "year", "quarter", "month", "distance", "dayofweek",
           "dayofmonth", "flight_number_operating_airline", "originairportid",
           "destairportid", "tail_number"]


def r2_score(y, p):
    return 1.0 - float(((y - p) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--test-size", type=float, default=0.25)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df = pd.read_csv(args.csv, header=None, names=COLUMNS)
    t1 = time.perf_counter()
    n_train = len(df) - int(round(len(df) * args.test_size))
    x, y = df[COLUMNS[1:]], df[COLUMNS[0]]
    model = xgb.XGBRegressor(n_estimators=25, tree_method="hist")
    model.fit(x.iloc[:n_train], y.iloc[:n_train])
    t2 = time.perf_counter()
    r2 = r2_score(y.iloc[n_train:].to_numpy(), model.predict(x.iloc[n_train:]))
    t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{len(df)},{t3 - t0:.3f},{t1 - t0:.3f},{t2 - t1:.3f},{peak_mb:.1f},{r2:.4f}")


if __name__ == "__main__":
    main()
