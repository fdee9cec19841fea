//! The attack suite: one test per way an analyst could try to learn about one unit, each asserting
//! the refusal (SQLSTATE 42501, naming the rule) or the protected answer. The fixture's secrets
//! are documented in fixture/mod.rs.

mod fixture;

use zicht_engine::datafusion::arrow::array::{Array, AsArray};
use zicht_engine::datafusion::arrow::compute::cast;
use zicht_engine::datafusion::arrow::datatypes::{DataType, Float64Type};
use zicht_engine::datafusion::common::{ParamValues, ScalarValue};
use zicht_engine::{Engine, EngineError};

struct World {
    protected: Engine,
    truth: Engine,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (protected, truth) = fixture::engines(dir.path()).await;
    World { protected, truth, _dir: dir }
}

async fn run(engine: &Engine, sql: &str) -> Result<Vec<Vec<Option<String>>>, EngineError> {
    let batches = engine.session("test").sql(sql).await?.collect().await?;
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .map(|c| {
                    let text = cast(c, &DataType::Utf8).unwrap();
                    let text = text.as_string::<i32>();
                    (!text.is_null(row)).then(|| text.value(row).to_string())
                })
                .collect();
            rows.push(cells);
        }
    }
    Ok(rows)
}

/// The single value of a one-row, one-column result.
async fn value(engine: &Engine, sql: &str) -> Option<f64> {
    let batches = engine.session("test").sql(sql).await.unwrap().collect().await.unwrap();
    let column = cast(batches[0].column(0), &DataType::Float64).unwrap();
    let column = column.as_primitive::<Float64Type>();
    assert_eq!(column.len(), 1, "{sql}");
    (!column.is_null(0)).then(|| column.value(0))
}

async fn refused(engine: &Engine, sql: &str, rule: &str) {
    match run(engine, sql).await {
        Err(EngineError::Suppression(e)) => assert_eq!(e.rule, rule, "{sql}: {e}"),
        Err(other) => panic!("{sql}: expected rule {rule}, got {other} ({})", other.sqlstate()),
        Ok(rows) => panic!("{sql}: expected rule {rule}, got {rows:?}"),
    }
}

#[tokio::test]
async fn row_level_selects_are_refused() {
    let w = world().await;
    refused(&w.protected, "SELECT * FROM basis.persoon", "row-level").await;
    refused(&w.protected, "SELECT inkomen FROM basis.persoon WHERE bu_code = 'BU2'", "row-level").await;
    refused(
        &w.protected,
        "SELECT p.inkomen, b.gm_code FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code",
        "row-level",
    )
    .await;
    let error = run(&w.protected, "SELECT * FROM basis.persoon").await.unwrap_err();
    assert_eq!(error.sqlstate(), "42501");
}

#[tokio::test]
async fn public_tables_are_served_as_is() {
    let w = world().await;
    assert_eq!(value(&w.protected, "SELECT count(*) FROM regio.buurt").await, Some(3.0));
    let rows = run(&w.protected, "SELECT bu_code FROM regio.buurt ORDER BY bu_code").await.unwrap();
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn small_groups_are_suppressed_and_dropped() {
    let w = world().await;
    // BU2 has five persons: a global count over it is NULL, and the group disappears from a GROUP BY.
    assert_eq!(value(&w.protected, "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU2'").await, None);
    let rows = run(&w.protected, "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code ORDER BY bu_code")
        .await
        .unwrap();
    let buurten: Vec<_> = rows.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(buurten, vec!["BU1", "BU3"]);
}

#[tokio::test]
async fn released_counts_are_noisy_multiples_of_five_near_the_truth() {
    let w = world().await;
    for bu in ["BU1", "BU3"] {
        let sql = format!("SELECT count(*) FROM basis.persoon WHERE bu_code = '{bu}'");
        let released = value(&w.protected, &sql).await.unwrap();
        let truth = value(&w.truth, &sql).await.unwrap();
        assert_eq!(released % 5.0, 0.0);
        assert!((released - truth).abs() <= 5.0, "{released} vs {truth}");
    }
}

#[tokio::test]
async fn grouping_by_unit_ids_is_refused() {
    let w = world().await;
    refused(&w.protected, "SELECT persoon_id, count(*) FROM basis.persoon GROUP BY persoon_id", "group-by-unit").await;
    refused(
        &w.protected,
        "SELECT persoon_id % 10, count(*) FROM basis.persoon GROUP BY persoon_id % 10",
        "group-by-unit",
    )
    .await;
    refused(&w.protected, "SELECT count(*) FROM basis.persoon GROUP BY huishouden_id", "group-by-unit").await;
}

#[tokio::test]
async fn isolating_one_person_with_where_fails() {
    let w = world().await;
    refused(&w.protected, "SELECT count(*) FROM basis.persoon WHERE persoon_id = 7", "filter-unit").await;
    refused(&w.protected, "SELECT avg(inkomen) FROM basis.persoon WHERE persoon_id <> 7", "filter-unit").await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon WHERE inkomen = 34000 OR geboortejaar = 1921",
        "filter-or",
    )
    .await;
    for filter in [
        "inkomen = 34000",
        "inkomen IN (34000)",
        "inkomen BETWEEN 34000 AND 34000",
        "geboortejaar = 1921",
        "geboortejaar < 1930",
    ] {
        let sql = format!("SELECT count(*), sum(inkomen), avg(inkomen) FROM basis.persoon WHERE {filter}");
        let rows = run(&w.protected, &sql).await.unwrap();
        assert_eq!(rows, vec![vec![None, None, None]], "{sql}");
    }
}

#[tokio::test]
async fn conditional_aggregates_cannot_isolate_one_person() {
    let w = world().await;
    let by_buurt = |expr: &str| format!("SELECT bu_code, {expr} FROM basis.persoon GROUP BY bu_code ORDER BY bu_code");
    for expr in [
        "sum(CASE WHEN inkomen = 34000 THEN 1 ELSE 0 END)",
        "count(CASE WHEN inkomen = 34000 THEN 1 END)",
        "count(*) FILTER (WHERE geboortejaar = 1921)",
        "sum(inkomen) FILTER (WHERE geboortejaar = 1921)",
        "avg(CASE WHEN geboortejaar = 1921 THEN inkomen END)",
    ] {
        let rows = run(&w.protected, &by_buurt(expr)).await.unwrap();
        let bu1 = rows.iter().find(|r| r[0].as_deref() == Some("BU1")).unwrap();
        assert_eq!(bu1[1], None, "{expr}: {rows:?}");
    }
    refused(&w.protected, &by_buurt("sum(CASE WHEN persoon_id = 7 THEN inkomen END)"), "unit-expression").await;
}

#[tokio::test]
async fn differencing_gains_less_than_the_rounding_base() {
    let w = world().await;
    let all = value(&w.protected, "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU1'").await.unwrap();
    let without = value(&w.protected, "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU1' AND inkomen <> 34000")
        .await
        .unwrap();
    // The true difference is one person; released counts differ by a multiple of five (or not at all).
    assert_eq!((all - without).abs() % 5.0, 0.0, "{all} vs {without}");
    // Total minus released parts: parts that would reveal a small group are suppressed.
    let parts = run(&w.protected, "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code").await.unwrap();
    assert!(parts.iter().all(|r| r[0].as_deref() != Some("BU2")));
}

#[tokio::test]
async fn repeating_and_respelling_a_query_gives_the_same_answer() {
    let w = world().await;
    let first = value(&w.protected, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1960").await;
    for _ in 0..100 {
        assert_eq!(value(&w.protected, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1960").await, first);
    }
    for variant in [
        "SELECT count(*) FROM basis.persoon WHERE geboortejaar + 0 = 1960",
        "SELECT count(*) FROM basis.persoon WHERE geboortejaar BETWEEN 1960 AND 1960",
        "SELECT count(*) FROM basis.persoon WHERE geboortejaar IN (1960)",
        "SELECT count(*) FROM basis.persoon WHERE 1960 = geboortejaar AND inkomen > 0",
        "SELECT count(persoon_id) FROM basis.persoon WHERE geboortejaar = 1960",
        "SELECT count(DISTINCT persoon_id) FROM basis.persoon WHERE geboortejaar = 1960",
        "SELECT c FROM (SELECT count(*) AS c FROM basis.persoon p WHERE p.geboortejaar = 1960) t",
    ] {
        assert_eq!(value(&w.protected, variant).await, first, "{variant}");
    }
}

#[tokio::test]
async fn extremes_and_row_values_are_never_released() {
    let w = world().await;
    for agg in ["min(inkomen)", "max(inkomen)", "max(geboortejaar)"] {
        refused(&w.protected, &format!("SELECT {agg} FROM basis.persoon"), "min-max").await;
    }
    for agg in [
        "string_agg(bu_code, ',')",
        "array_agg(inkomen)",
        "first_value(inkomen)",
        "last_value(inkomen)",
        "stddev(inkomen)",
    ] {
        refused(&w.protected, &format!("SELECT {agg} FROM basis.persoon"), "aggregate-function").await;
    }
    let richest = value(&w.truth, "SELECT max(inkomen) FROM basis.persoon").await.unwrap();
    for fraction in ["1.0", "0.999", "0.0"] {
        let sql = format!("SELECT percentile_cont({fraction}) WITHIN GROUP (ORDER BY inkomen) FROM basis.persoon");
        let released = value(&w.protected, &sql).await.unwrap();
        let exists =
            value(&w.truth, &format!("SELECT count(*) FROM basis.persoon WHERE inkomen = {released}")).await.unwrap();
        assert_eq!(exists, 0.0, "{sql} released an actual income {released}");
        assert_ne!(released, richest);
    }
}

#[tokio::test]
async fn operations_below_the_aggregate_are_refused() {
    let w = world().await;
    refused(&w.protected, "SELECT count(*) FROM (SELECT inkomen, row_number() OVER (ORDER BY inkomen) AS r FROM basis.persoon) t WHERE r = 1", "window-below").await;
    refused(
        &w.protected,
        "SELECT sum(inkomen) FROM (SELECT inkomen FROM basis.persoon ORDER BY inkomen DESC LIMIT 1) t",
        "order-limit-below",
    )
    .await;
    refused(&w.protected, "SELECT count(*) FROM (SELECT DISTINCT inkomen FROM basis.persoon) t", "distinct-below")
        .await;
    refused(&w.protected, "SELECT count(*) FROM (SELECT persoon_id FROM basis.persoon UNION ALL SELECT persoon_id FROM drugs.verdachte) t", "set-operation").await;
}

#[tokio::test]
async fn joins_are_limited_to_public_tables_and_unit_ids() {
    let w = world().await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.bu_code = b.bu_code",
        "join-protected",
    )
    .await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon a JOIN basis.woning b ON a.persoon_id = b.woning_id",
        "join-unit-mismatch",
    )
    .await;
    // A self-join on the unit id is allowed and still counts distinct units.
    assert_eq!(
        value(&w.protected, "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.persoon_id = b.persoon_id WHERE a.bu_code = 'BU2'").await,
        None
    );
    let joined = value(
        &w.protected,
        "SELECT count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE b.gm_code = 'GM2'",
    )
    .await;
    assert!(joined.is_some());
    refused(
        &w.protected,
        "SELECT x.inkomen, y.c FROM (SELECT inkomen FROM basis.persoon WHERE geboortejaar = 1921) x CROSS JOIN (SELECT count(*) AS c FROM basis.persoon) y",
        "join-released",
    )
    .await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon p JOIN (SELECT bu_code, count(*) AS n FROM basis.persoon GROUP BY bu_code) c ON p.bu_code = c.bu_code",
        "join-released",
    )
    .await;
}

#[tokio::test]
async fn subqueries_on_unit_ids_are_refused() {
    let w = world().await;
    refused(&w.protected, "SELECT count(*) FROM regio.buurt b WHERE EXISTS (SELECT 1 FROM basis.persoon p WHERE p.bu_code = b.bu_code AND p.inkomen = 34000)", "subquery-rows").await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon WHERE persoon_id IN (SELECT persoon_id FROM drugs.verdachte)",
        "subquery-rows",
    )
    .await;
    refused(
        &w.protected,
        "SELECT count(*) FROM basis.persoon WHERE inkomen > (SELECT avg(inkomen) FROM basis.persoon)",
        "subquery-below",
    )
    .await;
}

#[tokio::test]
async fn errors_are_not_a_side_channel() {
    let w = world().await;
    // Division by zero happens only for person 7, a failed cast only for some rows: neither errors.
    run(&w.protected, "SELECT sum(1 / (inkomen - 34000)) FROM basis.persoon").await.unwrap();
    run(&w.protected, "SELECT count(*) FROM basis.persoon WHERE 1 / (geboortejaar - 1921) > 0").await.unwrap();
    run(&w.protected, "SELECT count(CAST(CAST(inkomen AS VARCHAR) AS INT)) FROM basis.persoon").await.unwrap();
    refused(&w.protected, "SELECT count(*) FROM basis.persoon WHERE to_timestamp(bu_code) IS NULL", "function").await;
}

#[tokio::test]
async fn a_dominant_owner_suppresses_the_sum() {
    let w = world().await;
    // One owner holds 6,000,000 of 10,780,000 WOZ value in BU1.
    assert_eq!(value(&w.protected, "SELECT sum(woz_waarde) FROM basis.woning WHERE bu_code = 'BU1'").await, None);
    assert_eq!(value(&w.protected, "SELECT avg(woz_waarde) FROM basis.woning WHERE bu_code = 'BU1'").await, None);
    let spread =
        value(&w.protected, "SELECT sum(woz_waarde) FROM basis.woning WHERE woz_waarde < 1000000").await.unwrap();
    assert!((spread - 4_780_000.0).abs() < 0.1 * 4_780_000.0, "{spread}");
}

#[tokio::test]
async fn a_unit_with_most_rows_dominates_a_count() {
    let w = world().await;
    // Person 7 holds 50 of 70 registrations.
    assert_eq!(value(&w.protected, "SELECT count(*) FROM drugs.verdachte").await, None);
    let persons = value(&w.protected, "SELECT count(DISTINCT persoon_id) FROM drugs.verdachte").await.unwrap();
    assert_eq!(persons % 5.0, 0.0);
}

#[tokio::test]
async fn shares_of_zero_or_all_are_group_disclosure() {
    let w = world().await;
    let share = |cond: &str| {
        format!("SELECT avg(CASE WHEN {cond} THEN 1.0 ELSE 0.0 END) FROM basis.persoon WHERE bu_code = 'BU1'")
    };
    assert_eq!(value(&w.protected, &share("inkomen > 0")).await, None, "100%");
    assert_eq!(value(&w.protected, &share("inkomen < 0")).await, None, "0%");
    assert_eq!(value(&w.protected, &share("geboortejaar = 1921")).await, None, "one person");
    assert!(value(&w.protected, &share("geboortejaar < 1970")).await.is_some());
    assert_eq!(
        value(&w.protected, "SELECT avg(geboortejaar) FROM basis.persoon WHERE geboortejaar = 1960").await,
        None
    );
}

#[tokio::test]
async fn prepared_statements_with_parameters_are_protected() {
    let w = world().await;
    let session = w.protected.session("test");
    let plan = session.plan("SELECT count(*) FROM basis.persoon WHERE inkomen = $1").await.unwrap();
    let params = ParamValues::List(vec![ScalarValue::Float64(Some(34_000.0)).into()]);
    let batches = session.execute_with_params(plan, params).await.unwrap().collect().await.unwrap();
    assert!(batches[0].column(0).is_null(0));
    let plan = session.plan("SELECT * FROM basis.persoon WHERE persoon_id = $1").await.unwrap();
    let params = ParamValues::List(vec![ScalarValue::Int64(Some(7)).into()]);
    assert!(matches!(session.execute_with_params(plan, params).await, Err(EngineError::Suppression(_))));
}

#[tokio::test]
async fn explain_shows_protection_and_explain_analyze_is_refused() {
    let w = world().await;
    refused(&w.protected, "EXPLAIN ANALYZE SELECT count(*) FROM basis.persoon", "explain-analyze").await;
    let plan = run(&w.protected, "EXPLAIN SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code").await.unwrap();
    let text = format!("{plan:?}");
    assert!(text.contains("zicht_protect_count"), "{text}");
    assert!(text.contains("ProtectedScanExec"), "{text}");
    run(&w.protected, "EXPLAIN ANALYZE SELECT count(*) FROM regio.buurt").await.unwrap();
}

#[tokio::test]
async fn changes_to_the_warehouse_are_refused() {
    let w = world().await;
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO regio.buurt VALUES ('BU9', 'GM9')",
        "COPY (SELECT count(*) FROM basis.persoon) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x.parquet'",
        "DROP TABLE regio.buurt",
    ] {
        let error = run(&w.protected, sql).await.unwrap_err();
        assert_eq!(error.sqlstate(), "42501", "{sql}: {error}");
    }
}

/// Property: over many allowed queries, a released cell always has at least k distinct units.
#[tokio::test]
async fn no_released_cell_has_fewer_than_k_units() {
    let w = world().await;
    let mut released = 0;
    for low in (1920..1990).step_by(3) {
        for width in [1, 2, 5, 12, 40] {
            let filter = format!("geboortejaar BETWEEN {low} AND {}", low + width);
            for measure in
                ["count(*)", "sum(inkomen)", "avg(inkomen)", "median(inkomen)", "count(DISTINCT huishouden_id)"]
            {
                let sql = format!("SELECT bu_code, {measure} FROM basis.persoon WHERE {filter} GROUP BY bu_code");
                let truth_sql = format!(
                    "SELECT bu_code, count(DISTINCT persoon_id), count(DISTINCT huishouden_id) FROM basis.persoon WHERE {filter} GROUP BY bu_code"
                );
                let truth = run(&w.truth, &truth_sql).await.unwrap();
                for row in run(&w.protected, &sql).await.unwrap() {
                    if row[1].is_none() {
                        continue;
                    }
                    released += 1;
                    let units = truth.iter().find(|t| t[0] == row[0]).unwrap();
                    let persons: u32 = units[1].as_ref().unwrap().parse().unwrap();
                    let households: u32 = units[2].as_ref().unwrap().parse().unwrap();
                    assert!(persons >= 10 && households >= 10, "{sql}: {row:?} from {persons}/{households} units");
                }
            }
        }
    }
    assert!(released > 100, "the property was tested on {released} released cells only");
}

#[tokio::test]
async fn the_audit_log_records_releases_suppressions_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let catalog_dir = fixture::build(dir.path());
    let catalog = zicht_catalog::Catalog::load_dir(&catalog_dir).unwrap();
    let log = dir.path().join("audit.jsonl");
    let sink = std::sync::Arc::new(zicht_engine::JsonLinesAudit::open(&log).unwrap());
    let options = zicht_engine::EngineOptions::new(catalog, dir.path().join("data")).with_audit(sink);
    let engine = Engine::open(options).await.unwrap();
    run(&engine, "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code").await.unwrap();
    run(&engine, "SELECT * FROM basis.persoon").await.unwrap_err();
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["outcome"], "completed");
    assert_eq!(events[0]["user"], "test");
    // Three buurten: BU1 and BU3 released, BU2 suppressed (counted by the hidden cell column too).
    assert!(events[0]["cells_released"].as_u64().unwrap() >= 2, "{}", events[0]);
    assert!(events[0]["cells_suppressed"].as_u64().unwrap() >= 1, "{}", events[0]);
    assert_eq!(events[1]["outcome"], "rejected");
    assert_eq!(events[1]["rule"], "row-level");
    assert_eq!(events[1]["sqlstate"], "42501");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("persoon"), "the log must not hold query text");
}
