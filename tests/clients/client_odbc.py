"""psqlODBC (the PostgreSQL ODBC driver, through unixODBC) driven by pyodbc: what Excel, Power BI,
Tableau and other ODBC tools rely on. Run by run.sh.

The driver is registered with unixODBC as "PostgreSQL Unicode" (install.sh); the connection string
is DSN-less.
"""

import datetime

import pyodbc

from common import AGGREGATE, HOST, PASSWORD, PORT, SAVED_QUERY, USER, check, expect, finish, version

CONNECTION = (f"DRIVER={{PostgreSQL Unicode}};SERVER={HOST};PORT={PORT};DATABASE=zicht;"
              f"UID={USER};PWD={PASSWORD};SSLmode=disable")

version("pyodbc", pyodbc.version)
# ODBC's own default is autocommit on; pyodbc turns it off unless asked. Most checks use ODBC's
# default; manual-commit is its own check below.
conn = pyodbc.connect(CONNECTION, autocommit=True, timeout=10)
version("psqlodbc", conn.getinfo(pyodbc.SQL_DRIVER_VER))


@check("getinfo")
def _():
    dbms = conn.getinfo(pyodbc.SQL_DBMS_NAME), conn.getinfo(pyodbc.SQL_DBMS_VER)
    expect(dbms[0] == "PostgreSQL", str(dbms))
    return f"{dbms[0]} {dbms[1]} via {conn.getinfo(pyodbc.SQL_DRIVER_NAME)}"


@check("SQLTables-basis")
def _():
    tables = {r.table_name: r.table_type for r in conn.cursor().tables(schema="basis")}
    expect(tables.get("persoon") == "TABLE" and tables.get("woning") == "TABLE", str(tables))
    return str(sorted(tables))


@check("SQLColumns-persoon")
def _():
    columns = {r.column_name: r.type_name for r in conn.cursor().columns(table="persoon", schema="basis")}
    expected = {"persoon_id": "int8", "bu_code": "text", "geboortejaar": "int4", "inkomen": "float8"}
    for name, type_name in expected.items():
        expect(columns.get(name) == type_name, f"{name}: want {type_name}, got {columns}")
    return str(columns)


@check("SQLTables-views")
def _():
    views = {r.table_name: r.table_type for r in conn.cursor().tables(schema="drugs", tableType="VIEW")}
    expect("verdachten_inwoners" in views and set(views.values()) == {"VIEW"}, str(views))
    columns = [r.column_name for r in conn.cursor().columns(table="verdachten_inwoners", schema="drugs")]
    expect("index" in columns and "klasse" in columns, str(columns))
    return f"{len(views)} views in drugs"


# ODBC tools ask for keys and indexes when they open a table; the warehouse has none, so the
# answers are empty, but they must not be errors.
@check("SQLPrimaryKeys")
def _():
    return f"{len(conn.cursor().primaryKeys('persoon', schema='basis').fetchall())} keys"


@check("SQLForeignKeys")
def _():
    return f"{len(conn.cursor().foreignKeys('persoon', schema='basis').fetchall())} foreign keys"


@check("SQLStatistics")
def _():
    return f"{len(conn.cursor().statistics('persoon', schema='basis').fetchall())} indexes"


@check("aggregate")
def _():
    rows = conn.cursor().execute(AGGREGATE).fetchall()
    expect(len(rows) > 100, f"{len(rows)} rows")
    expect(all(r.n is None or r.n % 5 == 0 for r in rows), "counts not rounded to multiples of 5")
    return f"{len(rows)} gemeenten"


@check("parameters")
def _():
    # '?' markers: psqlODBC prepares them server-side (Parse with $1, $2) by default.
    cur = conn.cursor()
    for code in ("GM0014", "GM0034", "GM0014"):
        rows = cur.execute("SELECT gm_code, gm_naam, inwoners FROM regio.gemeente WHERE gm_code = ? AND inwoners > ?",
                           code, 1000).fetchall()
        expect(len(rows) == 1 and rows[0].gm_code == code and rows[0].inwoners > 1000, f"{code}: {rows}")
    row = cur.execute("SELECT b.gm_code, count(*) AS n FROM basis.persoon p JOIN regio.buurt b "
                      "ON p.bu_code = b.bu_code WHERE b.gm_code = ? GROUP BY b.gm_code", "GM0014").fetchone()
    expect(row is not None and row.n % 5 == 0, str(row))
    return f"GM0014 personen={row.n}"


@check("types")
def _():
    row = conn.cursor().execute("SELECT CAST(42 AS integer) AS i, CAST(9000000000 AS bigint) AS b, "
                                "CAST(2.5 AS double precision) AS d, true AS t, DATE '2024-01-31' AS dt").fetchone()
    # psqlODBC hands booleans over as the character '1' (its default BoolsAsChar=1), as with PostgreSQL.
    expect(tuple(row) == (42, 9000000000, 2.5, "1", datetime.date(2024, 1, 31)), str(tuple(row)))
    return str(tuple(row))


@check("error-sqlstate")
def _():
    try:
        conn.cursor().execute("SELECT * FROM basis.persoon").fetchall()
    except pyodbc.Error as error:
        expect(error.args[0] == "42501", str(error.args))
        return "42501"
    raise AssertionError("SELECT * FROM basis.persoon returned rows")


@check("manual-commit")
def _():
    # pyodbc's default (autocommit off): psqlODBC wraps each statement in BEGIN and a SAVEPOINT
    # (statement-level rollback, its default Protocol=7.4-1).
    with pyodbc.connect(CONNECTION, timeout=10) as manual:
        cur = manual.cursor()
        (n,) = cur.execute("SELECT count(*) FROM regio.gemeente WHERE inwoners > ?", 0).fetchone()
        manual.commit()
    expect(n > 300, str(n))
    return f"{n} gemeenten"


@check("declare-fetch")
def _():
    # UseDeclareFetch=1: results read through a cursor in batches of Fetch rows, as BI tools set it.
    with pyodbc.connect(CONNECTION + ";UseDeclareFetch=1;Fetch=10", autocommit=True, timeout=10) as batched:
        codes = [r.gm_code for r in batched.cursor().execute("SELECT gm_code FROM regio.gemeente ORDER BY gm_code")]
    expect(len(codes) > 300 and codes == sorted(codes) and len(set(codes)) == len(codes), f"{len(codes)} rows")
    return f"{len(codes)} rows in batches of 10"


@check("saved-query")
def _():
    rows = conn.cursor().execute(SAVED_QUERY).fetchall()
    expect(len(rows) == 1 and rows[0].gm_code == "GM0014", str(rows))
    return str(tuple(rows[0]))


conn.close()
finish()
