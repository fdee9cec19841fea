//! Every function against golden values from scipy (tests/golden/make_golden.py), through SQL on a
//! DataFusion session, plus NULL, zero-denominator, type-error and catalog behaviour.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::Value;

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    zicht_udf::register(&ctx);
    ctx
}

fn literal(value: &Value) -> String {
    match value.as_f64() {
        Some(v) => format!("CAST({v:?} AS DOUBLE)"),
        None => "CAST(NULL AS DOUBLE)".to_string(),
    }
}

/// Values of the last column of a query, as f64 or text.
async fn column(ctx: &SessionContext, sql: &str) -> Vec<Value> {
    let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap();
    let mut out = Vec::new();
    for batch in batches {
        let array = batch.column(batch.num_columns() - 1);
        if array.data_type() == &DataType::Utf8 {
            let strings = array.as_string::<i32>();
            out.extend(
                (0..strings.len()).map(|i| if strings.is_null(i) { Value::Null } else { strings.value(i).into() }),
            );
        } else {
            let floats = cast(array, &DataType::Float64).unwrap();
            let floats = floats.as_primitive::<Float64Type>();
            out.extend((0..floats.len()).map(|i| if floats.is_null(i) { Value::Null } else { floats.value(i).into() }));
        }
    }
    out
}

fn close(actual: &Value, expected: &Value, tolerance: f64) -> bool {
    match (actual, expected) {
        (Value::Null, Value::Null) => true,
        (Value::String(a), Value::String(b)) => a == b,
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() <= tolerance * b.abs().max(1e-12),
            _ => false,
        },
    }
}

/// Chi-square and normal quantiles come from different numerical libraries (statrs, scipy).
fn tolerance(function: &str) -> f64 {
    match function {
        "sir_lower" | "sir_upper" | "wilson_lower" | "wilson_upper" | "robust_z" => 1e-7,
        _ => 1e-9,
    }
}

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/golden.json")).unwrap()
}

#[tokio::test]
async fn scalar_functions_match_scipy() {
    let ctx = context();
    let golden = golden();
    let cases = golden["scalar"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let function = case["function"].as_str().unwrap();
        let args: Vec<String> = case["args"].as_array().unwrap().iter().map(literal).collect();
        let sql = format!("SELECT {function}({})", args.join(", "));
        let actual = &column(&ctx, &sql).await[0];
        if !close(actual, &case["expected"], tolerance(function)) {
            failures.push(format!("{sql}: got {actual}, expected {}", case["expected"]));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test]
async fn window_functions_match_scipy() {
    let ctx = context();
    let golden = golden();
    let cases = golden["window"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let function = case["function"].as_str().unwrap();
        let rows: Vec<String> = case["partition"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let values: Vec<String> = row.as_array().unwrap().iter().map(literal).collect();
                format!("({i}, {})", values.join(", "))
            })
            .collect();
        let arity = case["partition"][0].as_array().unwrap().len();
        let names: Vec<String> = (0..arity).map(|a| format!("a{a}")).collect();
        let sql = format!(
            "SELECT i, {function}({}) OVER () FROM (VALUES {}) AS t(i, {}) ORDER BY i",
            names.join(", "),
            rows.join(", "),
            names.join(", ")
        );
        let actual = column(&ctx, &sql).await;
        let expected = case["expected"].as_array().unwrap();
        let ok = actual.len() == expected.len()
            && actual.iter().zip(expected).all(|(a, e)| close(a, e, tolerance(function)));
        if !ok {
            failures.push(format!("{sql}:\n  got      {actual:?}\n  expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test]
async fn nulls_propagate_and_zero_denominators_give_null() {
    let ctx = context();
    for sql in [
        "SELECT deviation_index(NULL, 10, 1, 10)",
        "SELECT deviation_index(1, 0, 1, 10)",
        "SELECT sir(3, 0)",
        "SELECT sir_lower(3, 2, NULL)",
        "SELECT wilson_upper(3, 0, 0.95)",
        "SELECT poisson_z(3, 0)",
        "SELECT deviation_class(NULL, 90, 110)",
    ] {
        assert_eq!(column(&ctx, sql).await, vec![Value::Null], "{sql}");
    }
    // Integer arguments are accepted (released counts are integers).
    assert_eq!(column(&ctx, "SELECT sir(CAST(30 AS BIGINT), CAST(20 AS BIGINT))").await, vec![Value::from(1.5)]);
    let zs = column(&ctx, "SELECT i, zscore(x) OVER () FROM (VALUES (1, 1.0), (2, NULL), (3, 3.0)) t(i, x) ORDER BY i")
        .await;
    assert_eq!(zs[1], Value::Null);
}

#[tokio::test]
async fn wrong_argument_types_name_the_function() {
    let ctx = context();
    for (sql, name) in [
        ("SELECT deviation_index('a', 1, 2, 3)", "deviation_index"),
        ("SELECT sir_lower(1, 2)", "sir_lower"),
        ("SELECT zscore(x) OVER () FROM (VALUES ('a')) t(x)", "zscore"),
    ] {
        let error = match ctx.sql(sql).await {
            Ok(frame) => frame.collect().await.unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(name), "{sql}: {error}");
    }
}

#[tokio::test]
async fn functions_are_listed_in_the_catalog() {
    let ctx = context();
    let listed = column(&ctx, "SELECT routine_name FROM information_schema.routines ORDER BY routine_name").await;
    for name in [
        "deviation_index",
        "sir",
        "sir_lower",
        "sir_upper",
        "poisson_z",
        "wilson_lower",
        "wilson_upper",
        "deviation_class",
        "zscore",
        "robust_z",
        "eb_rate",
        "percentile_rank",
    ] {
        assert!(listed.contains(&Value::from(name)), "{name} not in information_schema.routines");
    }
}
