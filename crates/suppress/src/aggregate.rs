//! The protecting aggregate: what every aggregate over protected rows is rewritten into.
//!
//! One instance per aggregate call of a query. It takes the (filtered) value, an inclusion flag and
//! the unit id columns, keeps per-unit tallies for each unit column, and on evaluation applies the
//! rules: noisy threshold on distinct units of every unit type, (n,k) dominance and the p% rule on
//! per-unit totals, group disclosure, then cell-key noise and rounding. A failing cell is NULL.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, PrimitiveArray, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, FieldRef, Float64Type, Int64Type, UInt32Type, UInt64Type,
};
use datafusion::common::{HashMap, ScalarValue, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility};
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

impl Spec {
    /// Quantiles need the included values themselves; every other measure only their totals.
    fn keeps_values(&self) -> bool {
        matches!(self.measure, Measure::Quantile(_))
    }
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

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    /// Grouped queries keep all their cells in one accumulator: no boxed accumulator per group,
    /// and partial states travel as one list array per field instead of a scalar per group.
    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(ProtectGroups { spec: Arc::clone(&self.spec), cells: Vec::new() }))
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

/// Everything known about one cell (one group of one aggregate call).
#[derive(Debug, Clone)]
struct Cell {
    /// Per unit column: every unit seen in the cell (also those whose rows were all excluded,
    /// which form the complement of a share).
    units: Vec<HashMap<i64, Tally>>,
    rows: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// True while every included value is 0 or 1: the aggregate is a share or a count in disguise.
    indicator: bool,
    /// Included values, kept for quantiles only.
    values: Vec<f64>,
}

/// The input columns of one batch: value, inclusion flag, unit ids.
struct Inputs<'a> {
    value: &'a Float64Array,
    include: &'a BooleanArray,
    ids: Vec<&'a Int64Array>,
}

impl<'a> Inputs<'a> {
    fn new(values: &'a [ArrayRef]) -> Result<Inputs<'a>> {
        let [value, include, ids @ ..] = values else { return internal_err!("protect: too few arguments") };
        let ids = ids.iter().map(|a| a.as_primitive::<Int64Type>()).collect();
        Ok(Inputs { value: value.as_primitive::<Float64Type>(), include: include.as_boolean(), ids })
    }

    /// The row's value when it is included (a NULL value or a false flag excludes it).
    fn included(&self, row: usize) -> Option<f64> {
        let included = self.include.is_valid(row) && self.include.value(row) && self.value.is_valid(row);
        included.then(|| self.value.value(row))
    }
}

/// Partial states of one batch, laid out as in `state_fields`, downcast once for all its rows.
struct PartialStates<'a> {
    /// Per unit column: the lists of unit ids, their contributions and their row counts.
    units: Vec<[&'a ListArray; 3]>,
    values: &'a ListArray,
    rows: &'a UInt64Array,
    sums: &'a Float64Array,
    mins: &'a Float64Array,
    maxs: &'a Float64Array,
    indicators: &'a BooleanArray,
}

impl<'a> PartialStates<'a> {
    fn new(states: &'a [ArrayRef], unit_columns: usize) -> Result<PartialStates<'a>> {
        if states.len() != 3 * unit_columns + 6 {
            return internal_err!("protect: {} state columns for {unit_columns} unit columns", states.len());
        }
        let (units, scalars) = states.split_at(3 * unit_columns);
        Ok(PartialStates {
            units: units.chunks(3).map(|c| [c[0].as_list(), c[1].as_list(), c[2].as_list()]).collect(),
            values: scalars[0].as_list(),
            rows: scalars[1].as_primitive::<UInt64Type>(),
            sums: scalars[2].as_primitive::<Float64Type>(),
            mins: scalars[3].as_primitive::<Float64Type>(),
            maxs: scalars[4].as_primitive::<Float64Type>(),
            indicators: scalars[5].as_boolean(),
        })
    }
}

/// Whether an aggregate's FILTER clause keeps the row (no clause keeps every row).
fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

impl Cell {
    fn new(unit_columns: usize) -> Cell {
        Cell {
            units: vec![HashMap::default(); unit_columns],
            rows: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            indicator: true,
            values: Vec::new(),
        }
    }

    fn update(&mut self, inputs: &Inputs, row: usize, keep_values: bool) {
        let included = inputs.included(row);
        for (units, ids) in self.units.iter_mut().zip(&inputs.ids) {
            if ids.is_valid(row) {
                let tally = units.entry(ids.value(row)).or_default();
                if let Some(v) = included {
                    tally.contribution += v;
                    tally.rows += 1;
                }
            }
        }
        if let Some(v) = included {
            self.rows += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.indicator &= v == 0.0 || v == 1.0;
            if keep_values {
                self.values.push(v);
            }
        }
    }

    /// Adds row `row` of partial states.
    fn merge(&mut self, states: &PartialStates, row: usize) {
        if states.rows.is_null(row) {
            return;
        }
        for (units, lists) in self.units.iter_mut().zip(&states.units) {
            merge_units(units, lists, row);
        }
        let values = states.values.value(row);
        self.values.extend(values.as_primitive::<Float64Type>().iter().flatten());
        self.rows += states.rows.value(row);
        self.sum += states.sums.value(row);
        self.min = self.min.min(states.mins.value(row));
        self.max = self.max.max(states.maxs.value(row));
        self.indicator &= states.indicators.value(row);
    }

    fn size(&self) -> usize {
        let units: usize = self.units.iter().map(|u| u.capacity() * (size_of::<i64>() + size_of::<Tally>() + 1)).sum();
        size_of::<Self>() + units + self.values.capacity() * size_of::<f64>()
    }
}

/// Judges a cell and counts the outcome for the audit log: the released value, or None.
fn release(spec: &Spec, cell: &Cell) -> Option<f64> {
    let released = judge(spec, cell);
    let counters = &spec.counters;
    match &released {
        Some(_) => counters.released.fetch_add(1, Ordering::Relaxed),
        None => counters.suppressed.fetch_add(1, Ordering::Relaxed),
    };
    released
}

/// The accumulator of an aggregate without GROUP BY (one cell).
#[derive(Debug)]
struct ProtectAccumulator {
    spec: Arc<Spec>,
    cell: Cell,
}

impl ProtectAccumulator {
    fn new(spec: Arc<Spec>) -> ProtectAccumulator {
        let cell = Cell::new(spec.entities.len());
        ProtectAccumulator { spec, cell }
    }
}

impl Accumulator for ProtectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let inputs = Inputs::new(values)?;
        let keep_values = self.spec.keeps_values();
        for row in 0..inputs.value.len() {
            self.cell.update(&inputs, row, keep_values);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let arrays = states(std::slice::from_ref(&self.cell), self.spec.entities.len());
        arrays.iter().map(|array| ScalarValue::try_from_array(array, 0)).collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let states = PartialStates::new(states, self.spec.entities.len())?;
        for row in 0..states.rows.len() {
            self.cell.merge(&states, row);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let released = release(&self.spec, &self.cell);
        if let Measure::Cell = self.spec.measure {
            return Ok(ScalarValue::Boolean(Some(released.is_some())));
        }
        match released {
            Some(value) => ScalarValue::Float64(Some(value)).cast_to(&self.spec.return_type),
            None => ScalarValue::try_from(&self.spec.return_type),
        }
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.cell.size()
    }
}

/// The accumulator of a grouped aggregate: one cell per group index.
#[derive(Debug)]
struct ProtectGroups {
    spec: Arc<Spec>,
    cells: Vec<Cell>,
}

impl ProtectGroups {
    fn grow(&mut self, total_num_groups: usize) {
        let unit_columns = self.spec.entities.len();
        self.cells.resize_with(total_num_groups, || Cell::new(unit_columns));
    }
}

impl GroupsAccumulator for ProtectGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let inputs = Inputs::new(values)?;
        let keep_values = self.spec.keeps_values();
        for (row, &group) in group_indices.iter().enumerate() {
            // A FILTER clause removes the row altogether, as it does for the one-cell accumulator.
            if passes(opt_filter, row) {
                self.cells[group].update(&inputs, row, keep_values);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let cells = emit_to.take_needed(&mut self.cells);
        let released: Vec<Option<f64>> = cells.iter().map(|cell| release(&self.spec, cell)).collect();
        if let Measure::Cell = self.spec.measure {
            return Ok(Arc::new(BooleanArray::from_iter(released.iter().map(|r| Some(r.is_some())))));
        }
        let values: ArrayRef = Arc::new(Float64Array::from(released));
        Ok(datafusion::arrow::compute::cast(&values, &self.spec.return_type)?)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let cells = emit_to.take_needed(&mut self.cells);
        Ok(states(&cells, self.spec.entities.len()))
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.grow(total_num_groups);
        let states = PartialStates::new(values, self.spec.entities.len())?;
        for (row, &group) in group_indices.iter().enumerate() {
            self.cells[group].merge(&states, row);
        }
        Ok(())
    }

    /// Each row as its own cell (DataFusion only asks when partial aggregation does not pay).
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let inputs = Inputs::new(values)?;
        let keep_values = self.spec.keeps_values();
        let unit_columns = self.spec.entities.len();
        let cells: Vec<Cell> = (0..inputs.value.len())
            .map(|row| {
                let mut cell = Cell::new(unit_columns);
                if passes(opt_filter, row) {
                    cell.update(&inputs, row, keep_values);
                }
                cell
            })
            .collect();
        Ok(states(&cells, unit_columns))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.cells.iter().map(Cell::size).sum::<usize>()
    }
}

/// The partial states of `cells`, one row per cell, laid out as in `state_fields` (also when there
/// are no cells: the layout comes from the aggregate, not from its first cell).
fn states(cells: &[Cell], unit_columns: usize) -> Vec<ArrayRef> {
    let mut arrays = Vec::new();
    for column in 0..unit_columns {
        let units = || cells.iter().map(move |c| &c.units[column]);
        arrays.push(list_array::<Int64Type>(units().map(|u| u.keys().copied().collect())));
        arrays.push(list_array::<Float64Type>(units().map(|u| u.values().map(|t| t.contribution).collect())));
        arrays.push(list_array::<UInt32Type>(units().map(|u| u.values().map(|t| t.rows).collect())));
    }
    arrays.push(list_array::<Float64Type>(cells.iter().map(|c| c.values.clone())));
    arrays.push(Arc::new(UInt64Array::from_iter_values(cells.iter().map(|c| c.rows))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.sum))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.min))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.max))));
    arrays.push(Arc::new(BooleanArray::from_iter(cells.iter().map(|c| Some(c.indicator)))));
    arrays
}

/// One list per cell, in the list field layout of `state_fields`.
fn list_array<T: ArrowPrimitiveType>(lists: impl Iterator<Item = Vec<T::Native>>) -> ArrayRef {
    let mut lengths = Vec::new();
    let mut items = Vec::new();
    for list in lists {
        lengths.push(list.len());
        items.extend(list);
    }
    let field = Arc::new(Field::new_list_field(T::DATA_TYPE, true));
    let items: PrimitiveArray<T> = PrimitiveArray::from_iter_values(items);
    Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths), Arc::new(items), None))
}

fn merge_units(units: &mut HashMap<i64, Tally>, lists: &[&ListArray; 3], row: usize) {
    let [ids, contributions, rows] = lists.map(|list| list.value(row));
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
fn judge(spec: &Spec, cell: &Cell) -> Option<f64> {
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
fn cell_key(spec: &Spec, cell: &Cell, contributes: impl Fn(&Tally) -> bool) -> u64 {
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

fn release_sum(cell: &Cell, params: &SuppressionParams, count_noise: i64, magnitude: f64) -> Option<f64> {
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

fn release_avg(cell: &Cell, params: &SuppressionParams, magnitude: f64) -> Option<f64> {
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
fn release_quantile(cell: &Cell, fraction: f64, k: u32, magnitude: f64) -> Option<f64> {
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

fn largest_contribution(cell: &Cell) -> f64 {
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
    fn partial_states_of_no_cells_keep_the_layout() {
        // An emitted partition without groups must still have every state column.
        let empty = states(&[], 2);
        assert_eq!(empty.len(), 3 * 2 + 6);
        assert!(PartialStates::new(&empty, 2).is_ok());
        assert!(empty.iter().all(|column| column.is_empty()));
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
