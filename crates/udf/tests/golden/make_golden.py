"""Golden values for the deviation UDFs from independent implementations (scipy, numpy, mpmath).

Writes, next to this script, what tests/golden.rs reads (CI has no scipy: commit the output):
- golden.json: hand-picked cases per function, edge cases included;
- dense/*.csv: the dense grid, at least 5,000 points per function over the whole domain the
  functions accept (see "dense grid" below), one row per point, an empty field for NULL.

Run by hand in a venv (python3 -m venv target-venv; target-venv/bin/pip install scipy numpy mpmath):
    target-venv/bin/python crates/udf/tests/golden/make_golden.py
It takes a few minutes: every chi-square quantile from scipy is checked, and corrected where
needed, by Newton steps in 40-digit arithmetic (mpmath), and the Wilson limits are computed in 40
digits; how far scipy was off is printed.
"""
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import mpmath as mp
from scipy import special, stats


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


# --- dense grid ---------------------------------------------------------------------------------

HERE = Path(__file__).parent
POINTS = 5000
CONFS = [0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]
EDGE_CONFS = [1e-6, 0.5, 0.9, 0.95, 0.99, 0.9999, 0.999999, 1 - 1e-12]
mp.mp.dps = 40


def sig(x, digits=6):
    """x rounded to a few significant digits, so that the CSV holds exactly the tested argument."""
    return float(f"{x:.{digits - 1}e}")


def log_uniform(rng, lo, hi):
    return 10 ** rng.uniform(lo, hi)


def draw_count(rng):
    """Log-uniform integers from 1 to 1e9, with some zeros and some fractional (perturbed) counts."""
    u = rng.uniform()
    if u < 0.05:
        return 0.0
    if u < 0.2:
        return sig(log_uniform(rng, -3, 9))
    return float(math.floor(log_uniform(rng, 0, 9)))


def draw_conf(rng):
    """Half uniform on [0.5, 0.9999], half the levels analysts pick."""
    return round(rng.uniform(0.5, 0.9999), 6) if rng.uniform() < 0.5 else float(rng.choice(CONFS))


def lower_gamma(a, x):
    """P(a, x) in 40-digit arithmetic."""
    a, x = mp.mpf(a), mp.mpf(x)
    return mp.exp(a * mp.log(x) - x - mp.loggamma(a + 1)) * mp.hyp1f1(1, a + 1, x, maxterms=10**7)


scipy_error = {"sir_lower": 0.0, "sir_upper": 0.0}


def gamma_quantile(name, a, prob, upper):
    """x with P(a, x) = prob (Q(a, x) = prob when upper): scipy's value, then Newton in 40 digits."""
    start = special.gammainccinv(a, prob) if upper else special.gammaincinv(a, prob)
    x = mp.mpf(start)
    if start == 0 or not math.isfinite(start):
        return x
    for _ in range(8):
        lower = lower_gamma(a, x)
        f = (1 - lower) - prob if upper else lower - prob
        density = mp.exp((a - 1) * mp.log(x) - x - mp.loggamma(a))
        step = (-f if upper else f) / density
        x -= step
        if abs(step) < 1e-12 * x:
            break
    scipy_error[name] = max(scipy_error[name], abs(float((start - x) / x)))
    return x


def garwood(o, e, conf):
    alpha = 1 - conf
    lower = 0.0 if o == 0 else float(gamma_quantile("sir_lower", o, alpha / 2, False) / e)
    upper = float(gamma_quantile("sir_upper", o + 1, alpha / 2, True) / e)
    return lower, upper


def counts_rows(rng):
    observed = [0, 1, 2, 5, 137, 46368, 196418, 1e6, 999999999, 1e9, 0.5, 1e-3]
    args = [(float(o), float(e), c) for o in observed for e in [1e-3, 1, 100, 1e9] for c in EDGE_CONFS]
    args += [(draw_count(rng), sig(log_uniform(rng, -3, 9)), draw_conf(rng)) for _ in range(POINTS)]
    return [[o, e, c, *garwood(o, e, c), poisson_z(o, e)] for o, e, c in args]


def draw_share(rng):
    n = math.floor(log_uniform(rng, 0, 9))
    tail = min(n, math.floor(log_uniform(rng, 0, math.log10(n + 1))) - 1)
    return int(rng.choice([int(rng.integers(0, n + 1)), tail, n - tail])), n


scipy_wilson_error = 0.0


def wilson_exact(k, n, conf):
    """Wilson limits in 40 digits, with z = sqrt(2) erfinv(conf) from conf's exact binary value.

    scipy's binomtest takes z = ndtri(0.5 + conf/2), and rounding 0.5 + conf/2 costs it up to 4e-6
    relative at conf = 1 - 1e-12; how far it is off is printed."""
    global scipy_wilson_error
    z = mp.sqrt(2) * mp.erfinv(mp.mpf(conf))
    p = mp.mpf(k) / n
    centre = p + z * z / (2 * n)
    half = z * mp.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lower = 0.0 if k == 0 else float((centre - half) / (1 + z * z / n))
    upper = 1.0 if k == n else float((centre + half) / (1 + z * z / n))
    for exact, which in [(lower, 0), (upper, 1)]:
        if exact:
            scipy_wilson_error = max(scipy_wilson_error, abs(wilson(k, n, conf, which) / exact - 1))
    return lower, upper


def shares_rows(rng):
    args = {(k, n, c) for n in [1, 2, 10, 1000, 10**9] for k in [0, 1, n // 2, n - 1, n] for c in EDGE_CONFS}
    args = sorted(args) + [(*draw_share(rng), draw_conf(rng)) for _ in range(POINTS)]
    return [[k, n, c, *wilson_exact(k, n, c)] for k, n, c in args]


def draw_values(rng, size):
    """Rates spanning 1e-3 to 1e9, small counts with ties, or values close together far from 0."""
    kind = rng.integers(3)
    if kind == 0:
        values = [sig(log_uniform(rng, -3, 9)) for _ in range(size)]
    elif kind == 1:
        values = [float(v) for v in rng.integers(0, 20, size)]
    else:
        values = [sig(1e6 + rng.normal(0, 10), 12) for _ in range(size)]
    return [None if rng.uniform() < 0.05 else v for v in values]


def robust_z_rows(rng):
    rows, partition = [], 0
    while len(rows) < POINTS:
        values = draw_values(rng, int(rng.integers(3, 41)))
        present = np.array([v for v in values if v is not None])
        centre = np.median(present) if len(present) else math.nan
        mad = stats.median_abs_deviation(present, scale="normal") if len(present) else 0.0
        rows += [[partition, v, None if v is None or not mad > 0 else (v - centre) / mad] for v in values]
        partition += 1
    return rows


def eb_rates(pairs):
    """Global empirical Bayes (Marshall 1991), sums in exact arithmetic (math.fsum)."""
    valid = [(k, n) for k, n in pairs if k is not None and n > 0]
    if not valid:
        return [None] * len(pairs)
    sum_den = math.fsum(n for _, n in valid)
    m = math.fsum(k for k, _ in valid) / sum_den
    s2 = math.fsum(n * (k / n - m) ** 2 for k, n in valid) / sum_den
    a = max(s2 - m / (sum_den / len(valid)), 0.0)
    def rate(k, n):
        if k is None or not n > 0:
            return None
        w = a / (a + m / n) if a > 0 else 0.0
        return w * (k / n) + (1 - w) * m
    return [rate(k, n) for k, n in pairs]


def draw_pairs(rng, size):
    """Counts with a plausible rate (Poisson around 1e-6 to 1e-1 per unit), or wild ones."""
    if rng.uniform() < 0.5:
        rate = log_uniform(rng, -6, -1)
        dens = [float(math.floor(log_uniform(rng, 0, 9))) for _ in range(size)]
        pairs = [(float(rng.poisson(rate * n)), n) for n in dens]
    else:
        pairs = [(float(math.floor(log_uniform(rng, 0, 9))), sig(log_uniform(rng, -3, 9))) for _ in range(size)]
    return [(None if rng.uniform() < 0.05 else k, 0.0 if rng.uniform() < 0.02 else n) for k, n in pairs]


def eb_rate_rows(rng):
    rows, partition = [], 0
    while len(rows) < POINTS:
        pairs = draw_pairs(rng, int(rng.integers(3, 41)))
        rows += [[partition, k, n, r] for (k, n), r in zip(pairs, eb_rates(pairs))]
        partition += 1
    return rows


def cell(value, exact):
    """Arguments exactly (repr), reference values to 15 digits, NULL as an empty field."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(value) if exact else f"{value:.15g}"


def write_csv(name, header, arguments, rows):
    path = HERE / "dense" / f"{name}.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([cell(v, i < arguments) for i, v in enumerate(row)])
    print(f"{path.name}: {len(rows)} rows", file=sys.stderr)


def main():
    rng = np.random.default_rng(17)
    with open(HERE / "golden.json", "w") as out:
        json.dump({"scalar": scalar_cases(), "window": window_cases()}, out, indent=1)
        out.write("\n")
    write_csv("counts", ["observed", "expected", "conf", "sir_lower", "sir_upper", "poisson_z"], 3,
              counts_rows(rng))
    for name, error in scipy_error.items():
        print(f"{name}: scipy's quantile off by up to {error:.1e} relative (corrected)", file=sys.stderr)
    write_csv("shares", ["k", "n", "conf", "wilson_lower", "wilson_upper"], 3, shares_rows(rng))
    print(f"wilson: scipy's binomtest off by up to {scipy_wilson_error:.1e} relative", file=sys.stderr)
    write_csv("robust_z", ["partition", "x", "robust_z"], 2, robust_z_rows(rng))
    write_csv("eb_rate", ["partition", "num", "den", "eb_rate"], 3, eb_rate_rows(rng))


if __name__ == "__main__":
    main()
