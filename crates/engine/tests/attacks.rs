//! The attack suite: one test per way an analyst could try to learn about one unit, each asserting
//! the refusal (SQLSTATE 42501, naming the rule) or the protected answer, at the access level(s)
//! where the query can be written. The fixture's secrets are documented in fixture/mod.rs; the red
//! team suite (redteam.rs) measures attacks by family against generated data.

mod fixture;
#[path = "common/rows.rs"]
mod rows;

use zicht_engine::datafusion::arrow::array::{Array, AsArray};
use zicht_engine::datafusion::arrow::compute::cast;
use zicht_engine::datafusion::arrow::datatypes::{DataType, Float64Type};
use zicht_engine::datafusion::common::{ParamValues, ScalarValue};
use zicht_engine::{AccessLevel, Engine, EngineError};

use AccessLevel::{Trusted, Untrusted};

const BOTH: [AccessLevel; 2] = [Untrusted, Trusted];

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

use rows::{Rows, text_rows};

async fn run(engine: &Engine, level: AccessLevel, sql: &str) -> Result<Rows, EngineError> {
    let batches = engine.session_at("test", level).sql(sql).await?.collect().await?;
    Ok(text_rows(&batches))
}

/// The single value of a one-row, one-column result.
async fn value(engine: &Engine, level: AccessLevel, sql: &str) -> Option<f64> {
    let batches = engine.session_at("test", level).sql(sql).await.unwrap().collect().await.unwrap();
    let column = cast(batches[0].column(0), &DataType::Float64).unwrap();
    let column = column.as_primitive::<Float64Type>();
    assert_eq!(column.len(), 1, "{sql}");
    (!column.is_null(0)).then(|| column.value(0))
}

async fn truth(w: &World, sql: &str) -> Option<f64> {
    value(&w.truth, Trusted, sql).await
}

async fn refused(engine: &Engine, level: AccessLevel, sql: &str, rule: &str) {
    match run(engine, level, sql).await {
        Err(EngineError::Suppression(e)) => assert_eq!(e.rule, rule, "{level}: {sql}: {e}"),
        Err(other) => panic!("{level}: {sql}: expected rule {rule}, got {other} ({})", other.sqlstate()),
        Ok(rows) => panic!("{level}: {sql}: expected rule {rule}, got {rows:?}"),
    }
}

/// Refused at the untrusted level because it is not in the canonical subset (any such rule).
async fn outside_the_subset(engine: &Engine, sql: &str) {
    match run(engine, Untrusted, sql).await {
        Err(EngineError::Suppression(e)) if e.rule.starts_with("untrusted-") || e.rule == "filter-or" => {}
        other => panic!("untrusted: {sql}: expected a refusal by an untrusted-level rule, got {other:?}"),
    }
}

#[tokio::test]
async fn row_level_selects_are_refused() {
    let w = world().await;
    for level in BOTH {
        for sql in [
            "SELECT * FROM basis.persoon",
            "SELECT * FROM basis.persoon LIMIT 3",
            "SELECT inkomen FROM basis.persoon WHERE bu_code = 'BU2' ORDER BY inkomen",
            "SELECT DISTINCT inkomen FROM basis.persoon",
            "SELECT p.inkomen, b.gm_code FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code",
        ] {
            refused(&w.protected, level, sql, "row-level").await;
        }
        let error = run(&w.protected, level, "SELECT * FROM basis.persoon LIMIT 3").await.unwrap_err();
        assert_eq!(error.sqlstate(), "42501");
        assert!(error.to_string().contains("aggregate them"), "{error}");
    }
}

/// BI tools learn a table's columns with a query that cannot return a row: it is answered from
/// the schema alone. Anything that could return a row is refused as before.
#[tokio::test]
async fn schema_only_probes_answer_columns_and_no_rows() {
    let w = world().await;
    let insider = w.truth.session_at("test", Trusted).sql("SELECT * FROM basis.persoon").await.unwrap();
    let columns: Vec<String> = insider.schema().fields().iter().map(|f| f.name().clone()).collect();
    for level in BOTH {
        for sql in [
            "SELECT * FROM basis.persoon LIMIT 0",
            "SELECT * FROM basis.persoon WHERE 1 <> 1",
            "SELECT * FROM basis.persoon WHERE 1 = 0 AND inkomen = 34000 ORDER BY inkomen LIMIT 0",
            "SELECT * FROM (SELECT * FROM basis.persoon WHERE persoon_id = 7) t WHERE false",
        ] {
            let frame =
                w.protected.session_at("test", level).sql(sql).await.unwrap_or_else(|e| panic!("{level}: {sql}: {e}"));
            let names: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
            assert_eq!(names, columns, "{level}: {sql}");
            assert_eq!(run(&w.protected, level, sql).await.unwrap(), Rows::new(), "{level}: {sql}");
        }
        let joined =
            "SELECT p.inkomen, b.gm_code FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE NULL";
        assert!(run(&w.protected, level, joined).await.unwrap().is_empty(), "{level}");
        for sql in [
            "SELECT * FROM basis.persoon LIMIT 1",
            "SELECT * FROM basis.persoon WHERE persoon_id <> persoon_id",
            "SELECT * FROM basis.persoon WHERE 1 <> 1 UNION ALL SELECT * FROM basis.persoon WHERE persoon_id = 7",
            "SELECT * FROM basis.persoon WHERE persoon_id = 7 OR 1 <> 1",
        ] {
            let answer = run(&w.protected, level, sql).await;
            assert!(matches!(answer, Err(EngineError::Suppression(_))), "{level}: {sql}: {answer:?}");
        }
    }
}

#[tokio::test]
async fn public_tables_are_served_as_is() {
    let w = world().await;
    for level in BOTH {
        assert_eq!(value(&w.protected, level, "SELECT count(*) FROM regio.buurt").await, Some(3.0));
        let rows = run(&w.protected, level, "SELECT bu_code FROM regio.buurt ORDER BY bu_code").await.unwrap();
        assert_eq!(rows.len(), 3);
    }
}

#[tokio::test]
async fn small_groups_are_suppressed_and_dropped() {
    let w = world().await;
    for level in BOTH {
        // BU2 has five persons: a global count over it is NULL, and the group disappears from a GROUP BY.
        let count = value(&w.protected, level, "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU2'").await;
        assert_eq!(count, None);
        let sql = "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code ORDER BY bu_code";
        let rows = run(&w.protected, level, sql).await.unwrap();
        let buurten: Vec<_> = rows.iter().map(|r| r[0].clone().unwrap()).collect();
        assert_eq!(buurten, vec!["BU1", "BU3"]);
    }
}

#[tokio::test]
async fn released_counts_are_noisy_multiples_of_five_near_the_truth() {
    let w = world().await;
    for level in BOTH {
        for bu in ["BU1", "BU3"] {
            let sql = format!("SELECT count(*) FROM basis.persoon WHERE bu_code = '{bu}'");
            let released = value(&w.protected, level, &sql).await.unwrap();
            let truth = truth(&w, &sql).await.unwrap();
            assert_eq!(released % 5.0, 0.0);
            // Three noise layers of at most ±2 each (base, and the filter's static and dynamic
            // layers), then rounding to five.
            assert!((released - truth).abs() <= 10.0, "{released} vs {truth}");
        }
    }
}

#[tokio::test]
async fn grouping_by_unit_ids_is_refused() {
    let w = world().await;
    for level in BOTH {
        refused(
            &w.protected,
            level,
            "SELECT persoon_id, count(*) FROM basis.persoon GROUP BY persoon_id",
            "group-by-unit",
        )
        .await;
        let modulo = "SELECT persoon_id % 10, count(*) FROM basis.persoon GROUP BY persoon_id % 10";
        refused(&w.protected, level, modulo, "group-by-unit").await;
        refused(&w.protected, level, "SELECT count(*) FROM basis.persoon GROUP BY huishouden_id", "group-by-unit")
            .await;
        // A row id identifies a registration: no grouping on it either.
        refused(&w.protected, level, "SELECT count(*) FROM drugs.verdachte GROUP BY registratie_id", "group-by-unit")
            .await;
    }
}

#[tokio::test]
async fn renamed_unit_ids_are_still_unit_ids() {
    let w = world().await;
    for level in BOTH {
        let renamed = "SELECT count(*) FROM (SELECT persoon_id AS x, inkomen FROM basis.persoon) t WHERE x IN (7, 8)";
        refused(&w.protected, level, renamed, "filter-unit").await;
        let nested = "SELECT count(*) FROM (SELECT y FROM (SELECT persoon_id AS y FROM basis.persoon) a) b GROUP BY y";
        refused(&w.protected, level, nested, "group-by-unit").await;
    }
}

#[tokio::test]
async fn isolating_one_person_with_where_fails() {
    let w = world().await;
    for level in BOTH {
        refused(&w.protected, level, "SELECT count(*) FROM basis.persoon WHERE persoon_id = 7", "filter-unit").await;
        refused(&w.protected, level, "SELECT avg(inkomen) FROM basis.persoon WHERE persoon_id <> 7", "filter-unit")
            .await;
    }
    let or = "SELECT count(*) FROM basis.persoon WHERE inkomen = 34000 OR geboortejaar = 1921";
    refused(&w.protected, Untrusted, or, "filter-or").await;
    assert_eq!(value(&w.protected, Trusted, or).await, None, "one person");
    for filter in ["inkomen = 34000", "inkomen IN (34000)", "geboortejaar = 1921", "geboortejaar BETWEEN 1921 AND 1921"]
    {
        let sql = format!("SELECT count(*), sum(inkomen), avg(inkomen) FROM basis.persoon WHERE {filter}");
        for level in BOTH {
            assert_eq!(run(&w.protected, level, &sql).await.unwrap(), vec![vec![None, None, None]], "{level}: {sql}");
        }
    }
    for filter in ["inkomen BETWEEN 34000 AND 34000", "geboortejaar < 1930"] {
        let sql = format!("SELECT count(*), sum(inkomen), avg(inkomen) FROM basis.persoon WHERE {filter}");
        outside_the_subset(&w.protected, &sql).await;
        assert_eq!(run(&w.protected, Trusted, &sql).await.unwrap(), vec![vec![None, None, None]], "{sql}");
    }
}

#[tokio::test]
async fn conditional_aggregates_cannot_isolate_one_person() {
    let w = world().await;
    let by_buurt = |expr: &str| format!("SELECT bu_code, {expr} FROM basis.persoon GROUP BY bu_code ORDER BY bu_code");
    let bu1 = |rows: &Rows| rows.iter().find(|r| r[0].as_deref() == Some("BU1")).unwrap()[1].clone();
    for expr in ["count(*) FILTER (WHERE geboortejaar = 1921)", "sum(inkomen) FILTER (WHERE geboortejaar = 1921)"] {
        for level in BOTH {
            assert_eq!(bu1(&run(&w.protected, level, &by_buurt(expr)).await.unwrap()), None, "{level}: {expr}");
        }
    }
    for expr in [
        "sum(CASE WHEN inkomen = 34000 THEN 1 ELSE 0 END)",
        "count(CASE WHEN inkomen = 34000 THEN 1 END)",
        "avg(CASE WHEN geboortejaar = 1921 THEN inkomen END)",
    ] {
        outside_the_subset(&w.protected, &by_buurt(expr)).await;
        assert_eq!(bu1(&run(&w.protected, Trusted, &by_buurt(expr)).await.unwrap()), None, "{expr}");
    }
    for level in BOTH {
        let sql = by_buurt("sum(CASE WHEN persoon_id = 7 THEN inkomen END)");
        refused(&w.protected, level, &sql, "unit-expression").await;
    }
}

#[tokio::test]
async fn differencing_gains_less_than_the_rounding_base() {
    let w = world().await;
    let all = value(&w.protected, Trusted, "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU1'").await.unwrap();
    let without = "SELECT count(*) FROM basis.persoon WHERE bu_code = 'BU1' AND inkomen <> 34000";
    outside_the_subset(&w.protected, without).await;
    let without = value(&w.protected, Trusted, without).await.unwrap();
    // The true difference is one person; released counts differ by a multiple of five (or not at all).
    assert_eq!((all - without).abs() % 5.0, 0.0, "{all} vs {without}");
    // Total minus released parts: parts that would reveal a small group are suppressed.
    for level in BOTH {
        let parts =
            run(&w.protected, level, "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code").await.unwrap();
        assert!(parts.iter().all(|r| r[0].as_deref() != Some("BU2")));
    }
}

#[tokio::test]
async fn repeating_and_respelling_a_query_gives_the_same_answer() {
    let w = world().await;
    for level in BOTH {
        let first = value(&w.protected, level, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1960").await;
        for _ in 0..20 {
            let again =
                value(&w.protected, level, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1960").await;
            assert_eq!(again, first);
        }
        for variant in [
            "SELECT count(*) FROM basis.persoon WHERE geboortejaar BETWEEN 1960 AND 1960",
            "SELECT count(*) FROM basis.persoon WHERE geboortejaar IN (1960)",
            "SELECT count(*) FROM basis.persoon WHERE 1960 = geboortejaar",
            "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1960 AND geboortejaar = 1960",
            "SELECT count(persoon_id) FROM basis.persoon WHERE geboortejaar = 1960",
            "SELECT count(bu_code) FROM basis.persoon WHERE geboortejaar = 1960",
            "SELECT count(DISTINCT persoon_id) FROM basis.persoon WHERE geboortejaar = 1960",
            "SELECT c FROM (SELECT count(*) AS c FROM basis.persoon p WHERE p.geboortejaar = 1960) t",
            "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.persoon_id = b.persoon_id WHERE a.geboortejaar = 1960",
        ] {
            if level == Trusted || !variant.contains("BETWEEN 1960 AND 1960") {
                assert_eq!(value(&w.protected, level, variant).await, first, "{level}: {variant}");
            }
        }
    }
}

#[tokio::test]
async fn extremes_and_row_values_are_never_released() {
    let w = world().await;
    for level in BOTH {
        for agg in ["min(inkomen)", "max(inkomen)", "max(geboortejaar)"] {
            refused(&w.protected, level, &format!("SELECT {agg} FROM basis.persoon"), "min-max").await;
        }
        for agg in [
            "string_agg(bu_code, ',')",
            "array_agg(inkomen)",
            "first_value(inkomen)",
            "last_value(inkomen)",
            "stddev(inkomen)",
        ] {
            refused(&w.protected, level, &format!("SELECT {agg} FROM basis.persoon"), "aggregate-function").await;
        }
    }
    let richest = truth(&w, "SELECT max(inkomen) FROM basis.persoon").await.unwrap();
    for fraction in ["1.0", "0.999", "0.0"] {
        let sql = format!("SELECT percentile_cont({fraction}) WITHIN GROUP (ORDER BY inkomen) FROM basis.persoon");
        refused(&w.protected, Untrusted, &sql, "untrusted-percentile").await;
        let Some(released) = value(&w.protected, Trusted, &sql).await else { continue };
        let exists =
            truth(&w, &format!("SELECT count(*) FROM basis.persoon WHERE inkomen = {released}")).await.unwrap();
        assert_eq!(exists, 0.0, "{sql} released an actual income {released}");
        assert!((released - richest).abs() > 1.0);
    }
}

#[tokio::test]
async fn operations_below_the_aggregate_are_refused() {
    let w = world().await;
    for level in BOTH {
        let window = "SELECT count(*) FROM (SELECT inkomen, row_number() OVER (ORDER BY inkomen) AS r FROM basis.persoon) t WHERE r = 1";
        refused(&w.protected, level, window, "window-below").await;
        let top = "SELECT sum(inkomen) FROM (SELECT inkomen FROM basis.persoon ORDER BY inkomen DESC LIMIT 1) t";
        refused(&w.protected, level, top, "order-limit-below").await;
        let distinct = "SELECT count(*) FROM (SELECT DISTINCT inkomen FROM basis.persoon) t";
        refused(&w.protected, level, distinct, "distinct-below").await;
        let union = "SELECT count(*) FROM (SELECT persoon_id FROM basis.persoon UNION ALL SELECT persoon_id FROM drugs.verdachte) t";
        refused(&w.protected, level, union, "set-operation").await;
    }
}

#[tokio::test]
async fn joins_are_limited_to_public_tables_and_unit_ids() {
    let w = world().await;
    for level in BOTH {
        let on_values = "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.bu_code = b.bu_code";
        refused(&w.protected, level, on_values, "join-protected").await;
        let mismatch = "SELECT count(*) FROM basis.persoon a JOIN basis.woning b ON a.persoon_id = b.woning_id";
        refused(&w.protected, level, mismatch, "join-unit-mismatch").await;
        // A self-join on the unit id is allowed and still counts distinct units.
        let self_join = "SELECT count(*) FROM basis.persoon a JOIN basis.persoon b ON a.persoon_id = b.persoon_id WHERE a.bu_code = 'BU2'";
        assert_eq!(value(&w.protected, level, self_join).await, None);
        let joined =
            "SELECT count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE b.gm_code = 'GM2'";
        assert!(value(&w.protected, level, joined).await.is_some());
        let released_rows = "SELECT x.inkomen, y.c FROM (SELECT inkomen FROM basis.persoon WHERE geboortejaar = 1921) x CROSS JOIN (SELECT count(*) AS c FROM basis.persoon) y";
        refused(&w.protected, level, released_rows, "join-released").await;
        let to_cells = "SELECT count(*) FROM basis.persoon p JOIN (SELECT bu_code, count(*) AS n FROM basis.persoon GROUP BY bu_code) c ON p.bu_code = c.bu_code";
        refused(&w.protected, level, to_cells, "join-released").await;
    }
    // Joins that repeat rows weight units: only key joins at the untrusted level.
    let repeating = "SELECT count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code <> b.bu_code";
    refused(&w.protected, Untrusted, repeating, "untrusted-join").await;
    let not_on_key = "SELECT count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.gm_code";
    refused(&w.protected, Untrusted, not_on_key, "untrusted-join").await;
    let many_to_many = "SELECT count(*) FROM drugs.verdachte a JOIN drugs.verdachte b ON a.persoon_id = b.persoon_id";
    refused(&w.protected, Untrusted, many_to_many, "untrusted-join").await;
}

#[tokio::test]
async fn subqueries_on_unit_ids_are_refused() {
    let w = world().await;
    for level in BOTH {
        let exists = "SELECT count(*) FROM regio.buurt b WHERE EXISTS (SELECT 1 FROM basis.persoon p WHERE p.bu_code = b.bu_code AND p.inkomen = 34000)";
        refused(&w.protected, level, exists, "subquery-rows").await;
        let in_ids = "SELECT count(*) FROM basis.persoon WHERE persoon_id IN (SELECT persoon_id FROM drugs.verdachte)";
        refused(&w.protected, level, in_ids, "subquery-rows").await;
        let scalar = "SELECT count(*) FROM basis.persoon WHERE inkomen > (SELECT avg(inkomen) FROM basis.persoon)";
        refused(&w.protected, level, scalar, "subquery-below").await;
    }
}

#[tokio::test]
async fn errors_are_not_a_side_channel() {
    let w = world().await;
    // Each expression fails only for person 7 (or some rows): at the trusted level the failing
    // rows become NULL and the query answers; at the untrusted level none can be written.
    for sql in [
        "SELECT sum(1 / (inkomen - 34000)) FROM basis.persoon",
        "SELECT count(*) FROM basis.persoon WHERE 1 / (geboortejaar - 1921) > 0",
        "SELECT count(CAST(CAST(inkomen AS VARCHAR) AS INT)) FROM basis.persoon",
        "SELECT count(*) FROM basis.persoon WHERE regexp_like(bu_code, CASE WHEN inkomen = 34000 THEN '(' ELSE 'B' END)",
        "SELECT count(*) FROM basis.persoon WHERE bu_code SIMILAR TO CASE WHEN inkomen = 34000 THEN '(' ELSE 'B%' END",
        "SELECT count(*) FROM basis.persoon WHERE substr(bu_code, 1, CASE WHEN inkomen = 34000 THEN -1 ELSE 2 END) = 'BU'",
        "SELECT count(*) FROM basis.persoon WHERE power(0.0, CASE WHEN inkomen = 34000 THEN -1 ELSE 1 END) >= 0",
        "SELECT sum(CASE WHEN inkomen = 34000 THEN 9223372036854775807 ELSE 0 END + CAST(geboortejaar AS BIGINT)) FROM basis.persoon",
    ] {
        run(&w.protected, Trusted, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        outside_the_subset(&w.protected, sql).await;
    }
    for level in BOTH {
        let sql = "SELECT count(*) FROM basis.persoon WHERE to_timestamp(bu_code) IS NULL";
        assert!(run(&w.protected, level, sql).await.is_err(), "{sql}");
    }
    refused(
        &w.protected,
        Trusted,
        "SELECT count(*) FROM basis.persoon WHERE to_timestamp(bu_code) IS NULL",
        "function",
    )
    .await;
}

#[tokio::test]
async fn a_dominant_owner_suppresses_the_sum() {
    let w = world().await;
    for level in BOTH {
        // One owner holds 6,000,000 of 10,780,000 WOZ value in BU1.
        let sum = "SELECT sum(woz_waarde) FROM basis.woning WHERE bu_code = 'BU1'";
        assert_eq!(value(&w.protected, level, sum).await, None);
        let avg = "SELECT avg(woz_waarde) FROM basis.woning WHERE bu_code = 'BU1'";
        assert_eq!(value(&w.protected, level, avg).await, None);
        let spread = "SELECT sum(woz_waarde) FROM basis.woning WHERE floor(woz_waarde / 1000000) * 1000000 = 0";
        let spread = value(&w.protected, level, spread).await.unwrap();
        // Noise of up to one scale (the mean of the five largest contributions, snapped up to the
        // 1-2-5 series: 200,000) per layer, three layers.
        assert!((spread - 4_780_000.0).abs() <= 600_000.0, "{spread}");
    }
}

#[tokio::test]
async fn a_unit_with_most_rows_dominates_a_count() {
    let w = world().await;
    for level in BOTH {
        // Person 7 holds 50 of 70 registrations.
        assert_eq!(value(&w.protected, level, "SELECT count(*) FROM drugs.verdachte").await, None);
        let persons =
            value(&w.protected, level, "SELECT count(DISTINCT persoon_id) FROM drugs.verdachte").await.unwrap();
        assert_eq!(persons % 5.0, 0.0);
    }
}

#[tokio::test]
async fn shares_of_zero_or_all_are_group_disclosure() {
    let w = world().await;
    let share = |cond: &str| {
        format!("SELECT avg(CASE WHEN {cond} THEN 1.0 ELSE 0.0 END) FROM basis.persoon WHERE bu_code = 'BU1'")
    };
    assert_eq!(value(&w.protected, Trusted, &share("inkomen > 0")).await, None, "100%");
    assert_eq!(value(&w.protected, Trusted, &share("inkomen < 0")).await, None, "0%");
    assert_eq!(value(&w.protected, Trusted, &share("geboortejaar = 1921")).await, None, "one person");
    assert!(value(&w.protected, Trusted, &share("geboortejaar < 1970")).await.is_some());
    // Shares of 0/2 are shares too, and values jittered by a millionth are still alike.
    let doubled =
        "SELECT avg(CASE WHEN geboortejaar = 1921 THEN 2.0 ELSE 0.0 END) FROM basis.persoon WHERE bu_code = 'BU1'";
    assert_eq!(value(&w.protected, Trusted, doubled).await, None);
    let jittered = "SELECT avg(1960 + inkomen / 1e12) FROM basis.persoon WHERE geboortejaar = 1960";
    assert_eq!(value(&w.protected, Trusted, jittered).await, None);
    for level in BOTH {
        let sql = "SELECT avg(geboortejaar) FROM basis.persoon WHERE geboortejaar = 1960";
        assert_eq!(value(&w.protected, level, sql).await, None);
    }
}

#[tokio::test]
async fn prepared_statements_with_parameters_are_protected() {
    let w = world().await;
    for level in BOTH {
        let session = w.protected.session_at("test", level);
        let plan = session.plan("SELECT count(*) FROM basis.persoon WHERE inkomen = $1").await.unwrap();
        let params = ParamValues::List(vec![ScalarValue::Float64(Some(34_000.0)).into()]);
        let batches = session.execute_with_params(plan, params).await.unwrap().collect().await.unwrap();
        assert!(batches[0].column(0).is_null(0));
        let plan = session.plan("SELECT * FROM basis.persoon WHERE persoon_id = $1").await.unwrap();
        let params = ParamValues::List(vec![ScalarValue::Int64(Some(7)).into()]);
        assert!(matches!(session.execute_with_params(plan, params).await, Err(EngineError::Suppression(_))));
    }
}

#[tokio::test]
async fn explain_shows_protection_but_not_statistics() {
    let w = world().await;
    for level in BOTH {
        refused(&w.protected, level, "EXPLAIN ANALYZE SELECT count(*) FROM basis.persoon", "explain-analyze").await;
        refused(&w.protected, level, "EXPLAIN VERBOSE SELECT count(*) FROM basis.persoon", "explain-verbose").await;
        let sql = "EXPLAIN SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code";
        let text = format!("{:?}", run(&w.protected, level, sql).await.unwrap());
        assert!(text.contains("zicht_protect("), "{text}");
        assert!(text.contains("ProtectedScanExec"), "{text}");
        // The count and the hidden cell flag read one input (value 1, every row included).
        assert!(text.contains("zicht_protect(1, true, "), "{text}");
        assert!(!text.contains("zicht_protect(1, true, 1, true"), "{text}");
        run(&w.protected, level, "EXPLAIN ANALYZE SELECT count(*) FROM regio.buurt").await.unwrap();
        // The statistics display cannot be switched on in a session.
        let set = run(&w.protected, level, "SET datafusion.explain.show_statistics = true").await.unwrap_err();
        assert_eq!(set.sqlstate(), "42501", "{set}");
        let session = w.protected.session_at("test", level);
        assert!(session.set_option("datafusion.explain.show_statistics", "true").is_err());
        session.set_option("datafusion.execution.batch_size", "1024").unwrap();
    }
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
        for level in BOTH {
            let error = run(&w.protected, level, sql).await.unwrap_err();
            assert_eq!(error.sqlstate(), "42501", "{sql}: {error}");
        }
    }
}

/// Property: over many allowed queries, a released cell always has at least k distinct units.
#[tokio::test]
async fn no_released_cell_has_fewer_than_k_units() {
    let w = world().await;
    let mut released = 0;
    let measures = ["count(*)", "sum(inkomen)", "avg(inkomen)", "median(inkomen)", "count(DISTINCT huishouden_id)"];
    let mut filters: Vec<(AccessLevel, String)> = Vec::new();
    for low in (1920..1990).step_by(3) {
        for width in [1, 2, 5, 12, 40] {
            filters.push((Trusted, format!("geboortejaar BETWEEN {low} AND {}", low + width)));
        }
    }
    for width in [1, 2, 5, 10, 20, 50] {
        for low in (1900..2000).step_by(width) {
            filters.push((Untrusted, format!("geboortejaar BETWEEN {low} AND {}", low + width - 1)));
        }
    }
    for (level, filter) in &filters {
        for measure in measures {
            let sql = format!("SELECT bu_code, {measure} FROM basis.persoon WHERE {filter} GROUP BY bu_code");
            let truth_sql = format!(
                "SELECT bu_code, count(DISTINCT persoon_id), count(DISTINCT huishouden_id) FROM basis.persoon WHERE {filter} GROUP BY bu_code"
            );
            let truth = run(&w.truth, Trusted, &truth_sql).await.unwrap();
            for row in run(&w.protected, *level, &sql).await.unwrap() {
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
    assert!(released > 100, "the property was tested on {released} released cells only");
}

#[tokio::test]
async fn the_audit_log_records_releases_suppressions_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let catalog_dir = fixture::build(dir.path());
    let catalog = zicht_catalog::Catalog::load_dir(&catalog_dir).unwrap();
    let log = dir.path().join("audit.jsonl");
    let sink = std::sync::Arc::new(zicht_engine::JsonLinesAudit::open(&log).unwrap());
    let options = zicht_engine::EngineOptions::new(catalog, dir.path().join("data"))
        .with_secret_key("test-secret-1234")
        .with_audit(sink);
    let engine = Engine::open(options).await.unwrap();
    run(&engine, Untrusted, "SELECT bu_code, count(*) FROM basis.persoon GROUP BY bu_code").await.unwrap();
    run(&engine, Untrusted, "SELECT * FROM basis.persoon").await.unwrap_err();
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["outcome"], "completed");
    assert_eq!(events[0]["user"], "test");
    assert_eq!(events[0]["access"], "untrusted");
    // Three buurten: BU1 and BU3 released, BU2 suppressed (counted by the hidden cell column too).
    assert!(events[0]["cells_released"].as_u64().unwrap() >= 2, "{}", events[0]);
    assert!(events[0]["cells_suppressed"].as_u64().unwrap() >= 1, "{}", events[0]);
    // The question the untrusted user was charged for: the table and a fingerprint, no text.
    assert_eq!(events[0]["questions"][0]["tables"][0], "basis.persoon");
    assert_eq!(events[1]["outcome"], "rejected");
    assert_eq!(events[1]["rule"], "row-level");
    assert_eq!(events[1]["sqlstate"], "42501");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("bu_code"), "the log must not hold query text");
}

#[tokio::test]
async fn the_query_budget_bounds_distinct_questions() {
    let dir = tempfile::tempdir().unwrap();
    let catalog_dir = fixture::build(dir.path());
    let catalog = zicht_catalog::Catalog::load_dir(&catalog_dir).unwrap();
    let policy = zicht_engine::BudgetPolicy { questions: 3, period: std::time::Duration::from_secs(86_400) };
    let options = zicht_engine::EngineOptions::new(catalog, dir.path().join("data"))
        .with_secret_key("test-secret-1234")
        .with_budget(policy);
    let engine = Engine::open(options).await.unwrap();
    for year in [1950, 1951, 1952, 1950, 1951] {
        run(&engine, Untrusted, &format!("SELECT count(*) FROM basis.persoon WHERE geboortejaar = {year}"))
            .await
            .unwrap();
    }
    refused(&engine, Untrusted, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1953", "query-budget").await;
    // Public tables, other protected tables and trusted users are not charged.
    run(&engine, Untrusted, "SELECT count(*) FROM regio.buurt").await.unwrap();
    run(&engine, Untrusted, "SELECT count(*) FROM basis.woning WHERE bu_code = 'BU1'").await.unwrap();
    run(&engine, Trusted, "SELECT count(*) FROM basis.persoon WHERE geboortejaar = 1953").await.unwrap();
}

#[tokio::test]
async fn fractions_on_one_window_get_one_answer() {
    let w = world().await;
    // BU3's 30 persons: the windows of the low percentiles must reach up to hold ten persons and
    // ten households, so 0.1, 0.15 and 0.2 land on one window. Noise seeded by the fraction would
    // give three draws to average; seeded by the window, one answer.
    for level in BOTH {
        let mut answers = Vec::new();
        for fraction in ["0.1", "0.15", "0.2"] {
            let sql = format!(
                "SELECT percentile_cont({fraction}) WITHIN GROUP (ORDER BY inkomen) FROM basis.persoon \
                 WHERE bu_code = 'BU3'"
            );
            answers.push(value(&w.protected, level, &sql).await);
        }
        assert!(answers[0].is_some(), "{level}: {answers:?}");
        assert!(answers.iter().all(|a| *a == answers[0]), "{level}: {answers:?}");
    }
}
