#!/usr/bin/python3
"""Checks a table pgml.load_dataset made against scikit-learn's own loader.

    compare_datasets.py SET VERDICT_FILE  < the table as CSV with a header

(`\\copy (SELECT * FROM pgml.SET) TO PROGRAM '...' (FORMAT csv, HEADER)`.)
The expected column names, in order, are PostgresML's (its CREATE TABLE
statements for these sets), written out here rather than taken from the
build script, so the build and this check do not share a mistake. Each
column's values are compared with the scikit-learn value of the same name,
as float32 for real columns (what a real column holds), exactly for the
others. Writes one verdict line to VERDICT_FILE.
"""
import csv
import sys

import numpy as np
from sklearn import datasets

BREAST_CANCER = [
    "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
    "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
    "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error",
    "smoothness error", "compactness error", "concavity error", "concave points error",
    "symmetry error", "fractal dimension error", "worst radius", "worst texture",
    "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension", "malignant",
]
WINE = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "hue", "color_intensity",
    "od280/od315_of_diluted_wines", "proline", "target",
]


def expected(name):
    """(column names, {column: (kind, values)}) of scikit-learn's set."""
    if name == "breast_cancer":
        b = datasets.load_breast_cancer()
        cols = {n: ("real", b.data[:, i]) for i, n in enumerate(b.feature_names)}
        # target_names is ['malignant', 'benign']: 0 is malignant.
        cols["malignant"] = ("bool", b.target == list(b.target_names).index("malignant"))
        return BREAST_CANCER, cols
    if name == "diabetes":
        # PostgresML ships the original measurements (age in years, sex 1/2),
        # not load_diabetes()'s centred and scaled columns.
        b = datasets.load_diabetes(scaled=False)
        cols = {n: ("real", b.data[:, i]) for i, n in enumerate(b.feature_names)}
        cols["target"] = ("real", b.target)
        return ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"], cols
    if name == "digits":
        b = datasets.load_digits()
        return ["image", "target"], {"image": ("image", b.images), "target": ("int", b.target)}
    if name == "iris":
        b = datasets.load_iris()
        names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        cols = {n: ("real", b.data[:, i]) for i, n in enumerate(names)}
        cols["target"] = ("int", b.target)
        return names + ["target"], cols
    if name == "linnerud":
        b = datasets.load_linnerud()
        cols = {n.lower(): ("real", b.data[:, i]) for i, n in enumerate(b.feature_names)}
        cols.update({n.lower(): ("real", b.target[:, i]) for i, n in enumerate(b.target_names)})
        return ["chins", "situps", "jumps", "weight", "waist", "pulse"], cols
    if name == "wine":
        b = datasets.load_wine()
        cols = {n: ("real", b.data[:, i]) for i, n in enumerate(b.feature_names)}
        cols["target"] = ("int", b.target)
        return WINE, cols
    raise SystemExit(f"unknown set {name}")


def parse(kind, text):
    if kind == "real":
        return np.float32(float(text))
    if kind == "int":
        return int(text)
    if kind == "bool":
        return {"t": True, "f": False}[text]
    if kind == "image":
        rows = text.strip("{}").split("},{")
        return np.array([[int(v) for v in r.split(",")] for r in rows])
    raise ValueError(kind)


def same(kind, ours, theirs):
    if kind == "real":
        return ours == np.float32(theirs)
    if kind == "image":
        return ours.shape == theirs.shape and np.array_equal(ours, theirs)
    return ours == theirs


def main():
    name, out = sys.argv[1], sys.argv[2]
    names, cols = expected(name)
    reader = csv.reader(sys.stdin)
    header = next(reader)
    problems = []
    if header != names:
        problems.append(f"columns {header}, PostgresML has {names}")
    rows = list(reader)
    n = len(next(iter(cols.values()))[1])
    if len(rows) != n:
        problems.append(f"{len(rows)} rows, scikit-learn has {n}")
    if not problems:
        for j, col in enumerate(names):
            kind, values = cols[col]
            for i, row in enumerate(rows):
                if not same(kind, parse(kind, row[j]), values[i]):
                    problems.append(f"row {i + 1} {col}: {row[j]} against {values[i]}")
                    break
    with open(out, "w") as f:
        if problems:
            f.write(f"{name}: MISMATCH " + "; ".join(problems[:5]) + "\n")
        else:
            f.write(f"{name}: {len(rows)} rows x {len(names)} columns equal scikit-learn's\n")


if __name__ == "__main__":
    main()
