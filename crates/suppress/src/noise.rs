//! Cell-key perturbation (the Cell Key Method, as used by CBS for the 2021 census and by ABS
//! TableBuilder): every unit gets a secret pseudo-random key, a cell's key is the sum of the keys
//! of the units that contribute to it, and the noise is a fixed function of the cell key. The same
//! set of units therefore always gets the same noise, however the SQL is spelled, and repeating a
//! query gains nothing.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;
use zicht_catalog::EntityType;

/// Keys units with a secret; anyone without the secret cannot predict the noise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CellKeyer {
    key0: u64,
    key1: u64,
}

/// What a cell key is used for; each purpose gets independent noise from the same key.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Threshold = 1,
    Count = 2,
    Magnitude = 3,
}

impl CellKeyer {
    pub fn new(secret: &[u8]) -> CellKeyer {
        let mut hasher = SipHasher13::new_with_keys(0x7a69_6368_7421, 0x0063_656c_6c6b_6579);
        hasher.write(secret);
        let key0 = hasher.finish();
        hasher.write_u8(0xff);
        CellKeyer { key0, key1: hasher.finish() }
    }

    /// The record key of one unit.
    pub fn unit_key(&self, entity: EntityType, id: i64) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.key0, self.key1);
        hasher.write_u8(entity as u8);
        hasher.write_i64(id);
        hasher.finish()
    }

    /// A uniform number in [0, 1) drawn from a cell key for one purpose.
    pub fn uniform(&self, cell_key: u64, purpose: Purpose) -> f64 {
        let mut hasher = SipHasher13::new_with_keys(self.key1, self.key0);
        hasher.write_u64(cell_key);
        hasher.write_u8(purpose as u8);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Count noise from a p-table: -2..=2 with probabilities 0.05, 0.2, 0.5, 0.2, 0.05 (variance 1.2).
pub fn count_noise(u: f64) -> i64 {
    match u {
        u if u < 0.05 => -2,
        u if u < 0.25 => -1,
        u if u < 0.75 => 0,
        u if u < 0.95 => 1,
        _ => 2,
    }
}

/// Extra units the noisy threshold demands above the hard floor k: 0, 1 or 2.
pub fn threshold_extra(u: f64) -> u64 {
    (u * 3.0).floor().min(2.0) as u64
}

/// Magnitude noise factor in [-1, -0.5] ∪ [0.5, 1]: never close to zero, so the largest
/// contributor is always masked by at least half the noise scale.
pub fn magnitude_factor(u: f64) -> f64 {
    let sign = if u < 0.5 { -1.0 } else { 1.0 };
    let spread = (u * 2.0).fract();
    sign * (0.5 + 0.5 * spread)
}

/// Rounds a non-negative count to a multiple of `base`, never below `base` itself: a released
/// count always stands for at least k units, and zero would reveal that.
pub fn round_count(value: i64, base: u32) -> i64 {
    let base = i64::from(base.max(1));
    let rounded = ((value as f64 / base as f64).round() as i64) * base;
    rounded.max(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_keys_depend_on_the_secret() {
        let a = CellKeyer::new(b"one");
        let b = CellKeyer::new(b"two");
        assert_ne!(a.unit_key(EntityType::Persoon, 7), b.unit_key(EntityType::Persoon, 7));
        assert_eq!(a.unit_key(EntityType::Persoon, 7), CellKeyer::new(b"one").unit_key(EntityType::Persoon, 7));
        assert_ne!(a.unit_key(EntityType::Persoon, 7), a.unit_key(EntityType::Woning, 7));
    }

    #[test]
    fn count_noise_follows_the_p_table() {
        let keyer = CellKeyer::new(b"s");
        let mut histogram = [0usize; 5];
        for cell in 0..100_000u64 {
            histogram[(count_noise(keyer.uniform(cell, Purpose::Count)) + 2) as usize] += 1;
        }
        let shares: Vec<f64> = histogram.iter().map(|&n| n as f64 / 100_000.0).collect();
        for (share, expected) in shares.iter().zip([0.05, 0.2, 0.5, 0.2, 0.05]) {
            assert!((share - expected).abs() < 0.01, "{shares:?}");
        }
    }

    #[test]
    fn magnitude_factor_stays_away_from_zero() {
        for i in 0..1000 {
            let f = magnitude_factor(i as f64 / 1000.0);
            assert!((0.5..=1.0).contains(&f.abs()), "{f}");
        }
    }

    #[test]
    fn rounding_never_releases_zero() {
        assert_eq!(round_count(12, 5), 10);
        assert_eq!(round_count(13, 5), 15);
        assert_eq!(round_count(1, 5), 5);
        assert_eq!(round_count(-2, 5), 5);
    }
}
