#!/usr/bin/env bash
# The whole benchmark in one command, from a clean checkout: installs the peers (PostgreSQL server,
# DuckDB and psycopg in target/bench-venv), builds zicht-bench in release mode, generates the data
# per scale (target/bench-data, reused), runs the saved-query suite on Zicht (protected, protection
# off, over the wire, concurrency 1/4/16 clients), on DuckDB and on PostgreSQL (its own cluster on
# loopback port 54329, started and stopped here), and writes benches/README.md with its charts.
#
#   benches/run.sh                          # scales 0.1 (3 iterations) and 1 (1 iteration)
#   ZICHT_BENCH_SCALES="0.01" ZICHT_BENCH_CONCURRENCY_SECONDS=5 benches/run.sh
#
# Every query runs once to warm up, then ZICHT_BENCH_ITERATIONS times (default 3) below scale 1
# and ZICHT_BENCH_ITERATIONS_LARGE times (default 1) from scale 1 up: there a protected saved query
# takes seconds, and the whole run must fit in about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALES=${ZICHT_BENCH_SCALES:-"0.1 1"}
ITERATIONS=${ZICHT_BENCH_ITERATIONS:-3}
ITERATIONS_LARGE=${ZICHT_BENCH_ITERATIONS_LARGE:-1}
CONCURRENCY_SECONDS=${ZICHT_BENCH_CONCURRENCY_SECONDS:-60}
TARGET=${CARGO_TARGET_DIR:-target}
BENCH="$TARGET/release/zicht-bench"

bash benches/peers/install.sh
# The zicht binary too: the peers run the SQL it generates from the indicators (same features, one build).
cargo build --release -p zicht-cli -p zicht-bench

iterations_at() {
    if awk -v s="$1" 'BEGIN { exit !(s >= 1) }'; then echo "$ITERATIONS_LARGE"; else echo "$ITERATIONS"; fi
}

for scale in $SCALES; do
    "$BENCH" run --scale "$scale" --iterations "$(iterations_at "$scale")" \
        --clients 1 --clients 4 --clients 16 --concurrency-seconds "$CONCURRENCY_SECONDS"
done
for scale in $SCALES; do
    target/bench-venv/bin/python benches/peers/peers.py --data "target/bench-data/s$scale-seed42" \
        --scale "$scale" --iterations "$(iterations_at "$scale")"
done

"$BENCH" report
