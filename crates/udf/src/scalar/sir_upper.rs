//! `sir_upper(observed, expected, conf)`: exact (Garwood) upper confidence limit of the ratio.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf, alpha};
use crate::special::{Tail, gamma_quantile};

/// chi2(1 - alpha/2; 2 O + 2) / 2 (the limit is this over E): the gamma quantile with shape
/// O + 1, taken from its upper tail (probability alpha/2 above it), so that 1 - alpha/2 is never
/// rounded.
pub fn upper(observed: f64, conf: f64) -> Option<f64> {
    let alpha = alpha(conf)?;
    if observed < 0.0 {
        return None;
    }
    Some(gamma_quantile(observed + 1.0, alpha / 2.0, Tail::Upper))
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Upper limit of the exact Poisson (Garwood) confidence interval of sir(observed, expected). \
         A region is significantly below expectation when this is below 1.",
        "sir_upper(observed, expected, conf)",
    )
    .with_argument("observed", "Observed events (at least 0).")
    .with_argument("expected", "Expected events (positive).")
    .with_argument("conf", "Confidence level, e.g. 0.95.")
    .with_sql_example("SELECT sir_upper(30, 20, 0.95); -- 2.141")
    .build();
    MathUdf::udf("sir_upper", 3, Formula::Limit(upper), doc)
}
