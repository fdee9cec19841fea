#!/usr/bin/env bash
# The project's test command (README): unit tests, the attack suite, the sqllogictest files
# in-process and over the wire, then real clients (psql, psycopg, asyncpg, SQLAlchemy on three drivers,
# pgjdbc, psqlODBC, node-postgres, pgx, lib/pq, pgcli)
# against a running server. Installs what the tests need; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
# The attack suite and the red team again, against a coordinator of two workers (docs/cluster.md).
ZICHT_TEST_CLUSTER=1 cargo test -p zicht-engine --test attacks --test redteam "$@"
# The client tests drive the server binary that `cargo test` just built (target/debug/zicht).
bash tests/clients/install.sh
bash tests/clients/run.sh
