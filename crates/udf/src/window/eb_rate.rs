//! `eb_rate(num, den) OVER (...)`: empirical-Bayes smoothed rates for small areas.

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::logical_expr::{Documentation, WindowUDF};

use super::PartitionUdf;
use crate::scalar::DOC_SECTION;

/// Global empirical Bayes (Marshall 1991, moment estimator): each rate shrinks towards the overall
/// rate m by a weight that grows with its denominator, so a buurt with 3 inhabitants does not top
/// every list.
fn smoothed(columns: &[&Float64Array]) -> Vec<Option<f64>> {
    let (num, den) = (columns[0], columns[1]);
    let valid = |i: usize| num.is_valid(i) && den.is_valid(i) && den.value(i) > 0.0;
    let rows: Vec<usize> = (0..num.len()).filter(|&i| valid(i)).collect();
    if rows.is_empty() {
        return vec![None; num.len()];
    }
    let sum_num: f64 = rows.iter().map(|&i| num.value(i)).sum();
    let sum_den: f64 = rows.iter().map(|&i| den.value(i)).sum();
    let m = sum_num / sum_den;
    let rate = |i: usize| num.value(i) / den.value(i);
    let s2 = rows.iter().map(|&i| den.value(i) * (rate(i) - m).powi(2)).sum::<f64>() / sum_den;
    let mean_den = sum_den / rows.len() as f64;
    let a = (s2 - m / mean_den).max(0.0);
    (0..num.len())
        .map(|i| {
            valid(i).then(|| {
                let weight = if a > 0.0 { a / (a + m / den.value(i)) } else { 0.0 };
                weight * rate(i) + (1.0 - weight) * m
            })
        })
        .collect()
}

pub fn udwf() -> WindowUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Empirical-Bayes smoothed rate num/den (global EB, Marshall 1991): rates of small areas are \
         pulled towards the overall rate of the partition, large areas keep their own. NULL when \
         num or den is NULL or den <= 0.",
        "eb_rate(num, den) OVER ([PARTITION BY ...])",
    )
    .with_argument("num", "Events per area.")
    .with_argument("den", "Population at risk per area.")
    .with_sql_example("SELECT bu_code, eb_rate(ruimingen, woningen) OVER () FROM per_buurt;")
    .build();
    PartitionUdf::udwf("eb_rate", 2, smoothed, doc)
}
