//! The protecting aggregate: what every aggregate over protected rows is rewritten into.
//!
//! One instance per aggregate call of a query. It takes the (filtered) value, an inclusion flag and
//! the unit id columns, keeps per-unit tallies for each unit column, and on evaluation hands the
//! cell to [`crate::judge`], which applies the rules of docs/suppression.md. A failing cell is NULL.

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

use crate::judge::judge;
use crate::noise::{CellKeyer, NoiseSeeds};

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

/// One question an untrusted analyst asks of protected tables, for the query budget: the
/// fingerprint of its canonical form (measure, conditions, grouping) and the tables it reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Question {
    pub tables: Vec<String>,
    pub fingerprint: u64,
}

/// Everything an accumulator needs to judge its cell.
#[derive(Debug)]
pub(crate) struct Spec {
    pub measure: Measure,
    pub entities: Vec<EntityType>,
    pub params: SuppressionParams,
    pub keyer: CellKeyer,
    pub return_type: DataType,
    pub counters: Arc<CellCounters>,
    /// Seeds of this measure's noise (for avg: of its sum).
    pub seeds: NoiseSeeds,
    /// Seeds of the row count an avg divides by (the noise `count(x)` gets).
    pub count_seeds: NoiseSeeds,
    pub question: Option<Question>,
}

impl Spec {
    /// Quantiles need the included values and their units; every other measure only totals.
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
    /// `entities` names the entity type of each unit argument, in order. Noise is seeded by the
    /// measure's label until [`ProtectAggregate::with_noise`] says what is measured.
    pub fn new(
        measure: Measure,
        entities: Vec<EntityType>,
        params: SuppressionParams,
        keyer: CellKeyer,
        return_type: DataType,
    ) -> ProtectAggregate {
        let name = format!("zicht_protect_{}", measure.label());
        let signature = Signature::any(2 + entities.len(), Volatility::Immutable);
        let seeds = NoiseSeeds::from_texts(&measure.label(), &[]);
        let spec = Spec {
            measure,
            entities,
            params,
            keyer,
            return_type,
            counters: Arc::new(CellCounters::default()),
            count_seeds: seeds.clone(),
            seeds,
            question: None,
        };
        ProtectAggregate { name, signature, spec: Arc::new(spec) }
    }

    /// The seeds of the measure's noise and of the row count an average divides by.
    pub fn with_noise(mut self, seeds: NoiseSeeds, count_seeds: NoiseSeeds) -> ProtectAggregate {
        let spec = Arc::get_mut(&mut self.spec).expect("not shared before it is built");
        spec.seeds = seeds;
        spec.count_seeds = count_seeds;
        self
    }

    /// The question this aggregate answers, charged to an untrusted user's budget.
    pub fn with_question(mut self, question: Question) -> ProtectAggregate {
        Arc::get_mut(&mut self.spec).expect("not shared before it is built").question = Some(question);
        self
    }

    pub fn counters(&self) -> &Arc<CellCounters> {
        &self.spec.counters
    }

    pub fn question(&self) -> Option<&Question> {
        self.spec.question.as_ref()
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
        let scalar = |name: String, data_type: DataType| Arc::new(Field::new(name, data_type, true));
        let mut fields = Vec::new();
        for i in 0..self.spec.entities.len() {
            fields.push(list(format!("{}[ids{i}]", args.name), DataType::Int64));
            fields.push(list(format!("{}[contributions{i}]", args.name), DataType::Float64));
            fields.push(list(format!("{}[rows{i}]", args.name), DataType::UInt32));
        }
        fields.push(list(format!("{}[values]", args.name), DataType::Float64));
        for i in 0..self.spec.entities.len() {
            fields.push(list(format!("{}[value_ids{i}]", args.name), DataType::Int64));
        }
        fields.push(scalar(format!("{}[rows]", args.name), DataType::UInt64));
        fields.push(scalar(format!("{}[sum]", args.name), DataType::Float64));
        fields.push(scalar(format!("{}[min]", args.name), DataType::Float64));
        fields.push(scalar(format!("{}[max]", args.name), DataType::Float64));
        fields.push(scalar(format!("{}[nonzero]", args.name), DataType::Float64));
        fields.push(scalar(format!("{}[two_valued]", args.name), DataType::Boolean));
        Ok(fields)
    }
}

/// What one unit contributed to a cell.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub contribution: f64,
    pub rows: u32,
}

/// Everything known about one cell (one group of one aggregate call).
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// Per unit column: every unit seen in the cell (also those whose rows were all excluded,
    /// which form the complement of a share).
    pub units: Vec<HashMap<i64, Tally>>,
    pub rows: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The first non-zero included value (NaN before one is seen).
    pub nonzero: f64,
    /// True while every included value is 0 or `nonzero`: the aggregate is a count in disguise
    /// (a share, or `sum(2 * flag)`).
    pub two_valued: bool,
    /// Included values, kept for quantiles only, with the unit ids of their rows per unit column.
    pub values: Vec<f64>,
    pub value_ids: Vec<Vec<i64>>,
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
    value_ids: Vec<&'a ListArray>,
    rows: &'a UInt64Array,
    sums: &'a Float64Array,
    mins: &'a Float64Array,
    maxs: &'a Float64Array,
    nonzeros: &'a Float64Array,
    two_valued: &'a BooleanArray,
}

impl<'a> PartialStates<'a> {
    fn new(states: &'a [ArrayRef], unit_columns: usize) -> Result<PartialStates<'a>> {
        if states.len() != 4 * unit_columns + 7 {
            return internal_err!("protect: {} state columns for {unit_columns} unit columns", states.len());
        }
        let (units, rest) = states.split_at(3 * unit_columns);
        let (values, rest) = rest.split_at(1);
        let (value_ids, scalars) = rest.split_at(unit_columns);
        Ok(PartialStates {
            units: units.chunks(3).map(|c| [c[0].as_list(), c[1].as_list(), c[2].as_list()]).collect(),
            values: values[0].as_list(),
            value_ids: value_ids.iter().map(|a| a.as_list()).collect(),
            rows: scalars[0].as_primitive::<UInt64Type>(),
            sums: scalars[1].as_primitive::<Float64Type>(),
            mins: scalars[2].as_primitive::<Float64Type>(),
            maxs: scalars[3].as_primitive::<Float64Type>(),
            nonzeros: scalars[4].as_primitive::<Float64Type>(),
            two_valued: scalars[5].as_boolean(),
        })
    }
}

/// Stands for "no unit of this column" in a row's unit ids (a NULL id); no real id takes it.
pub(crate) const NO_UNIT: i64 = i64::MIN;

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
            nonzero: f64::NAN,
            two_valued: true,
            values: Vec::new(),
            value_ids: vec![Vec::new(); unit_columns],
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
        let Some(v) = included else { return };
        self.rows += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.see_value(v);
        if keep_values {
            self.values.push(v);
            for (value_ids, ids) in self.value_ids.iter_mut().zip(&inputs.ids) {
                value_ids.push(if ids.is_valid(row) { ids.value(row) } else { NO_UNIT });
            }
        }
    }

    fn see_value(&mut self, v: f64) {
        if v == 0.0 {
            return;
        }
        if self.nonzero.is_nan() {
            self.nonzero = v;
        }
        self.two_valued &= v == self.nonzero;
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
        for (value_ids, lists) in self.value_ids.iter_mut().zip(&states.value_ids) {
            value_ids.extend(lists.value(row).as_primitive::<Int64Type>().iter().flatten());
        }
        self.rows += states.rows.value(row);
        self.sum += states.sums.value(row);
        self.min = self.min.min(states.mins.value(row));
        self.max = self.max.max(states.maxs.value(row));
        self.two_valued &= states.two_valued.value(row);
        let nonzero = states.nonzeros.value(row);
        if !nonzero.is_nan() {
            self.see_value(nonzero);
        }
    }

    fn size(&self) -> usize {
        let units: usize = self.units.iter().map(|u| u.capacity() * (size_of::<i64>() + size_of::<Tally>() + 1)).sum();
        let value_ids: usize = self.value_ids.iter().map(|v| v.capacity() * size_of::<i64>()).sum();
        size_of::<Self>() + units + self.values.capacity() * size_of::<f64>() + value_ids
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
    for column in 0..unit_columns {
        arrays.push(list_array::<Int64Type>(cells.iter().map(|c| c.value_ids[column].clone())));
    }
    arrays.push(Arc::new(UInt64Array::from_iter_values(cells.iter().map(|c| c.rows))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.sum))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.min))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.max))));
    arrays.push(Arc::new(Float64Array::from_iter_values(cells.iter().map(|c| c.nonzero))));
    arrays.push(Arc::new(BooleanArray::from_iter(cells.iter().map(|c| Some(c.two_valued)))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_states_of_no_cells_keep_the_layout() {
        // An emitted partition without groups must still have every state column.
        let empty = states(&[], 2);
        assert_eq!(empty.len(), 4 * 2 + 7);
        assert!(PartialStates::new(&empty, 2).is_ok());
        assert!(empty.iter().all(|column| column.is_empty()));
    }

    #[test]
    fn two_valued_survives_merging_only_with_one_nonzero_value() {
        let mut cell = Cell::new(1);
        for v in [0.0, 2.0, 2.0, 0.0] {
            cell.see_value(v);
        }
        assert!(cell.two_valued);
        cell.see_value(2.000001);
        assert!(!cell.two_valued);
    }
}
