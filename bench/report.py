#!/usr/bin/python3
"""Turns one bench/run result folder into summary.md and PNG charts.

Reads meta.csv, serving.csv, memory_samples.csv, training.csv, bulk.csv and
parity.csv from the folder named on the command line and writes there:
summary.md, throughput.png, ratio.png, latency.png, memory.png, training.png,
bulk.png.
Every ratio is computed from this one run.
"""
import csv
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PG = ["worker", "backend", "ceiling", "worker-simple", "pgbouncer-worker", "pgbouncer-backend"]
PY = ["python-json", "python-ujson", "python-msgpack"]
LABEL = {
    "worker": "pgml_worker, worker path",
    "backend": "pgml_worker, backend path",
    "ceiling": "ceiling (no-op function)",
    "worker-simple": "worker path, simple protocol",
    "pgbouncer-worker": "PgBouncer + worker path",
    "pgbouncer-backend": "PgBouncer + backend path",
    "python-json": "Python, json",
    "python-ujson": "Python, ujson",
    "python-msgpack": "Python, msgpack",
}
STYLE = {
    "worker": ("tab:blue", "-", "o"),
    "backend": ("tab:green", "-", "s"),
    "ceiling": ("grey", ":", None),
    "worker-simple": ("tab:blue", "--", "x"),
    "pgbouncer-worker": ("tab:purple", "-", "^"),
    "pgbouncer-backend": ("tab:olive", "-", "v"),
    "python-json": ("tab:red", "-", "D"),
    "python-ujson": ("tab:orange", "-", "d"),
    "python-msgpack": ("tab:brown", "-", "P"),
}
DPI = 100

# The targets.
TPS_TARGET = 8.0       # worker path / Python, every client count
P99_TARGET = 0.1       # worker p99 / Python p99 at the most clients
MEM_TARGET = 1 / 7     # Postgres stack / Python stack at the most clients
TRAIN_TARGET = 1 / 3   # pgml.train peak RSS / Python's


def read_csv(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "**PASS**" if ok else "**MISSED**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


class Run:
    def __init__(self, folder):
        self.folder = folder
        self.meta = {r["key"]: r["value"] for r in read_csv(folder, "meta.csv")}
        # serving: each point's best round (most requests per second; other
        # work on the machine only ever slows a point down), with its latencies.
        self.serving = {}
        for r in read_csv(folder, "serving.csv"):
            row = {k: float(r[k]) for k in ("tps", "lat_mean_ms", "lat_p50_ms", "lat_p99_ms",
                                            "requests", "failed")}
            key = r["system"], int(r["clients"])
            if key not in self.serving or row["tps"] > self.serving[key]["tps"]:
                self.serving[key] = row
        self.clients = sorted({c for _, c in self.serving})
        self.systems = [s for s in PG + PY if any((s, c) in self.serving for c in self.clients)]
        self.py_systems = [s for s in PY if s in self.systems]
        # memory: (system, clients) -> sample -> part -> (kB, processes)
        samples = defaultdict(lambda: defaultdict(dict))
        for r in read_csv(folder, "memory_samples.csv"):
            sample = (r.get("round", "1"), r["sample"])
            samples[r["system"], int(r["clients"])][sample][r["part"]] = (
                int(r["pss_kb"]), int(r.get("processes") or 0))
        # A sample taken while the load's connections were not all there (a
        # slow start, an early end) would understate the stack: keep the
        # samples with (nearly) the most processes seen during the point.
        self.mem, self.mem_parts, self.mem_procs, self.mem_dropped = {}, {}, {}, {}
        for key, by_sample in samples.items():
            nprocs = {i: sum(n for _, n in parts.values()) for i, parts in by_sample.items()}
            top = max(nprocs.values())
            kept = [i for i in by_sample if nprocs[i] >= 0.9 * top]
            totals = [sum(kb for kb, _ in by_sample[i].values()) / 1024 for i in kept]
            self.mem[key] = (sum(totals) / len(totals), max(totals))
            self.mem_parts[key] = {p: [by_sample[i][p][0] for i in kept if p in by_sample[i]]
                                   for p in by_sample[kept[0]]}
            self.mem_procs[key] = {p: [by_sample[i][p][1] for i in kept if p in by_sample[i]]
                                   for p in by_sample[kept[0]]}
            self.mem_dropped[key] = len(by_sample) - len(kept)
        self.failed = sum(float(r["failed"]) for r in read_csv(folder, "serving.csv"))
        # training: one row per system; wall time the best of its runs (the
        # machine's other load only ever slows a run down), peak RSS the
        # largest of them.
        runs = defaultdict(list)
        for r in read_csv(folder, "training.csv"):
            runs[r["system"]].append(r)
        self.training = []
        for system, rs in runs.items():
            peak = max(rs, key=lambda r: float(r["peak_rss_mb"]))
            self.training.append({
                "system": system, "rows": rs[0]["rows"], "runs": len(rs),
                "wall_s": min(float(r["wall_s"]) for r in rs),
                "walls": [float(r["wall_s"]) for r in rs],
                "peak_rss_mb": float(peak["peak_rss_mb"]), "shared_mb": float(peak["shared_mb"]),
                "r2": rs[-1]["r2"]})
        self.bulk = read_csv(folder, "bulk.csv")
        self.parity = read_csv(folder, "parity.csv")

    def get(self, system, clients, field="tps"):
        r = self.serving.get((system, clients))
        return r[field] if r else None

    def best_python(self, clients, field="tps"):
        """The best Python codec at this client count: most tps, lowest latency."""
        vals = [(self.get(s, clients, field), s) for s in self.py_systems
                if self.get(s, clients, field) is not None]
        if not vals:
            return None, None
        return max(vals) if field == "tps" else min(vals)

    def mem_mean(self, system, clients):
        return self.mem.get((system, clients), (None, None))[0]


def machine_section(run):
    m = run.meta
    gw, gt = m.get("gunicorn_workers"), m.get("gunicorn_threads")
    return f"""## Machine and settings

- Machine: {m.get('cores')} cores ({m.get('cpu')}), {m.get('memory_gb')} GB memory, {m.get('os')}.
  The machine is shared with other work: absolute numbers move between runs;
  the ratios measured within this one run are the result. Load average (1, 5,
  15 min) when the run started: {m.get('loadavg_start')}; when it ended:
  {m.get('loadavg_end')} (the benchmark itself keeps about 2 busy).
- PostgreSQL {m.get('postgres')} (shared_buffers {m.get('shared_buffers')}), pgml_worker
  {m.get('pgml_worker')} (commit {m.get('commit')}; installed library is this build:
  {m.get('installed_library_is_this_build')}), XGBoost {m.get('xgboost')}, Gunicorn
  {m.get('gunicorn')}, Redis {m.get('redis')}, PgBouncer {m.get('pgbouncer')}.
- Data: {int(m.get('rows', 0)):,} generated flight rows (bench/gen_flights.py, seed 42);
  Redis holds {int(m.get('redis_keys', 0)):,} keys (one per airport and day: the first
  row of each, the same row the seed's `LIMIT 1` query finds).
- Profile `{m.get('profile')}`: {m.get('seconds_per_point')} s per point, clients
  {m.get('clients')}, {m.get('rounds', 1)} rounds (each point's best round is reported).
- Gunicorn: {gw} workers x {gt} threads (gthread), bound to 127.0.0.1. The seed ran
  5 workers x 2 threads on 16 hardware threads; on {m.get('cores')} cores the service
  is CPU-bound in Python, so it gets {int(gw) / max(1, int(m.get('cores', 1))):g} workers per core (each waits on Redis part
  of the time) and 2 threads each to overlap those waits; XGBoost predicts with
  one thread per call. Each service talks to its own Redis over TCP loopback.
- pgbench: `-M prepared`, TCP to 127.0.0.1 (like ab), the seed's query with random
  keys from the 30 busiest airports, years 2018-2022, months 1-12, days 1-28:
  {float(m.get('pgbench_key_hit_rate', 0)) * 100:.1f} % of the drawn keys have a row (the
  rest run the query and return no row, for every Postgres system alike).
  ab (`-k`, keep-alive) posts one fixed existing key, {m.get('ab_key')}, for a whole
  run (ab sends one body); every request does the full Redis GET + decode + predict.
- PgBouncer: transaction pooling, default_pool_size {m.get('pgbouncer_pool_size')}
  ({int(m.get('pgbouncer_pool_size', 0)) / max(1, int(m.get('cores', 1))):g} per core), max_client_conn 300, to Postgres over its Unix socket. Two pools:
  `pgml_worker` logs in as postgres (worker path), `pgml_backend` as a role with
  `ALTER ROLE ... SET pgml_worker.predict_path = 'backend'`. pgbench runs `-M
  extended` through it: PgBouncer {m.get('pgbouncer')} cannot keep named prepared
  statements in transaction pooling.
- Memory: total PSS (`/proc/<pid>/smaps`) of each stack's processes, sampled 3
  times per point (at 30, 55 and 80 % of it); tables show the mean of the
  samples and the max. Postgres stack: the postmaster and all its children
  (backends, the serving worker, background processes), with the main shared
  memory segment counted whole by its resident size (`/proc/sysvipc/shm`; the
  shared buffers it holds are the stack's memory even when no process has them
  mapped at the moment of a sample), plus PgBouncer for the PgBouncer rows.
  Python stack: Gunicorn master and workers plus the Redis it reads.
"""


def serving_sections(run):
    cs = run.clients
    rounds = run.meta.get("rounds", "1")
    out = ["## Throughput (requests per second)", "",
           f"Each point ran in each of {rounds} rounds (whole sweeps, systems interleaved per "
           "client count); the tables show its best round and that round's latencies. "
           "serving.csv has every round.", ""]
    rows = [[c] + [fmt(run.get(s, c)) for s in run.systems] for c in cs]
    out += [table(["clients"] + [LABEL[s] for s in run.systems], rows), ""]

    out += ["### Ratios", "",
            "Best Python: the codec with the most throughput at that client count.", ""]
    hdr = ["clients", "worker / Python json", "worker / best Python", "best Python codec",
           "backend / best Python", "PgBouncer+worker / best Python", "worker / ceiling",
           "worker / backend"]
    rows = []
    for c in cs:
        best, name = run.best_python(c)
        w = run.get("worker", c)
        rows.append([c, fmt(ratio(w, run.get("python-json", c)), 2), fmt(ratio(w, best), 2),
                     (name or "–").replace("python-", ""),
                     fmt(ratio(run.get("backend", c), best), 2),
                     fmt(ratio(run.get("pgbouncer-worker", c), best), 2),
                     fmt(ratio(w, run.get("ceiling", c)), 2),
                     fmt(ratio(w, run.get("backend", c)), 2)])
    out += [table(hdr, rows), ""]

    out += ["## Latency (ms): mean / p50 / p99", ""]
    rows = []
    for c in cs:
        row = [c]
        for s in run.systems:
            r = run.serving.get((s, c))
            row.append("–" if not r else
                       f"{r['lat_mean_ms']:.2f} / {r['lat_p50_ms']:.2f} / {r['lat_p99_ms']:.2f}")
        rows.append(row)
    out += [table(["clients"] + [LABEL[s] for s in run.systems], rows), ""]
    if run.failed:
        out += [f"Failed requests or transactions over all rounds: {run.failed:.0f} (serving.csv).", ""]
    else:
        out += ["No request or transaction failed in any round.", ""]
    return out


def memory_section(run):
    out = ["## Memory (total PSS of each stack, MB)", ""]
    cs = run.clients
    rows = [[c] + [fmt(run.mem_mean(s, c)) for s in run.systems] for c in cs]
    out += ["Mean of the samples at each client count:", "",
            table(["clients"] + [LABEL[s] for s in run.systems], rows), ""]
    top = cs[-1] if cs else None
    if top is None:
        return out
    rows = []
    for s in run.systems:
        mean, mx = run.mem.get((s, top), (None, None))
        parts = run.mem_parts.get((s, top), {})
        detail = []
        for p, v in parts.items():
            n = run.mem_procs[s, top][p]
            span = f"{min(n)}" if min(n) == max(n) else f"{min(n)}-{max(n)}"
            count = f" ({span} processes)" if max(n) > 1 else ""
            detail.append(f"{p.replace('_', ' ')} {sum(v) / len(v) / 1024:,.0f}{count}")
        detail = ", ".join(detail)
        rows.append([LABEL[s], fmt(mean), fmt(mx), detail])
    out += [f"At {top} clients, with the parts:", "",
            table(["stack", "mean MB", "max MB", "parts (mean MB)"], rows), ""]
    dropped = [(s, c, n) for (s, c), n in run.mem_dropped.items() if n]
    if dropped:
        out += ["Samples left out because the load's connections were not all there: " +
                ", ".join(f"{s} at {c} clients: {n}" for s, c, n in sorted(dropped)), ""]
    return out


def training_section(run):
    out = ["## Training (r2, 25 estimators, hist, same rows, same 75/25 split)", ""]
    rows = []
    for r in run.training:
        note = f"{r['shared_mb']:,.0f} MB of it shared buffers" if r["shared_mb"] else ""
        walls = ", ".join(f"{w:.2f}" for w in r["walls"])
        rows.append([r["system"], f"{int(r['rows']):,}", f"{r['wall_s']:.2f}", walls,
                     f"{r['peak_rss_mb']:,.0f}", note, r["r2"]])
    out += [table(["", "rows", "wall s (best)", "every run", "peak RSS MB (largest)", "",
                   "r2 on the test rows"], rows), ""]
    out += ["Each side ran alternately, each run in a fresh session or process. pgml.train: "
            "wall time of the call, peak RSS = `VmHWM` of its backend (shared buffer pages it "
            "touched included, shown apart). Python: `pandas.read_csv` (default dtypes) + "
            "`XGBRegressor(n_estimators=25, tree_method='hist').fit` + scoring the test rows; "
            "peak RSS = `ru_maxrss` (interpreter and imports included), wall time without "
            "the imports. XGBoost uses every core on both sides; when the machine is busy "
            "its OpenMP threads slow down many times over, hence the best of the runs.", ""]
    return out


def bulk_section(run):
    out = ["## Bulk scoring of the whole table", ""]
    rows = [[r["method"], f"{int(r['rows']):,}", r["seconds"], fmt(float(r["predictions_per_s"])),
             f"{float(r['sum']):.6g}"] for r in run.bulk]
    out += [table(["method", "rows", "seconds", "predictions/s", "sum of predictions"], rows), ""]
    sums = [float(r["sum"]) for r in run.bulk]
    if sums:
        spread = (max(sums) - min(sums)) / max(1.0, abs(max(sums)))
        agree = "agree" if spread <= 1e-5 else "DISAGREE"
        out += [f"The sums of all methods {agree} (relative spread {spread:.1e}).", ""]
    if not any("predict_batch" in r["method"] for r in run.bulk):
        out += ["`pgml.predict_batch` was not installed when this ran, so it is not measured.", ""]
    out += ["SQL: one statement over the table (`\\timing`), whatever plan Postgres picks "
            "(pgml.predict is PARALLEL SAFE). predict_batch: `array_agg` of the feature rows "
            "of each 1000-page TID range, one call each. Python: `Booster.inplace_predict` "
            "over the whole float32 matrix already in memory, every core, best of 3: the "
            "physical limit.", ""]
    return out


def targets_section(run):
    out = ["## Targets", ""]
    rows = []
    cs = run.clients
    top = cs[-1] if cs else None
    # 1. throughput
    worst = None
    for c in cs:
        best, _ = run.best_python(c)
        r = ratio(run.get("worker", c), best)
        if r is not None and (worst is None or r < worst[0]):
            worst = (r, c)
    if worst:
        rows.append([f"worker path >= {TPS_TARGET:g} x Python throughput at every client count "
                     "(best Python codec, no PgBouncer)",
                     f"lowest {worst[0]:.2f} x (at {worst[1]} clients)",
                     verdict(worst[0] >= TPS_TARGET)])
    # 2. p99
    if top is not None:
        best_p99, name = run.best_python(top, "lat_p99_ms")
        r = ratio(run.get("worker", top, "lat_p99_ms"), best_p99)
        if r is not None:
            rows.append([f"p99 at {top} clients <= 1/10 of Python's (best codec: {name})",
                         f"{r:.3f} ({run.get('worker', top, 'lat_p99_ms'):.2f} ms against "
                         f"{best_p99:.2f} ms)", verdict(r <= P99_TARGET)])
    # 3. memory
    if top is not None:
        py_mem = [(run.mem_mean(s, top), s) for s in run.py_systems if run.mem_mean(s, top)]
        if py_mem:
            smallest, name = min(py_mem)
            for s, what in (("worker", "without PgBouncer"), ("pgbouncer-worker", "with PgBouncer")):
                m = run.mem_mean(s, top)
                r = ratio(m, smallest)
                if r is not None:
                    rows.append([f"Postgres stack memory <= 1/7 of the Python stack at {top} clients, "
                                 f"{what} (smallest Python stack: {name})",
                                 f"{r:.2f} ({m:,.0f} MB against {smallest:,.0f} MB)",
                                 verdict(r <= MEM_TARGET)])
    # 4. training
    by = {r["system"]: r for r in run.training}
    if "pgml.train" in by and "pandas+XGBRegressor" in by:
        a, b = by["pgml.train"]["peak_rss_mb"], by["pandas+XGBRegressor"]["peak_rss_mb"]
        rows.append(["training peak RSS <= 1/3 of Python's", f"{a / b:.2f} ({a:,.0f} MB against {b:,.0f} MB)",
                     verdict(a / b <= TRAIN_TARGET)])
    out += [table(["target", "measured", "result"], rows), ""]
    return out


def reading_section(run):
    """Plain sentences computed from the tables: what passed, what did not, and of what."""
    out = ["## What the numbers say", ""]
    cs = run.clients
    if not cs:
        return []
    top = cs[-1]
    hits, misses = [], []
    for c in cs:
        best, _ = run.best_python(c)
        r = ratio(run.get("worker", c), best)
        if r is not None:
            (hits if r >= TPS_TARGET else misses).append(f"{r:.1f} x at {c}")
    if hits or misses:
        line = "- Throughput, worker path against the best Python codec: "
        line += ("at least 8 x at every client count (" + ", ".join(hits) + ")." if not misses else
                 "below 8 x: " + ", ".join(misses) +
                 ("; 8 x or more: " + ", ".join(hits) if hits else "") + ".")
        low = cs[0]
        w, ce = run.get("worker", low, "lat_mean_ms"), run.get("ceiling", low, "lat_mean_ms")
        b = run.get("backend", low, "lat_mean_ms")
        best_py = run.best_python(low, "lat_mean_ms")[0]
        if None not in (w, ce, b, best_py):
            line += (f" At {low} client{'s' if low > 1 else ''} each request waits for the one "
                     f"before: the worker path takes {w * 1000:.0f} µs a request, of which "
                     f"{ce * 1000:.0f} µs is what Postgres costs with no model at all (the "
                     f"ceiling: TCP round trip, bind/execute, index lookup) and the rest the hop "
                     f"to the serving worker and back; the backend path, which scores in the "
                     f"connection's own process, takes {b * 1000:.0f} µs, Python "
                     f"{best_py * 1000:.0f} µs.")
        out += [line]
    wp, pp = run.get("worker", top, "lat_p99_ms"), run.best_python(top, "lat_p99_ms")[0]
    if wp and pp:
        out += [f"- p99 latency at {top} clients: worker path {wp:.1f} ms, best Python {pp:.1f} ms "
                f"({wp / pp:.3f})."]
    parts = run.mem_parts.get(("worker", top))
    py_mem = [(run.mem_mean(s, top), s) for s in run.py_systems if run.mem_mean(s, top)]
    if parts and py_mem:
        mb = lambda v: sum(v) / len(v) / 1024
        shm, procs = mb(parts.get("postgres_shared_memory", [0])), mb(parts.get("postgres", [0]))
        n = max(run.mem_procs["worker", top]["postgres"])
        smallest, name = min(py_mem)
        pyparts = run.mem_parts[name, top]
        gun, red = mb(pyparts.get("gunicorn", [0])), mb(pyparts.get("redis", [0]))
        nw = max(run.mem_procs[name, top]["gunicorn"])
        ceiling_note = ""
        cparts = run.mem_parts.get(("ceiling", top))
        if cparts:
            cn = max(run.mem_procs["ceiling", top]["postgres"])
            ceiling_note = (f"; with the no-op function instead of pgml.predict: "
                            f"{mb(cparts['postgres']) / cn:.1f} MB each")
        line = (f"- Memory at {top} clients: the Postgres stack is {shm:,.0f} MB of shared memory "
                f"(shared buffers: the table and index pages, the feature store of this side) "
                f"plus {procs:,.0f} MB in {n} processes, about {procs / n:.1f} MB each (a "
                f"backend's own heap, catalog and plan caches, and its share of the program's pages"
                f"{ceiling_note}). The Python stack ({name}) is "
                f"{gun:,.0f} MB of Gunicorn ({nw} processes, about {gun / nw:.0f} MB each: the "
                f"interpreter with Flask, NumPy, pandas and XGBoost loaded) and {red:,.0f} MB of "
                f"Redis.")
        pb = run.mem_mean("pgbouncer-worker", top)
        if pb:
            line += (f" With PgBouncer only its pool of server connections exists: {pb:,.0f} MB "
                     f"in all ({pb / smallest:.2f} of Python).")
        out += [line]
    by = {r["system"]: r for r in run.training}
    if "pgml.train" in by and "pandas+XGBRegressor" in by:
        pg, py = by["pgml.train"], by["pandas+XGBRegressor"]
        hwm, shm, pyr = pg["peak_rss_mb"], pg["shared_mb"], py["peak_rss_mb"]
        out += [f"- Training: pgml.train peaks at {hwm:,.0f} MB, of which {shm:,.0f} MB are "
                f"shared-buffer pages it read (held by the server for every backend anyway); "
                f"without them {hwm - shm:,.0f} MB, {(hwm - shm) / pyr:.2f} of Python's "
                f"{pyr:,.0f} MB. Wall time (best of {pg['runs']}): {pg['wall_s']:.2f} s "
                f"against {py['wall_s']:.2f} s."]
    bulk = {r["method"]: float(r["predictions_per_s"]) for r in run.bulk}
    row = next((v for k, v in bulk.items() if "worker path" in k), None)
    batch = next((v for k, v in bulk.items() if "predict_batch" in k), None)
    limit = next((v for k, v in bulk.items() if "Python" in k), None)
    if row and limit:
        line = (f"- Bulk scoring: row by row through the worker {row:,.0f} predictions/s, "
                f"{row / limit:.1%} of XGBoost's in-memory rate ({limit:,.0f}/s): each row is "
                f"one request, one round trip to the serving worker.")
        if batch:
            line += (f" pgml.predict_batch scores {batch:,.0f}/s, {batch / row:.0f} x the "
                     f"row-by-row path and {batch / limit:.0%} of the in-memory limit.")
        out += [line]
    return out + [""]


def parity_section(run):
    if not run.parity:
        return []
    keys = {r["key"] for r in run.parity}
    codecs = sorted({r["codec"] for r in run.parity})
    worst = max(float(r["abs_diff"]) for r in run.parity)
    return ["## Same answers", "",
            f"Before timing, {len(keys)} keys were asked of pgml.predict (worker and backend "
            f"paths, the seed's query) and of the Python service ({', '.join(codecs)}), which "
            f"loads the model bytes `pgml.export_model` returned: largest difference "
            f"{worst:.3g} (parity.csv).", ""]


def line_chart(run, field, ylabel, title, path, logy=False, values=None):
    fig, ax = plt.subplots(figsize=(8, 5))
    for s in run.systems:
        xs = [c for c in run.clients if (s, c) in run.serving]
        ys = [values(s, c) if values else run.get(s, c, field) for c in xs]
        color, ls, marker = STYLE[s]
        ax.plot(xs, ys, color=color, linestyle=ls, marker=marker, label=LABEL[s])
    ax.set_xscale("log")
    ax.set_xticks(run.clients)
    ax.set_xticklabels([str(c) for c in run.clients])
    ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("clients")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def charts(run):
    f = run.folder
    cores = run.meta.get("cores", "?")
    line_chart(run, "tps", "requests per second", f"Throughput ({cores} cores)",
               os.path.join(f, "throughput.png"))
    pg_vs_py = [x for x in ("worker", "backend", "pgbouncer-worker", "pgbouncer-backend")
                if x in run.systems]
    if run.py_systems and pg_vs_py:
        fig, ax = plt.subplots(figsize=(8, 5))
        for x in pg_vs_py:
            xs = [c for c in run.clients if run.get(x, c) and run.best_python(c)[0]]
            color, ls, marker = STYLE[x]
            ax.plot(xs, [run.get(x, c) / run.best_python(c)[0] for c in xs], color=color,
                    linestyle=ls, marker=marker, label=LABEL[x])
        ax.axhline(TPS_TARGET, color="black", linestyle="--", linewidth=1,
                   label=f"target: {TPS_TARGET:g} x")
        ax.set_xscale("log")
        ax.set_xticks(run.clients)
        ax.set_xticklabels([str(c) for c in run.clients])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set_xlabel("clients")
        ax.set_ylabel("throughput / best Python codec's")
        ax.set_title("Throughput against the Python service")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(f, "ratio.png"), dpi=DPI)
        plt.close(fig)
    line_chart(run, "lat_p99_ms", "p99 latency, ms (log)", "p99 latency",
               os.path.join(f, "latency.png"), logy=True)
    line_chart(run, None, "total PSS of the stack, MB", "Memory of each stack under load",
               os.path.join(f, "memory.png"), values=lambda s, c: run.mem_mean(s, c))

    if run.training:
        fig, axes = plt.subplots(1, 2, figsize=(8, 4))
        names = [r["system"] for r in run.training]
        colors = ["tab:blue" if n == "pgml.train" else "tab:red" for n in names]
        for ax, key, label in ((axes[0], "wall_s", f"wall time, s (best of {run.training[0]['runs']})"),
                               (axes[1], "peak_rss_mb", "peak RSS, MB")):
            vals = [float(r[key]) for r in run.training]
            ax.bar(names, vals, color=colors)
            ax.set_title(label)
            for i, v in enumerate(vals):
                ax.annotate(f"{v:,.1f}" if v < 100 else f"{v:,.0f}", (i, v),
                            ha="center", va="bottom")
        fig.suptitle(f"Training r2 on {int(run.training[0]['rows']):,} rows")
        fig.tight_layout()
        fig.savefig(os.path.join(f, "training.png"), dpi=DPI)
        plt.close(fig)

    if run.bulk:
        fig, ax = plt.subplots(figsize=(8, 4))
        names = [r["method"] for r in run.bulk]
        vals = [float(r["predictions_per_s"]) for r in run.bulk]
        ax.barh(names, vals, color=["tab:red" if "Python" in n else "tab:blue" for n in names])
        ax.set_xscale("log")
        ax.set_xlabel("predictions per second (log)")
        ax.set_title("Bulk scoring of the whole table")
        for i, v in enumerate(vals):
            ax.annotate(f" {v:,.0f}", (v, i), va="center", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(f, "bulk.png"), dpi=DPI)
        plt.close(fig)


def main():
    folder = sys.argv[1]
    run = Run(folder)
    md = [f"# Benchmark {run.meta.get('run', '')}: pgml_worker against the Python microservice", "",
          "Made by `make bench` (bench/run); raw data in the CSV files beside this one.", ""]
    md += targets_section(run)
    md += reading_section(run)
    md += [machine_section(run)]
    md += parity_section(run)
    md += serving_sections(run)
    md += memory_section(run)
    md += training_section(run)
    md += bulk_section(run)
    md += ["## Charts", "", "![throughput](throughput.png)", "", "![ratio to Python](ratio.png)", "",
           "![p99 latency](latency.png)", "",
           "![memory](memory.png)", "", "![training](training.png)", "", "![bulk](bulk.png)", ""]
    with open(os.path.join(folder, "summary.md"), "w") as f:
        f.write("\n".join(md))
    charts(run)


if __name__ == "__main__":
    main()
