"""SQLAlchemy 2 and pandas against `zicht serve`: what a notebook or a reflection-driven tool
(Superset, pandas.read_sql) relies on, on each of SQLAlchemy's PostgreSQL drivers a Python user
picks: `psycopg` (psycopg 3, the default), `psycopg2` (what most Superset and Airflow
installations use) and `asyncpg` (an async engine, as in a FastAPI service). Run by run.sh as
`client_sqlalchemy.py DRIVER`.
"""

import asyncio
import sys

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from common import AGGREGATE, HOST, PASSWORD, PORT, SAVED_QUERY, THEMES, USER, check, expect, finish, version

DRIVER = sys.argv[1] if len(sys.argv) > 1 else "psycopg"
# asyncpg takes no libpq options in the URL; the others are told not to try TLS first.
QUERY = {} if DRIVER == "asyncpg" else {"sslmode": "disable"}
URL = sa.engine.URL.create(f"postgresql+{DRIVER}", username=USER, password=PASSWORD, host=HOST, port=PORT,
                           database="zicht", query=QUERY)

version("sqlalchemy", sa.__version__)
version("pandas", pd.__version__)
version(DRIVER, __import__(DRIVER).__version__)

# The checks, each a function of a fresh connection, run below once the engine connects.
STEPS = []


def step(check_id):
    def register(fn):
        STEPS.append((check_id, fn))
        return fn

    return register


@step("get_schema_names")
def _(c):
    schemas = sa.inspect(c).get_schema_names()
    missing = [t for t in THEMES + ["basis", "regio"] if t not in schemas]
    expect(not missing, f"missing {missing} in {schemas}")
    return f"{len(schemas)} schemas"


@step("get_table_names-basis")
def _(c):
    tables = sa.inspect(c).get_table_names("basis")
    expect("persoon" in tables and "woning" in tables, str(tables))
    return str(tables)


@step("has_table")
def _(c):
    expect(sa.inspect(c).has_table("persoon", schema="basis"), "basis.persoon not found")
    expect(not sa.inspect(c).has_table("bestaat_niet", schema="basis"), "basis.bestaat_niet found")


@step("get_columns-persoon")
def _(c):
    columns = {c["name"]: c for c in sa.inspect(c).get_columns("persoon", schema="basis")}
    expected = {"persoon_id": sa.BigInteger, "bu_code": sa.Text, "geboortejaar": sa.Integer,
                "inkomen": sa.Float}
    for name, kind in expected.items():
        expect(name in columns, f"column {name} missing: {list(columns)}")
        expect(isinstance(columns[name]["type"], kind), f"{name} is {columns[name]['type']!r}, want {kind.__name__}")
    expect(columns["persoon_id"]["nullable"] is False, "persoon_id should be NOT NULL")
    comment = columns["bu_code"]["comment"]
    expect(comment == "Buurt of residence on 1 January 2024", f"bu_code's comment: {comment!r}")
    return ", ".join(f"{n} {c['type']}" for n, c in columns.items())


@step("get_table_comment")
def _(c):
    # pandas users and Superset's dataset editor read a table's description this way.
    comment = sa.inspect(c).get_table_comment("woning", schema="basis")["text"]
    expect(comment and comment.startswith("Dwellings (BAG, WOZ"), repr(comment))
    return f"{len(comment)} characters"


@step("get_view_names-drugs")
def _(c):
    views = sa.inspect(c).get_view_names("drugs")
    expect("verdachten_inwoners" in views, f"views in drugs: {views}")
    return str(views)


@step("get_view_definition")
def _(c):
    definition = sa.inspect(c).get_view_definition("verdachten_inwoners", schema="drugs")
    expect(definition and "select" in definition.lower(), repr(definition))
    return f"{len(definition)} characters"


@step("get_table_names-excludes-views")
def _(c):
    tables = sa.inspect(c).get_table_names("drugs")
    expect(sorted(tables) == ["hennepruiming", "verdachte"], str(tables))
    return str(tables)


@step("get_pk_constraint")
def _(c):
    # Warehouse tables have no primary key; reflection must still answer (with no columns).
    pk = sa.inspect(c).get_pk_constraint("persoon", schema="basis")
    return str(pk)


@step("get_indexes")
def _(c):
    return str(sa.inspect(c).get_indexes("persoon", schema="basis"))


@step("reflect-table")
def _(c):
    gemeente = sa.Table("gemeente", sa.MetaData(), schema="regio", autoload_with=c)
    expect("gm_code" in gemeente.c and "inwoners" in gemeente.c, str(gemeente.c.keys()))
    row = c.execute(sa.select(gemeente.c.gm_naam).where(gemeente.c.gm_code == "GM0014")).one()
    expect(row.gm_naam == "Groningen", str(row))
    return str(gemeente.c.keys())


@step("core-select-params")
def _(c):
    # SQL compiled by SQLAlchemy, with bound parameters, without reflection.
    gemeente = sa.table("gemeente", sa.column("gm_code"), sa.column("gm_naam"), sa.column("inwoners"), schema="regio")
    query = (sa.select(gemeente.c.gm_code, gemeente.c.inwoners)
             .where(gemeente.c.inwoners > sa.bindparam("minimum"))
             .order_by(gemeente.c.inwoners.desc()).limit(3))
    rows = c.execute(query, {"minimum": 100000}).all()
    expect(len(rows) == 3 and rows[0].inwoners >= rows[1].inwoners >= rows[2].inwoners > 100000, str(rows))
    return str([r.gm_code for r in rows])


@step("read_sql-aggregate")
def _(c):
    df = pd.read_sql(sa.text(AGGREGATE), c)
    expect(list(df.columns) == ["gm_code", "n"], str(df.columns))
    expect(len(df) > 100, f"{len(df)} rows")
    counts = df["n"].dropna()
    expect((counts % 5 == 0).all(), "counts not rounded to multiples of 5")
    return f"{len(df)} rows, n dtype {df['n'].dtype}"


@step("read_sql-params")
def _(c):
    df = pd.read_sql(sa.text("SELECT gm_code, gm_naam, inwoners FROM regio.gemeente WHERE gm_code = :g"),
                     c, params={"g": "GM0014"})
    expect(df.shape == (1, 3) and df.loc[0, "gm_naam"] == "Groningen", str(df))
    expect(str(df["inwoners"].dtype) == "int64", f"inwoners dtype {df['inwoners'].dtype}")
    return df.iloc[0].to_dict()


@step("read_sql-saved-query")
def _(c):
    df = pd.read_sql(sa.text(SAVED_QUERY), c)
    expect(list(df.columns) == ["gm_code", "index", "klasse"] and len(df) == 1, str(df))
    return df.iloc[0].to_dict()


def run_sync_driver():
    @check("engine-default")
    def _():
        # The dialect's first connect looks up hstore inside a transaction, which psycopg does in a
        # nested transaction: SAVEPOINT. A failure here means create_engine(URL) is unusable as is.
        engine = sa.create_engine(URL)
        try:
            with engine.connect() as c:
                expect(c.execute(sa.text("SELECT 1")).scalar() == 1, "SELECT 1")
        finally:
            engine.dispose()
        return "create_engine(URL) connects"

    # The remaining checks use use_native_hstore=False (a documented dialect option) so that they
    # test reflection and pandas even while engine-default fails; it skips only the hstore lookup.
    engine = sa.create_engine(URL, use_native_hstore=False)
    for check_id, fn in STEPS:
        check(check_id)(lambda: on_connection(engine, fn))
    engine.dispose()


def on_connection(engine, fn):
    with engine.connect() as c:
        return fn(c)


def on_async_connection(fn):
    """`fn` of a synchronous view of a fresh async connection (reflection and pandas are
    synchronous APIs; SQLAlchemy runs them on an async connection through run_sync)."""

    async def run():
        engine = create_async_engine(URL)
        try:
            async with engine.connect() as c:
                return await c.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def run_async_driver():
    @check("engine-default")
    def _():
        one = on_async_connection(lambda c: c.execute(sa.text("SELECT 1")).scalar())
        expect(one == 1, "SELECT 1")
        return "create_async_engine(URL) connects"

    for check_id, fn in STEPS:
        check(check_id)(lambda: on_async_connection(fn))


if DRIVER == "asyncpg":
    run_async_driver()
else:
    run_sync_driver()
finish()
