//! The wire server against a real PostgreSQL client library (tokio-postgres), on generated data
//! (scale 0.01, seed 42): protocol features, per-connection state, errors and their SQLSTATEs,
//! authentication, TLS refusal, the connection limit, cancel and statement_timeout, malformed
//! messages, and the sqllogictest files of tests/slt run over the wire.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use zicht_pgwire::TlsConfig;

/// The same files the in-process runner runs.
#[path = "../../engine/tests/common/slt_files.rs"]
mod slt_files;

mod common;
use common::*;

/// A query that runs for hours on public data: a trillion generated rows, filtered and counted.
const SLOW: &str = "SELECT count(*) FROM generate_series(1, 1000000000000) t(x) WHERE x % 7 = 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simple_and_extended_queries_return_typed_results() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();

    let version: String = client.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(version.starts_with("PostgreSQL 16.") && version.contains("Zicht"), "{version}");

    // Extended protocol with a typed parameter and binary results of every warehouse type.
    let row = client
        .query_one(
            "SELECT gm_code, inwoners, CAST(inwoners AS INT) AS i4, CAST(1 AS SMALLINT) AS i2, CAST(inwoners AS DOUBLE) / 2 AS f, inwoners > 100000 AS groot, DATE '2024-01-01' AS peildatum FROM regio.gemeente WHERE gm_code = $1",
            &[&"GM0014"],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "GM0014");
    let inwoners: i64 = row.get(1);
    assert!(inwoners > 200_000);
    assert_eq!(row.get::<_, i32>(2) as i64, inwoners);
    assert_eq!(row.get::<_, i16>(3), 1);
    assert_eq!(row.get::<_, f64>(4), inwoners as f64 / 2.0);
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, chrono::NaiveDate>(6), chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());

    // A prepared statement reused with other parameters (and past pgjdbc's prepareThreshold).
    let statement = client.prepare("SELECT count(*) FROM regio.buurt WHERE gm_code = $1").await.unwrap();
    for code in ["GM0014", "GM0034", "GM0363", "GM0599", "GM0518", "GM0014"] {
        let n: i64 = client.query_one(&statement, &[&code]).await.unwrap().get(0);
        assert!(n > 0, "{code}");
    }

    // A protected aggregate: released counts are multiples of 5.
    let rows = client
        .query("SELECT b.gm_code, count(*) AS n FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code", &[])
        .await
        .unwrap();
    assert!(rows.len() > 10);
    assert!(rows.iter().all(|r| r.get::<_, Option<i64>>(1).is_none_or(|n| n % 5 == 0)));

    // A BI tool's schema probe of a protected table (extended protocol): its columns, no rows.
    let probe = client.prepare("SELECT * FROM basis.persoon WHERE 1 <> 1 LIMIT 0").await.unwrap();
    assert!(probe.columns().iter().any(|c| c.name() == "persoon_id"), "{:?}", probe.columns());
    assert!(client.query(&probe, &[]).await.unwrap().is_empty());

    // What SQLAlchemy's and Superset's reflection builds, how asyncpg quotes COPY arguments, and
    // how Metabase writes qualified names.
    let built = "SELECT json_build_object('a', 1, 'b', 'x', 'c', NULL, 'd', true), quote_literal('''s-Hertogenbosch')";
    let row = client.query_one(built, &[]).await.unwrap();
    assert_eq!(row.get::<_, &str>(0), r#"{"a" : 1, "b" : "x", "c" : null, "d" : true}"#);
    assert_eq!(row.get::<_, &str>(1), "'''s-Hertogenbosch'");
    let named = client.query_one("SELECT format('%I.%I = %L', 'basis', 'Persoon', 'x')", &[]).await.unwrap();
    assert_eq!(named.get::<_, &str>(0), r#"basis."Persoon" = 'x'"#);

    // Several statements in one simple query.
    let messages = client.simple_query("SELECT 1; SELECT 2, 3").await.unwrap();
    let rows = messages.iter().filter(|m| matches!(m, SimpleQueryMessage::Row(_))).count();
    assert_eq!(rows, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_belong_to_their_connection() {
    let server = TestServer::start(|_| {}).await;
    let a = server.connect().await.unwrap();
    let b = server.connect().await.unwrap();
    a.batch_execute("SET application_name = 'een'; SET statement_timeout = '5s'").await.unwrap();
    assert_eq!(show_value(&a, "application_name").await, "een");
    assert_eq!(show_value(&a, "statement_timeout").await, "5s");
    assert_eq!(show_value(&b, "application_name").await, "");
    assert_eq!(show_value(&b, "statement_timeout").await, "0");
    // pg_settings shows each connection its own values (pgjdbc reads max_index_keys there).
    assert_eq!(pg_setting(&a, "application_name").await, ("een".into(), "session".into()));
    assert_eq!(pg_setting(&b, "application_name").await, ("".into(), "default".into()));
    assert_eq!(pg_setting(&b, "max_index_keys").await, ("32".into(), "default".into()));
    assert_eq!(pg_setting(&b, "TimeZone").await, ("UTC".into(), "default".into()));
    a.batch_execute("RESET ALL").await.unwrap();
    assert_eq!(show_value(&a, "application_name").await, "");
    assert_eq!(pg_setting(&a, "application_name").await, ("".into(), "default".into()));
    server.stop().await;
}

/// Settings read and written from SQL, as asyncpg, Grafana and Superset do; `search_path` decides
/// where unqualified names resolve, per connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_are_functions_too_and_search_path_is_honoured() {
    let server = TestServer::start(|_| {}).await;
    let a = server.connect().await.unwrap();
    let b = server.connect().await.unwrap();
    let text = |row: tokio_postgres::Row| row.get::<_, Option<String>>(0);
    let version = a.query_one("SELECT current_setting('server_version_num')", &[]).await.unwrap();
    assert_eq!(text(version).as_deref(), Some("160006"));
    let missing = a.query_one("SELECT current_setting('no_such_setting', true)", &[]).await.unwrap();
    assert_eq!(text(missing), None);
    let error = a.query_one("SELECT current_setting('no_such_setting')", &[]).await.unwrap_err();
    assert_eq!(error.code().map(|c| c.code()), Some("42704"), "{error:?}");
    let set = a.query_one("SELECT set_config('application_name', 'grafana', false)", &[]).await.unwrap();
    assert_eq!(text(set).as_deref(), Some("grafana"));
    assert_eq!(show_value(&a, "application_name").await, "grafana");

    a.batch_execute("SET search_path TO regio, public").await.unwrap();
    let schema = a.query_one("SELECT current_schema()", &[]).await.unwrap();
    assert_eq!(text(schema).as_deref(), Some("regio"));
    let schemas: Vec<String> = a.query_one("SELECT current_schemas(true)", &[]).await.unwrap().get(0);
    assert_eq!(schemas, ["pg_catalog", "regio", "public"]);
    let gemeenten: i64 = a.query_one("SELECT count(*) FROM gemeente", &[]).await.unwrap().get(0);
    assert!(gemeenten > 300, "{gemeenten}");
    // The other connection still resolves in public, where there is no gemeente.
    let schema = b.query_one("SELECT current_schema()", &[]).await.unwrap();
    assert_eq!(text(schema).as_deref(), Some("public"));
    let error = b.query_one("SELECT count(*) FROM gemeente", &[]).await.unwrap_err();
    assert_eq!(error.code().map(|c| c.code()), Some("42P01"), "{error:?}");
    // A read-only warehouse: reading is allowed, writing is not.
    let privileges = a
        .query_one(
            "SELECT has_table_privilege('basis.persoon', 'SELECT'), has_table_privilege('basis.persoon', 'INSERT'), \
             has_table_privilege(current_user, 'regio.gemeente', 'UPDATE, DELETE'), has_schema_privilege('basis', 'CREATE')",
            &[],
        )
        .await
        .unwrap();
    let answers: Vec<bool> = (0..4).map(|i| privileges.get(i)).collect();
    assert_eq!(answers, [true, false, false, false]);
    // set_config reaches the next statement's names too.
    b.query_one("SELECT set_config('search_path', 'basis', false)", &[]).await.unwrap();
    let error = b.query_one("SELECT * FROM persoon", &[]).await.unwrap_err();
    assert_eq!(error.code().map(|c| c.code()), Some("42501"), "row-level, so persoon was found: {error:?}");
    server.stop().await;
}

/// pg_index's and pg_constraint's column lists answer as PostgreSQL 15's (checked there): int2vector
/// subscripts from 0, int2[] from 1, `_pg_expandarray` and `generate_subscripts` a row per element,
/// in the select list; `pg_get_indexdef` names an index's columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_vectors_answer_as_postgresql() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let ints = |rows: Vec<tokio_postgres::Row>| -> Vec<Vec<i64>> {
        rows.iter()
            .map(|row| (0..row.len()).map(|i| row.get::<_, Option<i16>>(i).map_or(-1, i64::from)).collect())
            .collect()
    };
    let sql = "SELECT indkey[0], indkey[1] FROM pg_catalog.pg_index WHERE indexrelid = 2691";
    assert_eq!(ints(client.query(sql, &[]).await.unwrap()), [[2, 20]]);
    let sql = "SELECT array_lower(conkey, 1)::int2, array_upper(conkey, 1)::int2, conkey[1] FROM pg_catalog.pg_constraint \
               WHERE conname = 'pg_proc_proname_args_nsp_index'";
    assert_eq!(ints(client.query(sql, &[]).await.unwrap()), [[1, 3, 2]]);
    let sql = "SELECT (information_schema._pg_expandarray(indkey)).n::int2 AS n, (information_schema._pg_expandarray(indkey)).x \
               FROM pg_catalog.pg_index WHERE indexrelid = 2691 ORDER BY 1";
    assert_eq!(ints(client.query(sql, &[]).await.unwrap()), [[1, 2], [2, 20], [3, 3]]);
    let sql = "SELECT generate_subscripts(i.indkey, 1)::int2 AS s, unnest(i.indkey) AS k FROM pg_catalog.pg_index i \
               WHERE i.indexrelid = 2691 ORDER BY 1";
    assert_eq!(ints(client.query(sql, &[]).await.unwrap()), [[0, 2], [1, 20], [2, 3]]);
    let sql = "SELECT generate_subscripts(c.conkey, 1)::int2 FROM pg_catalog.pg_constraint c \
               WHERE c.conname = 'pg_proc_proname_args_nsp_index' ORDER BY 1";
    assert_eq!(ints(client.query(sql, &[]).await.unwrap()), [[1], [2], [3]]);
    // pg_get_indexdef plans in a client's correlated form; PostgreSQL's own indexes (pg_index's
    // rows) are on relations pg_attribute does not list here, so they name no column.
    let sql = "SELECT pg_get_indexdef(i.indexrelid, 2, false) FROM pg_catalog.pg_index i WHERE i.indexrelid = 2691";
    let name: Option<String> = client.query_one(sql, &[]).await.unwrap().get(0);
    assert_eq!(name, None);
    // A view's text by its oid (this warehouse's own; PostgreSQL would reformat it).
    let sql = "SELECT pg_get_viewdef(c.oid, true) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
               ON n.oid = c.relnamespace WHERE n.nspname = 'drugs' AND c.relname = 'verdachten_inwoners'";
    let definition: Option<String> = client.query_one(sql, &[]).await.unwrap().get(0);
    assert!(definition.is_some_and(|text| text.to_lowercase().contains("select")));
    server.stop().await;
}

/// The catalog's descriptions as client tools read them (pg_description, `obj_description`,
/// `col_description`), sizes that are 0 whatever a table holds, and ARRAY(subquery); each
/// statement also runs on PostgreSQL 15 (hostile/statements.txt, catalog-*).
#[tokio::test]
async fn descriptions_and_sizes_answer_as_postgresql() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let sql = "SELECT obj_description(c.oid, 'pg_class'), col_description(c.oid, 3), \
               pg_size_pretty(pg_table_size(c.oid)), pg_total_relation_size(c.oid) \
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = 'basis' AND c.relname = 'persoon'";
    let row = client.query_one(sql, &[]).await.unwrap();
    let table: Option<String> = row.get(0);
    assert!(table.is_some_and(|text| text.starts_with("Persons registered in the BRP")));
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("Buurt of residence on 1 January 2024"));
    assert_eq!(row.get::<_, String>(2), "0 bytes");
    assert_eq!(row.get::<_, i64>(3), 0);
    // pgjdbc's REMARKS join: one description a column, numbered from 1, and the table's as 0.
    let sql = "SELECT d.objsubid, d.description FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass \
               WHERE n.nspname = 'basis' AND c.relname = 'persoon' ORDER BY 1";
    let numbers: Vec<i32> = client.query(sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    assert_eq!(numbers, (0..=8).collect::<Vec<_>>());
    let sql = "SELECT array_to_string(array(SELECT n.nspname FROM pg_catalog.pg_namespace n \
               WHERE n.nspname IN ('basis', 'regio') ORDER BY 1 DESC), ',')";
    assert_eq!(client.query_one(sql, &[]).await.unwrap().get::<_, String>(0), "regio,basis");
    // A relation's storage options and grants: none (NULL), as for a table nobody granted on.
    let sql = "SELECT count(*) FROM pg_catalog.pg_class WHERE reloptions IS NOT NULL OR relacl IS NOT NULL";
    assert_eq!(client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0), 0);
    server.stop().await;
}

/// A user's connection lists the user's connections in pg_stat_activity and may terminate
/// another of them as Superset's stop button does (superset/db_engine_specs/postgres.py,
/// `cancel_query`); a process id that is no backend gives false.
#[tokio::test]
async fn a_connection_terminates_another_of_its_user() {
    let server = TestServer::start(|config| {
        with_user(config);
        config.users.push(zicht_pgwire::UserConfig {
            name: "onderzoeker".into(),
            scram_verifier: zicht_pgwire::scram::ScramVerifier::from_password(PASSWORD, 4096),
            access: zicht_engine::AccessLevel::Untrusted,
        })
    })
    .await;
    let _another_users = server.connect_as("onderzoeker", PASSWORD).await.unwrap();
    let (stopped, stopper) = (server.connect().await.unwrap(), server.connect().await.unwrap());
    let pid: i32 = stopped.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let activity = stopper
        .query("SELECT pid, usename, state, backend_type FROM pg_stat_activity ORDER BY backend_start", &[])
        .await
        .unwrap();
    let listed: Vec<(i32, String, Option<String>)> =
        activity.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect();
    assert_eq!(listed.len(), 2, "the user's two connections, not another user's: {listed:?}");
    assert_eq!(listed[0].0, pid);
    assert!(listed.iter().all(|(_, user, _)| user == "analist"), "{listed:?}");
    assert_eq!(listed[1].2.as_deref(), Some("active"), "the asking connection runs this statement");
    let superset = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid='{pid}'");
    let terminated = stopper.simple_query(&superset).await.unwrap();
    assert_eq!(result_sets(terminated)[0], [["t"]]);
    let row = stopper.query_one("SELECT pg_terminate_backend(0), pg_cancel_backend(0)", &[]).await.unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, bool>(1)), (false, false));
    let error = stopped.simple_query("SELECT 1").await.unwrap_err();
    assert!(error.code().is_none_or(|code| code.code() == "57P01"), "{error}");
    assert!(stopped.simple_query("SELECT 1").await.is_err(), "the terminated connection is closed");
    assert_eq!(stopper.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    server.stop().await;
}

/// Npgsql's type loading (Power BI's connector runs it on every connection) answers its four
/// result sets, with pg_type's receive functions as oids: arrays found as arrays of their element.
#[tokio::test]
async fn npgsql_loads_its_types() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let messages = client.simple_query(include_str!("replay/npgsql-load-types.sql")).await.unwrap();
    let completed = messages.iter().filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_))).count();
    assert_eq!(completed, 4);
    let types: Vec<(String, String, String)> = messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) if row.len() == 6 => Some((
                row.get(2).unwrap_or_default().to_string(),
                row.get(3).unwrap_or_default().to_string(),
                row.get(5).unwrap_or_default().to_string(),
            )),
            _ => None,
        })
        .collect();
    let find = |name: &str| types.iter().find(|(typname, ..)| typname == name).cloned();
    assert_eq!(find("int4"), Some(("int4".into(), "b".into(), String::new())));
    assert_eq!(find("_int4"), Some(("_int4".into(), "a".into(), "23".into())));
    assert_eq!(find("_text"), Some(("_text".into(), "a".into(), "25".into())));
    assert!(types.len() > 100, "{} types", types.len());
    server.stop().await;
}

/// Grafana's query builder (its data source's catalog queries, replayed as Grafana sends them)
/// finds the version, the schemas, the tables and a table's columns with PostgreSQL's type names.
#[tokio::test]
async fn grafana_query_builder_finds_schemas_tables_and_columns() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let results = result_sets(client.simple_query(include_str!("replay/grafana-meta.sql")).await.unwrap());
    assert_eq!(results.len(), 6);
    let version: i64 = results[0][0][0].parse().unwrap();
    assert!(version >= 1500, "version {version}");
    assert!(results[1].is_empty(), "no TimescaleDB");
    let first = |result: &[Vec<String>]| result.iter().map(|row| row[0].clone()).collect::<Vec<_>>();
    let schemas = first(&results[2]);
    assert!(schemas.contains(&"basis".to_string()) && schemas.contains(&"drugs".to_string()), "{schemas:?}");
    assert!(first(&results[3]).contains(&"persoon".to_string()), "{:?}", results[3]);
    assert!(first(&results[4]).contains(&"basis.persoon".to_string()), "{:?}", results[4]);
    let columns = &results[5];
    assert!(columns.contains(&vec!["persoon_id".to_string(), "bigint".to_string()]), "{columns:?}");
    assert!(columns.contains(&vec!["inkomen".to_string(), "double precision".to_string()]), "{columns:?}");
    server.stop().await;
}

/// DBeaver's navigator (its catalog queries and pgjdbc's, replayed as DBeaver 24.2 sends them):
/// every statement answers, and it finds the schemas, a schema's tables and views with their
/// descriptions, a table's columns with theirs, and a view's source.
#[tokio::test]
async fn dbeaver_navigator_lists_schemas_tables_columns_and_view_source() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let results = result_sets(client.simple_query(include_str!("replay/dbeaver-navigator.sql")).await.unwrap());
    assert_eq!(results.len(), 21);
    let has = |result: &[Vec<String>], found: &dyn Fn(&str) -> bool| result.iter().flatten().any(|value| found(value));
    assert!(has(&results[4], &|value| value == "basis") && has(&results[4], &|value| value == "drugs"));
    assert!(!results[12].is_empty(), "data types");
    assert!(has(&results[15], &|value| value == "persoon"), "{:?}", results[15]);
    assert!(has(&results[15], &|value| value.starts_with("Persons registered in the BRP")), "{:?}", results[15]);
    assert!(has(&results[16], &|value| value == "verdachten_inwoners"), "{:?}", results[16]);
    assert!(has(&results[17], &|value| value == "persoon_id"), "{:?}", results[17]);
    assert!(has(&results[17], &|value| value == "Buurt of residence on 1 January 2024"), "{:?}", results[17]);
    assert!(!results[18].is_empty(), "the view's columns");
    assert!(results[19][0][0].to_uppercase().contains("SELECT"), "{:?}", results[19]);
    assert!(results[20].is_empty(), "no triggers");
    server.stop().await;
}

/// Superset's own statements beyond SQLAlchemy's inspector (replayed as Superset 4 sends them):
/// the catalogs, SQL Lab's search path and preview, its cost estimate and its stop button.
#[tokio::test]
async fn superset_lists_catalogs_previews_and_stops() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let results = result_sets(client.simple_query(include_str!("replay/superset.sql")).await.unwrap());
    assert_eq!(results.len(), 13);
    assert!(results[6].contains(&vec!["zicht".to_string()]), "the catalogs: {:?}", results[6]);
    assert!(results[7].is_empty(), "no foreign tables");
    assert!(results[10].len() > 10, "the preview of drugs.hennep_risico: {} rows", results[10].len());
    assert!(results[12].is_empty(), "pid 0 is no backend: nothing to terminate");
    server.stop().await;
}

/// Metabase's sync (its catalog queries, replayed as Metabase sends them) finds the tables and views
/// with their descriptions, a table's fields with PostgreSQL's type names and comments, and no keys.
#[tokio::test]
async fn metabase_syncs_tables_and_fields_with_descriptions() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let results = result_sets(client.simple_query(include_str!("replay/metabase-sync.sql")).await.unwrap());
    assert_eq!(results.len(), 4);
    let persoon = results[0].iter().find(|row| row[..3] == ["basis", "persoon", "TABLE"]).expect("basis.persoon");
    assert!(persoon[3].starts_with("Persons registered in the BRP"), "{persoon:?}");
    assert!(results[0].iter().any(|row| row[0] == "drugs" && row[2] == "VIEW"), "{:?}", results[0]);
    let fields = &results[1];
    assert_eq!(fields[0][..5], ["persoon_id", "int8", "0", "basis", "persoon"], "{fields:?}");
    assert!(fields.iter().any(|row| row[0] == "inkomen" && row[1] == "float8"), "{fields:?}");
    assert!(fields.iter().all(|row| row[5] == "f" && row[6] != "NULL"), "no keys, every field described: {fields:?}");
    assert!(results[2].is_empty() && results[3].is_empty(), "no foreign keys or indexes");
    server.stop().await;
}

/// The first statement of a fresh server may read pg_class, which looks up every table
/// (pg_proc among them) while it holds datafusion-pg-catalog's oid lock: no lookup may wait on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_servers_first_catalog_query_answers() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let count = client.query_one("SELECT count(*) FROM pg_catalog.pg_class", &[]);
    let row = tokio::time::timeout(std::time::Duration::from_secs(60), count).await.expect("no deadlock").unwrap();
    assert!(row.get::<_, i64>(0) > 0);
    server.stop().await;
}

/// A parameter typed in Parse has that type where nothing else types it (psycopg's `SELECT %s`).
#[tokio::test]
async fn a_parameter_typed_in_parse_keeps_its_type() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let statement = client.prepare_typed("SELECT $1 AS i, $2 AS d", &[Type::INT8, Type::DATE]).await.unwrap();
    let types: Vec<Type> = statement.columns().iter().map(|column| column.type_().clone()).collect();
    assert_eq!(types, [Type::INT8, Type::DATE]);
    let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
    let row = client.query_one(&statement, &[&(1_i64 << 40), &date]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, chrono::NaiveDate>(1)), (1 << 40, date));
    server.stop().await;
}

/// The rows of each statement of a simple Query, as text (NULL as "NULL").
fn result_sets(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<Vec<String>>> {
    let mut results: Vec<Vec<Vec<String>>> = vec![Vec::new()];
    for message in &messages {
        match message {
            SimpleQueryMessage::Row(row) => {
                let values = (0..row.len()).map(|i| row.get(i).unwrap_or("NULL").to_string()).collect();
                results.last_mut().expect("a result").push(values);
            }
            SimpleQueryMessage::CommandComplete(_) => results.push(Vec::new()),
            _ => {}
        }
    }
    results.pop();
    results
}

/// A setting's value and source as `pg_settings` shows them.
async fn pg_setting(client: &Client, name: &str) -> (String, String) {
    let sql = "SELECT setting, source FROM pg_catalog.pg_settings WHERE name = $1";
    let row = client.query_one(sql, &[&name]).await.unwrap();
    (row.get(0), row.get(1))
}

async fn show_value(client: &Client, name: &str) -> String {
    let messages = client.simple_query(&format!("SHOW {name}")).await.unwrap();
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_report_their_status_and_aborted_ones_refuse_statements() {
    let server = TestServer::start(|_| {}).await;
    let mut client = server.connect().await.unwrap();
    let transaction = client.transaction().await.unwrap();
    assert!(transaction.query("SELECT * FROM no_such_table", &[]).await.is_err());
    let error = transaction.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&error), "25P02");
    transaction.rollback().await.unwrap();
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);

    // A cursor inside a transaction, fetched in pieces.
    let transaction = client.transaction().await.unwrap();
    transaction
        .batch_execute("DECLARE c CURSOR FOR SELECT gm_code FROM regio.gemeente ORDER BY gm_code")
        .await
        .unwrap();
    let first = transaction.simple_query("FETCH 2 FROM c").await.unwrap();
    // MOVE skips rows (its tag counts them); FROM may be left out, as in PostgreSQL.
    let moved = transaction.simple_query("MOVE FORWARD 3 c").await.unwrap();
    assert!(matches!(moved.as_slice(), [SimpleQueryMessage::CommandComplete(3)]), "{moved:?}");
    let second = transaction.simple_query("FETCH ALL FROM c").await.unwrap();
    let count = |m: &[SimpleQueryMessage]| m.iter().filter(|m| matches!(m, SimpleQueryMessage::Row(_))).count();
    assert_eq!((count(&first), count(&second)), (2, 337));
    transaction.commit().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_carry_their_sqlstate() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let cases = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT inkomen FROM basis.persoon", "42501"),
        ("SELECT persoon_id, count(*) FROM basis.persoon GROUP BY persoon_id", "42501"),
        ("CREATE TABLE t (a INT)", "42501"),
        ("COPY regio.gemeente TO '/tmp/zicht-leak.csv'", "42501"),
        ("SET server_version = '9.6'", "22023"),
        ("SHOW no_such_setting", "42704"),
        ("FETCH 1 FROM no_such_cursor", "34000"),
    ];
    for (sql, expected) in cases {
        let error = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), expected, "{sql}: {error}");
    }
    // The connection survives all of them.
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scram_accepts_the_password_and_refuses_others_alike() {
    let server = TestServer::start(with_user).await;
    let client = server.connect().await.unwrap();
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    let wrong = server.connect_as("analist", "raden").await.unwrap_err();
    assert_eq!(sqlstate(&wrong), "28P01");
    let unknown = server.connect_as("niemand", PASSWORD).await.unwrap_err();
    assert_eq!(sqlstate(&unknown), "28P01");
    // Same words for a wrong password and an unknown user, except the name.
    assert_eq!(wrong.to_string().replace("analist", "X"), unknown.to_string().replace("niemand", "X"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_required_refuses_plaintext() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let server = TestServer::start(|config| {
        with_user(config);
        config.tls = Some(TlsConfig {
            cert: fixtures.join("test-cert.pem"),
            key: fixtures.join("test-key.pem"),
            required: true,
        });
    })
    .await;
    let error = server.connect().await.unwrap_err();
    assert_eq!(sqlstate(&error), "28000");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_limit_get_53300() {
    let server = TestServer::start(|config| config.max_connections = 2).await;
    let first = server.connect().await.unwrap();
    let _second = server.connect().await.unwrap();
    let error = server.connect().await.unwrap_err();
    assert_eq!(sqlstate(&error), "53300");
    drop(first);
    // The slot comes back once the first connection is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match server.connect().await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline && sqlstate(&e) == "53300" => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_requests_and_timeouts_stop_running_queries() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let cancel = client.cancel_token();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel_query(NoTls).await.unwrap();
    });
    let error = client.simple_query(SLOW).await.unwrap_err();
    canceller.await.unwrap();
    assert_eq!(sqlstate(&error), "57014");
    assert!(started.elapsed() < Duration::from_secs(20), "cancel took {:?}", started.elapsed());

    client.batch_execute("SET statement_timeout = 300").await.unwrap();
    let started = Instant::now();
    let error = client.simple_query(SLOW).await.unwrap_err();
    assert_eq!(sqlstate(&error), "57014");
    assert!(error.as_db_error().unwrap().message().contains("timeout"));
    assert!(started.elapsed() < Duration::from_secs(20));
    // The connection is usable afterwards.
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_messages_close_only_their_connection() {
    let server = TestServer::start(|_| {}).await;
    let healthy = server.connect().await.unwrap();
    for garbage in
        [&b"\x00\x00\x00\x08\x04\xd2\x16\x2f garbage"[..], b"\xff\xff\xff\xff", b"\x00\x00\x00\x03", b"Q\x00\x00"]
    {
        let mut socket = tokio::net::TcpStream::connect(server.address).await.unwrap();
        let _ = socket.write_all(garbage).await;
        drop(socket);
    }
    // A startup message claiming a huge length, then silence.
    let mut socket = tokio::net::TcpStream::connect(server.address).await.unwrap();
    let _ = socket.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]).await;
    assert_eq!(healthy.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    assert!(server.connect().await.is_ok());
    drop(socket);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_past_the_memory_limit_gets_53200_and_the_server_lives() {
    let server = TestServer::start_with(|options| options.with_memory_limit(256 * 1024), |_| {}).await;
    let client = server.connect().await.unwrap();
    // Every household of the Netherlands at scale 0.01, tallied per buurt: megabytes of state.
    let sql = "SELECT bu_code, count(DISTINCT huishouden_id) FROM basis.persoon GROUP BY bu_code";
    let error = client.simple_query(sql).await.unwrap_err();
    assert_eq!(sqlstate(&error), "53200", "{error}");
    // The connection and the server go on.
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    let other = server.connect().await.unwrap();
    let rows = other.query("SELECT gm_code FROM regio.gemeente LIMIT 3", &[]).await.unwrap();
    assert_eq!(rows.len(), 3);
    server.stop().await;
}

/// With one admission slot, protected queries take turns, and a cursor read no further than its
/// first rows holds up no one (a query gives its slot back with its first rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_take_turns_and_an_open_cursor_holds_up_no_one() {
    let server = TestServer::start_with(|options| options.with_max_concurrent_queries(1), |_| {}).await;
    let reader = server.connect().await.unwrap();
    let per_buurt = "SELECT bu_code, count(*) AS personen FROM basis.persoon GROUP BY bu_code ORDER BY bu_code";
    reader.batch_execute(&format!("BEGIN; DECLARE c CURSOR FOR {per_buurt}")).await.unwrap();
    let first = reader.simple_query("FETCH 1 FROM c").await.unwrap();
    assert_eq!(first.iter().filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))).count(), 1);

    let other = server.connect().await.unwrap();
    let national = "SELECT count(*) AS personen FROM basis.persoon";
    let answered = tokio::time::timeout(Duration::from_secs(60), other.simple_query(national)).await;
    assert!(matches!(answered, Ok(Ok(_))), "held up by an open cursor: {answered:?}");
    // Many at once over one slot: each waits its turn and gets its answer.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(server.connect().await.unwrap());
    }
    let answers = futures::future::join_all(clients.iter().map(|c| c.simple_query(national))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    reader.batch_execute("CLOSE c; COMMIT").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_lets_a_running_query_finish() {
    let server = TestServer::start(|config| config.shutdown_grace = Duration::from_secs(20)).await;
    let client = server.connect().await.unwrap();
    let idle = server.connect().await.unwrap();
    let query = tokio::spawn(async move {
        client
            .query_one("SELECT count(*) FROM regio.buurt a, regio.gemeente b WHERE a.inwoners > b.inwoners", &[])
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop().await;
    let finished = query.await.unwrap();
    assert!(finished.is_ok(), "{finished:?}");
    // The idle connection was closed.
    assert!(idle.query_one("SELECT 1", &[]).await.is_err());
}

mod slt {
    use super::*;
    use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
    use tokio_postgres::types::Type;

    struct Wire {
        client: Client,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct WireError(String);

    #[async_trait::async_trait]
    impl AsyncDB for Wire {
        type Error = WireError;
        type ColumnType = DefaultColumnType;

        async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
            let error = |e: tokio_postgres::Error| {
                WireError(
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |db| format!("{} ({})", db.message(), db.code().code())),
                )
            };
            let statement = self.client.prepare(sql).await.map_err(error)?;
            if statement.columns().is_empty() {
                self.client.execute(&statement, &[]).await.map_err(error)?;
                return Ok(DBOutput::StatementComplete(0));
            }
            let rows = self.client.query(&statement, &[]).await.map_err(error)?;
            let types = statement.columns().iter().map(|c| column_type(c.type_())).collect();
            let rows = rows.iter().map(|row| (0..row.len()).map(|i| text(row, i)).collect()).collect();
            Ok(DBOutput::Rows { types, rows })
        }

        async fn shutdown(&mut self) {}

        fn engine_name(&self) -> &str {
            "zicht-wire"
        }
    }

    fn column_type(pg_type: &Type) -> DefaultColumnType {
        match *pg_type {
            Type::INT2 | Type::INT4 | Type::INT8 => DefaultColumnType::Integer,
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => DefaultColumnType::FloatingPoint,
            _ => DefaultColumnType::Text,
        }
    }

    /// Values as the in-process runner prints them (Arrow's display), so one expected output
    /// serves both.
    fn text(row: &tokio_postgres::Row, i: usize) -> String {
        let column = &row.columns()[i];
        let value = match *column.type_() {
            Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| v.to_string()),
            Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| v.to_string()),
            Type::INT8 => row.get::<_, Option<i64>>(i).map(|v| v.to_string()),
            Type::FLOAT4 => row.get::<_, Option<f32>>(i).map(|v| v.to_string()),
            Type::FLOAT8 => row.get::<_, Option<f64>>(i).map(|v| v.to_string()),
            Type::BOOL => row.get::<_, Option<bool>>(i).map(|v| v.to_string()),
            Type::DATE => row.get::<_, Option<chrono::NaiveDate>>(i).map(|v| v.to_string()),
            _ => row.get::<_, Option<String>>(i),
        };
        value.unwrap_or_else(|| "NULL".to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqllogictest_files_pass_over_the_wire() {
        let server = TestServer::start(|_| {}).await;
        let files = slt_files::slt_files();
        assert!(!files.is_empty());
        let port = server.address.port();
        let mut failures = Vec::new();
        for file in &files {
            let mut runner = Runner::new(move || async move {
                let config = format!("host=127.0.0.1 port={port} user=slt dbname=zicht");
                let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
                tokio::spawn(connection);
                Ok(Wire { client })
            });
            if let Err(e) = runner.run_file_async(file).await {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
        server.stop().await;
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}
