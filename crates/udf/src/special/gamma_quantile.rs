//! Quantile of the gamma distribution with shape a and scale 1: the inverse of P(a, x) or Q(a, x).

use super::incomplete_gamma::{density_factor, incomplete_gamma};
use super::normal_quantile;

/// Which tail probability a quantile is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// P(a, x) = prob: probability prob below x.
    Lower,
    /// Q(a, x) = prob: probability prob above x.
    Upper,
}

/// A cap that good starts never reach (they take one to four steps).
const MAX_STEPS: usize = 100;

/// Halley converges cubically: once a step in ln x is this small, what is left of the error is far
/// below rounding, also for a = 1e9, where the scale of ln x is 1/sqrt(a).
const CONVERGED: f64 = 1e-10;

/// x with P(a, x) = prob (`Tail::Lower`) or Q(a, x) = prob (`Tail::Upper`), for a > 0 and
/// 0 < prob < 1: 2x is the chi-square quantile with 2a degrees of freedom.
///
/// Iterates on u = ln x and g(u) = ln(T(e^u) / prob), T the tail asked for. The gamma distribution
/// of ln x has a log-concave density, so its P and Q are log-concave and g is concave: Newton's
/// method converges from any start, and Halley's, used while its correction to Newton is modest,
/// converges cubically near the root. Working in ln x keeps relative accuracy for quantiles near
/// 0 (small a), and the tail probability is compared with prob in its own tail, so a quantile at
/// prob = 1e-10 is as accurate as the median.
pub(crate) fn gamma_quantile(a: f64, prob: f64, tail: Tail) -> f64 {
    let mut x = start(a, prob, tail);
    if x == 0.0 {
        // The start is then a lower bound that underflows, and so does the quantile (tiny a).
        return 0.0;
    }
    for _ in 0..MAX_STEPS {
        let step = log_step(a, x, prob, tail);
        let next = x * step.exp();
        // A subnormal x can be too coarse for the step to move it: that is as close as it gets.
        if step.abs() <= CONVERGED || next == x {
            return next;
        }
        x = next;
    }
    x
}

/// The change of ln x towards the quantile: Halley's step, Newton's where Halley's correction is
/// large, or one e-fold in the right direction where the tail probability underflows.
fn log_step(a: f64, x: f64, prob: f64, tail: Tail) -> f64 {
    let (lower, upper) = incomplete_gamma(a, x);
    let (value, sign) = match tail {
        Tail::Lower => (lower, 1.0),
        Tail::Upper => (upper, -1.0),
    };
    let g = (value / prob).ln();
    // g'(u) = ±x^a e^-x / Γ(a) / T, and g''(u) / g'(u) = a - x - g'(u).
    let slope = sign * density_factor(a, x) / value;
    let newton = -g / slope;
    if !newton.is_finite() {
        return if (g < 0.0) == (tail == Tail::Lower) { 1.0 } else { -1.0 };
    }
    let correction = 1.0 + 0.5 * newton * (a - x - slope);
    if (0.5..2.0).contains(&correction) { newton / correction } else { newton }
}

/// A first guess: in the lower tail where x is small, the leading term of the series, a lower
/// bound that is close there; elsewhere the Cornish-Fisher expansion (which fails only in far
/// tails at small a, where the mean does as a start).
fn start(a: f64, prob: f64, tail: Tail) -> f64 {
    let s = match tail {
        Tail::Lower => normal_quantile(prob),
        Tail::Upper => -normal_quantile(prob),
    };
    let guess = cornish_fisher(a, s);
    if tail == Tail::Lower {
        // P(a, x) <= x^a / Γ(a + 1), with equality as x -> 0.
        let small = ((prob.ln() + libm::lgamma(a + 1.0)) / a).exp();
        if small < 0.1 * (a + 1.0) || guess <= 0.0 {
            return small;
        }
    }
    if guess > 0.0 { guess } else { a }
}

/// The Cornish-Fisher expansion of the gamma quantile in the normal quantile s, to O(a^-2)
/// relative (as in DiDonato & Morris 1986): exact to rounding from about a = 1e5 on.
fn cornish_fisher(a: f64, s: f64) -> f64 {
    let root = a.sqrt();
    let s2 = s * s;
    a + s * root + (s2 - 1.0) / 3.0 + s * (s2 - 7.0) / (36.0 * root) - (3.0 * s2 * s2 + 7.0 * s2 - 16.0) / (810.0 * a)
        + s * (9.0 * s2 * s2 + 256.0 * s2 - 433.0) / (38880.0 * a * root)
}
