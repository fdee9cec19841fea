"""asyncpg against `zicht serve`: what a FastAPI service or a notebook relies on.

Binary results of the warehouse's types, parameters (asyncpg prepares every statement), a protected
aggregate, a pool whose connections are reset on release (`pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL`), settings through `current_setting()`, a cursor inside a transaction,
`copy_from_query` with arguments (asyncpg quotes them with `quote_literal()`), errors with their
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
