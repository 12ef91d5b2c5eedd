#!/usr/bin/python3
"""Checks that the Python service and pgml.predict agree before any timing.

stdin: CSV lines originairportid,year,month,dayofmonth,worker,backend where
worker and backend are pgml.predict's answers to the seed's query for that
key on the two predict paths. For each line asks the service at URL (codec
json, ujson or msgpack) for the same key, appends one CSV line per key to
OUT (codec,key,worker,backend,python,abs_diff) and exits 1 if any answer
differs by more than 1e-4 x max(1, |value|) (float32 precision with room for
the text round trip), or if a path returned no row.
"""
import csv
import sys
import urllib.request

import msgpack


def ask(url, codec, key):
    if codec == "msgpack":
        body, mime, decode = msgpack.packb(key), "application/msgpack", msgpack.unpackb
    else:
        import json
        body, mime, decode = json.dumps(key).encode(), "application/json", json.loads
    req = urllib.request.Request(url, data=body, headers={"Content-Type": mime})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return float(decode(resp.read())[0])


def main():
    url, codec, out_path = sys.argv[1:4]
    bad = 0
    with open(out_path, "a", newline="") as out:
        writer = csv.writer(out)
        for o, y, m, d, worker, backend in csv.reader(sys.stdin):
            key = [int(float(v)) for v in (o, y, m, d)]
            theirs = ask(url, codec, key)
            ours = [float(worker), float(backend)]
            diff = max(abs(v - theirs) for v in ours)
            if diff > 1e-4 * max(1.0, abs(theirs)):
                bad += 1
            writer.writerow([codec, ":".join(map(str, key)), worker, backend,
                             repr(theirs), f"{diff:.3g}"])
    if bad:
        print(f"parity: {bad} keys differ between pgml.predict and the {codec} service "
              f"(see {out_path})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
