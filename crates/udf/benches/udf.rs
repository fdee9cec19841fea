//! Rows per second of each deviation function, through SQL on a 1M-row in-memory table.
//!
//! `cargo bench -p zicht-udf` (criterion reports time per iteration; rows/s = 1M / time).
//! sir_lower and sir_upper run twice: on counts 0 to 96 (series and continued fraction of the
//! incomplete gamma function) and on counts up to 1e9 (Temme's expansion), each row its own count.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

const ROWS: usize = 1_000_000;

fn context(runtime: &tokio::runtime::Runtime) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("observed", DataType::Float64, true),
        Field::new("expected", DataType::Float64, true),
        Field::new("population", DataType::Float64, true),
        Field::new("large", DataType::Float64, true),
    ]));
    let observed = Float64Array::from_iter_values((0..ROWS).map(|i| (i % 97) as f64));
    let expected = Float64Array::from_iter_values((0..ROWS).map(|i| 1.0 + (i % 89) as f64));
    let population = Float64Array::from_iter_values((0..ROWS).map(|i| 100.0 + (i % 5003) as f64));
    // Distinct counts from 20 to 1e9, log-uniformly spread.
    let large =
        Float64Array::from_iter_values((0..ROWS).map(|i| (20.0 * 5e7_f64.powf(i as f64 / ROWS as f64)).round()));
    let columns: Vec<ArrayRef> = vec![Arc::new(observed), Arc::new(expected), Arc::new(population), Arc::new(large)];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let ctx = SessionContext::new();
    zicht_udf::register(&ctx);
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
    runtime.block_on(async { ctx.sql("SELECT count(*) FROM t").await.unwrap().collect().await.unwrap() });
    ctx
}

const QUERIES: &[(&str, &str)] = &[
    ("deviation_index", "SELECT sum(deviation_index(observed, population, 13468, 17942942)) FROM t"),
    ("sir", "SELECT sum(sir(observed, expected)) FROM t"),
    ("sir_lower", "SELECT sum(sir_lower(observed, expected, 0.95)) FROM t"),
    ("sir_upper", "SELECT sum(sir_upper(observed, expected, 0.95)) FROM t"),
    ("sir_lower_large_counts", "SELECT sum(sir_lower(large, large, 0.95)) FROM t"),
    ("sir_upper_large_counts", "SELECT sum(sir_upper(large, large, 0.95)) FROM t"),
    ("poisson_z", "SELECT sum(poisson_z(observed, expected)) FROM t"),
    ("wilson_lower", "SELECT sum(wilson_lower(observed, population, 0.95)) FROM t"),
    ("wilson_upper", "SELECT sum(wilson_upper(observed, population, 0.95)) FROM t"),
    ("deviation_class", "SELECT count(deviation_class(observed, expected, population)) FROM t"),
    ("zscore", "SELECT sum(z) FROM (SELECT zscore(observed) OVER () AS z FROM t)"),
    ("robust_z", "SELECT sum(z) FROM (SELECT robust_z(observed) OVER () AS z FROM t)"),
    ("eb_rate", "SELECT sum(r) FROM (SELECT eb_rate(observed, population) OVER () AS r FROM t)"),
    ("percentile_rank", "SELECT sum(r) FROM (SELECT percentile_rank(observed) OVER () AS r FROM t)"),
];

fn functions(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ctx = context(&runtime);
    let mut group = c.benchmark_group("udf");
    group.throughput(Throughput::Elements(ROWS as u64)).sample_size(10);
    for (name, sql) in QUERIES {
        group.bench_function(*name, |b| {
            b.iter(|| runtime.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap() }))
        });
    }
    group.finish();
}

criterion_group!(benches, functions);
criterion_main!(benches);
