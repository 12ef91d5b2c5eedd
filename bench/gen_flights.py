#!/usr/bin/python3
"""Seeded synthetic stand-in for the BTS flights_delay_mat table.

Writes headerless CSV to stdout, one flight per line, columns in table order:
  depdelayminutes, year, quarter, month, distance, dayofweek, dayofmonth,
  flight_number_operating_airline, originairportid, destairportid, tail_number
Load with:  \\copy flights_delay_mat FROM STDIN (FORMAT csv)

Distributions (all drawn from --seed, default 42; same arguments -> same bytes,
but the bytes also depend on --chunk):
  airports   380 distinct ids in 10000..16000, fixed per seed (not per --rows);
             popularity Zipf-like (weight ~ rank^-0.8, top airport ~8% of
             departures). Origin follows popularity; destination follows
             popularity for 65% of flights and is one of the origin's 25
             nearest airports for 35%; dest != origin.
  date       uniform over calendar days 2018-01-01..2022-12-31; month, quarter,
             dayofmonth and dayofweek (1=Mon..7=Sun) come from the real date.
  distance   great-circle miles between per-airport pseudo-coordinates (a
             continental-US box plus ~5% Alaska/Hawaii-like airports), rounded,
             clipped to 50..5000 (median ~750, mean ~960); a route always has
             the same distance.
  flight no. uniform integer 1..7000;  tail_number: uniform integer id 1..8000.
  delay      whole minutes, 0 for ~63% of rows; otherwise lognormal (median
             ~18 min) with a 3% Pareto (alpha 1.3) excess, capped at 1500;
             overall mean ~13. P(delay>0) and the delay size both rise with a
             shared score: summer months and December up, Sep-Nov down;
             Friday/Sunday up, Tue/Wed down; 25 hub airports (origin strongly,
             dest weakly) up; slightly up with distance; per-year shift (2020
             far lower, 2022 higher).
--airports prints the airport ids instead, most popular first, one per line,
so a benchmark can draw (originairportid, year, month, dayofmonth) keys that
exist: at 1M rows the 30 most popular airports have a row on ~99% of their
1826 days, the top 100 on ~86%, all 380 on ~56%.
"""

import argparse
import sys

import numpy as np

N_AIRPORTS = 380
AIRPORT_ID_RANGE = (10000, 16000)
ZIPF_EXPONENT = 0.8
N_HUBS = 25
N_NEAR = 25
REGIONAL_SHARE = 0.35
FIRST_DAY = np.datetime64("2018-01-01")
END_DAY = np.datetime64("2023-01-01")  # exclusive
MAX_FLIGHT_NUMBER = 7000
MAX_TAIL = 8000
MAX_DELAY = 1500.0

# Index 0 unused so the tables can be indexed directly by month / ISO weekday.
MONTH_EFFECT = np.array([0.0, 0.05, 0.0, 0.05, 0.0, 0.1, 0.35, 0.4, 0.3,
                         -0.25, -0.2, -0.15, 0.3])
DOW_EFFECT = np.array([0.0, 0.05, -0.12, -0.1, 0.08, 0.2, -0.05, 0.18])
YEAR_EFFECT = {2018: 0.0, 2019: 0.05, 2020: -0.8, 2021: -0.05, 2022: 0.2}

# Tuned so the overall zero share lands near 63% and the mean delay near
# 13 minutes, close to the real 2018-2022 BTS figures.
LOGIT_INTERCEPT = -0.75
LOG_MEDIAN = np.log(15.0)
LOG_SIGMA = 1.05
SCORE_ON_SIZE = 0.6
TAIL_SHARE = 0.03
TAIL_ALPHA = 1.3


def make_airports(seed):
    """Fixed airport table for a seed, independent of --rows."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    lo, hi = AIRPORT_ID_RANGE
    ids = rng.choice(np.arange(lo, hi + 1), size=N_AIRPORTS, replace=False)
    # ids are drawn in random order, so position = popularity rank keeps ids
    # and popularity unrelated, as with real airport ids.
    weights = 1.0 / np.arange(1, N_AIRPORTS + 1) ** ZIPF_EXPONENT
    weights /= weights.sum()

    lat = rng.uniform(25.0, 49.0, N_AIRPORTS)
    lon = rng.uniform(-124.0, -70.0, N_AIRPORTS)
    # A few remote airports are what push routes past ~2800 miles towards 5000.
    remote = rng.random(N_AIRPORTS) < 0.05
    remote[:20] = False  # the biggest hubs sit on the mainland, as in reality
    hawaii = remote & (rng.random(N_AIRPORTS) < 0.5)
    alaska = remote & ~hawaii
    lat[hawaii] = rng.uniform(19.0, 22.5, hawaii.sum())
    lon[hawaii] = rng.uniform(-158.0, -155.0, hawaii.sum())
    lat[alaska] = rng.uniform(55.0, 71.0, alaska.sum())
    lon[alaska] = rng.uniform(-165.0, -135.0, alaska.sum())

    # Busy airports congest, so hubs are mostly but not only the big ones.
    hub_effect = rng.normal(0.0, 0.12, N_AIRPORTS)
    hubs = np.concatenate([np.arange(15),
                           rng.choice(np.arange(15, N_AIRPORTS),
                                      N_HUBS - 15, replace=False)])
    hub_effect[hubs] += rng.uniform(0.2, 0.45, hubs.size)

    lat, lon = np.radians(lat), np.radians(lon)
    pair_miles = great_circle_miles(lat[:, None], lon[:, None],
                                    lat[None, :], lon[None, :])
    np.fill_diagonal(pair_miles, np.inf)
    near = np.argsort(pair_miles, axis=1, kind="stable")[:, :N_NEAR]
    return ids, weights, lat, lon, hub_effect, near


def great_circle_miles(lat1, lon1, lat2, lon2):
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 3958.8 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def gen_chunk(rng, n, airports):
    ids, weights, lat, lon, hub_effect, near = airports
    cdf = np.cumsum(weights)
    cdf[-1] = 1.0

    def pick(k):
        return np.searchsorted(cdf, rng.random(k), side="right")

    orig = pick(n)
    dest = pick(n)
    # Real networks are dominated by short regional hops; drawing every
    # destination by popularity alone gives a ~1300 mile median instead of
    # the real ~650, so part of the flights go to one of the nearest airports.
    regional = np.flatnonzero(rng.random(n) < REGIONAL_SHARE)
    dest[regional] = near[orig[regional],
                          rng.integers(0, N_NEAR, regional.size)]
    # Redraw rather than shift so dest keeps the popularity distribution.
    clash = np.flatnonzero(dest == orig)
    while clash.size:
        dest[clash] = pick(clash.size)
        clash = clash[dest[clash] == orig[clash]]

    n_days = int((END_DAY - FIRST_DAY).astype(int))
    day = FIRST_DAY + rng.integers(0, n_days, n)
    y = day.astype("datetime64[Y]")
    m = day.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    dom = (day - m.astype("datetime64[D]")).astype(np.int64) + 1
    quarter = (month - 1) // 3 + 1
    # 1970-01-01 was a Thursday; shift so Monday = 1 like the BTS DayOfWeek.
    dow = (day.astype(np.int64) + 3) % 7 + 1

    dist = great_circle_miles(lat[orig], lon[orig], lat[dest], lon[dest])
    dist = np.clip(np.rint(dist), 50, 5000).astype(np.int64)

    flight = rng.integers(1, MAX_FLIGHT_NUMBER + 1, n)
    tail = rng.integers(1, MAX_TAIL + 1, n)

    year_eff = np.array([YEAR_EFFECT[k] for k in range(2018, 2023)])
    score = (year_eff[year - 2018] + MONTH_EFFECT[month] + DOW_EFFECT[dow]
             + hub_effect[orig] + 0.35 * hub_effect[dest]
             + 0.06 * (dist / 1000.0))
    p_delayed = 1.0 / (1.0 + np.exp(-(LOGIT_INTERCEPT + score)))
    delayed = rng.random(n) < p_delayed
    size = np.exp(LOG_MEDIAN + SCORE_ON_SIZE * score
                  + LOG_SIGMA * rng.standard_normal(n))
    heavy = rng.random(n) < TAIL_SHARE
    size[heavy] *= 1.0 + rng.pareto(TAIL_ALPHA, heavy.sum())
    # A recorded delay is at least one minute; zero means on time or early.
    size = np.clip(np.rint(size), 1.0, MAX_DELAY)
    delay = np.where(delayed, size, 0.0).astype(np.int64)

    return np.column_stack([delay, year, quarter, month, dist, dow, dom,
                            flight, ids[orig], ids[dest], tail])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=None,
                    help="number of rows to generate")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--chunk", type=int, default=200_000,
                    help="rows per generated block (memory bound)")
    ap.add_argument("--airports", action="store_true",
                    help="print airport ids, most popular first, and exit")
    args = ap.parse_args()
    if args.chunk <= 0:
        ap.error("--chunk must be positive")

    airports = make_airports(args.seed)
    out = sys.stdout
    try:
        if args.airports:
            out.write("".join(f"{a}\n" for a in airports[0].tolist()))
            out.flush()
            return
        if args.rows is None or args.rows < 0:
            ap.error("--rows N (N >= 0) is required without --airports")
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, 2]))
        line = ",".join(["%d"] * 11) + "\n"
        left = args.rows
        while left > 0:
            n = min(args.chunk, left)
            block = gen_chunk(rng, n, airports)
            # One big %-format over the flattened block is several times
            # faster than per-row formatting or np.savetxt.
            out.write((line * n) % tuple(block.ravel().tolist()))
            left -= n
        out.flush()
    except BrokenPipeError:
        # Let `| head` work without a traceback; silence the flush at exit.
        sys.stdout = None
        sys.exit(0)


if __name__ == "__main__":
    main()
