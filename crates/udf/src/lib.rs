//! Deviation scores for the Zicht op method: how far a gemeente, wijk or buurt is from the
//! national picture, and how sure we are.
//!
//! Scalar functions (`deviation_index`, `sir`, `sir_lower`, `sir_upper`, `poisson_z`,
//! `wilson_lower`, `wilson_upper`, `deviation_class`) and window functions (`zscore`, `robust_z`,
//! `eb_rate`, `percentile_rank`), in the style of DataFusion's own function crates: one function a
//! file with its signature and documentation, registered in one place ([`register`]).
//!
//! They run **above** the protecting aggregate of the suppression layer: their inputs are
//! released (suppressed, perturbed) cells, never unit-level rows. A suppressed cell is NULL, and
//! NULL propagates; a zero or negative denominator gives NULL, not an error.

mod scalar;
mod special;
mod window;

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

/// Every scalar deviation function.
pub fn scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    scalar::all().into_iter().map(Arc::new).collect()
}

/// Aggregate deviation functions (none yet: aggregates over regions are ordinary SQL).
pub fn aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    Vec::new()
}

/// Every window deviation function.
pub fn window_udfs() -> Vec<Arc<WindowUDF>> {
    window::all().into_iter().map(Arc::new).collect()
}

/// Registers every function in a session.
pub fn register(ctx: &SessionContext) {
    for udf in scalar_udfs() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udwf in window_udfs() {
        ctx.register_udwf(udwf.as_ref().clone());
    }
}
