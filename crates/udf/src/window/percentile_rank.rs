//! `percentile_rank(x) OVER (...)`: where a value stands among the partition, from 0 to 1.

use datafusion::arrow::array::Float64Array;
use datafusion::logical_expr::{Documentation, WindowUDF};

use super::{PartitionUdf, present};
use crate::scalar::DOC_SECTION;

/// Mid-rank: (values below + half the other values equal) / (n - 1). 0 for the lowest, 1 for the
/// highest, 0.5 for ties everywhere; NULL for NULL x or a partition of one value.
fn ranks(columns: &[&Float64Array]) -> Vec<Option<f64>> {
    let mut values = present(columns[0]);
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    columns[0]
        .iter()
        .map(|x| {
            let x = x?;
            if n < 2.0 {
                return None;
            }
            let below = values.partition_point(|v| *v < x) as f64;
            let equal = values.partition_point(|v| *v <= x) as f64 - below;
            Some((below + 0.5 * (equal - 1.0)) / (n - 1.0))
        })
        .collect()
}

pub fn udwf() -> WindowUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Percentile rank of a value among the non-NULL values of its partition, from 0 (lowest) to \
         1 (highest), ties sharing their mid-rank: (below + 0.5 * (equal - 1)) / (n - 1). Unlike \
         percent_rank() it takes the value itself and ignores NULLs (suppressed cells).",
        "percentile_rank(x) OVER ([PARTITION BY ...])",
    )
    .with_argument("x", "A released value per region.")
    .with_sql_example("SELECT gm_code, percentile_rank(rate) OVER () FROM rates;")
    .build();
    PartitionUdf::udwf("percentile_rank", 1, ranks, doc)
}
