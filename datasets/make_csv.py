#!/usr/bin/python3
"""Writes one of pgml.load_dataset's built-in data sets as a CSV file.

    make_csv.py NAME OUT.csv

Run by `make` (the Makefile's datasets/%.csv rule); the files are installed
into $(pg_config --sharedir)/extension/pgml_worker/datasets/ and read there
by pgml.load_dataset (src/backend/datasets.cpp), which creates the table
from its own definition of the set (src/core/builtin_datasets.cpp) and
checks that this file's header names the same columns in the same order.

The values are those of scikit-learn's loaders (python3-sklearn, which
ships these sets), in the table shapes of PostgresML's pgml.load_dataset:

  breast_cancer  the 30 features under sklearn's names ("mean radius", ...),
                 then malignant boolean: sklearn's target 0 is "malignant"
  diabetes       age, sex, bmi, bp, s1..s6, target: load_diabetes(scaled=False),
                 the original measurements PostgresML ships, not the
                 mean-centred and scaled features of load_diabetes()
  digits         image (8x8 smallint array), target
  iris           the 4 features, target (0, 1, 2)
  linnerud       chins, situps, jumps (sklearn's data), weight, waist, pulse
                 (its targets)
  wine           the 13 features, target; hue comes before color_intensity
                 as in PostgresML's table, each column holding its own
                 name's values

A float column is written as the shortest decimal that reads back as the
float32 of sklearn's value, so the real column holds exactly
numpy.float32(value). Each file is written to a temporary name and renamed,
so a failed run leaves no partial file behind.
"""
import csv
import os
import sys

try:
    import numpy as np
    from sklearn import datasets
except ImportError as e:  # pragma: no cover - a build-time message
    sys.exit(f"datasets/make_csv.py: {e}: building pgml_worker's data sets needs "
             "python3-sklearn (make deps, or apt-get install python3-sklearn)")


def f4(value):
    """The shortest decimal of the float32 nearest to value."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def integer(value):
    if value != int(value):
        raise ValueError(f"{value} is not an integer")
    return str(int(value))


def columns_by_name(bunch, names):
    index = {n: i for i, n in enumerate(bunch.feature_names)}
    return [bunch.data[:, index[n]] for n in names]


def breast_cancer():
    b = datasets.load_breast_cancer()
    names = list(b.feature_names)
    header = names + ["malignant"]
    # sklearn: target_names ['malignant', 'benign'], so 0 is malignant.
    assert list(b.target_names) == ["malignant", "benign"]
    rows = ([f4(v) for v in x] + ["true" if t == 0 else "false"] for x, t in zip(b.data, b.target))
    return header, rows


def diabetes():
    b = datasets.load_diabetes(scaled=False)
    header = list(b.feature_names) + ["target"]
    assert header == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"]
    return header, ([f4(v) for v in x] + [f4(t)] for x, t in zip(b.data, b.target))


def digits():
    b = datasets.load_digits()
    assert b.images.shape[1:] == (8, 8)

    def image(img):
        return "{" + ",".join("{" + ",".join(integer(v) for v in row) + "}" for row in img) + "}"

    return ["image", "target"], ([image(img), integer(t)] for img, t in zip(b.images, b.target))


def iris():
    b = datasets.load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    # sklearn names them "sepal length (cm)" and so on, in this order.
    assert [n.replace(" (cm)", "").replace(" ", "_") for n in b.feature_names] == names
    return names + ["target"], ([f4(v) for v in x] + [integer(t)] for x, t in zip(b.data, b.target))


def linnerud():
    b = datasets.load_linnerud()
    assert list(b.feature_names) == ["Chins", "Situps", "Jumps"]
    assert list(b.target_names) == ["Weight", "Waist", "Pulse"]
    header = ["chins", "situps", "jumps", "weight", "waist", "pulse"]
    return header, ([f4(v) for v in x] + [f4(v) for v in y] for x, y in zip(b.data, b.target))


def wine():
    b = datasets.load_wine()
    names = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
             "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "hue", "color_intensity",
             "od280/od315_of_diluted_wines", "proline"]
    cols = columns_by_name(b, names)
    rows = ([f4(c[i]) for c in cols] + [integer(b.target[i])] for i in range(len(b.target)))
    return names + ["target"], rows


SETS = {f.__name__: f for f in (breast_cancer, diabetes, digits, iris, linnerud, wine)}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SETS:
        sys.exit(f"usage: make_csv.py {{{','.join(SETS)}}} OUT.csv")
    name, out = sys.argv[1], sys.argv[2]
    header, rows = SETS[name]()
    tmp = f"{out}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


if __name__ == "__main__":
    main()
