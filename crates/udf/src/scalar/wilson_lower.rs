//! `wilson_lower(k, n, conf)`: lower limit of the Wilson score interval of a share.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf, wilson};

pub fn lower(v: &[f64]) -> Option<f64> {
    wilson(v[0], v[1], v[2]).map(|(lower, _)| lower)
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Lower limit of the Wilson score confidence interval of the share k/n (between 0 and 1). \
         Better than the normal interval for small n and shares near 0 or 1. NULL unless 0 <= k <= n, \
         n > 0 and 0 < conf < 1.",
        "wilson_lower(k, n, conf)",
    )
    .with_argument("k", "Units with the property.")
    .with_argument("n", "All units.")
    .with_argument("conf", "Confidence level, e.g. 0.95.")
    .with_sql_example("SELECT wilson_lower(9, 100, 0.95); -- 0.0481")
    .build();
    MathUdf::udf("wilson_lower", 3, Formula::Number(lower), doc)
}
