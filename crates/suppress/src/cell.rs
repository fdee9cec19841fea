//! What a protecting aggregation knows about one cell (one group), for all of its measures at once.
//!
//! A cell keeps its data per input (a value and an inclusion flag; measures with the same
//! arguments share one, see [`crate::aggregate::MeasureSpec::input`]). Per unit column it keeps
//! what the rules need to judge each measure:
//!
//! - for a column that holds one row per unit (the table's key, with no join that repeats rows:
//!   `basis.persoon.persoon_id`), running summaries per input only: counts, the sum of unit keys,
//!   the largest contributions. Constant memory, no hash map.
//! - for any other unit column (households, the persons of an event table), a tally per unit and
//!   input ([`Tallies`]), shared by all measures.
//!
//! Per input it keeps the totals over included rows, and for quantiles the values themselves.
//! [`Cell::summaries`] reduces a unit column to the [`crate::summary::ColumnSummary`] that
//! `judge` works on.

use zicht_catalog::EntityType;

use crate::noise::CellKeyer;
use crate::segments::Segment;
use crate::tallies::Tallies;

/// How many of the largest per-unit contributions a summary keeps at least: the noise scale is
/// the mean of the five largest; dominance needs the top n (the catalog's `dominance_n`).
pub(crate) const SCALE_CONTRIBUTORS: usize = 5;

/// What one unit contributed to one input of a cell.
///
/// Packed to 12 bytes (the f64 on a 4-byte boundary, which x86 and ARM read at full speed):
/// a dwelling query keeps tallies for millions of owners, and the 4 bytes of padding were a
/// quarter of what its merges copy and its partial states hold.
#[derive(Debug, Default, Clone, Copy)]
#[repr(C, packed(4))]
pub(crate) struct Tally {
    pub contribution: f64,
    pub rows: u32,
}

// `+=` on a field of a packed struct would take a reference to an unaligned f64, which Rust
// forbids; reading and writing the field whole is fine, hence the spelled-out additions.
#[allow(clippy::assign_op_pattern)]
impl Tally {
    /// Adds what another part of the same unit's rows tallied.
    pub fn add(&mut self, other: &Tally) {
        self.contribution = self.contribution + other.contribution;
        self.rows += other.rows;
    }

    /// Adds one included row's value.
    pub fn add_row(&mut self, value: f64) {
        self.contribution = self.contribution + value;
        self.rows += 1;
    }
}

/// Running summaries of one input over a column with one row per unit (every row a unit).
#[derive(Debug, Clone)]
pub(crate) struct Streamed {
    /// Units with an included row, and the wrapping sum of their keys.
    pub included: u64,
    pub included_keys: u64,
    /// Included units with a non-zero value, and the wrapping sum of their keys (a sum's
    /// contributors).
    pub nonzero: u64,
    pub nonzero_keys: u64,
    /// Units whose row was excluded (the complement of the input's measures).
    pub excluded: u64,
    /// The largest |value| of included units, descending.
    pub top: Vec<f64>,
    pub total_abs: f64,
    /// Extremes of included values (all alike?).
    pub min: f64,
    pub max: f64,
}

impl Default for Streamed {
    fn default() -> Self {
        Streamed {
            included: 0,
            included_keys: 0,
            nonzero: 0,
            nonzero_keys: 0,
            excluded: 0,
            top: Vec::new(),
            total_abs: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Streamed {
    /// Adds the rows of units in order, each its unit's key and its value (None when the row is
    /// not included): what [`Streamed::add`] does a row at a time, with the running counts and
    /// sums in locals for the whole run (often a whole batch), where they stay in registers.
    pub fn add_rows(&mut self, rows: impl Iterator<Item = (u64, Option<f64>)>, top: usize) {
        let (mut included, mut included_keys) = (self.included, self.included_keys);
        let (mut nonzero, mut nonzero_keys) = (self.nonzero, self.nonzero_keys);
        let mut excluded = self.excluded;
        let (mut total_abs, mut min, mut max) = (self.total_abs, self.min, self.max);
        for (key, value) in rows {
            let Some(v) = value else {
                excluded += 1;
                continue;
            };
            included += 1;
            included_keys = included_keys.wrapping_add(key);
            if v != 0.0 {
                nonzero += 1;
                nonzero_keys = nonzero_keys.wrapping_add(key);
            }
            push_top(&mut self.top, v.abs(), top);
            total_abs += v.abs();
            min = min.min(v);
            max = max.max(v);
        }
        (self.included, self.included_keys) = (included, included_keys);
        (self.nonzero, self.nonzero_keys) = (nonzero, nonzero_keys);
        self.excluded = excluded;
        (self.total_abs, self.min, self.max) = (total_abs, min, max);
    }

    /// Adds the row of a unit with key `key`: its value, None when the row is not included.
    #[cfg(test)]
    pub fn add(&mut self, key: u64, value: Option<f64>, top: usize) {
        let Some(v) = value else {
            self.excluded += 1;
            return;
        };
        self.included += 1;
        self.included_keys = self.included_keys.wrapping_add(key);
        if v != 0.0 {
            self.nonzero += 1;
            self.nonzero_keys = self.nonzero_keys.wrapping_add(key);
        }
        push_top(&mut self.top, v.abs(), top);
        self.total_abs += v.abs();
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Streamed, top: usize) {
        self.included += other.included;
        self.included_keys = self.included_keys.wrapping_add(other.included_keys);
        self.nonzero += other.nonzero;
        self.nonzero_keys = self.nonzero_keys.wrapping_add(other.nonzero_keys);
        self.excluded += other.excluded;
        for &v in &other.top {
            push_top(&mut self.top, v, top);
        }
        self.total_abs += other.total_abs;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Keeps the `limit` largest values, descending.
///
/// The check whether `value` enters is inlined into the loops over millions of units, which it
/// almost never does; the insertion is a call. (A call in every iteration made those loops keep
/// their running sums in memory, since a call may change any floating-point register.)
#[inline(always)]
pub(crate) fn push_top(top: &mut Vec<f64>, value: f64, limit: usize) {
    if top.len() == limit && top.last().is_some_and(|&last| value <= last) {
        return;
    }
    insert_top(top, value, limit);
}

/// Inserts `value` into the descending `top` and drops what falls past `limit`.
#[inline(never)]
fn insert_top(top: &mut Vec<f64>, value: f64, limit: usize) {
    let at = top.partition_point(|&t| t >= value);
    top.insert(at, value);
    top.truncate(limit);
}

/// One unit column of a cell.
#[derive(Debug, Clone)]
pub(crate) enum Column {
    /// One row per unit: summaries per input.
    Streamed(Vec<Streamed>),
    /// Several rows per unit: a tally per unit and input.
    Tallied(Tallies),
}

/// Totals of one input over its included rows.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    pub rows: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The first non-zero included value (NaN before one is seen).
    pub nonzero: f64,
    /// True while every included value is 0 or `nonzero`: the measure is a count in disguise (a
    /// share, or `sum(2 * flag)`).
    pub two_valued: bool,
    /// Included values, kept for quantiles only, with the unit ids of their rows per unit column.
    pub values: Vec<f64>,
    pub value_ids: Vec<Vec<i64>>,
}

impl Totals {
    pub fn new(unit_columns: usize) -> Totals {
        Totals {
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

    /// Adds included rows' values in order, as [`Totals::add`] does one at a time, with the running
    /// counts and sums in locals.
    pub fn add_all(&mut self, values: impl Iterator<Item = f64>) {
        let (mut rows, mut sum, mut min, mut max) = (self.rows, self.sum, self.min, self.max);
        let (mut nonzero, mut two_valued) = (self.nonzero, self.two_valued);
        for v in values {
            rows += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
            see_value(&mut nonzero, &mut two_valued, v);
        }
        (self.rows, self.sum, self.min, self.max) = (rows, sum, min, max);
        (self.nonzero, self.two_valued) = (nonzero, two_valued);
    }

    /// Adds an included row's value.
    #[cfg(test)]
    pub fn add(&mut self, v: f64) {
        self.rows += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.see_value(v);
    }

    /// Keeps an included row's value for quantiles, with its id in each unit column.
    pub fn keep(&mut self, value: f64, ids: impl Iterator<Item = i64>) {
        self.values.push(value);
        for (value_ids, id) in self.value_ids.iter_mut().zip(ids) {
            value_ids.push(id);
        }
    }

    pub fn see_value(&mut self, v: f64) {
        see_value(&mut self.nonzero, &mut self.two_valued, v);
    }

    /// Adds another part's counts, sum and extremes; not its kept values, which the caller
    /// appends straight from where they travel (a partial state's lists), without a copy between.
    pub fn merge_counts(&mut self, other: &Totals) {
        self.rows += other.rows;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.two_valued &= other.two_valued;
        if !other.nonzero.is_nan() {
            self.see_value(other.nonzero);
        }
    }
}

/// Notes an included value in a total's first non-zero value and whether all are 0 or that value
/// ([`Totals::nonzero`], [`Totals::two_valued`]); inlined into [`Totals::add_all`]'s loop, whose
/// locals it takes.
#[inline(always)]
fn see_value(nonzero: &mut f64, two_valued: &mut bool, v: f64) {
    if v == 0.0 {
        return;
    }
    if nonzero.is_nan() {
        *nonzero = v;
    }
    *two_valued &= v == *nonzero;
}

/// Stands for "no unit of this column" in a row's unit ids (a NULL id); no real id takes it.
pub(crate) const NO_UNIT: i64 = i64::MIN;

/// Everything known about one cell.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub columns: Vec<Column>,
    pub totals: Vec<Totals>,
}

/// One row's inputs: per input the included value (None when excluded), per unit column the id.
#[cfg(test)]
pub(crate) struct Row<'a> {
    pub values: &'a [Option<f64>],
    pub ids: &'a [Option<i64>],
}

/// The shape of a cell: per unit column whether it has one row per unit, per input whether it
/// keeps values (a quantile reads it).
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub entities: Vec<EntityType>,
    pub streamed: Vec<bool>,
    pub keeps_values: Vec<bool>,
    /// How many of the largest contributions a summary keeps.
    pub top: usize,
}

impl Shape {
    pub fn inputs(&self) -> usize {
        self.keeps_values.len()
    }
}

impl Cell {
    pub fn new(shape: &Shape) -> Cell {
        let inputs = shape.inputs();
        let columns = shape
            .streamed
            .iter()
            .map(|&streamed| match streamed {
                true => Column::Streamed(vec![Streamed::default(); inputs]),
                false => Column::Tallied(Tallies::new(inputs)),
            })
            .collect();
        Cell { columns, totals: (0..inputs).map(|_| Totals::new(shape.entities.len())).collect() }
    }

    /// Adds one row, a unit column and an input at a time: the definition of what a batch adds
    /// ([`crate::batch::update`] adds whole columns, in the same order per cell).
    #[cfg(test)]
    pub fn update(&mut self, shape: &Shape, keyer: &CellKeyer, row: &Row) {
        for ((column, id), entity) in self.columns.iter_mut().zip(row.ids).zip(&shape.entities) {
            let Some(id) = *id else { continue };
            match column {
                Column::Streamed(streams) => {
                    let key = keyer.unit_key(*entity, id);
                    for (stream, value) in streams.iter_mut().zip(row.values) {
                        stream.add(key, *value, shape.top);
                    }
                }
                Column::Tallied(tallies) => tallies.add_row(id, row.values),
            }
        }
        for (input, (totals, value)) in self.totals.iter_mut().zip(row.values).enumerate() {
            let Some(v) = *value else { continue };
            totals.add(v);
            if shape.keeps_values[input] {
                totals.values.push(v);
                for (value_ids, id) in totals.value_ids.iter_mut().zip(row.ids) {
                    value_ids.push(id.unwrap_or(NO_UNIT));
                }
            }
        }
    }

    /// The running summaries of input `input` in streamed column `column`.
    pub fn streamed_mut(&mut self, column: usize, input: usize) -> Option<&mut Streamed> {
        match &mut self.columns[column] {
            Column::Streamed(streams) => streams.get_mut(input),
            Column::Tallied(_) => None,
        }
    }

    /// The tallies of tallied column `column`.
    pub fn tallies_mut(&mut self, column: usize) -> Option<&mut Tallies> {
        match &mut self.columns[column] {
            Column::Tallied(tallies) => Some(tallies),
            Column::Streamed(_) => None,
        }
    }

    /// Adds a partial state's tallies (its unit ids, per input their contributions and rows) to
    /// this cell's column `column`.
    pub fn merge_tallies(&mut self, column: usize, state: Segment) {
        if let Column::Tallied(tallies) = &mut self.columns[column] {
            tallies.merge_state(state);
        }
    }

    /// Folds the tallied columns and keys their units: what [`Cell::summary`] needs.
    pub fn settle(&mut self, shape: &Shape, keyer: &CellKeyer) {
        for (column, entity) in self.columns.iter_mut().zip(&shape.entities) {
            if let Column::Tallied(tallies) = column {
                tallies.settle(*entity, keyer);
            }
        }
    }

    pub fn size(&self) -> usize {
        let columns: usize = self
            .columns
            .iter()
            .map(|c| match c {
                Column::Streamed(s) => {
                    s.iter().map(|s| size_of::<Streamed>() + s.top.capacity() * size_of::<f64>()).sum()
                }
                Column::Tallied(tallies) => tallies.size(),
            })
            .sum();
        let totals: usize = self
            .totals
            .iter()
            .map(|t| {
                size_of::<Totals>()
                    + t.values.capacity() * size_of::<f64>()
                    + t.value_ids.iter().map(|v| v.capacity() * size_of::<i64>()).sum::<usize>()
            })
            .sum();
        size_of::<Self>() + columns + totals
    }
}
