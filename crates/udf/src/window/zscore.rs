//! `zscore(x) OVER (...)`: standard score across the regions of a partition.

use datafusion::arrow::array::Float64Array;
use datafusion::logical_expr::{Documentation, WindowUDF};

use super::{PartitionUdf, present};
use crate::scalar::DOC_SECTION;

/// (x - mean) / sample standard deviation; NULL for NULL x, fewer than two values or no spread.
fn scores(columns: &[&Float64Array]) -> Vec<Option<f64>> {
    let values = present(columns[0]);
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let defined = n >= 2.0 && sd > 0.0;
    columns[0].iter().map(|x| x.filter(|_| defined).map(|x| (x - mean) / sd)).collect()
}

pub fn udwf() -> WindowUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Standard score of a value among the rows of its window partition: (x - mean) / sample \
         standard deviation. NULL values (suppressed cells) are left out and stay NULL.",
        "zscore(x) OVER ([PARTITION BY ...])",
    )
    .with_argument("x", "A released value per region, e.g. a rate.")
    .with_sql_example("SELECT gm_code, zscore(rate) OVER () FROM rates;")
    .build();
    PartitionUdf::udwf("zscore", 1, scores, doc)
}
