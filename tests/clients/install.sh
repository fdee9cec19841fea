#!/usr/bin/env bash
# Installs the real PostgreSQL clients the wire-server tests drive, on Debian 12, and only what is
# missing: psql, a Java 17 JDK with Debian's pgjdbc, unixODBC with the psqlODBC driver, and a Python
# venv (target/client-venv, git-ignored) with pinned psycopg 3, SQLAlchemy 2, pandas and pyodbc.
# Safe to run again: a second run changes nothing and takes about a second.
# Maven Central is not reachable here, so pgjdbc comes from Debian (libpostgresql-jdbc-java).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${ZICHT_CLIENT_VENV:-target/client-venv}
# Pinned so a new client release cannot change what the tests see without a commit.
PY_PACKAGES=(
    "psycopg[binary]==3.3.9"
    "SQLAlchemy==2.1.9"
    "pandas==3.1.1"
    "pyodbc==5.5.0"
)

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    SUDO=()
fi

# Debian packages and a command that tells whether each is there; a package is installed only when
# its test fails (testing the file rather than dpkg status also accepts a client installed otherwise).
declare -A PRESENT=(
    [postgresql-client]="command -v psql"
    [openjdk-17-jdk-headless]="command -v javac"
    [libpostgresql-jdbc-java]="test -f /usr/share/java/postgresql.jar"
    [unixodbc]="command -v odbcinst"
    [odbc-postgresql]="compgen -G '/usr/lib/*/odbc/psqlodbcw.so'"
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

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
        echo "install.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "install.sh: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

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
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PY_PACKAGES[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, pinned = spec.split("==")
    name = name.split("[")[0]
    if version(name) != pinned:
        sys.exit(1)
EOF
then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

echo "install.sh: clients ready (psql, javac, pgjdbc, psqlODBC, $VENV)"
