//! `sir(observed, expected)`: the standardised incidence ratio.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf};

pub fn ratio(v: &[f64]) -> Option<f64> {
    let (observed, expected) = (v[0], v[1]);
    (observed >= 0.0 && expected > 0.0).then(|| observed / expected)
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Standardised ratio of observed to expected events (1 = as expected). The expected count \
         is usually the national rate times the region's population, possibly per age group.",
        "sir(observed, expected)",
    )
    .with_argument("observed", "Observed events in the region (a count, at least 0).")
    .with_argument("expected", "Expected events in the region (positive).")
    .with_sql_example("SELECT sir(30, 20); -- 1.5")
    .build();
    MathUdf::udf("sir", 2, Formula::Number(ratio), doc)
}
