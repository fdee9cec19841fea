//! Cell-key perturbation with noise layers (the Cell Key Method as CBS and ABS use it, layered as
//! in Diffix).
//!
//! Every unit gets a secret pseudo-random key; the key of a cell's unit set is derived from the
//! keys of the units that contribute to it. Noise is a sum of layers, each a fixed function of the
//! secret and of what it is seeded with:
//!
//! - the base layer: the measure (what is counted or summed, over which tables) and the unit set;
//! - per filter condition, a static layer (the measure and the condition) and a dynamic layer (the
//!   measure, the condition and the unit set).
//!
//! So the same question over the same units always gets the same answer (repeating and averaging
//! gain nothing), two different measures never share noise (`sum(x)` and `sum(-x)` do not cancel),
//! and padding a query with conditions only adds layers, never removes the base layer.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;
use zicht_catalog::EntityType;

use crate::unit_keys;

/// Keys units and draws noise with a secret; without it, the noise cannot be predicted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CellKeyer {
    key0: u64,
    key1: u64,
}

/// Never the keys: a plan or an error printed for debugging must not carry them.
impl std::fmt::Debug for CellKeyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CellKeyer { .. }")
    }
}

/// What a draw is for; each purpose gets independent numbers from the same seeds.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Threshold = 1,
    Dominance = 2,
    BaseLayer = 3,
    StaticLayer = 4,
    DynamicLayer = 5,
    Complement = 6,
    Fingerprint = 7,
}

/// The seeds of a measure's noise: what is measured, and each condition that selected the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NoiseSeeds {
    pub measure: u64,
    pub conditions: Vec<u64>,
}

impl NoiseSeeds {
    /// Seeds from canonical texts: the measure (`sum(basis.persoon.inkomen) over basis.persoon`)
    /// and the conditions (`basis.persoon.geboortejaar = 1961`), deduplicated and sorted so that
    /// the order and repetition of conditions in the SQL do not matter.
    pub fn from_texts(measure: &str, conditions: &[String]) -> NoiseSeeds {
        let mut conditions: Vec<u64> = conditions.iter().map(|c| text_hash(c)).collect();
        conditions.sort_unstable();
        conditions.dedup();
        NoiseSeeds { measure: text_hash(measure), conditions }
    }
}

/// A stable 64-bit hash of a text (not secret: the secret enters when drawing).
pub fn text_hash(text: &str) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(0x7365_6564, 0x7465_7874);
    hasher.write(text.as_bytes());
    hasher.finish()
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
        unit_keys::unit_key(self.key0, self.key1, entity as u8, id)
    }

    /// The record keys of a column of units of one type, into `keys`: the same keys as
    /// [`CellKeyer::unit_key`], computed several at a time.
    pub(crate) fn unit_keys(&self, entity: EntityType, ids: &[i64], keys: &mut Vec<u64>) {
        unit_keys::unit_keys(self.key0, self.key1, entity as u8, ids, keys)
    }

    /// Tells whether two processes have the same secret without telling the secret: a keyed hash
    /// of nothing, drawn apart from every noise draw. Sent with a protecting aggregation to the
    /// workers of a cluster ([`crate::Blueprint`]).
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.key1, self.key0);
        hasher.write_u8(Purpose::Fingerprint as u8);
        hasher.finish()
    }

    /// A uniform number in [0, 1) from the secret, a purpose and seeds.
    fn draw(&self, purpose: Purpose, seeds: &[u64]) -> f64 {
        let mut hasher = SipHasher13::new_with_keys(self.key1, self.key0);
        hasher.write_u8(purpose as u8);
        for seed in seeds {
            hasher.write_u64(*seed);
        }
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Extra units the noisy threshold demands above the hard floor k: 0, 1 or 2. Seeded by the
    /// unit set only, so a cell is shown or not whatever is measured in it.
    pub fn threshold_extra(&self, units: u64) -> u64 {
        self.extra_units(Purpose::Threshold, units)
    }

    /// Extra units (0, 1 or 2) the complement of a conditional count must hold above k, drawn
    /// apart from the cell's own threshold: "released or not" must not mark an exact size of the
    /// units left out.
    pub fn complement_extra(&self, units: u64) -> u64 {
        self.extra_units(Purpose::Complement, units)
    }

    /// 0, 1 or 2, each a third of the time, drawn for `purpose` from the unit set.
    fn extra_units(&self, purpose: Purpose, units: u64) -> u64 {
        (self.draw(purpose, &[units]) * 3.0).floor().min(2.0) as u64
    }

    /// A factor in (0.9, 1] that makes the dominance limits of a cell slightly and unpredictably
    /// stricter, so that "suppressed or not" does not mark an exact share.
    pub fn dominance_factor(&self, units: u64) -> f64 {
        1.0 - 0.1 * self.draw(Purpose::Dominance, &[units])
    }

    /// The layers' uniform draws in [0, 1) for a measure over a unit set: base, then a static and
    /// a dynamic layer per condition.
    fn layers<'a>(&'a self, seeds: &'a NoiseSeeds, units: u64) -> impl Iterator<Item = f64> + 'a {
        let base = self.draw(Purpose::BaseLayer, &[seeds.measure, units]);
        let per_condition = seeds.conditions.iter().flat_map(move |&condition| {
            [
                self.draw(Purpose::StaticLayer, &[seeds.measure, condition]),
                self.draw(Purpose::DynamicLayer, &[seeds.measure, condition, units]),
            ]
        });
        std::iter::once(base).chain(per_condition)
    }

    /// Count noise for a count of `count` rows or units: a p-table draw of -2..=2 per layer. The
    /// count itself joins the unit set in seeding the layers (the Cell Key Method keys a cell by
    /// its records): every spelling of one count over one set of units (`count(*)`,
    /// `count(DISTINCT key)`, `count(column without NULLs)`) gets the same noise, so spellings
    /// cannot be averaged; two different counts never share noise, so they cannot be subtracted.
    pub fn count_noise(&self, seeds: &NoiseSeeds, units: u64, count: i64) -> i64 {
        self.layers(seeds, mix(units, count as u64)).map(count_noise).sum()
    }

    /// Magnitude noise in units of the cell's noise scale: uniform in [-1, 1] per layer.
    pub fn magnitude_noise(&self, seeds: &NoiseSeeds, units: u64) -> f64 {
        self.layers(seeds, units).map(|u| 2.0 * u - 1.0).sum()
    }
}

/// The key of a quantile window: the cell's unit set and the window's first and last position in
/// the cell's sorted values.
pub(crate) fn quantile_window_key(units: u64, (low, high): (usize, usize)) -> u64 {
    mix_parts(units, 0x7769_6e64_6f77, &[low as u64, high as u64])
}

fn mix(units: u64, count: u64) -> u64 {
    mix_parts(units, 0x0063_6f75_6e74, &[count])
}

/// A unit set's key mixed with `parts`, under a `salt` per use.
fn mix_parts(units: u64, salt: u64, parts: &[u64]) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(units, salt);
    for &part in parts {
        hasher.write_u64(part);
    }
    hasher.finish()
}

/// The key of a cell's unit set from the keys of each unit column (entity type and the wrapping
/// sum of its contributing units' keys). Identical columns count once, and the order of columns
/// does not matter: a self-join on the unit id has the same key as the table alone.
pub fn unit_set_key(columns: &mut [(EntityType, u64)]) -> u64 {
    columns.sort_unstable();
    let mut hasher = SipHasher13::new_with_keys(0x756e_6974, 0x7365_7473);
    let mut previous = None;
    for column in columns.iter() {
        if previous != Some(*column) {
            hasher.write_u8(column.0 as u8);
            hasher.write_u64(column.1);
        }
        previous = Some(*column);
    }
    hasher.finish()
}

/// Count noise from a p-table: -2..=2 with probabilities 0.05, 0.2, 0.5, 0.2, 0.05 (variance 1.2).
fn count_noise(u: f64) -> i64 {
    match u {
        u if u < 0.05 => -2,
        u if u < 0.25 => -1,
        u if u < 0.75 => 0,
        u if u < 0.95 => 1,
        _ => 2,
    }
}

/// Rounds a non-negative count to a multiple of `base`, never below `base` itself: a released
/// count always stands for at least k units, and zero would reveal that.
pub fn round_count(value: i64, base: u32) -> i64 {
    let base = i64::from(base.max(1));
    let rounded = ((value as f64 / base as f64).round() as i64) * base;
    rounded.max(base)
}

/// The smallest number of the 1-2-5 series (…, 0.5, 1, 2, 5, 10, 20, …) at or above `value`.
/// Noise scales are snapped to it, so the noise magnitude tells little about any one unit's value.
pub fn snap_up_125(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 0.0;
    }
    let decade = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * decade).find(|&step| step >= value * (1.0 - 1e-12)).unwrap_or(value)
}

/// Whether `value` belongs to the 1-2-5 series (a "money-style" bucket width, as in pg_diffix).
pub fn is_125(value: f64) -> bool {
    value > 0.0 && value.is_finite() && (snap_up_125(value) - value).abs() <= 1e-9 * value
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
        let seeds = NoiseSeeds::from_texts("count(*)", &[]);
        let mut histogram = [0usize; 5];
        for cell in 0..100_000u64 {
            histogram[(keyer.count_noise(&seeds, cell, 42) + 2) as usize] += 1;
        }
        let shares: Vec<f64> = histogram.iter().map(|&n| n as f64 / 100_000.0).collect();
        for (share, expected) in shares.iter().zip([0.05, 0.2, 0.5, 0.2, 0.05]) {
            assert!((share - expected).abs() < 0.01, "{shares:?}");
        }
    }

    #[test]
    fn different_measures_get_independent_noise() {
        let keyer = CellKeyer::new(b"s");
        let plus = NoiseSeeds::from_texts("sum(x)", &[]);
        let minus = NoiseSeeds::from_texts("sum(- x)", &[]);
        let same = (0..1000u64).filter(|&u| keyer.magnitude_noise(&plus, u) == keyer.magnitude_noise(&minus, u));
        assert_eq!(same.count(), 0);
    }

    #[test]
    fn conditions_add_layers_in_any_order() {
        let keyer = CellKeyer::new(b"s");
        let ab = NoiseSeeds::from_texts("count(*)", &["a".into(), "b".into(), "a".into()]);
        let ba = NoiseSeeds::from_texts("count(*)", &["b".into(), "a".into()]);
        assert_eq!(ab, ba);
        assert_eq!(keyer.layers(&ab, 1).count(), 5);
    }

    #[test]
    fn identical_unit_columns_count_once() {
        let a = unit_set_key(&mut [(EntityType::Persoon, 5), (EntityType::Huishouden, 9)]);
        let twice = unit_set_key(&mut [
            (EntityType::Huishouden, 9),
            (EntityType::Persoon, 5),
            (EntityType::Persoon, 5),
            (EntityType::Huishouden, 9),
        ]);
        assert_eq!(a, twice);
        assert_ne!(a, unit_set_key(&mut [(EntityType::Persoon, 5)]));
    }

    #[test]
    fn rounding_never_releases_zero() {
        assert_eq!(round_count(12, 5), 10);
        assert_eq!(round_count(13, 5), 15);
        assert_eq!(round_count(1, 5), 5);
        assert_eq!(round_count(-2, 5), 5);
    }

    #[test]
    fn the_125_series() {
        assert_eq!(snap_up_125(3.0), 5.0);
        assert_eq!(snap_up_125(5.0), 5.0);
        assert_eq!(snap_up_125(7_200.0), 10_000.0);
        assert_eq!(snap_up_125(0.15), 0.2);
        for width in [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50_000.0] {
            assert!(is_125(width), "{width}");
        }
        for width in [0.0, 3.0, 6.0, 15.0, 25.0, -5.0] {
            assert!(!is_125(width), "{width}");
        }
    }
}
