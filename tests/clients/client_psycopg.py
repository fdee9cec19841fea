"""psycopg 3 against `zicht serve`: what a Python analyst's script relies on.

Text and binary results, parameters, prepared statements, cursors, errors with their SQLSTATE,
cancel, statement_timeout, the connection limit and TLS-only refusal. Run by run.sh.
"""

import datetime
import threading
import time

import psycopg
from psycopg import errors

from common import (AGGREGATE, ENDLESS, HOST, MAXCONN_PORT, PASSWORD, PORT, SAVED_QUERY, TLS_PORT, USER,
                    check, expect, finish, startup_error, version)

DSN = f"host={HOST} port={PORT} dbname=zicht user={USER} password={PASSWORD} sslmode=disable connect_timeout=10"

version("psycopg", psycopg.__version__)
version("libpq", f"{psycopg.pq.version() // 10000}.{psycopg.pq.version() % 10000}")  # 180006 is 18.6
conn = psycopg.connect(DSN, autocommit=True)

# One row with a column of each type BI tools and pandas care about, and what PostgreSQL sends for it.
TYPED = ("SELECT CAST(42 AS integer) AS i, CAST(9000000000 AS bigint) AS b, CAST(2.5 AS double precision) AS d, "
         "true AS t, CAST('Groningen' AS text) AS s, DATE '2024-01-31' AS dt")
TYPED_ROW = (42, 9000000000, 2.5, True, "Groningen", datetime.date(2024, 1, 31))
TYPED_OIDS = [23, 20, 701, 16, 25, 1082]  # int4, int8, float8, bool, text, date


@check("connect-scram")
def _():
    expect(conn.pgconn.used_password, "the server did not ask for the password")
    return f"server_version={conn.info.parameter_status('server_version')}"


@check("wrong-password")
def _():
    try:
        psycopg.connect(DSN.replace(f"password={PASSWORD}", "password=wrong"))
    except psycopg.OperationalError as error:
        expect("password authentication failed" in str(error), str(error))
        return "refused"
    raise AssertionError("connected with a wrong password")


@check("current-user")
def _():
    (user,) = conn.execute("SELECT current_user").fetchone()
    expect(user == USER, f"current_user is {user!r}, logged in as {USER!r}")
    return user


@check("column-names-unnamed")
def _():
    # PostgreSQL names an unaliased column after its function, or ?column?; pandas users index by it.
    cur = conn.execute("SELECT count(*), sum(inwoners), upper('a'), current_schema(), 1 FROM regio.gemeente")
    names = [c.name for c in cur.description]
    expect(names == ["count", "sum", "upper", "current_schema", "?column?"], f"column names {names}")
    return str(names)


@check("backend-pid")
def _():
    # pg_backend_pid() is the process id of BackendKeyData, which tools use to tell sessions apart.
    (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
    expect(pid == conn.info.backend_pid, f"pg_backend_pid() = {pid}, BackendKeyData pid = {conn.info.backend_pid}")
    return str(pid)


@check("types-text")
def _():
    cur = conn.execute(TYPED)
    row = cur.fetchone()
    expect(row == TYPED_ROW, f"row {row}")
    expect([c.type_code for c in cur.description] == TYPED_OIDS, f"type OIDs {[c.type_code for c in cur.description]}")
    return str(row)


@check("types-binary")
def _():
    cur = conn.cursor(binary=True)
    cur.execute(TYPED)
    row = cur.fetchone()
    formats = [cur.pgresult.fformat(i) for i in range(cur.pgresult.nfields)]
    expect(formats == [1] * 6, f"result formats {formats}: the server did not send binary")
    expect(row == TYPED_ROW, f"row {row}")
    expect([c.type_code for c in cur.description] == TYPED_OIDS, f"type OIDs {[c.type_code for c in cur.description]}")
    return str(row)


@check("table-columns-binary")
def _():
    # Real table columns and a protected aggregate (bigint count, double avg) in binary.
    cur = conn.cursor(binary=True)
    rows = cur.execute("SELECT gm_code, gm_naam, inwoners FROM regio.gemeente WHERE gm_code = %s", ("GM0014",)).fetchall()
    expect(len(rows) == 1 and rows[0][:2] == ("GM0014", "Groningen") and isinstance(rows[0][2], int) and rows[0][2] > 0,
           f"rows {rows}")
    cur.execute("SELECT b.gm_code, count(*) AS n, avg(p.inkomen) AS inkomen FROM basis.persoon p "
                "JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE b.gm_code = %s GROUP BY b.gm_code", ("GM0014",))
    (code, n, inkomen), = cur.fetchall()
    expect(isinstance(n, int) and n % 5 == 0 and n > 0, f"count {n!r}")
    expect(inkomen is None or isinstance(inkomen, float), f"avg {inkomen!r}")
    return f"GM0014 inwoners={rows[0][2]} personen={n} avg_inkomen={inkomen}"


@check("params-typed-binary")
def _():
    # psycopg sends these parameters in binary with their OIDs (int2, int8, float8, bool, text, date).
    cur = conn.cursor(binary=True)
    cur.execute("SELECT %b::integer + 1, %b::bigint * 2, %b::double precision / 2, NOT %b::boolean, "
                "upper(%b::text), %b::date + 1",
                (41, 4500000000, 5.0, False, "groningen", datetime.date(2024, 1, 30)))
    row = cur.fetchone()
    expect(row == (42, 9000000000, 2.5, True, "GRONINGEN", datetime.date(2024, 1, 31)), f"row {row}")
    return str(row)


@check("params-uncast")
def _():
    # SELECT $1 with a parameter typed in Parse: PostgreSQL gives the column the parameter's type.
    cur = conn.cursor()
    cur.execute("SELECT %s AS i, %s AS b, %s AS d, %s AS t, %s AS dt",
                (7, 2**40, 2.25, False, datetime.date(2023, 5, 6)))
    row = cur.fetchone()
    oids = [c.type_code for c in cur.description]
    expect(row == (7, 2**40, 2.25, False, datetime.date(2023, 5, 6)), f"row {row!r}, column type OIDs {oids}")
    return str(row)


@check("protected-aggregate")
def _():
    rows = conn.execute(AGGREGATE).fetchall()
    expect(len(rows) > 100, f"{len(rows)} rows")
    bad = [r for r in rows if r[1] is not None and r[1] % 5 != 0]
    expect(not bad, f"counts not rounded to 5: {bad[:3]}")
    return f"{len(rows)} gemeenten"


@check("prepared-statement")
def _():
    # prepare=True: Parse once as a named statement, then Bind/Execute with new parameters.
    cur = conn.cursor()
    sql = "SELECT gm_code, gm_naam, inwoners FROM regio.gemeente WHERE gm_code = %s AND inwoners > %s"
    seen = {}
    for i, code in enumerate(["GM0014", "GM0034", "GM0363", "GM0014", "GM0034", "GM0363"]):
        rows = cur.execute(sql, (code, i), prepare=True).fetchall()
        expect(len(rows) == 1 and rows[0][0] == code, f"{code}: {rows}")
        expect(seen.setdefault(code, rows[0]) == rows[0], f"{code} changed: {seen[code]} vs {rows[0]}")
    expect(len(conn._prepared._names) >= 1, "psycopg did not keep a prepared statement")
    # Without prepare=True psycopg prepares by itself after prepare_threshold (5) executions.
    for i in range(8):
        (n,) = conn.execute("SELECT count(*) FROM regio.buurt WHERE bu_code LIKE %s", (["BU0014%", "BU0034%"][i % 2],)).fetchone()
        expect(n > 0, f"no buurten for pattern {i}")
    return f"{len(seen)} gemeenten, {len(conn._prepared._names)} prepared statements"


@check("named-cursor-fetchmany")
def _():
    # A server-side cursor: DECLARE, then Describe of the portal named like the cursor, then FETCH.
    with conn.transaction():
        with conn.cursor(name="gemeenten") as cur:
            cur.execute("SELECT gm_code, gm_naam FROM regio.gemeente ORDER BY gm_code")
            first = cur.fetchmany(10)
            second = cur.fetchmany(10)
            rest = cur.fetchall()
    codes = [r[0] for r in first + second + rest]
    expect(len(first) == 10 and len(second) == 10, f"fetchmany gave {len(first)}, {len(second)}")
    expect(codes == sorted(codes) and len(set(codes)) == len(codes), "rows out of order or repeated")
    return f"{len(codes)} rows"


@check("declare-fetch-sql")
def _():
    # The same cursor in plain SQL, as older tools and psql scripts use it.
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("DECLARE g CURSOR FOR SELECT gm_code FROM regio.gemeente ORDER BY gm_code")
        first = cur.execute("FETCH FORWARD 10 FROM g").fetchall()
        second = cur.execute("FETCH 10 FROM g").fetchall()
        rest = cur.execute("FETCH ALL FROM g").fetchall()
        cur.execute("CLOSE g")
    total = conn.execute("SELECT count(*) FROM regio.gemeente").fetchone()[0]
    expect(len(first) == 10 and len(second) == 10, f"FETCH gave {len(first)}, {len(second)}")
    expect(len(first) + len(second) + len(rest) == total, f"{len(first) + len(second) + len(rest)} of {total} rows")
    expect(first[-1][0] < second[0][0], "second batch does not follow the first")
    return f"{total} rows"


@check("savepoint")
def _():
    # Nested conn.transaction() blocks use SAVEPOINT; SQLAlchemy and psqlODBC issue them too.
    with conn.transaction():
        with conn.transaction():
            conn.execute("SELECT 1")
        (n,) = conn.execute("SELECT 2").fetchone()
    expect(n == 2, str(n))


@check("copy-out")
def _():
    cur = conn.cursor()
    with cur.copy("COPY (SELECT gm_code, gm_naam FROM regio.gemeente WHERE gm_code IN ('GM0014', 'GM0034') "
                  "ORDER BY gm_code) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        text = b"".join(bytes(chunk) for chunk in copy).decode()
    expect(text == "gm_code,gm_naam\nGM0014,Groningen\nGM0034,Almere\n", repr(text))
    return "csv with header"


@check("error-unknown-table")
def _():
    try:
        conn.execute("SELECT * FROM regio.bestaat_niet")
    except errors.UndefinedTable:
        return "42P01"
    raise AssertionError("no error")


@check("error-row-level-refused")
def _():
    try:
        conn.execute("SELECT * FROM basis.persoon")
    except errors.InsufficientPrivilege as error:
        return f"42501 {error.diag.message_primary[:60]}"
    raise AssertionError("SELECT * FROM basis.persoon returned rows")


@check("schema-probe-protected")
def _():
    # How Metabase, Power BI and Tableau learn a table's columns: a query that returns no rows.
    for sql in ("SELECT * FROM basis.persoon LIMIT 0", "SELECT * FROM basis.persoon WHERE 1 <> 1"):
        cur = conn.execute(sql)
        names = [c.name for c in cur.description]
        expect("persoon_id" in names and cur.fetchall() == [], f"{sql}: {names}")
    return f"{len(names)} columns, no rows"


@check("settings-functions")
def _():
    # Grafana's version check, asyncpg's set_config, Superset's schema selector.
    (num,) = conn.execute("SELECT current_setting('server_version_num')").fetchone()
    expect(int(num) >= 160000, f"server_version_num {num}")
    (name,) = conn.execute("SELECT set_config('application_name', 'notebook', false)").fetchone()
    expect(name == "notebook", f"set_config answered {name!r}")
    conn.execute("SET search_path TO regio")
    (schema,) = conn.execute("SELECT current_schema()").fetchone()
    (n,) = conn.execute("SELECT count(*) FROM gemeente").fetchone()
    conn.execute("SET search_path TO public")
    expect(schema == "regio" and n > 300, f"current_schema {schema!r}, {n} gemeenten")
    (insert, select) = conn.execute(
        "SELECT has_table_privilege('basis.persoon', 'INSERT'), has_table_privilege('basis.persoon', 'SELECT')").fetchone()
    expect((insert, select) == (False, True), f"INSERT {insert}, SELECT {select}")
    return f"server_version_num={num}, search_path regio"


@check("error-syntax")
def _():
    try:
        conn.execute("SELEC 1")
    except errors.SyntaxError:
        return "42601"
    raise AssertionError("no error")


@check("error-in-transaction")
def _():
    # After an error inside a transaction, PostgreSQL refuses everything with 25P02 until ROLLBACK.
    with psycopg.connect(DSN) as tx:  # autocommit off: psycopg sends BEGIN itself
        try:
            tx.execute("SELECT * FROM regio.bestaat_niet")
        except errors.UndefinedTable:
            pass
        try:
            tx.execute("SELECT 1")
            raise AssertionError("statement after an error in a transaction ran")
        except errors.InFailedSqlTransaction:
            pass
        tx.rollback()
        expect(tx.execute("SELECT 3").fetchone() == (3,), "connection unusable after ROLLBACK")
    return "25P02 then ROLLBACK"


@check("cancel")
def _():
    with psycopg.connect(DSN, autocommit=True) as victim:
        victim.execute("SET statement_timeout = '60s'")  # a safety net if cancel does not work
        timer = threading.Timer(1.0, victim.cancel)
        timer.start()
        start = time.monotonic()
        try:
            victim.execute(ENDLESS)
            raise AssertionError("the endless query finished")
        except errors.QueryCanceled as error:
            took = time.monotonic() - start
            expect("user request" in str(error), f"cancelled for another reason: {error}")
            expect(took < 10, f"cancel took {took:.1f}s")
        finally:
            timer.cancel()
        expect(victim.execute("SELECT 1").fetchone() == (1,), "connection unusable after cancel")
        return f"57014 after {took:.1f}s"


@check("statement-timeout")
def _():
    with psycopg.connect(DSN, autocommit=True) as c:
        c.execute("SET statement_timeout = '500ms'")
        start = time.monotonic()
        try:
            c.execute(ENDLESS)
            raise AssertionError("the endless query finished")
        except errors.QueryCanceled as error:
            took = time.monotonic() - start
            expect("statement timeout" in str(error), str(error))
            expect(took < 10, f"timeout after {took:.1f}s")
        c.execute("SET statement_timeout = 0")
        expect(c.execute("SELECT 1").fetchone() == (1,), "connection unusable after timeout")
        return f"57014 after {took:.1f}s"


@check("show-statement-timeout")
def _():
    # PostgreSQL reports the setting with its unit; tools read it back with SHOW.
    with psycopg.connect(DSN, autocommit=True) as c:
        c.execute("SET statement_timeout = '500ms'")
        (a,) = c.execute("SHOW statement_timeout").fetchone()
        c.execute("SET statement_timeout = '5s'")
        (b,) = c.execute("SHOW statement_timeout").fetchone()
    expect((a, b) == ("500ms", "5s"), f"SHOW statement_timeout gave {a!r} and {b!r}")
    return f"{a}, {b}"


@check("too-many-connections")
def _():
    dsn = DSN.replace(f"port={PORT}", f"port={MAXCONN_PORT}")
    first, second = psycopg.connect(dsn), psycopg.connect(dsn)
    try:
        try:
            psycopg.connect(dsn)
            raise AssertionError("a third connection was accepted with --max-connections 2")
        except psycopg.OperationalError as error:
            expect("too many" in str(error), str(error))
        # libpq hides the SQLSTATE of a refused connection; read it off the wire.
        fields = startup_error(MAXCONN_PORT)
        expect(fields and fields.get("C") == "53300", f"ErrorResponse {fields}")
    finally:
        first.close()
    deadline = time.monotonic() + 5
    while True:  # the slot comes back once the server has seen the close
        try:
            psycopg.connect(dsn).close()
            break
        except psycopg.OperationalError:
            expect(time.monotonic() < deadline, "no connection possible after closing one")
            time.sleep(0.1)
    second.close()
    return "53300 for the third"


@check("tls-required-28000")
def _():
    fields = startup_error(TLS_PORT)
    expect(fields and fields.get("C") == "28000", f"ErrorResponse {fields}")
    with psycopg.connect(DSN.replace(f"port={PORT}", f"port={TLS_PORT}").replace("sslmode=disable", "sslmode=require")) as c:
        expect(c.pgconn.ssl_in_use, "sslmode=require connection is not encrypted")
        expect(c.execute("SELECT 1").fetchone() == (1,), "query over TLS")
    return "plaintext 28000, TLS works"


@check("saved-query")
def _():
    rows = conn.execute(SAVED_QUERY).fetchall()
    expect(len(rows) == 1 and rows[0][0] == "GM0014", f"rows {rows}")
    return str(rows[0])


conn.close()
finish()
