"""Golden values for the deviation UDFs from an independent implementation (scipy).

Run once by hand (pip install scipy numpy), commit the output:
    python3 crates/udf/tests/golden/make_golden.py > crates/udf/tests/golden/golden.json
"""
import json
import math

import numpy as np
from scipy import stats


def finite(x):
    return None if x is None or not math.isfinite(x) else float(x)


def alpha(conf):
    return 1 - conf if 0 < conf < 1 else None


def deviation_index(num, den, rn, rd):
    if den <= 0 or rd <= 0 or rn <= 0:
        return None
    return 100 * (num / den) / (rn / rd)


def sir(o, e):
    return o / e if o >= 0 and e > 0 else None


def sir_lower(o, e, conf):
    a = alpha(conf)
    if a is None or o < 0 or e <= 0:
        return None
    return 0.0 if o == 0 else stats.chi2.ppf(a / 2, 2 * o) / 2 / e


def sir_upper(o, e, conf):
    a = alpha(conf)
    if a is None or o < 0 or e <= 0:
        return None
    return stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2 / e


def poisson_z(o, e):
    return (o - e) / math.sqrt(e) if e > 0 else None


def wilson(k, n, conf, which):
    if alpha(conf) is None or not (n > 0 and 0 <= k <= n):
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=conf, method="wilson")
    return ci.low if which == 0 else ci.high


def deviation_class(index, lower, upper):
    if lower > 100:
        return "significant hoger"
    if upper < 100:
        return "significant lager"
    if index >= 110:
        return "hoger"
    if index <= 90:
        return "lager"
    return "rond gemiddelde"


def scalar_cases():
    cases = []
    def add(fn, args, value):
        cases.append({"function": fn, "args": args, "expected": value if isinstance(value, str) else finite(value)})

    for args in [(12, 1000, 2285, 8204049), (0, 50, 10, 100), (5, 10, 5, 10), (1e7, 2e7, 3, 4), (3, 0, 1, 1),
                 (3, 10, 0, 10), (3, 10, 1, 0), (7.5, 13.25, 101.5, 998.0), (1, 1, 1, 1e9), (250, 10000, 13468, 17942942),
                 (99, 1e6, 1e5, 1e9), (2, 3, 5, 7), (0.1, 0.2, 0.3, 0.4), (1e-3, 1, 1, 1), (40, 4000, 5750, 140000),
                 (10, 100, 10, 100), (-5, 10, 1, 10), (1, -1, 1, 1), (123456, 654321, 111, 222), (8, 9, 10, 11)]:
        add("deviation_index", list(args), deviation_index(*args))
    pairs = [(30, 20), (0, 5), (1, 1), (10, 10), (1e7, 9.9e6), (2, 0.5), (5, 12.3), (100, 80), (3, 0), (7, -1),
             (0, 0.1), (50, 49.5), (1000, 1100), (1, 10), (25, 5), (4, 4.5), (12, 7.5), (60, 40), (200, 180), (9, 3)]
    for o, e in pairs:
        add("sir", [o, e], sir(o, e))
        add("poisson_z", [o, e], poisson_z(o, e))
    for (o, e), conf in zip(pairs + pairs[:5], [0.95, 0.9, 0.99] * 9):
        add("sir_lower", [o, e, conf], sir_lower(o, e, conf))
        add("sir_upper", [o, e, conf], sir_upper(o, e, conf))
    add("sir_lower", [5, 2, 1.0], None)
    add("sir_upper", [5, 2, 0.0], None)
    shares = [(9, 100), (0, 10), (10, 10), (1, 2), (50, 100), (3, 1000), (999, 1000), (0, 1), (1, 1), (400, 10000),
              (5, 3), (2, 0), (120, 12000), (7, 20), (1e6, 2e6), (15, 40), (33, 35), (2, 98), (60, 61), (11, 111)]
    for (k, n), conf in zip(shares, [0.95, 0.9, 0.99] * 7):
        add("wilson_lower", [k, n, conf], wilson(k, n, conf, 0))
        add("wilson_upper", [k, n, conf], wilson(k, n, conf, 1))
    for args in [(150, 101.2, 214.1), (80, 60, 99), (115, 95, 130), (85, 70, 102), (100, 90, 110), (109.9, 95, 120),
                 (110, 95, 120), (90, 85, 101), (90.1, 85, 101), (300, 100.01, 500), (30, 5, 99.99), (100, 100, 100),
                 (250, 99, 400), (50, 1, 100), (101, 100.5, 102), (99, 98, 99.5), (120, 110, 130), (95, 80, 110),
                 (0, 0, 50), (1000, 900, 1100)]:
        add("deviation_class", list(args), deviation_class(*args))
    return cases


def window_cases():
    rng = np.random.default_rng(2026)
    partitions = [
        [1.0, 2.0, 3.0, 4.0, 10.0],
        [5.0, 5.0, 5.0],
        [7.0],
        [1.0, None, 3.0, 3.0, 8.0],
        list(rng.normal(100, 15, 25).round(3)),
        list(rng.exponential(2.0, 30).round(4)),
        [0.0, 0.0, 1.0, 1e6],
        [2.5, -1.0, 4.0, -3.5, 0.0, 9.0],
        list(rng.integers(0, 50, 21).astype(float)),
        [None, None],
        [1.0, 1.0, 1.0, 2.0, 2.0, 9.0, 100.0],
        list(rng.lognormal(3, 1, 40).round(3)),
        [3.0, 1.0],
        [10.0, 20.0, 30.0, None, 40.0, 50.0, 60.0],
        list(rng.uniform(-5, 5, 17).round(5)),
        [1e7, 1e7 + 1, 1e7 + 2, 1e7 + 10],
        [0.001, 0.002, 0.5, 0.003],
        list(rng.poisson(4, 33).astype(float)),
        [42.0, 42.0, 43.0],
        [1.0, 2.0, None, None, 5.0, 8.0, 13.0, 21.0],
    ]
    cases = []
    for values in partitions:
        present = np.array([v for v in values if v is not None], dtype=float)
        def per_row(f):
            return [None if v is None else finite(f(v)) for v in values]
        sd = present.std(ddof=1) if len(present) >= 2 else float("nan")
        mean = present.mean() if len(present) else float("nan")
        z_ok = len(present) >= 2 and sd > 0
        cases.append({"function": "zscore", "partition": [[v] for v in values],
                      "expected": per_row(lambda v: (v - mean) / sd if z_ok else None)})
        med = np.median(present) if len(present) else float("nan")
        mad = stats.median_abs_deviation(present, scale="normal") if len(present) else 0.0
        cases.append({"function": "robust_z", "partition": [[v] for v in values],
                      "expected": per_row(lambda v: (v - med) / mad if mad > 0 else None)})
        n = len(present)
        ranks = {}
        if n >= 2:
            r = stats.rankdata(present, method="average")
            for v, rank in zip(present, r):
                ranks[v] = (rank - 1) / (n - 1)
        cases.append({"function": "percentile_rank", "partition": [[v] for v in values],
                      "expected": per_row(lambda v: ranks.get(v) if n >= 2 else None)})
    eb_partitions = [
        [(2, 100), (30, 1000), (0, 3), (50, 2000), (7, 150)],
        [(1, 10), (1, 10), (1, 10)],
        [(0, 5), (0, 50)],
        [(5, 100), (None, 100), (8, 0), (40, 500), (3, 20)],
        [(int(k), int(n)) for k, n in zip(rng.poisson(20, 30), rng.integers(100, 5000, 30))],
        [(100, 1000), (1, 1000)],
        [(12, 3), (0, 1), (400, 10000), (35, 900)],
        [(int(k), int(n)) for k, n in zip(rng.poisson(2, 40), rng.integers(5, 200, 40))],
        [(3, 10)],
        [(10, 1000), (12, 1000), (11, 1000), (9, 1000), (10, 1000)],
    ]
    for size in [3, 5, 8, 12, 15, 20, 25, 50, 75, 100]:
        dens = rng.integers(1, 3000, size)
        eb_partitions.append([(int(rng.poisson(0.02 * n)), int(n)) for n in dens])
    for rows in eb_partitions:
        valid = [(k, n) for k, n in rows if k is not None and n is not None and n > 0]
        num = np.array([k for k, _ in valid], dtype=float)
        den = np.array([n for _, n in valid], dtype=float)
        m = num.sum() / den.sum()
        r = num / den
        s2 = (den * (r - m) ** 2).sum() / den.sum()
        a = max(s2 - m / den.mean(), 0.0)
        def eb(k, n):
            if k is None or n is None or n <= 0:
                return None
            w = a / (a + m / n) if a > 0 else 0.0
            return w * (k / n) + (1 - w) * m
        cases.append({"function": "eb_rate", "partition": [[k, n] for k, n in rows],
                      "expected": [finite(eb(k, n)) for k, n in rows]})
    return cases


if __name__ == "__main__":
    print(json.dumps({"scalar": scalar_cases(), "window": window_cases()}, indent=1))
