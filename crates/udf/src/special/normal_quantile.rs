//! Standard normal quantile, Φ⁻¹(p).

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// z with Φ(z) = p: -∞ at 0, +∞ at 1, NaN outside [0, 1].
///
/// A rational start (Abramowitz & Stegun 26.2.23, error below 4.5e-4) and two Halley steps on
/// Φ(z) - p, with Φ from erfc. Halley converges cubically, so two steps take 4.5e-4 below the
/// rounding of erfc itself (about 1e-16 relative). The lower tail is always the one computed:
/// for p > 1/2, 1 - p is exact, and Φ(z) in the lower tail comes without cancellation.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    if p > 0.5 {
        return -normal_quantile(1.0 - p);
    }
    if p.is_nan() || p < 0.0 {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    let mut z = start(p);
    for _ in 0..2 {
        let error = 0.5 * libm::erfc(-z * FRAC_1_SQRT_2) - p;
        let newton = error * (2.0 * PI).sqrt() * (0.5 * z * z).exp();
        z -= newton / (1.0 + 0.5 * z * newton);
    }
    z
}

/// z with P(-z < Z < z) = conf, for 0 < conf < 1: Φ⁻¹(1 - α/2) from the lower tail, α = 1 - conf.
///
/// For small conf, α/2 is close to 1/2 and holds few of conf's digits (z ≈ 1.25e-6 for conf = 1e-6
/// would keep only 10), so there one Newton step on erf(z / √2) = conf restores them.
pub(crate) fn two_sided_normal_quantile(conf: f64) -> f64 {
    let z = -normal_quantile((1.0 - conf) / 2.0);
    if conf >= 0.5 {
        return z;
    }
    z - (libm::erf(z * FRAC_1_SQRT_2) - conf) * (PI / 2.0).sqrt() * (0.5 * z * z).exp()
}

/// Abramowitz & Stegun 26.2.23 for 0 < p <= 1/2.
fn start(p: f64) -> f64 {
    let t = (-2.0 * p.ln()).sqrt();
    let numerator = 2.515517 + t * (0.802853 + t * 0.010328);
    let denominator = 1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308));
    numerator / denominator - t
}
