//! Result encoding: Arrow batches into PostgreSQL DataRow messages, as the server sends a saved
//! query's result (text keys, counts, rates, labels), in the binary and the text format.
//!
//! `cargo bench -p zicht-pgwire` (rows/s = 100k / time).

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use pgwire::api::portal::Format;

const ROWS: usize = 100_000;

fn batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("bu_code", DataType::Utf8, false),
        Field::new("teller", DataType::Int64, true),
        Field::new("per_1000", DataType::Float64, true),
        Field::new("klasse", DataType::Utf8, true),
    ]));
    let codes = StringArray::from_iter_values((0..ROWS).map(|i| format!("BU{i:08}")));
    let counts = Int64Array::from_iter((0..ROWS).map(|i| (i % 7 != 0).then_some((i % 500) as i64 * 5)));
    let rates = Float64Array::from_iter((0..ROWS).map(|i| (i % 7 != 0).then_some((i % 1000) as f64 / 7.0)));
    let classes = ["significant hoger", "hoger", "rond gemiddelde", "lager", "significant lager"];
    let labels = StringArray::from_iter((0..ROWS).map(|i| (i % 7 != 0).then_some(classes[i % 5])));
    RecordBatch::try_new(schema, vec![Arc::new(codes), Arc::new(counts), Arc::new(rates), Arc::new(labels)]).unwrap()
}

fn encoding(c: &mut Criterion) {
    let batch = batch();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, format) in [("binary", Format::UnifiedBinary), ("text", Format::UnifiedText)] {
        let fields = Arc::new(arrow_schema_to_pg_fields(&batch.schema(), &format, None).unwrap());
        group.bench_function(name, |b| {
            b.iter(|| encode_recordbatch(Arc::clone(&fields), batch.clone()).filter(Result::is_ok).count())
        });
    }
    group.finish();
}

criterion_group!(benches, encoding);
criterion_main!(benches);
