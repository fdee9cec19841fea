//! Regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x).

use std::f64::consts::TAU;

use super::temme::temme;

/// Below this many terms every series and fraction here has converged (they need at most a few
/// hundred in the regions they are used in); the cap only keeps NaN from looping.
const MAX_TERMS: usize = 10_000;

/// From this a on, and for x within 30% of a, Temme's uniform expansion takes over: there the
/// series and the continued fraction need O(sqrt(a)) terms, the expansion a handful.
const TEMME_MIN_A: f64 = 20.0;
const TEMME_MAX_MU: f64 = 0.3;

/// (P(a, x), Q(a, x)) for a > 0 and x >= 0.
///
/// The smaller of the two is computed directly, to full relative accuracy, and the other as its
/// complement: the quantile needs the relative accuracy of the tail it inverts. (With a < 1 and
/// x < a + 1, Q comes from 1 - P and is accurate in absolute terms only.)
pub(crate) fn incomplete_gamma(a: f64, x: f64) -> (f64, f64) {
    if x == 0.0 {
        return (0.0, 1.0);
    }
    if x == f64::INFINITY {
        return (1.0, 0.0);
    }
    let mu = (x - a) / a;
    if a >= TEMME_MIN_A && mu.abs() <= TEMME_MAX_MU {
        temme(a, mu)
    } else if x < a + 1.0 {
        let p = lower_series(a, x);
        (p, 1.0 - p)
    } else {
        let q = upper_fraction(a, x);
        (1.0 - q, q)
    }
}

/// x^a e^(-x) / Γ(a), which is x times the gamma density at x: the slope of P in ln x.
///
/// For a >= 10 it is written as exp(-a (μ - ln(1 + μ))) sqrt(a / 2π) / Γ*(a) with μ = x/a - 1, so
/// that no exponent of size a ln a is formed and cancelled (a reaches 1e9).
pub(crate) fn density_factor(a: f64, x: f64) -> f64 {
    if a < 10.0 {
        return (a * x.ln() - x).exp() / libm::tgamma(a);
    }
    (-a * log1pmx((x - a) / a)).exp() * (a / TAU).sqrt() / gamma_star(a)
}

/// P(a, x) = x^a e^(-x) / Γ(a + 1) · Σ x^n / ((a + 1) ... (a + n)), for x < a + 1 (terms shrink
/// by x / (a + n) < 1).
fn lower_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..MAX_TERMS {
        term *= x / (a + n as f64);
        sum += term;
        if term < sum * f64::EPSILON {
            break;
        }
    }
    density_factor(a, x) / a * sum
}

/// Q(a, x) from Legendre's continued fraction, evaluated by the modified Lentz method; for
/// x >= a + 1, where it converges quickly.
fn upper_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut fraction = d;
    for i in 1..MAX_TERMS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        d = 1.0 / if d.abs() < TINY { TINY } else { d };
        c = b + an / c;
        c = if c.abs() < TINY { TINY } else { c };
        let delta = c * d;
        fraction *= delta;
        if (delta - 1.0).abs() < f64::EPSILON {
            break;
        }
    }
    density_factor(a, x) * fraction
}

/// μ - ln(1 + μ), without the cancellation of the direct formula for small μ.
pub(crate) fn log1pmx(mu: f64) -> f64 {
    if mu.abs() > 0.25 {
        return mu - mu.ln_1p();
    }
    // Σ_{n>=2} (-μ)^n / n: 25 terms reach 0.25^25 ~ 1e-15 of the leading μ²/2 term at worst.
    let mut power = mu * mu;
    let mut sum = 0.0;
    for n in 2..MAX_TERMS {
        let term = power / n as f64;
        sum += term;
        if term.abs() <= sum.abs() * f64::EPSILON {
            break;
        }
        power *= -mu;
    }
    sum
}

/// Γ*(a) = Γ(a) / (sqrt(2π / a) (a / e)^a), from Stirling's series; for a >= 10, where seven terms
/// are accurate to 1e-16.
fn gamma_star(a: f64) -> f64 {
    // B_2n / (2n (2n - 1)), n = 1..7
    const STIRLING: [f64; 7] =
        [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360360.0, 1.0 / 156.0];
    let inverse_square = 1.0 / (a * a);
    let series = STIRLING.iter().rev().fold(0.0, |sum, c| sum * inverse_square + c);
    (series / a).exp()
}
