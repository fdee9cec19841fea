//! Judging a cell: the rules of docs/suppression.md applied to what a protecting aggregate saw.
//!
//! A cell is released only when every unit column has at least the (noisy) threshold of
//! contributing units, no unit or pair of units dominates it, and it discloses no group (all
//! values alike, a share of 0% or 100%); the released value then carries layered cell-key noise
//! ([`crate::noise`]). Anything that fails is `None`: NULL to the analyst.

use datafusion::common::HashMap;
use zicht_catalog::SuppressionParams;

use crate::aggregate::{Measure, MeasureSpec, Spec};
use crate::cell::{Cell, NO_UNIT, SCALE_CONTRIBUTORS, Totals};
use crate::noise::{NoiseSeeds, quantile_window_key, round_count, snap_up_125, unit_set_key};
use crate::summary::{ColumnSummary, Contributes, Summaries, alike};

/// The released value of measure `m` of a cell, or None when a rule suppresses it, from the
/// summaries of each unit column for the measure's input.
pub(crate) fn judge(spec: &Spec, cell: &Cell, m: usize, summaries: &[Summaries]) -> Option<f64> {
    let measure = &spec.measures[m];
    let contributes = match measure.measure {
        Measure::Cell => Contributes::Seen,
        Measure::Sum => Contributes::Nonzero,
        _ => Contributes::Included,
    };
    let columns: Vec<ColumnSummary> = summaries.iter().map(|s| s[contributes as usize].clone()).collect();
    let mut keys: Vec<_> = spec.shape.entities.iter().zip(&columns).map(|(e, s)| (*e, s.contributor_keys)).collect();
    let units = unit_set_key(&mut keys);
    let threshold = u64::from(spec.params.k) + spec.keyer.threshold_extra(units);
    if columns.is_empty() || columns.iter().any(|s| s.contributors < threshold) {
        return None;
    }
    let judged = Judged {
        spec,
        measure,
        totals: &cell.totals[measure.input],
        columns: &columns,
        units,
        threshold,
        params: stricter(&spec.params, spec.keyer.dominance_factor(units)),
    };
    match measure.measure {
        Measure::Cell => Some(1.0),
        Measure::Count => judged.count(),
        Measure::CountUnits(column) => judged.count_units(column),
        Measure::Sum => judged.sum(),
        Measure::Avg => judged.avg(),
        Measure::Quantile(fraction) => judged.quantile(fraction),
    }
}

/// A cell that passed the threshold for one measure, with what the remaining rules need.
struct Judged<'a> {
    spec: &'a Spec,
    measure: &'a MeasureSpec,
    totals: &'a Totals,
    columns: &'a [ColumnSummary],
    /// Key of the contributing unit set.
    units: u64,
    threshold: u64,
    /// The catalog's dominance limits, made slightly stricter by the cell's key.
    params: SuppressionParams,
}

impl Judged<'_> {
    fn count(&self) -> Option<f64> {
        let complement_ok = self.columns.iter().all(|s| self.complement_ok(s.complement));
        let rows_dominated = self.columns.iter().any(|s| dominated(&s.top_rows, s.total_rows, &self.params, false));
        (complement_ok && !rows_dominated).then(|| self.rounded(self.totals.rows as i64))
    }

    /// count(DISTINCT unit): the units left out by a FILTER or a NULL value form a complement too.
    fn count_units(&self, column: usize) -> Option<f64> {
        let summary = &self.columns[column];
        self.complement_ok(summary.complement).then(|| self.rounded(summary.contributors as i64))
    }

    /// Units seen in the cell whose rows were all left out (by FILTER, a NULL value or a CASE
    /// without ELSE) form the complement of the released count. An unconditional count leaves
    /// none out. A conditional one must leave out a group of at least the (noisy) threshold:
    /// fewer would let `count(*) - count(x)` describe fewer than k units, and none at all is a
    /// 100% share (everyone in the cell has the property), which is group disclosure. The noise
    /// keeps "released or not" from marking an exact complement size.
    fn complement_ok(&self, complement: u64) -> bool {
        (!self.measure.conditional && complement == 0) || complement >= self.group_threshold()
    }

    /// How many units a group left out of a measure (the complement of a count, the units
    /// without a share's property) must hold: k plus 0, 1 or 2, drawn apart from the cell's own
    /// threshold, so that "released or not" never marks an exact size.
    fn group_threshold(&self) -> u64 {
        u64::from(self.spec.params.k) + self.spec.keyer.complement_extra(self.units)
    }

    fn rounded(&self, count: i64) -> f64 {
        round_count(count + self.count_noise(&self.measure.seeds, count), self.spec.params.rounding_base) as f64
    }

    fn count_noise(&self, seeds: &NoiseSeeds, count: i64) -> i64 {
        self.spec.keyer.count_noise(seeds, self.units, count)
    }

    fn sum(&self) -> Option<f64> {
        for s in self.columns {
            if s.alike || dominated(&s.top, s.total_abs, &self.params, true) {
                return None;
            }
            // A sum of 0/c values counts the units having something; those without it must be a
            // group of at least k too (and a 100% share is group disclosure).
            if self.totals.two_valued && s.with_zero + s.complement < self.group_threshold() {
                return None;
            }
        }
        if self.totals.two_valued {
            let having = (self.totals.sum / self.totals.nonzero).round() as i64;
            return Some(self.totals.nonzero * self.rounded(having));
        }
        Some(self.totals.sum + self.noise_scale() * self.spec.keyer.magnitude_noise(&self.measure.seeds, self.units))
    }

    /// A mean is a noisy sum over a noisy row count: never the exact count, never an exact total.
    fn avg(&self) -> Option<f64> {
        let totals = self.totals;
        if totals.rows == 0 || alike(totals.min, totals.max) {
            // All values (nearly) the same: the mean tells every unit's value (group disclosure).
            return None;
        }
        for s in self.columns {
            if dominated(&s.top, s.total_abs, &self.params, true) {
                return None;
            }
            if totals.two_valued && (s.with_nonzero < self.threshold || s.with_zero < self.group_threshold()) {
                return None;
            }
        }
        let keyer = &self.spec.keyer;
        let sum = if totals.two_valued {
            let having = (totals.sum / totals.nonzero).round() as i64;
            totals.nonzero * (having + self.count_noise(&self.measure.seeds, having)) as f64
        } else {
            totals.sum + self.noise_scale() * keyer.magnitude_noise(&self.measure.seeds, self.units)
        };
        let rows = (totals.rows as i64 + self.count_noise(&self.measure.count_seeds, totals.rows as i64)).max(1);
        Some(sum / rows as f64)
    }

    /// The scale of magnitude noise: the mean of the largest per-unit contributions of the unit
    /// column where they are largest, snapped up to the 1-2-5 series, so that one unit's value
    /// neither escapes the noise nor can be read off its size.
    fn noise_scale(&self) -> f64 {
        let scale = self
            .columns
            .iter()
            .map(|s| {
                let top = &s.top[..s.top.len().min(SCALE_CONTRIBUTORS)];
                if top.is_empty() { 0.0 } else { top.iter().sum::<f64>() / top.len() as f64 }
            })
            .fold(0.0, f64::max);
        snap_up_125(scale)
    }

    /// A quantile is the mean of the values around it, over a window of rows that holds at least
    /// the threshold of distinct units of every unit column, none of which holds more than the
    /// single-unit share of the window; never one unit's value, however many rows it has.
    fn quantile(&self, fraction: f64) -> Option<f64> {
        let totals = self.totals;
        let window = QuantileWindow::around(totals, fraction, self.threshold as usize, &self.params)?;
        let values: Vec<f64> = window.rows.iter().map(|&i| totals.values[i]).collect();
        for column in &totals.value_ids {
            let mut per_unit: HashMap<i64, f64> = HashMap::default();
            for &row in &window.rows {
                *per_unit.entry(column[row]).or_default() += totals.values[row].abs();
            }
            let total: f64 = per_unit.values().sum();
            let mut top: Vec<f64> = per_unit.into_values().collect();
            top.sort_by(|a, b| b.total_cmp(a));
            if dominated(&top, total, &self.params, true) {
                return None;
            }
        }
        let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        if alike(low, high) {
            return None;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        // Seeded by the window, not the fraction: fractions that land on one window get one
        // answer, so asking all of them averages nothing away.
        let window = quantile_window_key(self.units, window.span);
        let noise = self.spec.keyer.magnitude_noise(&self.measure.count_seeds, window);
        Some(mean + (high - low) / 4.0 * noise)
    }
}

/// The rows of a quantile window, as indices into the cell's values.
struct QuantileWindow {
    rows: Vec<usize>,
    /// The window's first and last position in the cell's sorted values: the fractions that land
    /// on one window share its noise.
    span: (usize, usize),
}

/// How far on each side of a quantile's position the rows are first put in order. A window
/// holds a few times the threshold of units, so this almost always suffices; when it does not,
/// the reach grows sixteenfold and the window is grown again from the start.
const FIRST_REACH: usize = 4_096;

/// The cell's rows in order of value around a position: the rows at sorted positions
/// `from..from + rows.len()`.
struct SortedAround {
    from: usize,
    rows: Vec<usize>,
}

impl SortedAround {
    /// The row at sorted position `at`; None when `at` lies outside the sorted part.
    fn at(&self, at: usize) -> Option<usize> {
        at.checked_sub(self.from).and_then(|offset| self.rows.get(offset)).copied()
    }
}

/// Why growing a window stopped without one.
enum NoWindow {
    /// Even all rows of the cell do not make a window.
    Never,
    /// The window grew past the rows put in order so far.
    NeedsReach,
}

impl QuantileWindow {
    /// Grows a window outwards from the quantile's position, one row at a time on alternating
    /// sides, until it satisfies [`QuantileWindow::holds`]; None if even all rows do not.
    ///
    /// Only the rows near the position are put in order (a selection around it, then a sort of
    /// those): the national median of 18 million incomes sorted them all, half of that query's
    /// time. Rows that compare equal have the same value and unit ids, so which of them lands
    /// where changes nothing in the window.
    fn around(cell: &Totals, fraction: f64, threshold: usize, params: &SuppressionParams) -> Option<QuantileWindow> {
        let n = cell.values.len();
        if n == 0 {
            return None;
        }
        let position = position_of(fraction, n);
        let mut keyed: Vec<(f64, u32)> = cell.values.iter().enumerate().map(|(row, &v)| (v, row as u32)).collect();
        let mut reach = FIRST_REACH;
        loop {
            let sorted = sorted_around(cell, &mut keyed, position, reach);
            match Self::grow(cell, &sorted, position, threshold, params) {
                Ok(window) => return Some(window),
                Err(NoWindow::Never) => return None,
                Err(NoWindow::NeedsReach) => reach = reach.saturating_mul(16),
            }
        }
    }

    fn grow(
        cell: &Totals,
        sorted: &SortedAround,
        position: usize,
        threshold: usize,
        params: &SuppressionParams,
    ) -> Result<QuantileWindow, NoWindow> {
        let n = cell.values.len();
        let mut counts: Vec<HashMap<i64, usize>> = vec![HashMap::default(); cell.value_ids.len()];
        let add = |at: usize, counts: &mut Vec<HashMap<i64, usize>>| -> Result<(), NoWindow> {
            let row = sorted.at(at).ok_or(NoWindow::NeedsReach)?;
            for (column, ids) in counts.iter_mut().zip(&cell.value_ids) {
                *column.entry(ids[row]).or_default() += 1;
            }
            Ok(())
        };
        let (mut low, mut high) = (position, position);
        add(position, &mut counts)?;
        let mut grow_up = true;
        while !Self::holds(&counts, high - low + 1, threshold, params) {
            let can_up = high + 1 < n;
            let can_down = low > 0;
            match (grow_up && can_up, can_down) {
                (true, _) => {
                    high += 1;
                    add(high, &mut counts)?;
                }
                (false, true) => {
                    low -= 1;
                    add(low, &mut counts)?;
                }
                (false, false) if can_up => {
                    high += 1;
                    add(high, &mut counts)?;
                }
                (false, false) => return Err(NoWindow::Never),
            }
            grow_up = !grow_up;
        }
        let rows = (low..=high).map(|at| sorted.at(at).expect("the window lies in the sorted part")).collect();
        Ok(QuantileWindow { rows, span: (low, high) })
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

/// The rows at sorted positions `position - reach ..= position + reach` in order of value, ties
/// broken by their unit ids: the order, and so the window and its noise, must not depend on the
/// order in which rows arrived (that varies between runs, and a repeated question must get the
/// same answer). `keyed` holds (value, row) pairs, which select and sort several times faster
/// than row indices whose values are looked up; it is reordered in place.
fn sorted_around(cell: &Totals, keyed: &mut [(f64, u32)], position: usize, reach: usize) -> SortedAround {
    let ties = |a: u32, b: u32| {
        let (a, b) = (a as usize, b as usize);
        cell.value_ids.iter().map(|ids| ids[a].cmp(&ids[b])).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    };
    let order = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then_with(|| ties(a.1, b.1));
    let len = keyed.len();
    let from = position.saturating_sub(reach);
    let to = position.saturating_add(reach).min(len - 1);
    if from > 0 {
        keyed.select_nth_unstable_by(from, order);
    }
    if to + 1 < len {
        keyed[from..].select_nth_unstable_by(to - from, order);
    }
    let part = &mut keyed[from..=to];
    part.sort_unstable_by(order);
    SortedAround { from, rows: part.iter().map(|&(_, row)| row as usize).collect() }
}

/// The sorted position a quantile's window grows from, among `n` rows.
fn position_of(fraction: f64, n: usize) -> usize {
    (fraction.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize
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

/// The single-unit share rule, (n,k) dominance and, for magnitudes, the p% rule, on the largest
/// per-unit totals (`top`, descending) and the total of all units.
fn dominated(top: &[f64], total: f64, params: &SuppressionParams, p_rule: bool) -> bool {
    if total <= 0.0 {
        return false;
    }
    let nth = |i: usize| top.get(i).copied().unwrap_or(0.0);
    if nth(0) > params.max_unit_share / 100.0 * total {
        return true;
    }
    let top_n: f64 = (0..params.dominance_n as usize).map(nth).sum();
    if top_n > params.dominance_k / 100.0 * total {
        return true;
    }
    // p%: the runner-up knows its own value and the total, so it estimates the largest as
    // total - x2; that estimate must be off by at least p% of the largest.
    p_rule && total - nth(0) - nth(1) < params.p_percent / 100.0 * nth(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SuppressionParams {
        SuppressionParams::default()
    }

    /// The largest values, descending, and the total, as the summaries give them.
    fn totals(values: &[f64]) -> (Vec<f64>, f64) {
        let mut top = values.to_vec();
        top.sort_by(|a, b| b.total_cmp(a));
        top.truncate(5);
        (top, values.iter().sum())
    }

    #[test]
    fn one_owner_with_sixty_percent_dominates() {
        let mut values = vec![600.0];
        values.extend(std::iter::repeat_n(400.0 / 20.0, 20));
        let (top, total) = totals(&values);
        assert!(dominated(&top, total, &params(), true));
    }

    #[test]
    fn one_unit_with_most_rows_dominates_a_count() {
        let mut rows = vec![50.0];
        rows.extend(std::iter::repeat_n(1.0, 20));
        let (top, total) = totals(&rows);
        assert!(dominated(&top, total, &params(), false));
    }

    #[test]
    fn an_even_spread_is_not_dominated() {
        let (top, total) = totals(&[10.0; 30]);
        assert!(!dominated(&top, total, &params(), true));
    }

    #[test]
    fn the_p_rule_catches_what_dominance_misses() {
        // With (2, 85%) the p% rule at 10% is implied; with dominance relaxed it still protects:
        // the top two hold 94.5%, the rest (5.5) is under 10% of the largest (90).
        let relaxed = SuppressionParams { dominance_k: 99.0, max_unit_share: 100.0, ..params() };
        let mut values = vec![90.0, 4.5];
        values.extend(std::iter::repeat_n(0.5, 11));
        let (top, total) = totals(&values);
        assert!(!dominated(&top, total, &relaxed, false));
        assert!(dominated(&top, total, &relaxed, true));
    }

    #[test]
    fn jittered_values_are_still_alike() {
        assert!(alike(2.0, 2.000001));
        assert!(!alike(1950.0, 1961.0));
    }

    fn totals_of(rows: &[(f64, i64)]) -> Totals {
        let mut totals = Totals::new(1);
        for &(value, unit) in rows {
            totals.values.push(value);
            totals.value_ids[0].push(unit);
        }
        totals
    }

    #[test]
    fn a_quantile_window_holds_k_units_not_k_rows() {
        // One unit with 101 rows of the same value sits at the median: the window must grow past
        // its rows until it holds ten units and the unit has at most half of the rows.
        let mut rows: Vec<(f64, i64)> = (0..101).map(|_| (500.0, 1)).collect();
        rows.extend((0..60).map(|i| (100.0 + i as f64, 100 + i)));
        rows.extend((0..60).map(|i| (900.0 + i as f64, 200 + i)));
        let totals = totals_of(&rows);
        let window = QuantileWindow::around(&totals, 0.5, 10, &params()).unwrap();
        assert!(window.rows.len() >= 202, "{}", window.rows.len());
        let distinct: std::collections::HashSet<i64> = window.rows.iter().map(|&r| totals.value_ids[0][r]).collect();
        assert!(distinct.len() >= 10);
    }

    #[test]
    fn the_window_does_not_depend_on_the_order_rows_arrived_in() {
        // Many tied values from units of unequal row counts: which tied rows the window takes
        // must not depend on arrival order.
        // 60 rows of 500 around the median: units 0..9 with three rows each, units 10..39 with
        // one; 20 values below and 20 above.
        let mut rows: Vec<(f64, i64)> = (0..20).map(|i| (1.0 + i as f64, 100 + i)).collect();
        rows.extend((0..30).map(|i| (500.0, i / 3)));
        rows.extend((10..40).map(|unit| (500.0, unit)));
        rows.extend((0..20).map(|i| (1000.0 + i as f64, 200 + i)));
        let forward = totals_of(&rows);
        rows.reverse();
        let backward = totals_of(&rows);
        let content = |totals: &Totals| {
            let window = QuantileWindow::around(totals, 0.5, 10, &params()).unwrap();
            let mut rows: Vec<(u64, i64)> =
                window.rows.iter().map(|&r| (totals.values[r].to_bits(), totals.value_ids[0][r])).collect();
            rows.sort_unstable();
            (rows, window.span)
        };
        assert_eq!(content(&forward), content(&backward));
    }

    #[test]
    fn a_window_around_the_position_is_the_window_of_all_rows_sorted() {
        // Enough rows that only those near the position are put in order; at the median one
        // unit holds 12,000 rows of one value, so the window must reach past the first selection.
        let mut rows: Vec<(f64, i64)> = (0..30_000).map(|i| (((i * 7919) % 5_000) as f64, 1_000 + i % 9_000)).collect();
        rows.extend((0..12_000).map(|_| (2_500.0, 7)));
        let totals = totals_of(&rows);
        for fraction in [0.0, 0.02, 0.25, 0.5, 0.9, 1.0] {
            let window = QuantileWindow::around(&totals, fraction, 10, &params()).unwrap();
            let mut keyed: Vec<(f64, u32)> = totals.values.iter().enumerate().map(|(r, &v)| (v, r as u32)).collect();
            let position = position_of(fraction, totals.values.len());
            let everything = sorted_around(&totals, &mut keyed, position, usize::MAX);
            assert_eq!(everything.rows.len(), totals.values.len());
            let Ok(reference) = QuantileWindow::grow(&totals, &everything, position, 10, &params()) else {
                panic!("no reference window at {fraction}");
            };
            let content = |w: &QuantileWindow| -> Vec<(u64, i64)> {
                w.rows.iter().map(|&r| (totals.values[r].to_bits(), totals.value_ids[0][r])).collect()
            };
            assert_eq!(window.span, reference.span, "{fraction}");
            assert_eq!(content(&window), content(&reference), "{fraction}");
        }
    }

    #[test]
    fn a_quantile_of_too_few_units_has_no_window() {
        let totals = totals_of(&[(1.0, 1), (2.0, 2), (3.0, 1)]);
        assert!(QuantileWindow::around(&totals, 0.5, 10, &params()).is_none());
    }
}
