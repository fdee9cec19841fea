//! Temme's uniform asymptotic expansion of the incomplete gamma ratios (DLMF 8.12), for large a
//! and x near a.

use std::f64::consts::{FRAC_1_SQRT_2, TAU};

use super::incomplete_gamma::log1pmx;
use super::temme_coefficients::TEMME;

/// (P(a, x), Q(a, x)) with x = a (1 + μ), for a >= 20 and |μ| <= 0.3.
///
/// Q = erfc(η sqrt(a/2)) / 2 + R and P = erfc(-η sqrt(a/2)) / 2 - R, where η²/2 = μ - ln(1 + μ)
/// (η with the sign of μ) and R = exp(-a η²/2) / sqrt(2π a) Σ_k c_k(η) / a^k. R is small next to
/// the smaller erfc term, so both tails keep their relative accuracy.
pub(super) fn temme(a: f64, mu: f64) -> (f64, f64) {
    let half_eta_squared = log1pmx(mu);
    let eta = (2.0 * half_eta_squared).sqrt().copysign(mu);
    let remainder = (-a * half_eta_squared).exp() / (TAU * a).sqrt() * series(a, eta);
    let argument = eta * (a.sqrt() * FRAC_1_SQRT_2);
    (0.5 * libm::erfc(-argument) - remainder, 0.5 * libm::erfc(argument) + remainder)
}

/// Σ_k c_k(η) / a^k, summed until two terms in a row no longer count (one alone may be small
/// because c_k happens to vanish near this η).
fn series(a: f64, eta: f64) -> f64 {
    let mut sum = 0.0;
    let mut scale = 1.0;
    let mut negligible = 0;
    for row in &TEMME {
        let term = row.iter().rev().fold(0.0, |c, d| c * eta + d) * scale;
        sum += term;
        negligible = if term.abs() <= sum.abs() * f64::EPSILON { negligible + 1 } else { 0 };
        if negligible == 2 {
            break;
        }
        scale /= a;
    }
    sum
}
