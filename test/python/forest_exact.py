#!/usr/bin/python3
"""XGBoost's side of test/t/008_forest_exact.pl: bit-exact answers.

  forest_exact.py imports DIR
      trains the models the test imports (XGBoost's Python package, not
      pgml.train) and writes DIR/<name>.ubj; prints one JSON line per model
      ({"name", "task", "file"}).
  forest_exact.py rows DIR ROWS
      for each model of DIR/models.json ([{"name", "id", "task",
      "classes"}], written by the test) reads the bytes pgml.export_model
      gave (DIR/<name>.hex), generates ROWS adversarial float32 rows from
      the model's own split thresholds and writes them for COPY
      (DIR/<name>.rows: "id<TAB>{x,...}"), scores them with XGBoost on
      those bytes and keeps rows and raw outputs (DIR/<name>.npz); prints
      one JSON line per model.
  forest_exact.py check DIR PATH[,PATH...]
      compares what Postgres answered (files written by the test, float4
      bit patterns as hex: DIR/<name>.<path>.<predict|proba|batch>[.N],
      lines "id<TAB>hex[ hex...]") with XGBoost's answers, bit for bit, and
      checks that the rows Postgres scored are the rows generated
      (DIR/<name>.inputs); prints one JSON line per model and path.

XGBoost's answer is what the extension's backend path computes:
Booster.inplace_predict (XGBoosterPredictFromDense), or a DMatrix for
boosters XGBoost 1.7 cannot predict in place (gblinear). Then, as
src/core/model.cpp derives them: regression, the value; binary
(binary:logistic, p = P(class 1)): the class label of p > 0.5f, and
probabilities [1.0f - p, p] in float; multi-class (multi:softprob): the
label of the first largest probability, and the probabilities as they
are. Labels are pgml.models.classes, cast to float4. (For dart, 1.7.4's
DMatrix predict differs from its in-place predict by a few ulps on some rows;
the reference is the in-place one, the call the extension makes.)

Values cross as bits, never as decimal text: Postgres writes
float4send() in hex, and rows go in as nine significant digits, which
strtof reads back exactly (the test reads them back as bits to be sure).
Any NaN equals any NaN (Postgres does not promise a NaN's payload).
"""
import glob
import json
import os
import re
import sys
import zlib

import numpy as np
import xgboost as xgb

F32 = np.float32
FLT_MAX = np.finfo(F32).max
FLT_MIN = np.finfo(F32).tiny                        # smallest normal
FLT_TRUE_MIN = np.nextafter(F32(0), F32(1))          # smallest denormal
LARGEST_DENORMAL = np.nextafter(FLT_MIN, F32(0))

# Every row gets these in some cells; the first rows are each one of them
# in every cell (an all-NaN row walks every default direction).
SPECIALS = np.array([np.nan, np.inf, -np.inf, FLT_MAX, -FLT_MAX, 0.0, -0.0, FLT_TRUE_MIN,
                     -FLT_TRUE_MIN, LARGEST_DENORMAL, -LARGEST_DENORMAL, FLT_MIN, -FLT_MIN,
                     1.0, -1.0], dtype=F32)


# --- UBJSON, the subset XGBoost writes: exact float32 thresholds (no
# decimal text in between).

class _Ubj:
    _FIXED = {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8", "d": ">f4", "D": ">f8"}

    def __init__(self, data):
        self.b = data
        self.p = 0

    def _byte(self):
        c = chr(self.b[self.p])
        self.p += 1
        return c

    def _scalar(self, m):
        if m in self._FIXED:
            dt = np.dtype(self._FIXED[m])
            v = np.frombuffer(self.b, dt, 1, self.p)[0]
            self.p += dt.itemsize
            return v.item()
        if m in "SH":
            n = self._int()
            s = self.b[self.p:self.p + n].decode()
            self.p += n
            return s
        if m == "C":
            return self._byte()
        return {"Z": None, "T": True, "F": False}[m]

    def _int(self):
        return int(self._scalar(self._byte()))

    def value(self, m=None):
        m = m or self._byte()
        while m == "N":
            m = self._byte()
        if m == "[":
            return self._container(False)
        if m == "{":
            return self._container(True)
        return self._scalar(m)

    def _container(self, is_obj):
        typ, count = None, None
        if chr(self.b[self.p]) == "$":
            self.p += 1
            typ = self._byte()
        if chr(self.b[self.p]) == "#":
            self.p += 1
            count = self._int()
        if not is_obj and typ in self._FIXED and count is not None:
            dt = np.dtype(self._FIXED[typ])
            a = np.frombuffer(self.b, dt, count, self.p)
            self.p += count * dt.itemsize
            return a.astype(dt.newbyteorder("="))
        out = {} if is_obj else []
        i = 0
        while True:
            if count is None:
                if chr(self.b[self.p]) in "}]":
                    self.p += 1
                    return out
            elif i == count:
                return out
            if is_obj:
                n = self._int()
                k = self.b[self.p:self.p + n].decode()
                self.p += n
                out[k] = self.value(typ)
            else:
                out.append(self.value(typ))
            i += 1


def ubjson(data):
    return _Ubj(bytes(data)).value()


def trees_of(doc):
    gb = doc["learner"]["gradient_booster"]
    if gb["name"] == "gbtree":
        return gb["model"]["trees"], "gbtree"
    if gb["name"] == "dart":
        return gb["gbtree"]["model"]["trees"], "dart"
    return [], gb["name"]


def thresholds(doc, num_feature):
    """Per feature: the distinct float32 thresholds of its splits."""
    per = [[] for _ in range(num_feature)]
    for t in trees_of(doc)[0]:
        left = np.asarray(t["left_children"])
        feat = np.asarray(t["split_indices"])
        cond = np.asarray(t["split_conditions"], dtype=F32)
        inner = left != -1
        for f in np.unique(feat[inner]):
            per[int(f)].append(cond[inner & (feat == f)])
    return [np.unique(np.concatenate(p)) if p else np.zeros(0, F32) for p in per]


def max_depth(doc):
    deepest = 0
    for t in trees_of(doc)[0]:
        left, right = np.asarray(t["left_children"]), np.asarray(t["right_children"])
        depth = np.zeros(len(left), dtype=int)
        for i in range(len(left)):      # children follow their parent
            if left[i] != -1:
                depth[left[i]] = depth[right[i]] = depth[i] + 1
        deepest = max(deepest, int(depth.max()))
    return deepest


# --- rows

def generate(name, doc, num_feature, n, allow_inf=True):
    """n float32 rows and a short description of each."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    thr = thresholds(doc, num_feature)
    specials = SPECIALS if allow_inf else SPECIALS[np.isfinite(SPECIALS) | np.isnan(SPECIALS)]
    cand, lo, hi = [], [], []
    for t in thr:
        if len(t):
            c = np.unique(np.concatenate([t, np.nextafter(t, F32(np.inf)), np.nextafter(t, F32(-np.inf)),
                                          np.nextafter(np.nextafter(t, F32(np.inf)), F32(np.inf))]))
            c = c[np.isfinite(c)] if not allow_inf else c
            span = max(float(t[-1]) - float(t[0]), 1.0)
            lo.append(float(t[0]) - 0.1 * span)
            hi.append(float(t[-1]) + 0.1 * span)
        else:
            c = np.zeros(0, F32)
            lo.append(-10.0)
            hi.append(10.0)
        cand.append(c)
    lo, hi = np.array(lo), np.array(hi)

    def mixed(rows):
        # Each cell: a threshold or a neighbour (45 %), a realistic value
        # (30 %), NaN (10 %), one of the other special values (15 %).
        x = rng.uniform(lo, hi, size=(rows, num_feature)).astype(F32)
        u = rng.random((rows, num_feature))
        for f in range(num_feature):
            if len(cand[f]):
                pick = u[:, f] < 0.45
                x[pick, f] = rng.choice(cand[f], pick.sum())
        x[(u >= 0.75) & (u < 0.85)] = np.nan
        sp = u >= 0.85
        x[sp] = rng.choice(specials[1:], sp.sum())
        return x

    parts, kinds = [], []
    parts.append(np.repeat(specials.reshape(-1, 1), num_feature, axis=1))
    kinds += [f"every feature {v!r}" for v in specials]
    # Rows that differ from a realistic row in one feature only: at each
    # threshold, one ulp below and above it, two above.
    sweep = [(f, v) for f in range(num_feature) for v in cand[f]]
    budget = (n - len(parts[0])) // 2
    if len(sweep) > budget:
        sweep = [sweep[i] for i in sorted(rng.choice(len(sweep), budget, replace=False))]
    if sweep:
        x = rng.uniform(lo, hi, size=(len(sweep), num_feature)).astype(F32)
        for i, (f, v) in enumerate(sweep):
            x[i, f] = v
        parts.append(x)
        kinds += [f"realistic but feature {f} = {v!r}, "
                  + ("a split threshold" if v in thr[f] else "next to a split threshold") for f, v in sweep]
    rest = n - sum(len(p) for p in parts)
    parts.append(mixed(rest))
    kinds += ["mixed"] * rest
    x = np.ascontiguousarray(np.vstack(parts).astype(F32))
    return x, kinds, sum(len(t) for t in thr)


def xgb_outputs(booster, x):
    """What the backend path computes (src/core/xgb.cpp predict_dense)."""
    try:
        return booster.inplace_predict(x, missing=np.nan), "inplace_predict"
    except xgb.core.XGBoostError as e:
        if "Inplace predict is not supported" not in str(e):
            raise
        return booster.predict(xgb.DMatrix(x, missing=np.nan)), "DMatrix"


def texts(x):
    """float4 input texts that strtof (float4in) reads back as exactly x:
    nine significant digits identify a float32."""
    t = np.char.mod("%.9g", x.astype(np.float64)).astype("<U24")
    t[np.isnan(x)] = "NaN"
    t[x == np.inf] = "Infinity"
    t[x == -np.inf] = "-Infinity"
    return t


def cmd_rows(d, n):
    models = json.load(open(os.path.join(d, "models.json")))
    for m in models:
        raw_bytes = bytes.fromhex(open(os.path.join(d, m["name"] + ".hex")).read().strip())
        booster = xgb.Booster()
        booster.load_model(bytearray(raw_bytes))
        booster.set_param({"nthread": 1})
        doc = ubjson(raw_bytes)
        nf = int(doc["learner"]["learner_model_param"]["num_feature"])
        info = {"name": m["name"], "features": nf, "booster": trees_of(doc)[1],
                "trees": len(trees_of(doc)[0]), "depth": max_depth(doc),
                "base_score": doc["learner"]["learner_model_param"]["base_score"],
                "objective": doc["learner"]["objective"]["name"]}
        x, kinds, nthr = generate(m["name"], doc, nf, n)
        try:
            out, how = xgb_outputs(booster, x)
            info["inf_refused"] = None
        except xgb.core.XGBoostError as e:
            # gblinear: XGBoost 1.7 predicts it only through a DMatrix,
            # which refuses ±Inf. The same rows without ±Inf then.
            if "inf" not in str(e):
                raise
            info["inf_refused"] = re.sub(r"^\[[0-9:]+\] ", "", str(e).splitlines()[0])
            x, kinds, nthr = generate(m["name"], doc, nf, n, allow_inf=False)
            out, how = xgb_outputs(booster, x)
        out = np.asarray(out, dtype=F32)
        assert out.dtype == F32 and out.shape[0] == len(x)
        info.update(rows=len(x), thresholds=nthr, xgboost=how,
                    nan_cells=int(np.isnan(x).sum()), inf_cells=int(np.isinf(x).sum()))
        np.savez(os.path.join(d, m["name"] + ".npz"), x=x, out=out, kinds=np.array(kinds))
        with open(os.path.join(d, m["name"] + ".rows"), "w") as f:
            for i, row in enumerate(texts(x)):
                f.write(f"{i}\t{{{','.join(row)}}}\n")
        # A row Postgres must refuse as XGBoost does, when it does.
        if info["inf_refused"]:
            info["inf_row"] = "{" + ",".join(["Infinity"] + ["1"] * (nf - 1)) + "}"
        print(json.dumps(info), flush=True)


# --- check

def read_bits(paths, width):
    """ids and uint32[n, width] from "id<TAB>hex hex..." lines."""
    ids, hexes = [], []
    for p in paths:
        with open(p) as f:
            for line in f:
                i, h = line.rstrip("\n").split("\t")
                ids.append(int(i))
                hexes.append(h)
    bad = [h for h in hexes if len(h) != 9 * width - 1]
    if bad:
        raise ValueError(f"{len(bad)} answers are not {width} float4 values (first: {bad[0]!r})")
    a = np.frombuffer(bytes.fromhex("".join(hexes).replace(" ", "")), dtype=">u4")
    return np.array(ids, dtype=np.int64), a.astype(np.uint32).reshape(len(ids), width)


def same_bits(ours, theirs):
    """Row-wise: every value equal bit for bit (any NaN equals any NaN:
    Postgres does not promise a NaN's payload)."""
    o = ours.view(F32)
    t = theirs.view(F32)
    eq = (ours == theirs) | (np.isnan(o) & np.isnan(t))
    return eq.all(axis=1)


def f32(bits):
    """Each value as its shortest float32 text and its bits."""
    b = np.atleast_1d(np.asarray(bits, dtype=np.uint32))
    return [f"{str(v)} ({u:08x})" for u, v in zip(b, b.view(F32))]


def cmd_check(d, paths):
    models = json.load(open(os.path.join(d, "models.json")))
    for m in models:
        name = m["name"]
        z = np.load(os.path.join(d, name + ".npz"))
        x, out, kinds = z["x"], z["out"], z["kinds"]
        n, nf = x.shape
        classes = np.array(m["classes"] or [], dtype=np.float64)
        if m["task"] == "regression":
            expected = {"predict": out.reshape(n, 1)}
        else:
            if len(classes) == 2:
                p = out.reshape(n)
                label = classes[(p > F32(0.5)).astype(int)]
                proba = np.stack([F32(1.0) - p, p], axis=1)
            else:
                label = classes[np.argmax(out, axis=1)]
                proba = out
            expected = {"predict": label.astype(F32).reshape(n, 1), "proba": proba.astype(F32)}
        expected["batch"] = expected["predict"]

        # The rows Postgres scored are the rows generated, bit for bit.
        res = {"model": name, "path": "(inputs)", "rows": 0, "differing": {}, "examples": []}
        try:
            ids, bits = read_bits([os.path.join(d, name + ".inputs")], nf)
            order = np.argsort(ids)
            ids, bits = ids[order], bits[order]
            ok = same_bits(bits, x.view(np.uint32)[ids]) if len(ids) == n and (ids == np.arange(n)).all() \
                else np.zeros(n, bool)
            res["rows"] = int(len(ids))
            res["differing"]["inputs"] = int((~ok).sum())
            res["examples"] = [{"id": int(i), "theirs": f32(x.view(np.uint32)[i]),
                                "ours": f32(bits[i]) if i < len(bits) else None}
                               for i in np.flatnonzero(~ok)[:3]]
        except (OSError, ValueError) as e:
            res["error"] = str(e)
        print(json.dumps(res), flush=True)

        for path in paths:
            res = {"model": name, "path": path, "rows": n, "differing": {}, "compared": {}, "examples": []}
            for fn, want in expected.items():
                files = sorted(glob.glob(os.path.join(d, f"{name}.{path}.{fn}")) +
                               glob.glob(os.path.join(d, f"{name}.{path}.{fn}.*")))
                if not files:
                    res.setdefault("error", f"no answers of {fn}")
                    res["differing"][fn] = n
                    res["compared"][fn] = 0
                    continue
                try:
                    ids, bits = read_bits(files, want.shape[1])
                except (OSError, ValueError) as e:
                    res.setdefault("error", f"{fn}: {e}")
                    res["differing"][fn] = n
                    res["compared"][fn] = 0
                    continue
                order = np.argsort(ids)
                ids, bits = ids[order], bits[order]
                if len(ids) != n or not (ids == np.arange(n)).all():
                    res.setdefault("error", f"{fn}: answers for {len(ids)} rows, not ids 0..{n - 1}")
                    res["differing"][fn] = n
                    res["compared"][fn] = int(len(ids))
                    continue
                theirs = want.view(np.uint32)
                ok = same_bits(bits, theirs)
                res["compared"][fn] = n
                res["differing"][fn] = int((~ok).sum())
                for i in np.flatnonzero(~ok)[:3]:
                    res["examples"].append({"fn": fn, "id": int(i), "row": f32(x.view(np.uint32)[i]),
                                            "kind": str(kinds[i]), "ours": f32(bits[i]),
                                            "xgboost": f32(theirs[i])})
            print(json.dumps(res), flush=True)


# --- the imported models, trained here

def cmd_imports(d):
    rng = np.random.default_rng(20261201)
    n, nf = 3000, 7
    x = rng.normal(size=(n, nf)).astype(F32) * F32(10)
    x[:, 2] = np.round(x[:, 2])                       # integer-valued: ties at thresholds
    x[:, 5] = rng.integers(0, 4, n)                   # a few levels
    x[rng.random((n, nf)) < 0.1] = np.nan             # missing values in training
    z = np.nan_to_num(x)
    score = z[:, 0] + 0.5 * z[:, 1] - 0.3 * z[:, 2] + 2 * z[:, 5] + np.sin(z[:, 3]) * 5
    models = [
        # base_score other than 0.5, hist, NaN in training
        ("imp_reg", "regression", {"objective": "reg:squarederror", "base_score": 3.5, "max_depth": 7,
                                   "tree_method": "hist"}, score + rng.normal(size=n), 150),
        # multi:softprob, 4 classes, exact method
        ("imp_softprob", "classification", {"objective": "multi:softprob", "num_class": 4, "max_depth": 6,
                                            "tree_method": "exact", "base_score": 0.25},
         np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])), 40),
        # binary:logistic, base_score 0.8, approx
        ("imp_binary", "classification", {"objective": "binary:logistic", "base_score": 0.8, "max_depth": 5,
                                          "tree_method": "approx"}, (score > np.median(score)).astype(int), 20),
        # dart: the forest compiler refuses it; XGBoost serves it
        ("imp_dart", "regression", {"booster": "dart", "objective": "reg:squarederror", "max_depth": 5,
                                    "rate_drop": 0.1, "skip_drop": 0.0, "base_score": 1.25, "seed": 7},
         score, 50),
    ]
    for name, task, params, y, rounds in models:
        params = dict(params, nthread=1, seed=params.get("seed", 1))
        b = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), rounds)
        f = os.path.join(d, name + ".ubj")
        with open(f, "wb") as out:
            out.write(bytes(b.save_raw("ubj")))
        print(json.dumps({"name": name, "task": task, "file": f}), flush=True)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "imports":
        cmd_imports(d)
    elif mode == "rows":
        cmd_rows(d, int(sys.argv[3]))
    elif mode == "check":
        cmd_check(d, [p for p in sys.argv[3].split(",") if p])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
