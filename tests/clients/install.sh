#!/usr/bin/env bash
# Installs the real PostgreSQL clients the wire-server tests drive, on Debian 12, and only what is
# missing: psql, a Java 17 JDK with Debian's pgjdbc, unixODBC with the psqlODBC driver, Go with
# Debian's pgx v4 and lib/pq, a Python venv (target/client-venv, git-ignored) with pinned psycopg 3,
# psycopg2, asyncpg, SQLAlchemy 2, pandas, pyodbc and pgcli, and node-postgres with pg-cursor from the npm
# registry (target/client-node, pinned in tests/clients/package.json).
# Safe to run again: a second run changes nothing and takes about a second.
# Maven Central is not reachable here, so pgjdbc comes from Debian (libpostgresql-jdbc-java).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/install-lib.sh

VENV=${ZICHT_CLIENT_VENV:-target/client-venv}
# Pinned so a new client release cannot change what the tests see without a commit.
PY_PACKAGES=(
    "psycopg[binary]==3.3.9"
    "asyncpg==0.32.0"
    "SQLAlchemy==2.1.9"
    "greenlet==3.5.6" # SQLAlchemy's asyncio extension (create_async_engine on asyncpg)
    "pandas==3.1.1"
    "pyodbc==5.5.0"
    "pgcli==4.7.1"
    "psycopg2-binary==2.9.13"
)
NODE_DIR=${ZICHT_CLIENT_NODE:-target/client-node}

# Debian packages and a command that tells whether each is there; a package is installed only when
# its test fails (testing the file rather than dpkg status also accepts a client installed otherwise).
declare -A PRESENT=(
    [postgresql-client]="command -v psql"
    # The server, for the replays' self-check on a real PostgreSQL (client_postgres.py).
    [postgresql]="compgen -G '/usr/lib/postgresql/*/bin/initdb'"
    [openjdk-17-jdk-headless]="command -v javac"
    [libpostgresql-jdbc-java]="test -f /usr/share/java/postgresql.jar"
    [unixodbc]="command -v odbcinst"
    [odbc-postgresql]="compgen -G '/usr/lib/*/odbc/psqlodbcw.so'"
    [golang-go]="command -v go"
    [golang-github-jackc-pgx-v4-dev]="test -d /usr/share/gocode/src/github.com/jackc/pgx/v4"
    [golang-github-lib-pq-dev]="test -d /usr/share/gocode/src/github.com/lib/pq"
)
PYTHON=${PYTHON:-python3}
missing=()
for package in "${!PRESENT[@]}"; do
    eval "${PRESENT[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
# A minimal Debian has no python3; Debian's python3 creates venvs only with python3-venv (ensurepip).
if [ ! -x "$VENV/bin/python" ]; then
    command -v "$PYTHON" >/dev/null || missing+=(python3)
    "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
fi

command -v npm >/dev/null || missing+=(npm)

apt_install install.sh "${missing[@]}"

# Register psqlODBC with unixODBC under the name the tests use ("PostgreSQL Unicode"), unless it
# already is. odbc-postgresql normally does this itself; without recommends it may not have.
if ! odbcinst -q -d -n "PostgreSQL Unicode" >/dev/null 2>&1; then
    driver=$(compgen -G '/usr/lib/*/odbc/psqlodbcw.so' | head -n1)
    template=$(mktemp)
    printf '[PostgreSQL Unicode]\nDescription=PostgreSQL ODBC driver (Unicode)\nDriver=%s\nSetup=%s\n' \
        "$driver" "$(dirname "$driver")/libodbcpsqlS.so" >"$template"
    "${SUDO[@]}" odbcinst -i -d -f "$template" >/dev/null
    rm -f "$template"
fi

# The venv: created once; packages installed only when the pinned set is not already satisfied.
pinned_venv "$VENV" "$PYTHON" "${PY_PACKAGES[@]}"

# node-postgres and pg-cursor at the versions of package.json, unless exactly those are there.
node_wanted=$(sed -n 's/^ *"\(pg[a-z-]*\)": "\([0-9.]*\)".*/\1@\2/p' tests/clients/package.json | sort | paste -sd ' ')
node_have=$(for package in pg pg-cursor; do
    manifest=$NODE_DIR/node_modules/$package/package.json
    # Not installed yet on a fresh machine: no manifest, no version.
    if [ -f "$manifest" ]; then
        sed -n "s/^ *\"version\": \"\([0-9.]*\)\".*/$package@\1/p" "$manifest"
    fi
done | sort | paste -sd ' ')
if [ "$node_wanted" != "$node_have" ]; then
    mkdir -p "$NODE_DIR"
    cp tests/clients/package.json "$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent --no-package-lock)
fi

echo "install.sh: clients ready (psql, javac, pgjdbc, psqlODBC, go, $VENV, $NODE_DIR)"
