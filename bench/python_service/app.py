"""The Python side of the benchmark: the seed's prediction microservice.

POST /predict with body [originairportid, year, month, dayofmonth]:
  1. Redis GET of the key "originairportid:year:month:dayofmonth",
  2. decode the ten features stored there (table column order),
  3. xgboost Booster.inplace_predict on one float32 row,
  4. answer [prediction].

BENCH_CODEC picks how steps 2 and 4 (and the request body) are encoded:
  json     the standard library's json (the seed's service)
  ujson    UltraJSON, same JSON bytes in Redis
  msgpack  MessagePack request, Redis values and answer (bench/python_service
           /load_redis.py --codec msgpack fills that Redis)
Other settings: BENCH_REDIS_PORT (Redis on 127.0.0.1), BENCH_MODEL (the
model's UBJSON bytes as exported by pgml.export_model).

Run under Gunicorn: gunicorn --chdir bench/python_service app:app
"""
import os

import numpy as np
import redis
import xgboost as xgb
from flask import Flask, Response, request

CODEC = os.environ.get("BENCH_CODEC", "json")
if CODEC == "json":
    import json
    decode, encode, MIME = json.loads, json.dumps, "application/json"
elif CODEC == "ujson":
    import ujson
    decode, encode, MIME = ujson.loads, ujson.dumps, "application/json"
elif CODEC == "msgpack":
    import msgpack
    decode, encode, MIME = msgpack.unpackb, msgpack.packb, "application/msgpack"
else:
    raise SystemExit(f"BENCH_CODEC must be json, ujson or msgpack, not {CODEC!r}")

booster = xgb.Booster()
with open(os.environ["BENCH_MODEL"], "rb") as f:
    booster.load_model(bytearray(f.read()))
# Gunicorn runs several single-request workers on few cores: one XGBoost
# thread per call, as more only add OpenMP hand-offs to a one-row predict.
booster.set_param({"nthread": 1})

store = redis.Redis(host="127.0.0.1", port=int(os.environ["BENCH_REDIS_PORT"]))
app = Flask(__name__)


@app.post("/predict")
def predict():
    origin, year, month, day = decode(request.get_data())
    raw = store.get(f"{origin}:{year}:{month}:{day}")
    if raw is None:
        return Response(encode({"error": "no such key"}), status=404, mimetype=MIME)
    row = np.asarray([decode(raw)], dtype=np.float32)
    value = float(booster.inplace_predict(row)[0])
    return Response(encode([value]), mimetype=MIME)
