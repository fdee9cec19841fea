#!/usr/bin/env bash
# Real-client tests of `zicht serve`: psql, psycopg 3, asyncpg, SQLAlchemy 2 + pandas, pgjdbc, psqlODBC
# (via pyodbc), node-postgres, Go's pgx and lib/pq, and pgcli against a running server; and the
# replays' self-check on a real PostgreSQL (client_postgres.py). Install the clients first with
# tests/clients/install.sh.
#
#   tests/clients/run.sh [psql|psycopg|asyncpg|sqlalchemy|sqlalchemy-psycopg2|sqlalchemy-asyncpg|jdbc|odbc|node|pgx|pq|pgcli|postgres ...]  # default: all
#
# Environment: ZICHT_BIN (default $CARGO_TARGET_DIR/debug/zicht, else target/debug/zicht), ZICHT_TEST_DATA (a `zicht gen` directory;
# default: generated at scale 0.01, seed 42 into a temp dir), ZICHT_CLIENTS_TRACE=1 (log every
# statement the clients send to target/client-logs/wire-trace.log), ZICHT_CLIENTS_NO_VIEWS=1 (a
# binary without the saved-query views: their checks count as known failures).
#
# Starts three servers: the main one (SCRAM user), one with TLS required (the test fixtures) and
# one with --max-connections 2. Exits non-zero if any check fails that known-failures.txt does
# not list. Logs: target/client-logs/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/clients
cd "$ROOT"
started=$(date +%s)

# The binary `cargo test` built, wherever the target directory is.
BIN=${ZICHT_BIN:-${CARGO_TARGET_DIR:-target}/debug/zicht}
[[ $BIN == /* ]] || BIN=$ROOT/$BIN
VENV=${ZICHT_CLIENT_VENV:-$ROOT/target/client-venv}
NODE_DIR=${ZICHT_CLIENT_NODE:-$ROOT/target/client-node}
LOGS=$ROOT/target/client-logs
FIXTURES=$ROOT/crates/pgwire/tests/fixtures
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(psql psycopg asyncpg sqlalchemy sqlalchemy-psycopg2 sqlalchemy-asyncpg jdbc odbc node pgx pq pgcli postgres)

die() { echo "run.sh: $*" >&2; exit 2; }
for client in "${CLIENTS[@]}"; do
    case $client in psql | psycopg | asyncpg | sqlalchemy | sqlalchemy-psycopg2 | sqlalchemy-asyncpg | jdbc | odbc | node | pgx | pq | pgcli | postgres) ;; *) die "unknown client $client" ;; esac
done
[ -x "$BIN" ] || die "no server binary at $BIN (build it with cargo build -p zicht-cli, or set ZICHT_BIN)"
for tool in psql javac java odbcinst go node; do
    command -v "$tool" >/dev/null || die "$tool missing: run tests/clients/install.sh"
done
[ -x "$VENV/bin/python" ] || die "no venv at $VENV: run tests/clients/install.sh"
[ -f /usr/share/java/postgresql.jar ] || die "pgjdbc missing: run tests/clients/install.sh"
[ -d "$NODE_DIR/node_modules/pg-cursor" ] || die "node-postgres missing at $NODE_DIR: run tests/clients/install.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zicht-clients.XXXXXX")
PIDS=()
cleanup() {
    # SIGTERM first (graceful shutdown, --shutdown-grace 1s), SIGKILL whatever is left.
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$LOGS"
mkdir -p "$LOGS"

# --- data and configuration ---------------------------------------------------------------------
DATA=${ZICHT_TEST_DATA:-}
if [ -z "$DATA" ]; then
    DATA=$WORK/data
    echo "run.sh: generating test data (scale 0.01, seed 42)"
    "$BIN" gen --scale 0.01 --seed 42 --out "$DATA" >"$LOGS/gen.log" 2>&1 || { cat "$LOGS/gen.log"; die "zicht gen failed"; }
fi

USER_NAME=analist
PASSWORD=zicht-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
VERIFIER=$(printf '%s' "$PASSWORD" | "$BIN" passwd)
cat >"$WORK/zicht.toml" <<EOF
[server]
[[server.users]]
name = "$USER_NAME"
scram_verifier = "$VERIFIER"
EOF

# start_server NAME ARGS...: starts `zicht serve` on a free port and sets PORT to the port it prints.
start_server() {
    local name=$1 out=$LOGS/server-$1.out pid
    shift
    : >"$out"  # exists before the server opens it, for the sed below
    "$BIN" serve --port 0 --data "$DATA" --config "$WORK/zicht.toml" --shutdown-grace 1s "$@" \
        >"$out" 2>"$LOGS/server-$name.err" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 600); do  # 60 s
        PORT=$(sed -n 's/^zicht: listening on .*:\([0-9][0-9]*\) (database zicht).*/\1/p' "$out" || true)
        [ -n "$PORT" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$LOGS/server-$name.err" >&2; die "server $name exited"; }
        sleep 0.1
    done
    die "server $name printed no listening line within 60 s"
}

start_server main
MAIN_PORT=$PORT
start_server tls --tls-cert "$FIXTURES/test-cert.pem" --tls-key "$FIXTURES/test-key.pem"
TLS_PORT=$PORT
start_server maxconn --max-connections 2
MAXCONN_PORT=$PORT

if [ "${ZICHT_CLIENTS_TRACE:-0}" = 1 ]; then
    # Clients talk to the main server through the logging proxy.
    : >"$LOGS/pgtrace.out"
    "$VENV/bin/python" "$HERE/pgtrace.py" 0 127.0.0.1 "$MAIN_PORT" "$LOGS/wire-trace.log" >"$LOGS/pgtrace.out" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 100); do
        PORT=$(sed -n 's/^pgtrace: listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOGS/pgtrace.out" || true)
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || die "pgtrace did not start"
    MAIN_PORT=$PORT
fi

export ZICHT_HOST=127.0.0.1 ZICHT_PORT=$MAIN_PORT ZICHT_TLS_PORT=$TLS_PORT ZICHT_MAXCONN_PORT=$MAXCONN_PORT
export ZICHT_USER=$USER_NAME PGPASSWORD=$PASSWORD ZICHT_TLS_CA=$FIXTURES/test-cert.pem ZICHT_WORK=$WORK
export PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$HERE
echo "run.sh: servers on $MAIN_PORT (main), $TLS_PORT (TLS), $MAXCONN_PORT (max 2 connections); logs in $LOGS"

# --- the clients --------------------------------------------------------------------------------
# At most 3 minutes a client, so that a hung client cannot hang the run (exit code 124).
run_client() {
    local limit=(timeout -k 5 180)
    case $1 in
        psql) "${limit[@]}" bash "$HERE/client_psql.sh" ;;
        # postgres: not a client of Zicht but the replays' self-check on a real PostgreSQL.
        psycopg | asyncpg | sqlalchemy | odbc | pgcli | postgres) "${limit[@]}" "$VENV/bin/python" "$HERE/client_$1.py" ;;
        # SQLAlchemy on its other drivers: the same checks (client_sqlalchemy.py DRIVER).
        sqlalchemy-*) "${limit[@]}" "$VENV/bin/python" "$HERE/client_sqlalchemy.py" "${1#sqlalchemy-}" ;;
        node) NODE_PATH=$NODE_DIR/node_modules "${limit[@]}" node "$HERE/client_node.js" ;;
        pgx | pq)
            # Debian's Go packages, in GOPATH mode (no module proxy); built once for both drivers.
            [ -x "$WORK/client_go" ] ||
                GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$WORK/client_go" "$HERE/client_go.go"
            "${limit[@]}" "$WORK/client_go" "$1"
            ;;
        jdbc)
            javac -cp /usr/share/java/postgresql.jar -d "$WORK/java" "$HERE/JdbcClient.java" &&
                "${limit[@]}" java -cp "$WORK/java:/usr/share/java/postgresql.jar" JdbcClient
            ;;
    esac
}

# Checks whose failure is a known server limitation.
KNOWN=$(grep -v '^\s*\(#\|$\)' "$HERE/known-failures.txt" || true)
if [ "${ZICHT_CLIENTS_NO_VIEWS:-0}" = 1 ]; then
    # Without saved-query views there is no drugs.verdachten_inwoners and no schema branches.
    no_views="binary without saved-query views (ZICHT_CLIENTS_NO_VIEWS=1)"
    for id in psql/list-schemas psql/saved-query-views psql/saved-query psycopg/saved-query \
        sqlalchemy/get_view_names-drugs sqlalchemy/read_sql-saved-query sqlalchemy/get_view_definition \
        sqlalchemy-psycopg2/get_view_names-drugs sqlalchemy-psycopg2/read_sql-saved-query \
        sqlalchemy-psycopg2/get_view_definition sqlalchemy-asyncpg/get_view_names-drugs \
        sqlalchemy-asyncpg/read_sql-saved-query sqlalchemy-asyncpg/get_view_definition jdbc/getSchemas \
        jdbc/saved-query-view odbc/saved-query psql/describe-view psql/information-schema-views \
        jdbc/getTables-views odbc/SQLTables-views; do
        KNOWN+=$'\n'"$id $no_views"
    done
fi
known_reason() { awk -v id="$1" '$1 == id { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$KNOWN"; }

total_ok=0 total_fail=0 total_known=0
SUMMARY=()
for client in "${CLIENTS[@]}"; do
    log=$LOGS/$client.log
    code=0
    run_client "$client" >"$log" 2>&1 </dev/null || code=$?
    [ $code -ne 124 ] || echo "FAIL timeout the client ran longer than 180 s and was stopped" >>"$log"
    ok=0 fail=0 known=0 lines=()
    while read -r status id detail; do
        case $status in
            ok)
                ok=$((ok + 1))
                reason=$(known_reason "$client/$id")
                [ -z "$reason" ] || lines+=("  XPASS      $client/$id passes although listed as known to fail: $reason")
                ;;
            FAIL)
                reason=$(known_reason "$client/$id")
                if [ -n "$reason" ]; then
                    known=$((known + 1))
                    lines+=("  KNOWN-FAIL $client/$id: $reason")
                else
                    fail=$((fail + 1))
                    lines+=("  FAIL       $client/$id: ${detail:0:300}")
                fi
                ;;
        esac
    done < <(grep -E '^(ok|FAIL) ' "$log")
    # Every client ends with "done"; without it, it crashed (or timed out) part-way.
    if ! grep -qx done "$log" || { [ $code -ne 0 ] && [ $((fail + known)) -eq 0 ]; }; then
        fail=$((fail + 1))
        lines+=("  FAIL       $client did not finish (exit code $code): see $log" "$(tail -n 5 "$log" | sed 's/^/    | /')")
    fi
    verdict=PASS
    [ $fail -eq 0 ] || verdict=FAIL
    SUMMARY+=("$(printf '%-4s %-19s %3d ok, %d failed, %d known failures' "$verdict" "$client" $ok $fail $known)")
    SUMMARY+=("${lines[@]}")
    total_ok=$((total_ok + ok)) total_fail=$((total_fail + fail)) total_known=$((total_known + known))
done

# --- summary ------------------------------------------------------------------------------------
versions=$(cat "$LOGS"/*.log | sed -n 's/^version \([^ ]*\) \(.*\)$/\1 \2/p' | sort -u | paste -sd ',' - | sed 's/,/, /g')
echo
echo "server: $("$BIN" --version)"
echo "clients: ${versions:-none}"
printf '%s\n' "${SUMMARY[@]}"
echo "known failures: $total_known (tests/clients/known-failures.txt); took $(($(date +%s) - started)) s"
echo "clients: $total_ok passed, $total_fail failed"
[ $total_fail -eq 0 ]
