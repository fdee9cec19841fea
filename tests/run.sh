#!/usr/bin/env bash
# The project's test command (README): unit tests, the attack suite, the sqllogictest files
# in-process and over the wire, then real clients (psql, psycopg, asyncpg, SQLAlchemy on three drivers,
# pgjdbc, psqlODBC, node-postgres, pgx, lib/pq, pgcli)
# against a running server. Installs what the tests need; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
# The client tests drive the server binary that `cargo test` just built (target/debug/zicht).
bash tests/clients/install.sh
bash tests/clients/run.sh
