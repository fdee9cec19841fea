#!/usr/bin/env bash
# Installs the benchmark's peers on Debian 12, and only what is missing: Debian's PostgreSQL server
# (15) and a Python venv (target/bench-venv, git-ignored) with pinned DuckDB (and pyarrow, which it returns results as) and psycopg 3.
# Safe to run again: a second run changes nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${ZICHT_BENCH_VENV:-target/bench-venv}
# Pinned so a peer's new release cannot move the comparison without a commit.
PY_PACKAGES=(
    "duckdb==2.0.1"
    "pyarrow==26.0.1"
    "psycopg[binary]==3.3.9"
)

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    SUDO=()
fi

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        echo "install.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install.sh: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts a cluster on port 5432 when it installs the server; the benchmark runs its own
# cluster on its own port and leaves Debian's alone.

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PY_PACKAGES[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, pinned = spec.split("==")
    if version(name.split("[")[0]) != pinned:
        sys.exit(1)
PY
then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

echo "install.sh: peers ready ($(ls -d /usr/lib/postgresql/*/bin | head -n1), $VENV)"
