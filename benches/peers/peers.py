#!/usr/bin/env python3
"""Runs the saved-query suite (queries/) on the peers an analyst would use instead of Zicht:

* DuckDB (its Python package) reading the same Parquet files through views;
* PostgreSQL (Debian's server) with the same data loaded by COPY, indexed on join and filter
  columns and analysed, in a cluster this script initialises, starts on loopback and stops.

The query text is the unprotected saved query; only Zicht's deviation UDFs are given to the peers
as SQL (macros in DuckDB, inlinable SQL functions in PostgreSQL) and the three window UDFs are
rewritten into standard window aggregates (see translate()). Results go to
benches/results/peers-scale-<scale>.json in zicht-bench's JSON shape, so `zicht-bench report` can
put all engines side by side.

Usage: peers.py --data target/bench-data/s1-seed42 --scale 1 [--iterations 3] [--engine duckdb]
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------
# The saved queries and the dataset's tables
# ---------------------------------------------------------------------------------------------


def saved_queries(queries_dir: Path, name_filter):
    """(theme/name, sql) for every saved query, in the order zicht-bench runs them: a query
    written as SQL (`<theme>/<name>.sql`) as it is, an indicator (`<theme>/<name>.toml`) as the
    SQL Zicht generates from it (`zicht queries show --sql`)."""
    found = []
    for theme_dir in sorted(p for p in queries_dir.iterdir() if p.is_dir()):
        for path in sorted([*theme_dir.glob("*.sql"), *theme_dir.glob("*.toml")], key=lambda p: p.stem):
            query_id = f"{theme_dir.name}/{path.stem}"
            if name_filter is None or name_filter in query_id:
                sql = path.read_text() if path.suffix == ".sql" else indicator_sql(queries_dir, query_id)
                found.append((query_id, sql))
    if not found and name_filter is None:
        sys.exit(f"peers.py: no saved queries under {queries_dir}")
    return found


def indicator_sql(queries_dir: Path, query_id: str):
    """The SQL the zicht binary (built by benches/run.sh) generates from an indicator."""
    zicht = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "zicht"
    command = [str(zicht), "queries", "show", "--sql", "--queries", str(queries_dir), query_id]
    shown = subprocess.run(command, capture_output=True, text=True)
    if shown.returncode != 0:
        sys.exit(f"peers.py: {' '.join(command)}: {shown.stderr.strip()}")
    return shown.stdout


def dataset_tables(data_dir: Path):
    """(schema, table, parquet path) for every table of a generated dataset."""
    tables = []
    for path in sorted(data_dir.glob("*/*.parquet")):
        schema = path.parent.name
        if not schema.startswith("_"):
            tables.append((schema, path.stem, path.resolve()))
    if not tables:
        sys.exit(f"peers.py: no Parquet tables under {data_dir} (run zicht-bench first)")
    return tables


# ---------------------------------------------------------------------------------------------
# Zicht's UDFs for the peers
# ---------------------------------------------------------------------------------------------

# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
ACKLAM_A = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
            1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00]
ACKLAM_B = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
            6.680131188771972e01, -1.328068155288572e01]
ACKLAM_C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
            -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00]
ACKLAM_D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
            3.754408661907416e00]


def horner(coefficients, x):
    expression = repr(coefficients[0])
    for c in coefficients[1:]:
        expression = f"({expression}) * {x} + {c!r}"
    return expression


def normal_quantile_sql(p: str) -> str:
    """An SQL expression for the normal quantile of p (0 < p < 1), both dialects."""
    q_low = f"sqrt(-2 * ln({p}))"
    q_high = f"sqrt(-2 * ln(1 - {p}))"
    q = f"({p} - 0.5)"
    r = f"({q} * {q})"
    low = f"({horner(ACKLAM_C, q_low)}) / ({horner(ACKLAM_D + [1.0], q_low)})"
    high = f"-({horner(ACKLAM_C, q_high)}) / ({horner(ACKLAM_D + [1.0], q_high)})"
    central = f"({horner(ACKLAM_A, r)}) * {q} / ({horner(ACKLAM_B + [1.0], r)})"
    return (f"CASE WHEN {p} < 0.02425 THEN {low} WHEN {p} > 0.97575 THEN {high} "
            f"ELSE {central} END")


# Scalar UDFs as (name, parameters, SQL body), parameters double. Bodies follow
# crates/udf/src/scalar. The chi-square quantile of sir_lower/sir_upper is the Wilson-Hilferty
# approximation (neither peer has one built in): a few multiplications per row, where Zicht inverts
# the chi-square distribution exactly (more work, not less). The limits agree to three digits from
# about 10 events up; below that they differ visibly (sir_lower(1, 1, 0.95): 0.013 against 0.025),
# which changes a few labels but not the rows or the work done.
WILSON_Z = "zicht_norm_ppf(1 - (1 - conf) / 2)"
WILSON_CENTRE = f"((k / n + {WILSON_Z} * {WILSON_Z} / (2 * n)) / (1 + {WILSON_Z} * {WILSON_Z} / n))"
WILSON_HALF = (f"({WILSON_Z} * sqrt((k / n) * (1 - k / n) / n + {WILSON_Z} * {WILSON_Z} / (4 * n * n))"
               f" / (1 + {WILSON_Z} * {WILSON_Z} / n))")
WILSON_VALID = "n > 0 AND k >= 0 AND k <= n AND conf > 0 AND conf < 1"


def chi2_quantile_sql(p: str, dof: str) -> str:
    """Wilson-Hilferty: dof * (1 - 2/(9 dof) + z_p sqrt(2/(9 dof)))^3."""
    return f"({dof}) * power(1 - 2 / (9 * ({dof})) + zicht_norm_ppf({p}) * sqrt(2 / (9 * ({dof}))), 3)"


SCALAR_UDFS = [
    ("zicht_norm_ppf", ["p"], normal_quantile_sql("p")),
    ("deviation_index", ["num", "den", "ref_num", "ref_den"],
     "CASE WHEN den > 0 AND ref_den > 0 AND ref_num > 0 "
     "THEN 100 * (num / den) / (ref_num / ref_den) END"),
    ("sir", ["observed", "expected"],
     "CASE WHEN observed >= 0 AND expected > 0 THEN observed / expected END"),
    ("poisson_z", ["observed", "expected"],
     "CASE WHEN expected > 0 THEN (observed - expected) / sqrt(expected) END"),
    ("sir_lower", ["o", "e", "conf"],
     "CASE WHEN o < 0 OR e <= 0 OR conf <= 0 OR conf >= 1 THEN NULL WHEN o = 0 THEN 0 "
     f"ELSE {chi2_quantile_sql('(1 - conf) / 2', '2 * o')} / 2 / e END"),
    ("sir_upper", ["o", "e", "conf"],
     "CASE WHEN o < 0 OR e <= 0 OR conf <= 0 OR conf >= 1 THEN NULL "
     f"ELSE {chi2_quantile_sql('1 - (1 - conf) / 2', '2 * o + 2')} / 2 / e END"),
    ("wilson_lower", ["k", "n", "conf"],
     f"CASE WHEN {WILSON_VALID} THEN greatest({WILSON_CENTRE} - {WILSON_HALF}, 0) END"),
    ("wilson_upper", ["k", "n", "conf"],
     f"CASE WHEN {WILSON_VALID} THEN least({WILSON_CENTRE} + {WILSON_HALF}, 1) END"),
]
# deviation_class returns text; its inputs may be NULL (then NULL, like the UDF).
DEVIATION_CLASS = ("CASE WHEN idx IS NULL OR lo IS NULL OR hi IS NULL THEN NULL "
                   "WHEN lo > 100 THEN 'significant hoger' WHEN hi < 100 THEN 'significant lager' "
                   "WHEN idx >= 110 THEN 'hoger' WHEN idx <= 90 THEN 'lager' "
                   "ELSE 'rond gemiddelde' END")


# ---------------------------------------------------------------------------------------------
# Translating a saved query for a peer
# ---------------------------------------------------------------------------------------------

ARG = r"([\w.]+)"
ROBUST_Z = re.compile(rf"\brobust_z\(\s*{ARG}\s*\)\s*OVER\s*\(\s*\)", re.I)
PERCENTILE_RANK = re.compile(rf"\bpercentile_rank\(\s*{ARG}\s*\)\s*OVER\s*\(\s*\)", re.I)
EB_RATE = re.compile(rf"\beb_rate\(\s*{ARG}\s*,\s*{ARG}\s*\)\s*OVER\s*\(\s*\)", re.I)
MEDIAN = re.compile(rf"\bmedian\(\s*{ARG}\s*\)(?!\s*OVER)", re.I)
AS_DOUBLE = re.compile(r"\bAS\s+DOUBLE\b(?!\s+PRECISION)", re.I)
WINDOW_UDF_LEFT = re.compile(r"\b(robust_z|percentile_rank|eb_rate|zscore)\s*\(", re.I)

# 1 / Phi^-1(3/4): scales the MAD to a standard deviation of normal data, as robust_z does.
MAD_SCALE = 1.482602218505602


def robust_z_sql(x, median, mad):
    return f"(({x}) - {median}({x}) OVER ()) / NULLIF({MAD_SCALE} * {mad}({x}) OVER (), 0)"


def percentile_rank_sql(x):
    """Mid-rank among the non-NULL values: (below + (equal - 1) / 2) / (n - 1)."""
    return (f"CASE WHEN ({x}) IS NULL THEN NULL ELSE "
            f"CAST(rank() OVER (ORDER BY {x} NULLS LAST) - 1 "
            f"+ 0.5 * (count({x}) OVER (PARTITION BY {x}) - 1) AS DOUBLE) "
            f"/ NULLIF(count({x}) OVER () - 1, 0) END")


def eb_rate_sql(num, den):
    """Marshall's global empirical Bayes rate, written with whole-partition window sums:
    s2 = sum(den * (rate - m)^2) / sum(den) = (sum(num^2/den) - 2 m sum(num) + m^2 sum(den)) / sum(den)."""
    valid = f"({num} IS NOT NULL AND {den} > 0)"

    def window_sum(expression):
        return f"sum({expression}) FILTER (WHERE {valid}) OVER ()"

    s_num = window_sum(f"CAST({num} AS DOUBLE)")
    s_den = window_sum(f"CAST({den} AS DOUBLE)")
    s_sq = window_sum(f"CAST({num} AS DOUBLE) * {num} / {den}")
    rows = f"count(*) FILTER (WHERE {valid}) OVER ()"
    m = f"({s_num} / {s_den})"
    s2 = f"(({s_sq} - 2 * {m} * {s_num} + {m} * {m} * {s_den}) / {s_den})"
    a = f"greatest({s2} - {m} / ({s_den} / {rows}), 0)"
    weight = f"(CASE WHEN {a} > 0 THEN {a} / ({a} + {m} / {den}) ELSE 0 END)"
    rate = f"(CAST({num} AS DOUBLE) / {den})"
    return f"CASE WHEN {valid} THEN {weight} * {rate} + (1 - {weight}) * {m} END"


def translate(sql: str, dialect: str) -> str:
    """The saved query in a peer's dialect. Fails loudly on a window UDF form it does not know."""
    if dialect == "postgres":
        sql = MEDIAN.sub(r"percentile_cont(0.5) WITHIN GROUP (ORDER BY \1)", sql)
        median, mad = "zicht_median", "zicht_mad"
    else:
        median, mad = "median", "mad"
    sql = ROBUST_Z.sub(lambda m: robust_z_sql(m[1], median, mad), sql)
    sql = PERCENTILE_RANK.sub(lambda m: percentile_rank_sql(m[1]), sql)
    sql = EB_RATE.sub(lambda m: eb_rate_sql(m[1], m[2]), sql)
    left = WINDOW_UDF_LEFT.search(sql)
    if left:
        raise ValueError(f"no translation for the window UDF call at: {sql[left.start():left.start() + 60]}")
    if dialect == "postgres":
        sql = AS_DOUBLE.sub("AS DOUBLE PRECISION", sql)
    return sql


# ---------------------------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------------------------


class DuckDb:
    name = "duckdb"

    def __init__(self, tables):
        import duckdb

        self.version = duckdb.__version__
        self.con = duckdb.connect()
        for schema in sorted({s for s, _, _ in tables}):
            self.con.execute(f"CREATE SCHEMA {schema}")
        for schema, table, path in tables:
            self.con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM read_parquet('{path}')")
        for name, params, body in SCALAR_UDFS:
            self.con.execute(f"CREATE MACRO {name}({', '.join(params)}) AS {as_doubles(body, params)}")
        self.con.execute(f"CREATE MACRO deviation_class(idx, lo, hi) AS {DEVIATION_CLASS}")

    def run(self, sql):
        return self.con.sql(translate(sql, "duckdb")).to_arrow_table().num_rows

    def close(self):
        self.con.close()


def as_doubles(body, params):
    """DuckDB macros are untyped; cast each parameter so integer arguments divide as doubles."""
    for param in params:
        body = re.sub(rf"\b{param}\b", f"CAST({param} AS DOUBLE)", body)
    return body


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

PG_SETTINGS = {
    # What a careful user sets on a 2-core, 24 GiB machine for analytic queries.
    "shared_buffers": "4GB",
    "effective_cache_size": "12GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "max_parallel_workers_per_gather": "2",
    "max_wal_size": "8GB",
    "random_page_cost": "1.1",
    # Durability is irrelevant to a read benchmark; these only speed up the load.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
# Columns a careful user indexes: the join keys and the usual filters.
INDEXED_COLUMN = re.compile(r"(_id|^bu_code|^wk_code|^gm_code|^jaar)$")
DUCK_TO_PG = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real",
              "TINYINT": "smallint", "UTINYINT": "smallint", "USMALLINT": "integer",
              "UINTEGER": "bigint", "UBIGINT": "numeric", "HUGEINT": "numeric"}


class Postgres:
    name = "postgres"

    def __init__(self, root: Path, port: int):
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        self.root = root.resolve()
        self.data = self.root / "data"
        self.port = port
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def pg(self, tool, *args):
        subprocess.run(self.as_postgres + [str(self.bin / tool), *args], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self.pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C")
        options = " ".join(f"-c {k}={v}" for k, v in PG_SETTINGS.items())
        self.pg("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {options}")

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self.pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def connect(self, dbname):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
                               autocommit=True)

    def database_for(self, scale_label, tables):
        """The database of a scale, loaded once (COPY from CSV), indexed and analysed."""
        dbname = "zicht_s" + scale_label.replace(".", "_")
        with self.connect("postgres") as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
            if not exists:
                admin.execute(f"CREATE DATABASE {dbname}")
        with self.connect(dbname) as con:
            loaded = con.execute("SELECT to_regclass('public.zicht_loaded')").fetchone()[0]
            if not loaded:
                self.load(con, tables)
            self.version = con.execute("SHOW server_version").fetchone()[0]
        self.con = self.connect(dbname)
        self.con.execute("SET statement_timeout = '10min'")
        return self

    def load(self, con, tables):
        import duckdb

        staging = self.root / "load"
        staging.mkdir(exist_ok=True)
        duck = duckdb.connect()
        started = time.time()
        for schema, table, path in tables:
            columns = duck.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
            csv = staging / f"{schema}.{table}.csv"
            duck.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{csv}' (FORMAT csv, HEADER false)")
            os.chmod(csv, 0o644)
            definition = ", ".join(f'"{c[0]}" {DUCK_TO_PG.get(c[1], c[1])}' for c in columns)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
            con.execute(f"CREATE TABLE {schema}.{table} ({definition})")
            con.execute(f"COPY {schema}.{table} FROM '{csv}' (FORMAT csv)")
            csv.unlink()
            for column, *_ in columns:
                if INDEXED_COLUMN.search(column):
                    con.execute(f'CREATE INDEX ON {schema}.{table} ("{column}")')
            print(f"peers.py: postgres loaded {schema}.{table} ({time.time() - started:.0f} s)", file=sys.stderr)
        con.execute("VACUUM ANALYZE")
        for name, params, body in SCALAR_UDFS:
            args = ", ".join(f"{p} double precision" for p in params)
            con.execute(f"CREATE FUNCTION {name}({args}) RETURNS double precision LANGUAGE sql "
                        f"IMMUTABLE PARALLEL SAFE AS $$ SELECT {body} $$")
        con.execute("CREATE FUNCTION deviation_class(idx double precision, lo double precision, "
                    "hi double precision) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE "
                    f"AS $$ SELECT {DEVIATION_CLASS} $$")
        con.execute("CREATE FUNCTION round(double precision, integer) RETURNS double precision "
                    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round($1::numeric, $2)::double precision $$")
        # Whole-partition median and MAD for robust_z: aggregates usable with OVER ().
        con.execute("CREATE FUNCTION zicht_median_final(v double precision[]) RETURNS double precision "
                    "LANGUAGE sql IMMUTABLE AS $$ SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) "
                    "FROM unnest(v) x $$")
        con.execute("CREATE AGGREGATE zicht_median(double precision) (SFUNC = array_append, "
                    "STYPE = double precision[], FINALFUNC = zicht_median_final, INITCOND = '{}')")
        con.execute("CREATE FUNCTION zicht_mad_final(v double precision[]) RETURNS double precision "
                    "LANGUAGE sql IMMUTABLE AS $$ SELECT percentile_cont(0.5) WITHIN GROUP "
                    "(ORDER BY abs(x - zicht_median_final(v))) FROM unnest(v) x $$")
        con.execute("CREATE AGGREGATE zicht_mad(double precision) (SFUNC = array_append, "
                    "STYPE = double precision[], FINALFUNC = zicht_mad_final, INITCOND = '{}')")
        con.execute("CREATE TABLE public.zicht_loaded AS SELECT now() AS loaded_at")

    def run(self, sql):
        return len(self.con.execute(translate(sql, "postgres")).fetchall())

    def close(self):
        self.con.close()


# ---------------------------------------------------------------------------------------------
# Timing and output
# ---------------------------------------------------------------------------------------------


# A query whose warm-up run takes longer than this is timed once, not `iterations` times, so that a
# slow peer cannot stretch the run by hours; the JSON shows how many iterations each query had.
SLOW_QUERY_SECONDS = 30


def timed(engine, sql, iterations):
    """One warm-up run, then `iterations` timed runs, as zicht-bench does."""
    started = time.perf_counter()
    engine.run(sql)
    if time.perf_counter() - started > SLOW_QUERY_SECONDS:
        iterations = 1
    runs = []
    for _ in range(iterations):
        started = time.perf_counter()
        rows = engine.run(sql)
        runs.append({"elapsed_ms": (time.perf_counter() - started) * 1000, "row_count": rows})
    return runs


def run_suite(engine, queries, iterations, scale_label):
    results = []
    for query_id, sql in queries:
        record = {"query": query_id, "mode": engine.name}
        try:
            record["iterations"] = timed(engine, sql, iterations)
            times = sorted(r["elapsed_ms"] for r in record["iterations"])
            print(f"scale {scale_label} {query_id} {engine.name}: median {times[len(times) // 2]:.1f} ms, "
                  f"{record['iterations'][0]['row_count']} rows", file=sys.stderr)
        except Exception as error:  # a peer's failure is a result to report, not a crash
            record["iterations"] = []
            record["error"] = str(error).strip().splitlines()[0]
            print(f"scale {scale_label} {query_id} {engine.name}: error {record['error']}", file=sys.stderr)
            if engine.name == "postgres":
                engine.con.rollback()
        results.append(record)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a dataset made by zicht-bench/zicht gen")
    parser.add_argument("--scale", required=True, help="the dataset's scale, as zicht-bench names it (0.1, 1)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--engine", action="append", choices=["duckdb", "postgres"])
    parser.add_argument("--filter", help="only saved queries whose theme/name contains this")
    parser.add_argument("--queries", type=Path, action="append",
                        help="folders of <group>/<name>.sql (default: queries/ and benches/adhoc/)")
    parser.add_argument("--output", type=Path, default=ROOT / "benches" / "results")
    parser.add_argument("--pg-root", type=Path, default=ROOT / "target" / "bench-pg")
    parser.add_argument("--pg-port", type=int, default=54329)
    args = parser.parse_args()
    # The label zicht-bench gives the scale in its file names (Rust's shortest float: 1, 0.1).
    args.scale = format(float(args.scale), "g")

    engines = args.engine or ["duckdb", "postgres"]
    folders = args.queries or [ROOT / "queries", ROOT / "benches" / "adhoc"]
    queries = [query for folder in folders for query in saved_queries(folder, args.filter)]
    tables = dataset_tables(args.data)
    results, versions = [], {}
    if "duckdb" in engines:
        duck = DuckDb(tables)
        versions["duckdb"] = duck.version
        results += run_suite(duck, queries, args.iterations, args.scale)
        duck.close()
    duckdb_peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if "postgres" in engines:
        server = Postgres(args.pg_root, args.pg_port)
        server.start()
        try:
            pg = server.database_for(args.scale, tables)
            versions["postgres"] = pg.version
            results += run_suite(pg, queries, args.iterations, args.scale)
            pg.close()
        finally:
            server.stop()
    context = {
        "benchmark": "zicht saved-query suite on peers",
        "versions": versions,
        "num_cpus": os.cpu_count(),
        "start_time": int(time.time()),
        "scale": float(args.scale),
        "iterations": args.iterations,
        "duckdb_peak_rss_bytes": duckdb_peak_rss if "duckdb" in engines else None,
        "postgres_settings": PG_SETTINGS if "postgres" in engines else None,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"peers-scale-{args.scale}.json"
    path.write_text(json.dumps({"context": context, "queries": results}, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
