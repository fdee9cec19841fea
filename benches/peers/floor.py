#!/usr/bin/env python3
"""What protection has to compute, timed in DuckDB: the row counts an unprotected query asks for,
against the per-cell distinct units (and each unit's rows, and the largest unit) that a protected
answer needs to judge its cells (threshold, dominance, p% rule) and to seed their noise.

Two unit columns that are not their table's key, the two the slowest protected queries tally:
the owners of dwellings (`vastgoed/particuliere_verhuur`) and the households of persons (every
query per 1,000 inhabitants). Each pair is a per-gemeente aggregate and the national one, as the
saved queries ask them. Prints the best of three runs per pair, in milliseconds; benches/analysis.md
quotes them.

Usage: target/bench-venv/bin/python benches/peers/floor.py --data target/bench-data/s1-seed42
"""

import argparse
import time

import duckdb

PAIRS = {
    "dwellings per gemeente and national, as counted unprotected": [
        "SELECT b.gm_code, count(*) FROM w JOIN b USING (bu_code) GROUP BY 1",
        "SELECT count(*) FROM w",
    ],
    "the same with each cell's distinct owners, their rows and the largest": [
        "SELECT gm_code, count(*), sum(n), max(n) FROM "
        "(SELECT b.gm_code, w.eigenaar_id, count(*) AS n FROM w JOIN b USING (bu_code) GROUP BY 1, 2) GROUP BY 1",
        "SELECT count(*), sum(n), max(n) FROM (SELECT eigenaar_id, count(*) AS n FROM w GROUP BY 1)",
    ],
    "persons per gemeente and national, as counted unprotected": [
        "SELECT b.gm_code, count(*) FROM p JOIN b USING (bu_code) GROUP BY 1",
        "SELECT count(*) FROM p",
    ],
    "the same with each cell's distinct households, their rows and the largest": [
        "SELECT gm_code, count(*), sum(n), max(n) FROM "
        "(SELECT b.gm_code, p.huishouden_id, count(*) AS n FROM p JOIN b USING (bu_code) GROUP BY 1, 2) GROUP BY 1",
        "SELECT count(*), sum(n), max(n) FROM (SELECT huishouden_id, count(*) AS n FROM p GROUP BY 1)",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset of zicht gen, e.g. target/bench-data/s1-seed42")
    args = parser.parse_args()
    con = duckdb.connect()
    for view, path in [("w", "basis/woning"), ("p", "basis/persoon"), ("b", "regio/buurt")]:
        con.sql(f"CREATE VIEW {view} AS SELECT * FROM '{args.data}/{path}.parquet'")
    print(f"duckdb {duckdb.__version__}, {args.data}")
    for name, queries in PAIRS.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for query in queries:
                con.sql(query).fetchall()
            best = min(best, time.perf_counter() - start)
        print(f"{best * 1000:8.0f} ms  {name}")


if __name__ == "__main__":
    main()
