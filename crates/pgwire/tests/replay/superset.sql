-- Superset on a PostgreSQL database, beyond SQLAlchemy's inspector (schema, table, view and
-- column reflection, tested elsewhere): what its engine spec sends when the user adds and tests
-- the database, lists its catalogs and a schema's tables, previews a table in SQL Lab, estimates
-- a query's cost and stops a running query. From superset/db_engine_specs/postgres.py and
-- superset/db_engine_specs/base.py (apache/superset, commit 007e4f5, the 4.0 line: catalogs in
-- get_catalog_names, no get_default_catalog, which in later versions reads the URL and sends
-- nothing): PostgresEngineSpec.get_catalog_names, get_table_names, get_prequeries,
-- get_cancel_query_id, cancel_query and estimate_statement_cost, BaseEngineSpec.select_star
-- (where_latest_partition is None for PostgreSQL: no partition query). Superset 4 connects through
-- SQLAlchemy 1.4 and psycopg2, whose first-connect statements come first. Written for the database
-- zicht, the schema basis and the view drugs.hennep_risico, parameters as literals. Checked against
-- PostgreSQL 15.18 with tables of the same shape.

-- Add or test the database, first connection: SQLAlchemy's PostgreSQL dialect initialises
-- (sqlalchemy/dialects/postgresql/base.py, PGDialect: _get_server_version_info,
-- _get_default_schema_name, get_isolation_level, _set_backslash_escapes).
select pg_catalog.version();
select current_schema();
show transaction isolation level;
show standard_conforming_strings;
-- Every new connection: SQLAlchemy's psycopg2 dialect looks for hstore (use_native_hstore, its
-- default), with psycopg2's query (psycopg2/extras.py, HstoreAdapter.get_oids, server >= 8.3).
SELECT t.oid, typarray
FROM pg_type t JOIN pg_namespace ns
    ON typnamespace = ns.oid
WHERE typname = 'hstore';
-- Test connection: SQLAlchemy's ping (DefaultDialect.do_ping, its select one).
SELECT 1;
-- Database list in SQL Lab and the dataset editor: the catalogs, as PostgreSQL calls databases
-- (postgres.py, PostgresEngineSpec.get_catalog_names).
SELECT datname FROM pg_database
WHERE datistemplate = false;
-- Schema basis chosen, its tables listed: get_table_names adds the foreign tables to the
-- inspector's tables (postgres.py, PostgresEngineSpec.get_table_names -> SQLAlchemy
-- PGDialect._get_foreign_table_names; :schema = 'basis').
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'basis' AND c.relkind = 'f';
-- SQL Lab, a query run with schema basis selected: the pre-query setting the search path
-- (postgres.py, PostgresEngineSpec.get_prequeries).
set search_path = "basis";
-- SQL Lab, before running a query: the backend pid to cancel it by
-- (postgres.py, PostgresEngineSpec.get_cancel_query_id).
SELECT pg_backend_pid();
-- SQL Lab, view drugs.hennep_risico previewed: the select_star with its columns (show_cols),
-- limit 100, compiled by SQLAlchemy and pretty-printed by sqlglot, its layout written out here
-- (base.py, BaseEngineSpec.select_star; SQL Lab may raise the limit to its row limit + 1). A view,
-- as Zicht refuses rows of a row-level table such as basis.persoon by design (rule row-level).
SELECT
  gm_code,
  gm_naam,
  hennepruimingen,
  woningen,
  per_1000_woningen,
  nl_per_1000_woningen,
  verwacht,
  index,
  sir_onder,
  sir_boven,
  z,
  klasse
FROM drugs.hennep_risico
LIMIT 100;
-- SQL Lab, Estimate cost of that query: EXPLAIN, its first row searched for "cost=a..b"
-- (postgres.py, PostgresEngineSpec.estimate_statement_cost).
EXPLAIN SELECT
  gm_code,
  gm_naam,
  hennepruimingen,
  woningen,
  per_1000_woningen,
  nl_per_1000_woningen,
  verwacht,
  index,
  sir_onder,
  sir_boven,
  z,
  klasse
FROM drugs.hennep_risico
LIMIT 100;
-- SQL Lab, Stop: from a new connection, terminate the query's backend, the pid quoted as a string
-- (postgres.py, PostgresEngineSpec.cancel_query; here pid '0', no backend, so nothing is ended).
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid='0';
