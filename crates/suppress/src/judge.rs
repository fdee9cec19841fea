//! Judging a cell: the rules of docs/suppression.md applied to what a protecting aggregate saw.
//!
//! A cell is released only when every unit column has at least the (noisy) threshold of
//! contributing units, no unit or pair of units dominates it, and it discloses no group (all
//! values alike, a share of 0% or 100%); the released value then carries layered cell-key noise
//! ([`crate::noise`]). Anything that fails is `None`: NULL to the analyst.

use datafusion::common::HashMap;
use zicht_catalog::SuppressionParams;

use crate::aggregate::{Cell, Measure, NO_UNIT, Spec, Tally};
use crate::noise::{round_count, snap_up_125, unit_set_key};

/// Contributors whose largest values set the noise scale of sums and means.
const SCALE_CONTRIBUTORS: usize = 5;
/// Values closer together than this share of their magnitude count as identical.
const IDENTICAL_RELATIVE: f64 = 1e-3;

/// The released value of a cell, or None when a rule suppresses it.
pub(crate) fn judge(spec: &Spec, cell: &Cell) -> Option<f64> {
    let contributes = |t: &Tally| match spec.measure {
        Measure::Cell => true,
        Measure::Sum => t.rows > 0 && t.contribution != 0.0,
        _ => t.rows > 0,
    };
    let units = cell_units_key(spec, cell, contributes);
    let threshold = u64::from(spec.params.k) + spec.keyer.threshold_extra(units);
    let contributors: Vec<u64> =
        cell.units.iter().map(|column| column.values().filter(|t| contributes(t)).count() as u64).collect();
    if contributors.is_empty() || contributors.iter().any(|&n| n < threshold) {
        return None;
    }
    let judged =
        Judged { spec, cell, units, threshold, params: stricter(&spec.params, spec.keyer.dominance_factor(units)) };
    match spec.measure {
        Measure::Cell => Some(1.0),
        Measure::Count => judged.count(),
        Measure::CountUnits(column) => judged.count_units(column, contributors[column]),
        Measure::Sum => judged.sum(),
        Measure::Avg => judged.avg(),
        Measure::Quantile(fraction) => judged.quantile(fraction),
    }
}

/// A cell that passed the threshold, with what the remaining rules need.
struct Judged<'a> {
    spec: &'a Spec,
    cell: &'a Cell,
    /// Key of the contributing unit set.
    units: u64,
    threshold: u64,
    /// The catalog's dominance limits, made slightly stricter by the cell's key.
    params: SuppressionParams,
}

impl Judged<'_> {
    fn count(&self) -> Option<f64> {
        let complement_ok = self.cell.units.iter().all(|units| complement_ok(units, self.spec.params.k));
        let rows_dominated = self
            .cell
            .units
            .iter()
            .any(|units| dominated(units.values().map(|t| f64::from(t.rows)), &self.params, false));
        (complement_ok && !rows_dominated).then(|| self.rounded(self.cell.rows as i64))
    }

    /// count(DISTINCT unit): the units left out by a FILTER or a NULL value form a complement too.
    fn count_units(&self, column: usize, contributors: u64) -> Option<f64> {
        complement_ok(&self.cell.units[column], self.spec.params.k).then(|| self.rounded(contributors as i64))
    }

    fn rounded(&self, count: i64) -> f64 {
        round_count(count + self.count_noise(&self.spec.seeds, count), self.spec.params.rounding_base) as f64
    }

    fn count_noise(&self, seeds: &crate::noise::NoiseSeeds, count: i64) -> i64 {
        self.spec.keyer.count_noise(seeds, self.units, count)
    }

    fn sum(&self) -> Option<f64> {
        let k = self.spec.params.k as usize;
        for units in &self.cell.units {
            let contributions = || units.values().filter(|t| t.rows > 0).map(|t| t.contribution);
            if identical(contributions()) || dominated(contributions().map(f64::abs), &self.params, true) {
                return None;
            }
            // A sum of 0/c values counts the units having something; those without it must be a
            // group of at least k too (and a 100% share is group disclosure).
            if self.cell.two_valued && units.values().filter(|t| t.contribution == 0.0).count() < k {
                return None;
            }
        }
        if self.cell.two_valued {
            let having = (self.cell.sum / self.cell.nonzero).round() as i64;
            return Some(self.cell.nonzero * self.rounded(having));
        }
        Some(self.cell.sum + self.noise_scale() * self.spec.keyer.magnitude_noise(&self.spec.seeds, self.units))
    }

    /// A mean is a noisy sum over a noisy row count: never the exact count, never an exact total.
    fn avg(&self) -> Option<f64> {
        let cell = self.cell;
        let k = self.spec.params.k as usize;
        if cell.rows == 0 || alike(cell.min, cell.max) {
            // All values (nearly) the same: the mean tells every unit's value (group disclosure).
            return None;
        }
        for units in &cell.units {
            let contributing = || units.values().filter(|t| t.rows > 0);
            if dominated(contributing().map(|t| t.contribution.abs()), &self.params, true) {
                return None;
            }
            if cell.two_valued {
                let with = contributing().filter(|t| t.contribution != 0.0).count();
                let without = contributing().filter(|t| t.contribution == 0.0).count();
                if with < k || without < k {
                    return None;
                }
            }
        }
        let keyer = &self.spec.keyer;
        let sum = if cell.two_valued {
            let having = (cell.sum / cell.nonzero).round() as i64;
            cell.nonzero * (having + self.count_noise(&self.spec.seeds, having)) as f64
        } else {
            cell.sum + self.noise_scale() * keyer.magnitude_noise(&self.spec.seeds, self.units)
        };
        let rows = (cell.rows as i64 + self.count_noise(&self.spec.count_seeds, cell.rows as i64)).max(1);
        Some(sum / rows as f64)
    }

    /// The scale of magnitude noise: the mean of the largest per-unit contributions of the unit
    /// column where they are largest, snapped up to the 1-2-5 series, so that one unit's value
    /// neither escapes the noise nor can be read off its size.
    fn noise_scale(&self) -> f64 {
        let scale = self
            .cell
            .units
            .iter()
            .map(|units| {
                let mut top: Vec<f64> = units.values().filter(|t| t.rows > 0).map(|t| t.contribution.abs()).collect();
                let n = top.len().min(SCALE_CONTRIBUTORS);
                if n == 0 {
                    return 0.0;
                }
                top.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
                top[..n].iter().sum::<f64>() / n as f64
            })
            .fold(0.0, f64::max);
        snap_up_125(scale)
    }

    /// A quantile is the mean of the values around it, over a window of rows that holds at least
    /// the threshold of distinct units of every unit column, none of which holds more than the
    /// single-unit share of the window; never one unit's value, however many rows it has.
    fn quantile(&self, fraction: f64) -> Option<f64> {
        let cell = self.cell;
        let window = QuantileWindow::around(cell, fraction, self.threshold as usize, &self.params)?;
        let values: Vec<f64> = window.rows.iter().map(|&i| cell.values[i]).collect();
        for column in &cell.value_ids {
            let mut per_unit: HashMap<i64, f64> = HashMap::default();
            for &row in &window.rows {
                *per_unit.entry(column[row]).or_default() += cell.values[row].abs();
            }
            if dominated(per_unit.into_values(), &self.params, true) {
                return None;
            }
        }
        let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        if alike(low, high) {
            return None;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let noise = self.spec.keyer.magnitude_noise(&self.spec.seeds, self.units);
        Some(mean + (high - low) / 4.0 * noise)
    }
}

/// The rows of a quantile window, as indices into the cell's values.
struct QuantileWindow {
    rows: Vec<usize>,
}

impl QuantileWindow {
    /// Grows a window outwards from the quantile's position, one row at a time on alternating
    /// sides, until it satisfies [`QuantileWindow::holds`]; None if even all rows do not.
    fn around(cell: &Cell, fraction: f64, threshold: usize, params: &SuppressionParams) -> Option<QuantileWindow> {
        let n = cell.values.len();
        if n == 0 {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| cell.values[a].total_cmp(&cell.values[b]));
        let position = (fraction.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize;
        let mut counts: Vec<HashMap<i64, usize>> = vec![HashMap::default(); cell.value_ids.len()];
        let add = |row: usize, counts: &mut Vec<HashMap<i64, usize>>| {
            for (column, ids) in counts.iter_mut().zip(&cell.value_ids) {
                *column.entry(ids[row]).or_default() += 1;
            }
        };
        let (mut low, mut high) = (position, position);
        add(order[position], &mut counts);
        let mut grow_up = true;
        while !Self::holds(&counts, high - low + 1, threshold, params) {
            let can_up = high + 1 < n;
            let can_down = low > 0;
            match (grow_up && can_up, can_down) {
                (true, _) => {
                    high += 1;
                    add(order[high], &mut counts);
                }
                (false, true) => {
                    low -= 1;
                    add(order[low], &mut counts);
                }
                (false, false) if can_up => {
                    high += 1;
                    add(order[high], &mut counts);
                }
                (false, false) => return None,
            }
            grow_up = !grow_up;
        }
        Some(QuantileWindow { rows: order[low..=high].to_vec() })
    }

    /// Every unit column has at least `threshold` distinct units in the window, and no unit holds
    /// more than the single-unit share of its rows.
    fn holds(counts: &[HashMap<i64, usize>], rows: usize, threshold: usize, params: &SuppressionParams) -> bool {
        counts.iter().all(|column| {
            let units = column.keys().filter(|&&id| id != NO_UNIT).count();
            let largest = column.iter().filter(|(id, _)| **id != NO_UNIT).map(|(_, n)| *n).max().unwrap_or(0);
            units >= threshold && (largest as f64) <= params.max_unit_share / 100.0 * rows as f64
        })
    }
}

/// The key of the contributing unit set: per unit column the wrapping sum of its units' keys.
fn cell_units_key(spec: &Spec, cell: &Cell, contributes: impl Fn(&Tally) -> bool) -> u64 {
    let mut columns: Vec<_> = cell
        .units
        .iter()
        .zip(&spec.entities)
        .map(|(units, entity)| {
            let key = units
                .iter()
                .filter(|(_, t)| contributes(t))
                .fold(0u64, |acc, (id, _)| acc.wrapping_add(spec.keyer.unit_key(*entity, *id)));
            (*entity, key)
        })
        .collect();
    unit_set_key(&mut columns)
}

/// The catalog's limits made stricter by `factor` (in (0.9, 1]).
fn stricter(params: &SuppressionParams, factor: f64) -> SuppressionParams {
    SuppressionParams {
        dominance_k: params.dominance_k * factor,
        max_unit_share: params.max_unit_share * factor,
        p_percent: params.p_percent / factor,
        ..*params
    }
}

/// Units seen in the cell whose rows were all excluded (by FILTER, a NULL value or a CASE without
/// ELSE) form the complement of the released count: it must be empty or hold at least k units,
/// or `count(*) - count(x)` would describe fewer than k units.
fn complement_ok(units: &HashMap<i64, Tally>, k: u32) -> bool {
    let complement = units.values().filter(|t| t.rows == 0).count();
    complement == 0 || complement >= k as usize
}

/// Whether two extremes are so close that every value between them is as good as known.
fn alike(low: f64, high: f64) -> bool {
    high - low <= IDENTICAL_RELATIVE * low.abs().max(high.abs())
}

fn identical(mut values: impl Iterator<Item = f64>) -> bool {
    let Some(first) = values.next() else { return true };
    let (low, high) = values.fold((first, first), |(l, h), v| (l.min(v), h.max(v)));
    alike(low, high)
}

/// The single-unit share rule, (n,k) dominance and, for magnitudes, the p% rule, on per-unit totals.
fn dominated(totals: impl Iterator<Item = f64>, params: &SuppressionParams, p_rule: bool) -> bool {
    let mut top = vec![0.0f64; params.dominance_n.max(2) as usize];
    let mut total = 0.0;
    for value in totals {
        total += value;
        if value > top[top.len() - 1] {
            top.pop();
            let at = top.partition_point(|&t| t >= value);
            top.insert(at, value);
        }
    }
    if total <= 0.0 {
        return false;
    }
    if top[0] > params.max_unit_share / 100.0 * total {
        return true;
    }
    let top_n: f64 = top.iter().take(params.dominance_n as usize).sum();
    if top_n > params.dominance_k / 100.0 * total {
        return true;
    }
    // p%: the runner-up knows its own value and the total, so it estimates the largest as
    // total - x2; that estimate must be off by at least p% of the largest.
    p_rule && total - top[0] - top[1] < params.p_percent / 100.0 * top[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SuppressionParams {
        SuppressionParams::default()
    }

    #[test]
    fn one_owner_with_sixty_percent_dominates() {
        let mut totals = vec![600.0];
        totals.extend(std::iter::repeat_n(400.0 / 20.0, 20));
        assert!(dominated(totals.into_iter(), &params(), true));
    }

    #[test]
    fn one_unit_with_most_rows_dominates_a_count() {
        let mut rows = vec![50.0];
        rows.extend(std::iter::repeat_n(1.0, 20));
        assert!(dominated(rows.into_iter(), &params(), false));
    }

    #[test]
    fn an_even_spread_is_not_dominated() {
        assert!(!dominated(std::iter::repeat_n(10.0, 30), &params(), true));
    }

    #[test]
    fn the_p_rule_catches_what_dominance_misses() {
        // With (2, 85%) the p% rule at 10% is implied; with dominance relaxed it still protects:
        // the top two hold 94.5%, the rest (5.5) is under 10% of the largest (90).
        let relaxed = SuppressionParams { dominance_k: 99.0, max_unit_share: 100.0, ..params() };
        let mut totals = vec![90.0, 4.5];
        totals.extend(std::iter::repeat_n(0.5, 11));
        assert!(!dominated(totals.clone().into_iter(), &relaxed, false));
        assert!(dominated(totals.into_iter(), &relaxed, true));
    }

    #[test]
    fn jittered_values_are_still_alike() {
        assert!(identical([2.0, 2.000001, 2.0000003].into_iter()));
        assert!(!identical([1950.0, 1961.0].into_iter()));
    }

    fn cell_of(rows: &[(f64, i64)]) -> Cell {
        let mut cell = Cell {
            units: vec![HashMap::default()],
            rows: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            nonzero: f64::NAN,
            two_valued: false,
            values: Vec::new(),
            value_ids: vec![Vec::new()],
        };
        for &(value, unit) in rows {
            cell.values.push(value);
            cell.value_ids[0].push(unit);
        }
        cell
    }

    #[test]
    fn a_quantile_window_holds_k_units_not_k_rows() {
        // One unit with 101 rows of the same value sits at the median: the window must grow past
        // its rows until it holds ten units and the unit has at most half of the rows.
        let mut rows: Vec<(f64, i64)> = (0..101).map(|_| (500.0, 1)).collect();
        rows.extend((0..60).map(|i| (100.0 + i as f64, 100 + i)));
        rows.extend((0..60).map(|i| (900.0 + i as f64, 200 + i)));
        let cell = cell_of(&rows);
        let window = QuantileWindow::around(&cell, 0.5, 10, &params()).unwrap();
        assert!(window.rows.len() >= 202, "{}", window.rows.len());
        let distinct: std::collections::HashSet<i64> = window.rows.iter().map(|&r| cell.value_ids[0][r]).collect();
        assert!(distinct.len() >= 10);
    }

    #[test]
    fn a_quantile_of_too_few_units_has_no_window() {
        let cell = cell_of(&[(1.0, 1), (2.0, 2), (3.0, 1)]);
        assert!(QuantileWindow::around(&cell, 0.5, 10, &params()).is_none());
    }
}
