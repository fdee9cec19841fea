//! `wilson_upper(k, n, conf)`: upper limit of the Wilson score interval of a share.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf, wilson};

pub fn upper(v: &[f64]) -> Option<f64> {
    wilson(v[0], v[1], v[2]).map(|(_, upper)| upper)
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Upper limit of the Wilson score confidence interval of the share k/n (between 0 and 1).",
        "wilson_upper(k, n, conf)",
    )
    .with_argument("k", "Units with the property.")
    .with_argument("n", "All units.")
    .with_argument("conf", "Confidence level, e.g. 0.95.")
    .with_sql_example("SELECT wilson_upper(9, 100, 0.95); -- 0.1621")
    .build();
    MathUdf::udf("wilson_upper", 3, Formula::Number(upper), doc)
}
