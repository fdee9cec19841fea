//! `sir_lower(observed, expected, conf)`: exact (Garwood) lower confidence limit of the ratio.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf, alpha};
use crate::special::{Tail, gamma_quantile};

/// chi2(alpha/2; 2 O) / 2, and 0 when nothing was observed (the limit is this over E).
/// chi2(p; 2 O) / 2 is the gamma quantile with shape O, taken from its lower tail.
pub fn lower(observed: f64, conf: f64) -> Option<f64> {
    let alpha = alpha(conf)?;
    if observed < 0.0 {
        return None;
    }
    if observed == 0.0 {
        return Some(0.0);
    }
    Some(gamma_quantile(observed, alpha / 2.0, Tail::Lower))
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Lower limit of the exact Poisson (Garwood) confidence interval of sir(observed, expected). \
         A region is significantly above expectation when this is above 1. NULL when conf is not \
         between 0 and 1.",
        "sir_lower(observed, expected, conf)",
    )
    .with_argument("observed", "Observed events (at least 0).")
    .with_argument("expected", "Expected events (positive).")
    .with_argument("conf", "Confidence level, e.g. 0.95.")
    .with_sql_example("SELECT sir_lower(30, 20, 0.95); -- 1.012")
    .build();
    MathUdf::udf("sir_lower", 3, Formula::Limit(lower), doc)
}
