//! `poisson_z(observed, expected)`: how many Poisson standard deviations a count is from its
//! expectation.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf};

/// (O - E) / sqrt(E): the normal approximation to the Poisson, good for E above about 10.
pub fn z(v: &[f64]) -> Option<f64> {
    let (observed, expected) = (v[0], v[1]);
    (expected > 0.0).then(|| (observed - expected) / expected.sqrt())
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "(observed - expected) / sqrt(expected): the distance of a count from its expectation in \
         Poisson standard deviations (normal approximation; use sir_lower/sir_upper for small counts).",
        "poisson_z(observed, expected)",
    )
    .with_argument("observed", "Observed events.")
    .with_argument("expected", "Expected events (positive).")
    .with_sql_example("SELECT poisson_z(30, 20); -- 2.236")
    .build();
    MathUdf::udf("poisson_z", 2, Formula::Number(z), doc)
}
