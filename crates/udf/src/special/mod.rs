//! The special functions behind the confidence limits, to full double precision: the standard
//! normal quantile and the quantile of the gamma distribution (half the chi-square quantile with
//! 2a degrees of freedom), built on the regularized incomplete gamma functions P and Q.
//!
//! Accuracy over the domain the SQL functions accept is checked against scipy and mpmath by
//! tests/golden.rs; README.md says how the method was chosen.

mod gamma_quantile;
mod incomplete_gamma;
mod normal_quantile;
mod temme;
mod temme_coefficients;

pub(crate) use gamma_quantile::{Tail, gamma_quantile};
pub(crate) use normal_quantile::{normal_quantile, two_sided_normal_quantile};
