#!/usr/bin/env bash
# Installs the benchmark's peers on Debian 12, and only what is missing: Debian's PostgreSQL server
# (15) and a Python venv (target/bench-venv, git-ignored) with pinned DuckDB, pyarrow (DuckDB
# returns results as Arrow tables) and psycopg 3.
# Safe to run again: a second run changes nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/install-lib.sh

VENV=${ZICHT_BENCH_VENV:-target/bench-venv}
# Pinned so a peer's new release cannot move the comparison without a commit.
PY_PACKAGES=(
    "duckdb==2.0.1"
    "pyarrow==26.0.1"
    "psycopg[binary]==3.3.9"
)

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
apt_install install.sh "${missing[@]}"
# Debian starts a cluster on port 5432 when it installs the server; the benchmark runs its own
# cluster on its own port and leaves Debian's alone.

pinned_venv "$VENV" python3 "${PY_PACKAGES[@]}"

echo "install.sh: peers ready ($(ls -d /usr/lib/postgresql/*/bin | head -n1), $VENV)"
