#!/usr/bin/python3
"""Checked load for pgml_worker: many clients predict random rows through
pgml.predict('<project>', ...) and every answer is compared with the
answers of the models that may be deployed, computed beforehand.

Expected answers come from a table (--expected, columns id, a, b: the
prediction of model A and of model B for row id, real), filled on the
backend path before the load. An answer is
  right  when it equals, bit for bit as float4, A's or B's answer for that row;
  wrong  otherwise (another row's answer, a mix of models, garbage);
  stale  when it is right but not the model deployed over the whole request:
         a deployment that committed before the request started, with no
         other deployment sent before it ended, must be the one used.
With --models A,B a switcher thread deploys A and B in turn (pgml.deploy(id))
every --deploy-every seconds. --storm-share of the clients run with
statement_timeout = 1ms (a cancel storm); their answers are checked too.

Connections lost (worker crash, server restart) are counted and re-opened.
A client still inside one request --grace seconds after the end counts as
hung. SIGUSR1 ends the run before --seconds. The last line on stdout is
'checked_load: {json}'; the exit status is 1 when anything was wrong, stale
or hung.
"""

import argparse
import bisect
import json
import math
import os
import random
import signal
import struct
import sys
import threading
import time

import psycopg2

FLIGHT_FEATURES = ("ARRAY[year, quarter, month, distance, dayofweek, dayofmonth, "
                   "flight_number_operating_airline, originairportid, destairportid, tail_number]")


def f4(x):
    """The float4 bits of an answer, so equality is bitwise."""
    return struct.pack("<f", x)


def sqlstate_of(exc, conn):
    if getattr(exc, "pgcode", None):
        return exc.pgcode
    if conn is None or conn.closed:
        return "connection_lost"
    return type(exc).__name__


class Histogram:
    """Latencies in log buckets of 5 %, enough for p50/p99 over hours."""
    STEP = math.log(1.05)

    def __init__(self):
        self.buckets = {}

    def add(self, seconds):
        b = int(math.log(max(seconds, 1e-6) * 1e6) / self.STEP)
        self.buckets[b] = self.buckets.get(b, 0) + 1

    def merge(self, other):
        for b, n in list(other.buckets.items()):
            self.buckets[b] = self.buckets.get(b, 0) + n

    def quantile(self, q):
        total = sum(self.buckets.values())
        if total == 0:
            return None
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= q * total:
                return math.exp((b + 1) * self.STEP) / 1e6
        return None


class Stats:
    def __init__(self):
        self.requests = 0
        self.ok = 0
        self.wrong = 0
        self.stale = 0
        self.stale_checked = 0  # answers whose request fell inside one deployment
        self.answers = {"a": 0, "b": 0}
        self.errors = {}
        self.messages = {}  # the first message of each error kind
        self.reconnects = 0
        self.max_latency = 0.0
        self.hist = Histogram()
        self.examples = []

    def error(self, code, exc=None):
        self.errors[code] = self.errors.get(code, 0) + 1
        if exc is not None and code not in self.messages:
            self.messages[code] = str(exc).strip().split("\n")[0][:200]

    def merge(self, o):
        self.requests += o.requests
        self.ok += o.ok
        self.wrong += o.wrong
        self.stale += o.stale
        self.stale_checked += o.stale_checked
        for k in self.answers:
            self.answers[k] += o.answers[k]
        for k, n in list(o.errors.items()):
            self.errors[k] = self.errors.get(k, 0) + n
        for k, m in list(o.messages.items()):
            self.messages.setdefault(k, m)
        self.reconnects += o.reconnects
        self.max_latency = max(self.max_latency, o.max_latency)
        self.hist.merge(o.hist)
        self.examples.extend(o.examples[:5 - len(self.examples)])

    def as_dict(self):
        p50, p99 = self.hist.quantile(0.5), self.hist.quantile(0.99)
        return {
            "requests": self.requests, "ok": self.ok, "wrong": self.wrong, "stale": self.stale,
            "stale_checked": self.stale_checked,
            "answers_a": self.answers["a"], "answers_b": self.answers["b"],
            "errors": dict(sorted(self.errors.items())), "messages": self.messages,
            "reconnects": self.reconnects,
            "p50_ms": round(p50 * 1e3, 3) if p50 else None,
            "p99_ms": round(p99 * 1e3, 3) if p99 else None,
            "max_latency_s": round(self.max_latency, 3),
        }


class Deployments:
    """What the switcher did, for the stale check. Entry j: the time its
    deploy was sent, the time it returned committed (None while running or
    when it failed), the expected-answer column it deploys."""

    def __init__(self, initial):
        self.lock = threading.Lock()
        self.sent = [-math.inf]
        self.committed = [-math.inf]
        self.column = [initial]

    def begin(self, column):
        with self.lock:
            self.sent.append(time.monotonic())
            self.committed.append(None)
            self.column.append(column)
            return len(self.sent) - 1

    def done(self, j, ok):
        with self.lock:
            self.committed[j] = time.monotonic() if ok else None
            if not ok:
                self.column[j] = None  # unknown: it may or may not have committed

    def expected_column(self, t0, t1):
        """The column every answer of a request over [t0, t1] must match, or
        None when a deployment may have changed it meanwhile."""
        with self.lock:
            j = bisect.bisect_left(self.sent, t1) - 1  # last deploy sent before t1
            c = self.committed[j]
            if c is None or c >= t0:
                return None
            return self.column[j]


class Load:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.gap_lock = threading.Lock()
        self.last_success = time.monotonic()
        self.gaps = []  # [wall clock start, seconds] of every gap > --gap
        self.max_gap = 0.0
        self.inflight = {}  # client -> monotonic start of its current request
        self.deploys = 0
        self.deploy_errors = {}
        self.expected = {}
        self.deployments = None

    def connect(self, n=0):
        a = self.args
        path = a.path
        if path == "mixed":  # both worker paths at once, forced
            path = "inplace" if n % 2 == 0 else "queued"
        options = "-c pgml_worker.predict_path=%s" % path
        conn = psycopg2.connect(host=a.host, port=a.port, dbname=a.dbname, user=a.user,
                                options=options, connect_timeout=10,
                                application_name="checked_load")
        conn.autocommit = True
        return conn

    def prepare(self, conn, storm):
        a = self.args
        with conn.cursor() as cur:
            cur.execute("PREPARE q(int) AS SELECT pgml.predict(%s, %s) FROM %s WHERE id = $1"
                        % (psycopg2.extensions.QuotedString(a.project).getquoted().decode(),
                           a.features, a.table))
            if storm:
                cur.execute("SET statement_timeout = 1")

    def load_expected(self):
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT id, a, b FROM %s" % self.args.expected)
            for rid, ya, yb in cur:
                self.expected[rid] = (f4(ya), f4(yb))
            cur.execute("SELECT m.id FROM pgml.deployed_models m WHERE m.name = %s", (self.args.project,))
            row = cur.fetchone()
        conn.close()
        if not self.expected:
            raise SystemExit("checked_load: %s is empty" % self.args.expected)
        initial = None
        if self.args.models and row:
            ids = self.args.models
            initial = "a" if row[0] == ids[0] else "b" if row[0] == ids[1] else None
        self.deployments = Deployments(initial)
        self.ids = sorted(self.expected)

    def success(self, now):
        with self.gap_lock:
            gap = now - self.last_success
            self.last_success = now
            if gap > self.max_gap:
                self.max_gap = gap
            if gap > self.args.gap:
                self.gaps.append([round(time.time() - gap, 3), round(gap, 3)])

    def client(self, n, storm, stats, conn=None):
        rng = random.Random(self.args.seed * 1000 + n)
        while not self.stop.is_set():
            if conn is None:
                try:
                    conn = self.connect(n)
                    self.prepare(conn, storm)
                except psycopg2.Error as e:
                    stats.error("connect:" + sqlstate_of(e, None), e)
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
                    continue
                stats.reconnects += 1
            rid = self.ids[rng.randrange(len(self.ids))]
            t0 = time.monotonic()
            self.inflight[n] = t0
            try:
                with conn.cursor() as cur:
                    cur.execute("EXECUTE q(%s)", (rid,))
                    got = cur.fetchone()[0]
            except psycopg2.Error as e:
                self.inflight.pop(n, None)
                stats.requests += 1
                code = sqlstate_of(e, conn)
                stats.error(code, e)
                if conn.closed:
                    conn = None
                continue
            t1 = time.monotonic()
            self.inflight.pop(n, None)
            stats.requests += 1
            stats.hist.add(t1 - t0)
            stats.max_latency = max(stats.max_latency, t1 - t0)
            ya, yb = self.expected[rid]
            bits = f4(got) if got is not None else None
            which = "a" if bits == ya else "b" if bits == yb else None
            if which is None:
                stats.wrong += 1
                if len(stats.examples) < 5:
                    stats.examples.append({"id": rid, "got": got, "a": struct.unpack("<f", ya)[0],
                                           "b": struct.unpack("<f", yb)[0]})
                continue
            stats.ok += 1
            stats.answers[which] += 1
            self.success(t1)
            if self.args.models:
                want = self.deployments.expected_column(t0, t1)
                if want is not None:
                    stats.stale_checked += 1
                if want is not None and want != which:
                    stats.stale += 1
                    if len(stats.examples) < 5:
                        stats.examples.append({"id": rid, "stale": which, "deployed": want})
        if conn is not None:
            conn.close()

    def switcher(self, conn=None):
        k = 0
        ids = self.args.models
        while not self.stop.wait(self.args.deploy_every):
            if conn is None:
                try:
                    conn = self.connect()
                except psycopg2.Error as e:
                    code = "connect:" + sqlstate_of(e, None)
                    self.deploy_errors[code] = self.deploy_errors.get(code, 0) + 1
                    continue
            column = "ab"[k % 2]
            j = self.deployments.begin(column)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT pgml.deploy(%s::bigint)", (ids[k % 2],))
                self.deployments.done(j, True)
                self.deploys += 1
                k += 1
            except psycopg2.Error as e:
                self.deployments.done(j, False)
                code = sqlstate_of(e, conn)
                self.deploy_errors[code] = self.deploy_errors.get(code, 0) + 1
                if conn.closed:
                    conn = None
        if conn is not None:
            conn.close()

    def progress(self, stats, started):
        while not self.stop.wait(self.args.progress):
            total = Stats()
            for s in stats:
                total.merge(s)
            d = total.as_dict()
            print("checked_load: %6.0fs requests %d wrong %d stale %d errors %s deploys %d max gap %.2fs"
                  % (time.monotonic() - started, d["requests"], d["wrong"], d["stale"],
                     json.dumps(d["errors"]), self.deploys, self.max_gap), file=sys.stderr, flush=True)

    def run(self):
        a = self.args
        # SIGUSR1 ends the run early (a test whose faults are done).
        signal.signal(signal.SIGUSR1, lambda *_: self.stop.set())
        self.load_expected()
        storm_clients = int(round(a.clients * a.storm_share))
        stats = [Stats() for _ in range(a.clients)]
        # Every connection is made before the load starts, one after the
        # other: 100 connections opened at once while the first of them
        # already score on 2 busy cores could wait past connect_timeout,
        # and what this driver checks is the answers, not the postmaster's
        # forks under load. (A connection lost later is made again by its
        # thread, and counted.)
        def early(n, storm):
            try:
                conn = self.connect(n)
                if n >= 0:
                    self.prepare(conn, storm)
                return conn
            except psycopg2.Error:
                return None  # its thread connects, and counts a failure
        threads = []
        for n in range(a.clients):
            t = threading.Thread(target=self.client,
                                 args=(n, n < storm_clients, stats[n], early(n, n < storm_clients)), daemon=True)
            threads.append(t)
        switcher_conn = early(-1, False) if a.models else None
        started = time.monotonic()
        self.last_success = started
        for t in threads:
            t.start()
        extra = []
        if a.models:
            extra.append(threading.Thread(target=self.switcher, args=(switcher_conn,), daemon=True))
        if a.progress:
            extra.append(threading.Thread(target=self.progress, args=(stats, started), daemon=True))
        for t in extra:
            t.start()
        self.stop.wait(a.seconds)
        self.stop.set()
        ended = time.monotonic()
        deadline = ended + a.grace
        for t in threads + extra:
            t.join(max(0.0, deadline - time.monotonic()))
        hung = [round(time.monotonic() - s, 1) for s in list(self.inflight.values())]
        with self.gap_lock:
            # A gap still open at the end never recovered.
            tail = ended - self.last_success
            if tail > a.gap:
                self.gaps.append([round(time.time() - (time.monotonic() - self.last_success), 3),
                                  round(tail, 3)])
                self.max_gap = max(self.max_gap, tail)
        checked, storm = Stats(), Stats()
        for n, s in enumerate(stats):
            (storm if n < storm_clients else checked).merge(s)
        total = Stats()
        total.merge(checked)
        total.merge(storm)
        out = total.as_dict()
        out.update({
            "clients": a.clients, "storm_clients": storm_clients,
            "seconds": round(ended - started, 1),
            "path": a.path, "deploys": self.deploys,
            "deploy_errors": dict(sorted(self.deploy_errors.items())),
            "hung": len(hung), "hung_for_s": hung, "max_gap_s": round(self.max_gap, 3),
            "gaps": self.gaps, "checked_errors": checked.as_dict()["errors"],
            "storm_errors": storm.as_dict()["errors"], "storm_ok": storm.ok,
            "examples": total.examples,
        })
        print("checked_load: " + json.dumps(out), flush=True)
        bad = out["wrong"] or out["stale"] or out["hung"]
        # Hung threads cannot be joined: leave without waiting for them.
        os._exit(1 if bad else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=os.environ.get("PGHOST"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    p.add_argument("--dbname", default=os.environ.get("PGDATABASE", "postgres"))
    p.add_argument("--user", default=os.environ.get("PGUSER"))
    p.add_argument("--project", default="p")
    p.add_argument("--table", default="flights", help="rows to predict, with an integer id column")
    p.add_argument("--features", default=FLIGHT_FEATURES, help="SQL expression of the feature array")
    p.add_argument("--expected", default="expected", help="table (id, a, b) of expected answers")
    p.add_argument("--models", default="", help="model ids A,B to deploy in turn")
    p.add_argument("--deploy-every", type=float, default=0.1)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--path", default="worker", choices=["worker", "auto", "backend", "inplace", "queued", "mixed"],
                   help="predict_path of the clients; mixed: even clients inplace, odd ones queued")
    p.add_argument("--storm-share", type=float, default=0.0)
    p.add_argument("--gap", type=float, default=0.25, help="report gaps without an answer longer than this")
    p.add_argument("--grace", type=float, default=15, help="seconds a request may still run after the end")
    p.add_argument("--progress", type=float, default=0, help="print counters every N seconds (stderr)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    args.models = [int(x) for x in args.models.split(",")] if args.models else []
    if args.models and len(args.models) != 2:
        p.error("--models takes two model ids")
    Load(args).run()


if __name__ == "__main__":
    main()
