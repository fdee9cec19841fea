//! The protecting aggregate against DataFusion's own, through SQL on a 1M-row in-memory table of
//! 100k units (ten rows each, so their tallies are kept per unit): one group (a national total)
//! and 342 groups (gemeenten), count and sum in one aggregation.
//!
//! `cargo bench -p zicht-suppress` (rows/s = 1M / time). The ratio protected/plain is the
//! aggregate's share of the protection overhead that benches/ measures on the saved queries.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::SessionContext;
use zicht_catalog::{EntityType, SuppressionParams};
use zicht_suppress::{CellKeyer, Measure, MeasureSpec, ProtectAggregate};

const ROWS: usize = 1_000_000;
const UNITS: i64 = 100_000;

fn context(runtime: &tokio::runtime::Runtime) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("unit", DataType::Int64, false),
        Field::new("gemeente", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
    ]));
    // Units spread over gemeenten, several rows each, values with a long tail.
    let unit = Int64Array::from_iter_values((0..ROWS as i64).map(|i| (i * 7919) % UNITS));
    let gemeente = Int64Array::from_iter_values((0..ROWS as i64).map(|i| ((i * 7919) % UNITS) % 342));
    let value = Float64Array::from_iter_values((0..ROWS).map(|i| 1000.0 + ((i * 31) % 977) as f64));
    let columns = vec![Arc::new(unit) as _, Arc::new(gemeente) as _, Arc::new(value) as _];
    let batches: Vec<RecordBatch> = {
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        (0..ROWS).step_by(8192).map(|start| batch.slice(start, 8192.min(ROWS - start))).collect()
    };
    let ctx = SessionContext::new();
    let keyer = CellKeyer::new(b"benchmark secret");
    let measures = vec![
        MeasureSpec::plain(Measure::Count, 0, DataType::Int64),
        MeasureSpec::plain(Measure::Sum, 1, DataType::Float64),
    ];
    let aggregate =
        ProtectAggregate::new(measures, vec![EntityType::Persoon], vec![false], SuppressionParams::default(), keyer);
    ctx.register_udaf(AggregateUDF::new_from_impl(aggregate));
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches]).unwrap())).unwrap();
    runtime.block_on(async { ctx.sql("SELECT count(*) FROM t").await.unwrap().collect().await.unwrap() });
    ctx
}

const QUERIES: &[(&str, &str)] = &[
    ("count and sum total, plain", "SELECT count(*), sum(value) FROM t"),
    ("count and sum total, protected", "SELECT zicht_protect(1.0, true, value, true, unit) FROM t"),
    ("count and sum per gemeente, plain", "SELECT gemeente, count(*), sum(value) FROM t GROUP BY gemeente"),
    (
        "count and sum per gemeente, protected",
        "SELECT gemeente, zicht_protect(1.0, true, value, true, unit) FROM t GROUP BY gemeente",
    ),
];

fn protecting_aggregate(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ctx = context(&runtime);
    let mut group = c.benchmark_group("protect");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    for (name, sql) in QUERIES {
        group.bench_function(*name, |b| {
            b.iter(|| runtime.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap() }))
        });
    }
    group.finish();
}

criterion_group!(benches, protecting_aggregate);
criterion_main!(benches);
