#!/usr/bin/python3
"""Loads the flights CSV (bench/gen_flights.py's columns, no header) into
Redis as the Python service's feature store.

Key "originairportid:year:month:dayofmonth", value the ten features in table
column order (label left out), encoded with --codec (json or msgpack). Several
flights share a key (same airport, same day): the first row in file order
keeps it. The table is loaded in the same order and the seed's query reads
it through the btree index, whose equal keys come in heap order, so its
LIMIT 1 finds the same row (bench/run checks this before timing).

Streams the file in chunks and sends SETs pipelined, so the full profile's
28M rows never sit in memory at once. Prints the number of keys.
"""
import argparse
import json

import msgpack
import pandas as pd
import redis

COLUMNS = ["depdelayminutes", "year", "quarter", "month", "distance", "dayofweek",
           "dayofmonth", "flight_number_operating_airline", "originairportid",
           "destairportid", "tail_number"]
FEATURES = COLUMNS[1:]
KEY = ["originairportid", "year", "month", "dayofmonth"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--codec", choices=["json", "msgpack"], default="json")
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--pipeline", type=int, default=10_000, help="SETs per round trip")
    args = ap.parse_args()

    encode = json.dumps if args.codec == "json" else msgpack.packb
    store = redis.Redis(host="127.0.0.1", port=args.port)
    seen = set()
    for chunk in pd.read_csv(args.csv, header=None, names=COLUMNS, dtype="int64",
                             chunksize=args.chunk):
        k = chunk[KEY].to_numpy()
        packed = pd.Series(((k[:, 0] * 10_000 + k[:, 1]) * 100 + k[:, 2]) * 100 + k[:, 3])
        first = (~packed.duplicated(keep="first") & ~packed.isin(seen)).to_numpy()
        seen.update(packed[first].tolist())
        rows = chunk.loc[first, FEATURES].to_numpy().tolist()
        new_keys = [f"{o}:{y}:{m}:{d}" for o, y, m, d in k[first].tolist()]
        pipe = store.pipeline(transaction=False)
        for i, (key, row) in enumerate(zip(new_keys, rows), 1):
            pipe.set(key, encode(row))
            if i % args.pipeline == 0:
                pipe.execute()
        pipe.execute()
    print(len(seen))


if __name__ == "__main__":
    main()
