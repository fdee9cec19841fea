//! The rows of one batch into their cells, a column at a time.
//!
//! The protecting aggregate's arguments are, per input, a value and an inclusion flag, then the
//! unit id columns ([`crate::aggregate::ProtectAggregate::new`]). A batch is added a unit column
//! at a time, then an input's totals at a time, instead of row by row: the keys of a column with
//! one row per unit are hashed for the whole batch in one vectorised loop
//! ([`crate::unit_keys`]), and no row is unpacked into options first. Every summary, tally and
//! total of a cell still receives the cell's rows in the order of the batch, so every sum is
//! added in the same order and every released value is the same as row by row
//! ([`Cell::update`], the definition the tests compare with).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::common::internal_err;
use datafusion::error::Result;

use crate::aggregate::Spec;
use crate::cell::{Cell, NO_UNIT};

/// The input columns of one batch: per input its values and which rows it includes, then unit
/// ids.
pub(crate) struct Inputs<'a> {
    values: Vec<(&'a [f64], BooleanBuffer)>,
    ids: Vec<&'a Int64Array>,
}

impl<'a> Inputs<'a> {
    pub fn new(arrays: &'a [ArrayRef], inputs: usize) -> Result<Inputs<'a>> {
        if arrays.len() < 2 * inputs {
            return internal_err!("protect: {} arguments for {inputs} inputs", arrays.len());
        }
        let (pairs, ids) = arrays.split_at(2 * inputs);
        let values = pairs
            .chunks(2)
            .map(|pair| {
                let value = pair[0].as_primitive::<Float64Type>();
                (value.values().as_ref(), included(value, pair[1].as_boolean()))
            })
            .collect();
        Ok(Inputs { values, ids: ids.iter().map(|a| a.as_primitive::<Int64Type>()).collect() })
    }

    /// The batch's number of rows.
    pub fn rows(&self) -> usize {
        self.ids.first().map_or_else(|| self.values.first().map_or(0, |v| v.0.len()), |a| a.len())
    }

    /// Row `row`'s value of each input into `values`: None where the row is not included.
    #[cfg(test)]
    fn read_values(&self, row: usize, values: &mut [Option<f64>]) {
        for (slot, (value, included)) in values.iter_mut().zip(&self.values) {
            *slot = included.value(row).then(|| value[row]);
        }
    }

    /// Row `row`'s id in each unit column (NULL: [`NO_UNIT`]).
    fn ids_of(&self, row: usize) -> impl Iterator<Item = i64> + '_ {
        self.ids.iter().map(move |column| if column.is_valid(row) { column.value(row) } else { NO_UNIT })
    }
}

/// The rows an input includes, for a whole batch at once: a NULL value or a flag that is false
/// or NULL excludes the row.
fn included(value: &Float64Array, flag: &BooleanArray) -> BooleanBuffer {
    let mut included = flag.values().clone();
    for validity in [flag.nulls(), value.nulls()].into_iter().flatten() {
        included = &included & validity.inner();
    }
    included
}

/// The rows of the batch an aggregate's FILTER clause keeps (no clause keeps every row).
fn kept_rows(filter: Option<&BooleanArray>, rows: usize) -> Vec<usize> {
    match filter {
        None => (0..rows).collect(),
        Some(filter) => (0..rows).filter(|&row| filter.is_valid(row) && filter.value(row)).collect(),
    }
}

/// Adds the rows of a batch (those that pass `filter`) to their cells: row `row` to
/// `cells[cell_of(row)]`.
pub(crate) fn update(
    spec: &Spec,
    cells: &mut [Cell],
    arrays: &[ArrayRef],
    cell_of: impl Fn(usize) -> usize,
    filter: Option<&BooleanArray>,
) -> Result<()> {
    let inputs = Inputs::new(arrays, spec.shape.inputs())?;
    let rows = kept_rows(filter, inputs.rows());
    let runs = runs(&rows, cell_of);
    add_streamed_columns(spec, cells, &inputs, &runs);
    add_tallied_columns(spec, cells, &inputs, &runs);
    add_totals(spec, cells, &inputs, &runs);
    Ok(())
}

/// A stretch of consecutive kept rows of one cell.
struct Run<'a> {
    cell: usize,
    rows: &'a [usize],
}

/// The kept rows in runs of one cell each, in order. Tables are mostly stored by region and
/// households, so a run is often a long stretch of the batch (all of it for a national total),
/// and a cell's summaries and tallies are looked up once a run instead of once a row.
fn runs(rows: &[usize], cell_of: impl Fn(usize) -> usize) -> Vec<Run<'_>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut current = rows.first().map(|&row| cell_of(row));
    for at in 1..=rows.len() {
        let next = rows.get(at).map(|&row| cell_of(row));
        if next != current {
            if let Some(cell) = current {
                runs.push(Run { cell, rows: &rows[start..at] });
            }
            (start, current) = (at, next);
        }
    }
    runs
}

/// The unit columns with one row per unit: each row's key, and per input its value.
fn add_streamed_columns(spec: &Spec, cells: &mut [Cell], inputs: &Inputs, runs: &[Run]) {
    let shape = &spec.shape;
    let mut keys = Vec::new();
    for (column, ids) in inputs.ids.iter().enumerate().filter(|(column, _)| shape.streamed[*column]) {
        spec.keyer.unit_keys(shape.entities[column], ids.values(), &mut keys);
        for (input, (values, included)) in inputs.values.iter().enumerate() {
            for run in runs {
                let Some(stream) = cells[run.cell].streamed_mut(column, input) else { continue };
                let rows = run.rows.iter().filter(|&&row| ids.is_valid(row));
                stream.add_rows(rows.map(|&row| (keys[row], included.value(row).then(|| values[row]))), shape.top);
            }
        }
    }
}

/// The unit columns with several rows per unit: a row adds to its unit's tally of every input.
fn add_tallied_columns(spec: &Spec, cells: &mut [Cell], inputs: &Inputs, runs: &[Run]) {
    for (column, ids) in inputs.ids.iter().enumerate().filter(|(column, _)| !spec.shape.streamed[*column]) {
        for run in runs {
            if let Some(tallies) = cells[run.cell].tallies_mut(column) {
                tallies.add_rows(ids, run.rows, &inputs.values);
            }
        }
    }
}

/// Per input, its included rows' values to their cells' totals (and kept, for quantiles).
fn add_totals(spec: &Spec, cells: &mut [Cell], inputs: &Inputs, runs: &[Run]) {
    for (input, (values, included)) in inputs.values.iter().enumerate() {
        let keeps_values = spec.shape.keeps_values[input];
        for run in runs {
            let totals = &mut cells[run.cell].totals[input];
            let kept = || run.rows.iter().filter(|&&row| included.value(row));
            totals.add_all(kept().map(|&row| values[row]));
            if keeps_values {
                kept().for_each(|&row| totals.keep(values[row], inputs.ids_of(row)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::DataType;
    use zicht_catalog::{EntityType, SuppressionParams};

    use super::*;
    use crate::aggregate::{Measure, MeasureSpec, ProtectAggregate};
    use crate::cell::Row;
    use crate::noise::CellKeyer;

    /// Rows of three inputs (a count, an income with NULLs and zeros, a flag-like share) over
    /// persons (key) and households (tallied) with NULL ids, a FILTER, and five cells.
    #[test]
    fn a_batch_added_column_by_column_is_the_batch_added_row_by_row() {
        let measures = vec![
            MeasureSpec::plain(Measure::Count, 0, DataType::Int64),
            MeasureSpec::plain(Measure::Quantile(0.5), 1, DataType::Float64),
            MeasureSpec::plain(Measure::Sum, 2, DataType::Float64),
        ];
        let aggregate = ProtectAggregate::new(
            measures,
            vec![EntityType::Persoon, EntityType::Huishouden],
            vec![true, false],
            SuppressionParams::default(),
            CellKeyer::new(b"s"),
        );
        let spec = aggregate.spec();
        let rows = 0..5_000i64;
        let value = |r: i64, input: i64| match input {
            0 => Some(1.0),
            1 => (r % 11 != 0).then_some((r * 7919 % 60_000) as f64 * if r % 13 == 0 { 0.0 } else { 1.0 }),
            _ => Some((r % 3 == 0) as u8 as f64),
        };
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for input in 0..3 {
            arrays.push(Arc::new(Float64Array::from_iter(rows.clone().map(|r| value(r, input)))));
            arrays.push(Arc::new(BooleanArray::from_iter(rows.clone().map(|r| Some(r % 7 != input)))));
        }
        arrays.push(Arc::new(Int64Array::from_iter(rows.clone().map(|r| (r % 101 != 0).then_some(r * 31)))));
        arrays.push(Arc::new(Int64Array::from_iter(rows.clone().map(|r| (r % 57 != 0).then_some(r / 3)))));
        let filter = BooleanArray::from_iter(rows.clone().map(|r| (r % 17 != 0).then_some(r % 19 != 0)));
        let cell_of = |row: usize| (row / 3 * 7) % 5;

        let mut by_column: Vec<Cell> = (0..5).map(|_| Cell::new(&spec.shape)).collect();
        update(spec, &mut by_column, &arrays, cell_of, Some(&filter)).unwrap();

        let mut by_row: Vec<Cell> = (0..5).map(|_| Cell::new(&spec.shape)).collect();
        let inputs = Inputs::new(&arrays, 3).unwrap();
        let mut values = vec![None; 3];
        for row in kept_rows(Some(&filter), inputs.rows()) {
            inputs.read_values(row, &mut values);
            let ids: Vec<Option<i64>> = inputs.ids.iter().map(|c| c.is_valid(row).then(|| c.value(row))).collect();
            by_row[cell_of(row)].update(&spec.shape, &spec.keyer, &Row { values: &values, ids: &ids });
        }
        for (column, row) in by_column.iter_mut().zip(&mut by_row) {
            column.settle(&spec.shape, &spec.keyer);
            row.settle(&spec.shape, &spec.keyer);
            // Debug prints every field, floats to the last bit.
            assert_eq!(format!("{column:?}"), format!("{row:?}"));
        }
    }
}
