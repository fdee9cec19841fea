"""The replays' self-check: every replayed tool statement runs on a real PostgreSQL too.

The wire tests replay the catalog queries of tools that cannot run here (Npgsql/Power BI, Grafana,
Metabase, DBeaver, Superset: crates/pgwire/tests/replay/*.sql) against Zicht. A replay that
PostgreSQL itself refuses would be a broken probe, asserting something no tool relies on. This
client starts a throwaway PostgreSQL cluster (the Debian server package that install.sh installs),
creates in it the warehouse's shape read from the running Zicht server (schemas, tables and views
with their columns, types and descriptions, no rows), and runs each replay file with psql, stopping
at the first error. One check per replay file. Run by run.sh.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import psycopg

from common import HOST, PASSWORD, PORT, USER, check, expect, finish, version

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPLAYS = sorted((ROOT / "crates/pgwire/tests/replay").glob("*.sql"))
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def postgres_bin():
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    expect(found, "no PostgreSQL server in /usr/lib/postgresql: run tests/clients/install.sh")
    return found[-1].parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def warehouse_shape():
    """DDL for the warehouse's schemas, tables and views (no rows) with their descriptions."""
    with psycopg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname="zicht",
                         sslmode="disable") as zicht:
        columns = zicht.execute(
            "SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY c.table_schema, c.table_name, c.ordinal_position").fetchall()
        descriptions = zicht.execute(
            "SELECT n.nspname, c.relname, d.objsubid, d.description FROM pg_catalog.pg_description d "
            "JOIN pg_catalog.pg_class c ON c.oid = d.objoid JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')").fetchall()
    relations = {}
    for schema, table, kind, column, data_type in columns:
        relations.setdefault((schema, table), (kind, []))[1].append((column, data_type))
    statements = [f"CREATE SCHEMA {quoted(s)}" for s in sorted({s for s, _ in relations})]
    for (schema, table), (kind, cols) in relations.items():
        name = f"{quoted(schema)}.{quoted(table)}"
        if kind == "VIEW":
            select = ", ".join(f"NULL::{t} AS {quoted(c)}" for c, t in cols)
            statements.append(f"CREATE VIEW {name} AS SELECT {select} WHERE false")
        else:
            statements.append(f"CREATE TABLE {name} ({', '.join(f'{quoted(c)} {t}' for c, t in cols)})")
    for schema, table, position, text in descriptions:
        if (schema, table) not in relations:
            continue
        kind, cols = relations[(schema, table)]
        target = f"{quoted(schema)}.{quoted(table)}"
        if position == 0:
            statements.append(f"COMMENT ON {'VIEW' if kind == 'VIEW' else 'TABLE'} {target} IS {literal(text)}")
        elif 0 < position <= len(cols):
            statements.append(f"COMMENT ON COLUMN {target}.{quoted(cols[position - 1][0])} IS {literal(text)}")
    return statements, len(relations)


class Cluster:
    """A throwaway PostgreSQL cluster on a free port, its socket in its own directory."""

    def __init__(self):
        self.bin = postgres_bin()
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="zicht-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if AS_POSTGRES:
            shutil.chown(self.root, "postgres", "postgres")

    def run(self, tool, *args, **kwargs):
        return subprocess.run(AS_POSTGRES + [str(self.bin / tool), *args], check=True,
                              capture_output=True, text=True, **kwargs)

    def start(self):
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        self.run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.root / "server.log"),
                 "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "zicht")

    def psql(self, *args):
        return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                               str(self.port), "-U", "postgres", "-d", "zicht", *args],
                              capture_output=True, text=True, env={**os.environ, "PGPASSWORD": ""})

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)


cluster = Cluster()
try:
    cluster.start()
    version("postgres", cluster.run("postgres", "--version").stdout.strip())

    @check("warehouse-shape")
    def _():
        statements, relations = warehouse_shape()
        done = cluster.psql("-c", ";\n".join(statements))
        expect(done.returncode == 0, f"the shape did not load: {done.stderr.strip()[:300]}")
        return f"{relations} tables and views with their descriptions"

    for replay in REPLAYS:
        @check(f"replay-{replay.stem}")
        def _(replay=replay):
            done = cluster.psql("-f", str(replay))
            expect(done.returncode == 0, f"PostgreSQL refuses {replay.name}: {done.stderr.strip()[:300]}")
            return f"{replay.name}: every statement runs on PostgreSQL"
finally:
    cluster.stop()

finish()
