//! Result batches as rows of text cells (NULL as None), for tests that compare or parse values.

use zicht_engine::datafusion::arrow::array::{Array, AsArray, RecordBatch};
use zicht_engine::datafusion::arrow::compute::cast;
use zicht_engine::datafusion::arrow::datatypes::DataType;

pub type Rows = Vec<Vec<Option<String>>>;

pub fn text_rows(batches: &[RecordBatch]) -> Rows {
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
    rows
}
