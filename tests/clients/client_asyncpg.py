"""asyncpg against `zicht serve`: what a FastAPI service or a notebook relies on.

Schemas, tables and columns with their descriptions, binary results of the warehouse's types,
arrays (asyncpg learns their types with its type-info query), parameters (asyncpg prepares every
statement), a protected aggregate, a pool whose connections are reset on release
(`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), settings through
`current_setting()`, a cursor inside a transaction, `copy_from_query` with arguments (asyncpg
quotes them with `quote_literal()`), errors with their
SQLSTATE and a saved query. Run by run.sh.
"""

import asyncio
import datetime
import io

import asyncpg

from common import AGGREGATE, HOST, PASSWORD, PORT, SAVED_QUERY, USER, check, expect, finish, version

version("asyncpg", asyncpg.__version__)
loop = asyncio.new_event_loop()


def run(coroutine):
    return loop.run_until_complete(coroutine)


def connect():
    return asyncpg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database="zicht", ssl=False)


conn = run(connect())


@check("connect-scram")
def _():
    return f"server_version={conn.get_server_version()}"


@check("types-binary")
def _():
    row = run(conn.fetchrow(
        "SELECT CAST(42 AS integer) AS i, CAST(9000000000 AS bigint) AS b, CAST(2.5 AS double precision) AS d, "
        "true AS t, CAST('Groningen' AS text) AS s, DATE '2024-01-31' AS dt"))
    expected = (42, 9000000000, 2.5, True, "Groningen", datetime.date(2024, 1, 31))
    expect(tuple(row) == expected, f"row {tuple(row)}")
    return str(tuple(row))


@check("schemas-tables-columns-with-descriptions")
def _():
    # What a notebook runs to see what there is: schemas, a theme's tables, a table's columns with
    # their descriptions (the catalog's, through col_description and obj_description).
    schemas = {r[0] for r in run(conn.fetch("SELECT schema_name FROM information_schema.schemata"))}
    expect({"basis", "regio", "drugs"} <= schemas, f"schemas {sorted(schemas)}")
    tables = run(conn.fetch(
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' "
        "ORDER BY 1", "basis"))
    expect([t[0] for t in tables] == ["persoon", "vestiging", "woning"], f"tables {tables}")
    expect(all(t[1] for t in tables), f"an undescribed table: {tables}")
    columns = run(conn.fetch(
        "SELECT c.column_name, c.data_type, col_description('basis.persoon'::regclass, c.ordinal_position) "
        "FROM information_schema.columns c WHERE c.table_schema = $1 AND c.table_name = $2 "
        "ORDER BY c.ordinal_position", "basis", "persoon"))
    expect(tuple(columns[0][:2]) == ("persoon_id", "bigint"), f"first column {tuple(columns[0])}")
    undescribed = [c[0] for c in columns if not c[2]]
    expect(not undescribed, f"no description for {undescribed}")
    return f"{len(schemas)} schemas, {len(tables)} basis tables, {len(columns)} columns, all described"


@check("arrays")
def _():
    # Arrays send asyncpg into its type-info query (asyncpg/introspection.py) for their types.
    row = run(conn.fetchrow(
        "SELECT ARRAY[1, 2]::bigint[] AS ints, ARRAY['GM0014', NULL] AS codes, ARRAY[true] AS flags, "
        "ARRAY[1.5]::double precision[] AS reals"))
    expected = ([1, 2], ["GM0014", None], [True], [1.5])
    expect(tuple(row) == expected, f"row {tuple(row)}")
    ints = run(conn.fetchval("SELECT $1::int4[]", [3, 4]))
    expect(ints == [3, 4], f"parameter {ints}")
    return str(tuple(row))


@check("params")
def _():
    n = run(conn.fetchval("SELECT count(*) FROM regio.buurt WHERE gm_code = $1", "GM0014"))
    expect(n > 0, f"{n} buurten")
    statement = run(conn.prepare("SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1"))
    names = [run(statement.fetchval(code)) for code in ("GM0014", "GM0363", "GM0014")]
    expect(names[0] == names[2] == "Groningen" and names[1] == "Amsterdam", str(names))
    return f"{n} buurten, {names[1]}"


@check("protected-aggregate")
def _():
    rows = run(conn.fetch(AGGREGATE))
    expect(len(rows) > 10 and all(r["n"] is None or r["n"] % 5 == 0 for r in rows), f"{len(rows)} rows")
    return f"{len(rows)} gemeenten, counts in multiples of 5"


@check("pool-reset-on-release")
def _():
    async def twice():
        async with asyncpg.create_pool(host=HOST, port=PORT, user=USER, password=PASSWORD, database="zicht",
                                       ssl=False, min_size=1, max_size=1) as pool:
            values = []
            for _ in range(2):  # the second acquire gets the connection back after its reset
                async with pool.acquire() as pooled:
                    await pooled.execute("SET application_name = 'pooled'")
                    values.append(await pooled.fetchval("SELECT current_setting('application_name')"))
            return values
    values = run(twice())
    expect(values == ["pooled", "pooled"], str(values))
    return "released twice"


@check("settings")
def _():
    num = run(conn.fetchval("SELECT current_setting('server_version_num')"))
    expect(int(num) >= 160000, num)
    return f"server_version_num={num}"


@check("cursor-in-transaction")
def _():
    async def read():
        async with conn.transaction():
            return [r["gm_code"] async for r in conn.cursor("SELECT gm_code FROM regio.gemeente ORDER BY gm_code", prefetch=50)]
    codes = run(read())
    expect(len(codes) > 300 and codes == sorted(codes), f"{len(codes)} rows")
    return f"{len(codes)} rows in batches of 50"


@check("cursor-forward")
def _():
    async def skip():
        async with conn.transaction():
            cursor = await conn.cursor("SELECT gm_code FROM regio.gemeente ORDER BY gm_code")
            await cursor.forward(2)
            return await cursor.fetch(1)
    rows = run(skip())
    expect(rows and rows[0]["gm_code"] > "GM0014", str(rows))
    return rows[0]["gm_code"]


@check("copy-from-query-args")
def _():
    out = io.BytesIO()
    run(conn.copy_from_query("SELECT gm_code, gm_naam FROM regio.gemeente WHERE gm_code = $1", "GM0014",
                             output=out, format="csv"))
    expect(out.getvalue() == b"GM0014,Groningen\n", repr(out.getvalue()))
    return "GM0014,Groningen"


@check("error-row-level-refused")
def _():
    try:
        run(conn.fetch("SELECT * FROM basis.persoon"))
    except asyncpg.exceptions.InsufficientPrivilegeError as error:
        return f"42501 {str(error)[:60]}"
    raise AssertionError("SELECT * FROM basis.persoon returned rows")


@check("saved-query")
def _():
    row = run(conn.fetchrow(SAVED_QUERY))
    expect(row is not None and row["gm_code"] == "GM0014", str(row))
    return f"klasse={row['klasse']}"


run(conn.close())
finish()
