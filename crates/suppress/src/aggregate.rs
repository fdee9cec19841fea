//! The protecting aggregate: what every aggregate over protected rows is rewritten into.
//!
//! One instance per aggregate call of a query. It takes the (filtered) value, an inclusion flag and
//! the unit id columns, keeps per-unit tallies for each unit column, and on evaluation applies the
//! rules: noisy threshold on distinct units of every unit type, (n,k) dominance and the p% rule on
//! per-unit totals, group disclosure, then cell-key noise and rounding. A failing cell is NULL.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, UInt32Type};
use datafusion::common::{ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use zicht_catalog::{EntityType, SuppressionParams};

use crate::noise::{CellKeyer, Purpose, count_noise, magnitude_factor, round_count, threshold_extra};

/// What the protected aggregate releases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// Whether the group itself may be shown (hidden column; failing rows are dropped).
    Cell,
    /// count(*) / count(x): rows.
    Count,
    /// count(DISTINCT unit): distinct units of the unit column with this index.
    CountUnits(usize),
    Sum,
    Avg,
    /// median and percentile_cont, at this fraction.
    Quantile(f64),
}

impl Measure {
    fn label(&self) -> String {
        match self {
            Measure::Cell => "cell".into(),
            Measure::Count => "count".into(),
            Measure::CountUnits(i) => format!("count_units{i}"),
            Measure::Sum => "sum".into(),
            Measure::Avg => "avg".into(),
            Measure::Quantile(p) => format!("quantile{p}"),
        }
    }
}

/// Cells released and suppressed by one aggregate, read by the audit log after execution.
#[derive(Debug, Default)]
pub struct CellCounters {
    pub released: AtomicU64,
    pub suppressed: AtomicU64,
}

/// Everything an accumulator needs to judge its cell.
#[derive(Debug)]
struct Spec {
    measure: Measure,
    entities: Vec<EntityType>,
    params: SuppressionParams,
    keyer: CellKeyer,
    return_type: DataType,
    counters: Arc<CellCounters>,
}

#[derive(Debug)]
pub struct ProtectAggregate {
    name: String,
    signature: Signature,
    spec: Arc<Spec>,
}

impl ProtectAggregate {
    /// `entities` names the entity type of each unit argument, in order.
    pub fn new(
        measure: Measure,
        entities: Vec<EntityType>,
        params: SuppressionParams,
        keyer: CellKeyer,
        return_type: DataType,
    ) -> ProtectAggregate {
        let name = format!("zicht_protect_{}", measure.label());
        let signature = Signature::any(2 + entities.len(), Volatility::Immutable);
        let counters = Arc::new(CellCounters::default());
        ProtectAggregate {
            name,
            signature,
            spec: Arc::new(Spec { measure, entities, params, keyer, return_type, counters }),
        }
    }

    pub fn counters(&self) -> &Arc<CellCounters> {
        &self.spec.counters
    }
}

impl PartialEq for ProtectAggregate {
    fn eq(&self, other: &Self) -> bool {
        // Two calls are the same aggregate only if they are the same instance: each keeps its
        // own audit counters.
        Arc::ptr_eq(&self.spec, &other.spec)
    }
}

impl Eq for ProtectAggregate {}

impl Hash for ProtectAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        (Arc::as_ptr(&self.spec) as usize).hash(state);
    }
}

impl AggregateUDFImpl for ProtectAggregate {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.spec.return_type.clone())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ProtectAccumulator::new(Arc::clone(&self.spec))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: String, item: DataType| {
            Arc::new(Field::new(name, DataType::List(Arc::new(Field::new_list_field(item, true))), true))
        };
        let mut fields = Vec::new();
        for i in 0..self.spec.entities.len() {
            fields.push(list(format!("{}[ids{i}]", args.name), DataType::Int64));
            fields.push(list(format!("{}[contributions{i}]", args.name), DataType::Float64));
            fields.push(list(format!("{}[rows{i}]", args.name), DataType::UInt32));
        }
        fields.push(list(format!("{}[values]", args.name), DataType::Float64));
        fields.push(Arc::new(Field::new(format!("{}[rows]", args.name), DataType::UInt64, true)));
        fields.push(Arc::new(Field::new(format!("{}[sum]", args.name), DataType::Float64, true)));
        fields.push(Arc::new(Field::new(format!("{}[min]", args.name), DataType::Float64, true)));
        fields.push(Arc::new(Field::new(format!("{}[max]", args.name), DataType::Float64, true)));
        fields.push(Arc::new(Field::new(format!("{}[indicator]", args.name), DataType::Boolean, true)));
        Ok(fields)
    }
}

/// What one unit contributed to a cell.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    contribution: f64,
    rows: u32,
}

#[derive(Debug)]
struct ProtectAccumulator {
    spec: Arc<Spec>,
    /// Per unit column: every unit seen in the cell (also those whose rows were all excluded,
    /// which form the complement of a share).
    units: Vec<HashMap<i64, Tally>>,
    rows: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// True while every included value is 0 or 1: the aggregate is a share or a count in disguise.
    indicator: bool,
    values: Vec<f64>,
}

impl ProtectAccumulator {
    fn new(spec: Arc<Spec>) -> ProtectAccumulator {
        let units = vec![HashMap::new(); spec.entities.len()];
        ProtectAccumulator {
            spec,
            units,
            rows: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            indicator: true,
            values: Vec::new(),
        }
    }

    fn include_value(&mut self, value: f64) {
        self.rows += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.indicator &= value == 0.0 || value == 1.0;
        if matches!(self.spec.measure, Measure::Quantile(_)) {
            self.values.push(value);
        }
    }
}

impl Accumulator for ProtectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some((value, rest)) = values.split_first() else { return internal_err!("protect: no arguments") };
        let value = value.as_primitive::<Float64Type>();
        let include = rest[0].as_boolean();
        let ids: Vec<&Int64Array> = rest[1..].iter().map(|a| a.as_primitive::<Int64Type>()).collect();
        for row in 0..value.len() {
            let included = include.is_valid(row) && include.value(row) && value.is_valid(row);
            let v = if included { value.value(row) } else { 0.0 };
            for (column, ids) in ids.iter().enumerate() {
                if ids.is_valid(row) {
                    let tally = self.units[column].entry(ids.value(row)).or_default();
                    if included {
                        tally.contribution += v;
                        tally.rows += 1;
                    }
                }
            }
            if included {
                self.include_value(v);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state = Vec::new();
        for units in &self.units {
            let ids = units.keys().map(|id| Some(*id));
            let contributions = units.values().map(|t| Some(t.contribution));
            let rows = units.values().map(|t| Some(t.rows));
            state.push(list_scalar::<Int64Type>(ids));
            state.push(list_scalar::<Float64Type>(contributions));
            state.push(list_scalar::<UInt32Type>(rows));
        }
        state.push(list_scalar::<Float64Type>(self.values.iter().map(|v| Some(*v))));
        state.push(ScalarValue::UInt64(Some(self.rows)));
        state.push(ScalarValue::Float64(Some(self.sum)));
        state.push(ScalarValue::Float64(Some(self.min)));
        state.push(ScalarValue::Float64(Some(self.max)));
        state.push(ScalarValue::Boolean(Some(self.indicator)));
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let n_units = self.units.len();
        let scalars = &states[3 * n_units..];
        let values = scalars[0].as_list::<i32>();
        let rows = scalars[1].as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
        let sums = scalars[2].as_primitive::<Float64Type>();
        let mins = scalars[3].as_primitive::<Float64Type>();
        let maxs = scalars[4].as_primitive::<Float64Type>();
        let indicators = scalars[5].as_boolean();
        for row in 0..rows.len() {
            if rows.is_null(row) {
                continue;
            }
            for column in 0..n_units {
                merge_units(&mut self.units[column], &states[3 * column..3 * column + 3], row);
            }
            let row_values = values.value(row);
            self.values.extend(row_values.as_primitive::<Float64Type>().iter().flatten());
            self.rows += rows.value(row);
            self.sum += sums.value(row);
            self.min = self.min.min(mins.value(row));
            self.max = self.max.max(maxs.value(row));
            self.indicator &= indicators.value(row);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let released = judge(&self.spec, self);
        let counters = &self.spec.counters;
        match &released {
            Some(_) => counters.released.fetch_add(1, Ordering::Relaxed),
            None => counters.suppressed.fetch_add(1, Ordering::Relaxed),
        };
        if let Measure::Cell = self.spec.measure {
            return Ok(ScalarValue::Boolean(Some(released.is_some())));
        }
        match released {
            Some(value) => ScalarValue::Float64(Some(value)).cast_to(&self.spec.return_type),
            None => ScalarValue::try_from(&self.spec.return_type),
        }
    }

    fn size(&self) -> usize {
        let units: usize = self.units.iter().map(|u| u.capacity() * (size_of::<i64>() + size_of::<Tally>() + 1)).sum();
        size_of::<Self>() + units + self.values.capacity() * size_of::<f64>()
    }
}

fn list_scalar<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    items: impl Iterator<Item = Option<T::Native>>,
) -> ScalarValue {
    ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<T, _, _>(std::iter::once(Some(items)))))
}

fn merge_units(units: &mut HashMap<i64, Tally>, states: &[ArrayRef], row: usize) {
    let ids = states[0].as_list::<i32>().value(row);
    let contributions = states[1].as_list::<i32>().value(row);
    let rows = states[2].as_list::<i32>().value(row);
    let ids = ids.as_primitive::<Int64Type>();
    let contributions: &Float64Array = contributions.as_primitive::<Float64Type>();
    let rows: &UInt32Array = rows.as_primitive::<UInt32Type>();
    for i in 0..ids.len() {
        let tally = units.entry(ids.value(i)).or_default();
        tally.contribution += contributions.value(i);
        tally.rows += rows.value(i);
    }
}

/// The released value of a cell, or None when a rule suppresses it.
fn judge(spec: &Spec, cell: &ProtectAccumulator) -> Option<f64> {
    let params = &spec.params;
    let contributes = |t: &Tally| match spec.measure {
        Measure::Cell => true,
        Measure::Sum => t.rows > 0 && t.contribution != 0.0,
        _ => t.rows > 0,
    };
    let cell_key = cell_key(spec, cell, contributes);
    let threshold = u64::from(params.k) + threshold_extra(spec.keyer.uniform(cell_key, Purpose::Threshold));
    let contributors: Vec<u64> =
        cell.units.iter().map(|units| units.values().filter(|t| contributes(t)).count() as u64).collect();
    if contributors.is_empty() || contributors.iter().any(|&n| n < threshold) {
        return None;
    }
    let count_noise = count_noise(spec.keyer.uniform(cell_key, Purpose::Count));
    let magnitude = magnitude_factor(spec.keyer.uniform(cell_key, Purpose::Magnitude));
    match spec.measure {
        Measure::Cell => Some(1.0),
        Measure::Count => {
            let complement_ok = cell.units.iter().all(|units| complement_ok(units, params.k));
            let row_counts_ok =
                cell.units.iter().all(|units| !dominated(units.values().map(|t| f64::from(t.rows)), params, false));
            (complement_ok && row_counts_ok)
                .then(|| round_count(cell.rows as i64 + count_noise, params.rounding_base) as f64)
        }
        Measure::CountUnits(column) => {
            Some(round_count(contributors[column] as i64 + count_noise, params.rounding_base) as f64)
        }
        Measure::Sum => release_sum(cell, params, count_noise, magnitude),
        Measure::Avg => release_avg(cell, params, magnitude),
        Measure::Quantile(p) => release_quantile(cell, p, params.k, magnitude),
    }
}

/// The cell key: per unit column the sum of the contributing units' keys, combined over columns.
fn cell_key(spec: &Spec, cell: &ProtectAccumulator, contributes: impl Fn(&Tally) -> bool) -> u64 {
    let mut key = 0u64;
    for (column, (units, entity)) in cell.units.iter().zip(&spec.entities).enumerate() {
        let column_key = units
            .iter()
            .filter(|(_, t)| contributes(t))
            .fold(0u64, |acc, (id, _)| acc.wrapping_add(spec.keyer.unit_key(*entity, *id)));
        key ^= column_key.rotate_left(column as u32 * 13);
    }
    key
}

/// Units seen in the cell whose rows were all excluded (by FILTER, a NULL value or a CASE without
/// ELSE) form the complement of the released count: it must be empty or hold at least k units,
/// or `count(*) - count(x)` would describe fewer than k units.
fn complement_ok(units: &HashMap<i64, Tally>, k: u32) -> bool {
    let complement = units.values().filter(|t| t.rows == 0).count();
    complement == 0 || complement >= k as usize
}

fn release_sum(cell: &ProtectAccumulator, params: &SuppressionParams, count_noise: i64, magnitude: f64) -> Option<f64> {
    for units in &cell.units {
        let contributions = || units.values().filter(|t| t.rows > 0).map(|t| t.contribution);
        if identical(contributions()) || dominated(contributions().map(f64::abs), params, true) {
            return None;
        }
        if cell.indicator {
            // A sum of 0/1 values is a count of units having something; the units not having it
            // must be a group of at least k too (and a 100% share is group disclosure).
            let without = units.values().filter(|t| t.contribution == 0.0).count();
            if without < params.k as usize {
                return None;
            }
        }
    }
    if cell.indicator {
        return Some(round_count(cell.sum.round() as i64 + count_noise, params.rounding_base) as f64);
    }
    Some(cell.sum + 0.1 * largest_contribution(cell) * magnitude)
}

fn release_avg(cell: &ProtectAccumulator, params: &SuppressionParams, magnitude: f64) -> Option<f64> {
    if cell.rows == 0 || cell.min == cell.max {
        // All values identical: the mean tells every unit's value (group disclosure).
        return None;
    }
    for units in &cell.units {
        let contributing = || units.values().filter(|t| t.rows > 0);
        if dominated(contributing().map(|t| t.contribution.abs()), params, true) {
            return None;
        }
        if cell.indicator {
            let with = contributing().filter(|t| t.contribution > 0.0).count();
            let without = contributing().filter(|t| t.contribution == 0.0).count();
            if with < params.k as usize || without < params.k as usize {
                return None;
            }
        }
    }
    Some((cell.sum + 0.1 * largest_contribution(cell) * magnitude) / cell.rows as f64)
}

/// A quantile is released as the mean of the k values around it, slightly perturbed: never one
/// unit's actual value.
fn release_quantile(cell: &ProtectAccumulator, fraction: f64, k: u32, magnitude: f64) -> Option<f64> {
    let mut values = cell.values.clone();
    let n = values.len();
    let window = (k as usize).min(n);
    if window == 0 {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let position = (fraction.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize;
    let start = position.saturating_sub(window / 2).min(n - window);
    let mean = values[start..start + window].iter().sum::<f64>() / window as f64;
    Some(mean * (1.0 + 0.01 * magnitude))
}

fn largest_contribution(cell: &ProtectAccumulator) -> f64 {
    cell.units.iter().flat_map(|units| units.values().map(|t| t.contribution.abs())).fold(0.0, f64::max)
}

fn identical(mut values: impl Iterator<Item = f64>) -> bool {
    match values.next() {
        Some(first) => values.all(|v| v == first),
        None => true,
    }
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
}
