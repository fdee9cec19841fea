//! Every function against reference values from scipy, numpy and mpmath
//! (tests/golden/make_golden.py), through SQL on a DataFusion session: hand-picked edge cases
//! (golden.json) and a dense grid of at least 5,000 points per function over the whole domain
//! (dense/*.csv), each within 1e-9 relative. Plus NULL, zero-denominator, type-error and catalog
//! behaviour.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::Value;

/// Largest relative error allowed against a reference value, for every function.
const TOLERANCE: f64 = 1e-9;

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
        if !close(actual, &case["expected"], TOLERANCE) {
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
        let ok = actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| close(a, e, TOLERANCE));
        if !ok {
            failures.push(format!("{sql}:\n  got      {actual:?}\n  expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// One CSV of the dense grid: its column names and rows, an empty field read as NULL.
struct Grid {
    names: Vec<String>,
    rows: Vec<Vec<Option<f64>>>,
}

fn grid(csv: &str) -> Grid {
    let mut lines = csv.lines();
    let names = lines.next().unwrap().split(',').map(str::to_string).collect();
    let cell = |field: &str| (!field.is_empty()).then(|| field.parse::<f64>().unwrap());
    let rows = lines.map(|line| line.split(',').map(cell).collect()).collect();
    Grid { names, rows }
}

/// A session with the grid as table `grid`: column `i` numbers the rows, the others are the CSV's.
fn grid_context(grid: &Grid) -> SessionContext {
    let mut fields = vec![Field::new("i", DataType::Int64, false)];
    fields.extend(grid.names.iter().map(|name| Field::new(name, DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<Arc<dyn Array>> = vec![Arc::new(Int64Array::from_iter_values(0..grid.rows.len() as i64))];
    for c in 0..grid.names.len() {
        columns.push(Arc::new(grid.rows.iter().map(|row| row[c]).collect::<Float64Array>()));
    }
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let ctx = context();
    ctx.register_table("grid", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
    ctx
}

/// How one function did over the grid: its largest relative error (and where), and the rows where
/// it gave NULL for a value or a value for NULL.
struct Accuracy {
    max_error: f64,
    worst_row: usize,
    null_mismatches: usize,
}

fn accuracy(actual: &[Value], expected: impl Iterator<Item = Option<f64>>) -> Accuracy {
    let mut result = Accuracy { max_error: 0.0, worst_row: 0, null_mismatches: 0 };
    for (row, (actual, expected)) in actual.iter().zip(expected).enumerate() {
        match (actual.as_f64(), expected) {
            (None, None) => {}
            (Some(a), Some(e)) => {
                let error = (a - e).abs() / e.abs().max(f64::MIN_POSITIVE);
                if error > result.max_error {
                    result = Accuracy { max_error: error, worst_row: row, ..result };
                }
            }
            _ => result.null_mismatches += 1,
        }
    }
    result
}

/// Runs `call` (an expression over the grid's columns) for every row and compares it with the
/// reference column `function`; prints the accuracy line and returns a failure, if any.
async fn check_dense(ctx: &SessionContext, grid: &Grid, function: &str, call: &str) -> Option<String> {
    let actual = column(ctx, &format!("SELECT i, {call} FROM grid ORDER BY i")).await;
    let reference = grid.names.iter().position(|name| name == function).unwrap();
    assert_eq!(actual.len(), grid.rows.len(), "{call}");
    let result = accuracy(&actual, grid.rows.iter().map(|row| row[reference]));
    let worst = &grid.rows[result.worst_row];
    println!(
        "{function:<13} {:>6} points  max relative error {:.2e}  NULL mismatches {}  (worst at {:?}: {} vs {:?})",
        grid.rows.len(),
        result.max_error,
        result.null_mismatches,
        worst,
        actual[result.worst_row],
        worst[reference]
    );
    (result.max_error > TOLERANCE || result.null_mismatches > 0).then(|| format!("{function}: see above"))
}

async fn check_dense_grid(csv: &str, calls: &[(&str, &str)]) {
    let grid = grid(csv);
    let ctx = grid_context(&grid);
    let mut failures = Vec::new();
    for (function, call) in calls {
        failures.extend(check_dense(&ctx, &grid, function, call).await);
    }
    assert!(failures.is_empty(), "beyond {TOLERANCE:e} relative or NULL where not expected: {failures:?}");
}

#[tokio::test]
async fn dense_grid_counts() {
    check_dense_grid(
        include_str!("golden/dense/counts.csv"),
        &[
            ("sir_lower", "sir_lower(observed, expected, conf)"),
            ("sir_upper", "sir_upper(observed, expected, conf)"),
            ("poisson_z", "poisson_z(observed, expected)"),
        ],
    )
    .await;
}

#[tokio::test]
async fn dense_grid_shares() {
    check_dense_grid(
        include_str!("golden/dense/shares.csv"),
        &[("wilson_lower", "wilson_lower(k, n, conf)"), ("wilson_upper", "wilson_upper(k, n, conf)")],
    )
    .await;
}

#[tokio::test]
async fn dense_grid_robust_z() {
    check_dense_grid(
        include_str!("golden/dense/robust_z.csv"),
        &[("robust_z", "robust_z(x) OVER (PARTITION BY \"partition\")")],
    )
    .await;
}

#[tokio::test]
async fn dense_grid_eb_rate() {
    check_dense_grid(
        include_str!("golden/dense/eb_rate.csv"),
        &[("eb_rate", "eb_rate(num, den) OVER (PARTITION BY \"partition\")")],
    )
    .await;
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
