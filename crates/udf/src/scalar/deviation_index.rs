//! `deviation_index(num, den, ref_num, ref_den)`: a region's rate against a reference rate.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf};

/// 100 x (num / den) / (ref_num / ref_den); NULL when a denominator or the reference rate is not
/// positive.
pub fn index(v: &[f64]) -> Option<f64> {
    let (num, den, ref_num, ref_den) = (v[0], v[1], v[2], v[3]);
    (den > 0.0 && ref_den > 0.0 && ref_num > 0.0).then(|| 100.0 * (num / den) / (ref_num / ref_den))
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "How a region's rate compares with a reference rate, as an index: 100 is the same as the \
         reference (usually the Netherlands), 200 twice as high. NULL when a denominator or the \
         reference rate is zero or negative, or an input is NULL (a suppressed cell).",
        "deviation_index(num, den, ref_num, ref_den)",
    )
    .with_argument("num", "Events in the region, e.g. hennepruimingen.")
    .with_argument("den", "Population at risk in the region, e.g. woningen.")
    .with_argument("ref_num", "Events in the reference area.")
    .with_argument("ref_den", "Population at risk in the reference area.")
    .with_sql_example("SELECT deviation_index(12, 1000, 2285, 8204049); -- 4308.6: 43 times the national rate")
    .build();
    MathUdf::udf("deviation_index", 4, Formula::Number(index), doc)
}
