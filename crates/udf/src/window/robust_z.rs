//! `robust_z(x) OVER (...)`: a standard score that outliers cannot drag along.

use datafusion::arrow::array::Float64Array;
use datafusion::logical_expr::{Documentation, WindowUDF};

use super::{PartitionUdf, median, present};
use crate::scalar::DOC_SECTION;
use crate::special::normal_quantile;

/// (x - median) / (1.4826 MAD): 1.4826 makes the MAD estimate the standard deviation of normal
/// data. NULL when the MAD is zero.
fn scores(columns: &[&Float64Array]) -> Vec<Option<f64>> {
    let mut values = present(columns[0]);
    let Some(centre) = median(&mut values) else { return vec![None; columns[0].len()] };
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    // 1 / Φ⁻¹(3/4) ≈ 1.4826: makes the MAD estimate the standard deviation of normal data.
    let mad = median(&mut deviations).unwrap_or(0.0) / normal_quantile(0.75);
    columns[0].iter().map(|x| x.filter(|_| mad > 0.0).map(|x| (x - centre) / mad)).collect()
}

pub fn udwf() -> WindowUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Robust standard score among the rows of the partition: (x - median) / (1.4826 * median \
         absolute deviation). A few extreme regions do not hide the others. NULL when the MAD is 0.",
        "robust_z(x) OVER ([PARTITION BY ...])",
    )
    .with_argument("x", "A released value per region.")
    .with_sql_example("SELECT gm_code, robust_z(rate) OVER () FROM rates;")
    .build();
    PartitionUdf::udwf("robust_z", 1, scores, doc)
}
