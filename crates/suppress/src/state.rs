//! The partial states of a protecting aggregation: how cells travel between the partial and the
//! final aggregation, one row per cell, one Arrow column per field, lists where a cell holds many
//! values. The layout depends only on the aggregation's [`Shape`], never on its cells, so an empty
//! emit has every column too.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, PrimitiveArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float64Type, Int64Type, UInt32Type, UInt64Type,
};
use datafusion::common::internal_err;
use datafusion::error::Result;

use crate::cell::{Cell, Column, Shape, Streamed, Tally, Totals};
use crate::segments::Segment;

/// The state fields of an aggregation: (name suffix, type), in the order of [`states`].
pub(crate) fn layout(shape: &Shape) -> Vec<(String, DataType)> {
    let list = |item: DataType| DataType::List(Arc::new(Field::new_list_field(item, true)));
    let mut fields = Vec::new();
    for (c, &streamed) in shape.streamed.iter().enumerate() {
        if streamed {
            for input in 0..shape.inputs() {
                for (name, data_type) in [
                    ("included", DataType::UInt64),
                    ("included_keys", DataType::UInt64),
                    ("nonzero", DataType::UInt64),
                    ("nonzero_keys", DataType::UInt64),
                    ("excluded", DataType::UInt64),
                    ("top", list(DataType::Float64)),
                    ("total_abs", DataType::Float64),
                    ("min", DataType::Float64),
                    ("max", DataType::Float64),
                ] {
                    fields.push((format!("c{c}.i{input}.{name}"), data_type));
                }
            }
        } else {
            fields.push((format!("c{c}.ids"), list(DataType::Int64)));
            fields.push((format!("c{c}.keys"), list(DataType::UInt64)));
            for input in 0..shape.inputs() {
                fields.push((format!("c{c}.i{input}.contributions"), list(DataType::Float64)));
                fields.push((format!("c{c}.i{input}.rows"), list(DataType::UInt32)));
            }
        }
    }
    for input in 0..shape.inputs() {
        for (name, data_type) in [
            ("rows", DataType::UInt64),
            ("sum", DataType::Float64),
            ("min", DataType::Float64),
            ("max", DataType::Float64),
            ("nonzero", DataType::Float64),
            ("two_valued", DataType::Boolean),
            ("values", list(DataType::Float64)),
        ] {
            fields.push((format!("i{input}.{name}"), data_type));
        }
        for c in 0..shape.entities.len() {
            fields.push((format!("i{input}.value_ids{c}"), list(DataType::Int64)));
        }
    }
    fields
}

/// The partial states of `cells`, one row per cell. The cells are settled: each unit of a tallied
/// column travels once, with its key.
pub(crate) fn states(cells: &[Cell], shape: &Shape) -> Result<Vec<ArrayRef>> {
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let empty = Streamed::default();
    for (c, &streamed) in shape.streamed.iter().enumerate() {
        if streamed {
            for input in 0..shape.inputs() {
                let streams: Vec<&Streamed> = cells
                    .iter()
                    .map(|cell| match &cell.columns[c] {
                        Column::Streamed(streams) => &streams[input],
                        Column::Tallied { .. } => &empty,
                    })
                    .collect();
                let u64s = |f: fn(&Streamed) -> u64| -> ArrayRef {
                    Arc::new(UInt64Array::from_iter_values(streams.iter().map(|s| f(s))))
                };
                let f64s = |f: fn(&Streamed) -> f64| -> ArrayRef {
                    Arc::new(Float64Array::from_iter_values(streams.iter().map(|s| f(s))))
                };
                arrays.push(u64s(|s| s.included));
                arrays.push(u64s(|s| s.included_keys));
                arrays.push(u64s(|s| s.nonzero));
                arrays.push(u64s(|s| s.nonzero_keys));
                arrays.push(u64s(|s| s.excluded));
                arrays.push(list_array::<Float64Type>(streams.iter().map(|s| &s.top[..])));
                arrays.push(f64s(|s| s.total_abs));
                arrays.push(f64s(|s| s.min));
                arrays.push(f64s(|s| s.max));
            }
        } else {
            let mut parts: Vec<(&[i64], &[Tally], &[u64])> = Vec::with_capacity(cells.len());
            for cell in cells {
                parts.push(match &cell.columns[c] {
                    Column::Tallied(tallies) => match tallies.entries() {
                        Some(entries) => entries,
                        None => return internal_err!("protect: a partial state of a cell that has not settled"),
                    },
                    Column::Streamed(_) => (&[][..], &[][..], &[][..]),
                });
            }
            let lengths: Vec<usize> = parts.iter().map(|(ids, _, _)| ids.len()).collect();
            arrays.push(list_array::<Int64Type>(parts.iter().map(|(ids, _, _)| *ids)));
            arrays.push(list_array::<UInt64Type>(parts.iter().map(|(_, _, keys)| *keys)));
            let (inputs, units) = (shape.inputs(), lengths.iter().sum());
            for input in 0..inputs {
                // Straight from the cells' tallies into the list's values, a cell at a time: a
                // national total holds millions of units, and every intermediate copy of them is
                // memory to fault in.
                let (mut contributions, mut rows) = (Vec::with_capacity(units), Vec::with_capacity(units));
                for (_, tallies, _) in &parts {
                    contributions.extend(tallies.chunks_exact(inputs).map(|unit| unit[input].contribution));
                    rows.extend(tallies.chunks_exact(inputs).map(|unit| unit[input].rows));
                }
                arrays.push(list_of::<Float64Type>(&lengths, contributions));
                arrays.push(list_of::<UInt32Type>(&lengths, rows));
            }
        }
    }
    for input in 0..shape.inputs() {
        let totals: Vec<&Totals> = cells.iter().map(|cell| &cell.totals[input]).collect();
        let f64s = |f: fn(&Totals) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(totals.iter().map(|t| f(t))))
        };
        arrays.push(Arc::new(UInt64Array::from_iter_values(totals.iter().map(|t| t.rows))));
        arrays.push(f64s(|t| t.sum));
        arrays.push(f64s(|t| t.min));
        arrays.push(f64s(|t| t.max));
        arrays.push(f64s(|t| t.nonzero));
        arrays.push(Arc::new(BooleanArray::from_iter(totals.iter().map(|t| Some(t.two_valued)))));
        arrays.push(list_array::<Float64Type>(totals.iter().map(|t| &t.values[..])));
        for c in 0..shape.entities.len() {
            arrays.push(list_array::<Int64Type>(totals.iter().map(|t| &t.value_ids[c][..])));
        }
    }
    Ok(arrays)
}

/// One list per cell, in the list field layout of [`layout`], copied once from the cells: the
/// values a national quantile keeps are millions (with their unit ids, per unit column), and a
/// clone of each list and a buffer between them and the list were two more copies to fault in.
fn list_array<'a, T: ArrowPrimitiveType>(lists: impl Iterator<Item = &'a [T::Native]>) -> ArrayRef {
    let lists: Vec<&[T::Native]> = lists.collect();
    let lengths: Vec<usize> = lists.iter().map(|list| list.len()).collect();
    let mut values = Vec::with_capacity(lengths.iter().sum());
    for list in &lists {
        values.extend_from_slice(list);
    }
    list_of::<T>(&lengths, values)
}

/// One list per cell from the lists' lengths and all their items in order.
fn list_of<T: ArrowPrimitiveType>(lengths: &[usize], values: Vec<T::Native>) -> ArrayRef {
    let field = Arc::new(Field::new_list_field(T::DATA_TYPE, true));
    let items = PrimitiveArray::<T>::new(values.into(), None);
    Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths.iter().copied()), Arc::new(items), None))
}

/// Partial states of one batch, downcast once for all its rows.
pub(crate) struct PartialStates<'a> {
    arrays: &'a [ArrayRef],
}

impl<'a> PartialStates<'a> {
    pub fn new(arrays: &'a [ArrayRef], shape: &Shape) -> Result<PartialStates<'a>> {
        let expected = layout(shape).len();
        if arrays.len() != expected {
            return internal_err!("protect: {} state columns, expected {expected}", arrays.len());
        }
        Ok(PartialStates { arrays })
    }

    pub fn len(&self) -> usize {
        self.arrays.first().map_or(0, |a| a.len())
    }

    /// Adds row `row` of the partial states to `cell`.
    pub fn merge_into(&self, cell: &mut Cell, shape: &Shape, row: usize) {
        let mut at = 0;
        let mut next = || {
            at += 1;
            &self.arrays[at - 1]
        };
        let u64_at = |a: &ArrayRef| a.as_primitive::<UInt64Type>().value(row);
        let f64_at = |a: &ArrayRef| a.as_primitive::<Float64Type>().value(row);
        let f64_list = |a: &ArrayRef| -> Vec<f64> {
            a.as_list::<i32>().value(row).as_primitive::<Float64Type>().values().to_vec()
        };
        for c in 0..shape.streamed.len() {
            if shape.streamed[c] {
                for input in 0..shape.inputs() {
                    let other = Streamed {
                        included: u64_at(next()),
                        included_keys: u64_at(next()),
                        nonzero: u64_at(next()),
                        nonzero_keys: u64_at(next()),
                        excluded: u64_at(next()),
                        top: f64_list(next()),
                        total_abs: f64_at(next()),
                        min: f64_at(next()),
                        max: f64_at(next()),
                    };
                    if let Column::Streamed(streams) = &mut cell.columns[c] {
                        streams[input].merge(&other, shape.top);
                    }
                }
            } else {
                // Kept in the state's buffers, not copied (see `crate::segments`).
                let ids = next().as_list::<i32>().value(row).as_primitive::<Int64Type>().values().clone();
                let keys = next().as_list::<i32>().value(row).as_primitive::<UInt64Type>().values().clone();
                let per_input = (0..shape.inputs())
                    .map(|_| {
                        let contributions = next().as_list::<i32>().value(row);
                        let rows = next().as_list::<i32>().value(row);
                        (
                            contributions.as_primitive::<Float64Type>().values().clone(),
                            rows.as_primitive::<UInt32Type>().values().clone(),
                        )
                    })
                    .collect();
                cell.merge_tallies(c, Segment { ids, keys, per_input });
            }
        }
        for input in 0..shape.inputs() {
            let rows = next().as_primitive::<UInt64Type>();
            if rows.is_null(row) {
                return;
            }
            let other = Totals {
                rows: rows.value(row),
                sum: f64_at(next()),
                min: f64_at(next()),
                max: f64_at(next()),
                nonzero: f64_at(next()),
                two_valued: next().as_boolean().value(row),
                values: Vec::new(),
                value_ids: Vec::new(),
            };
            let totals = &mut cell.totals[input];
            totals.merge_counts(&other);
            let values = next().as_list::<i32>().value(row);
            totals.values.extend_from_slice(values.as_primitive::<Float64Type>().values());
            for ids in totals.value_ids.iter_mut() {
                let list = next().as_list::<i32>().value(row);
                ids.extend_from_slice(list.as_primitive::<Int64Type>().values());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Row;
    use crate::noise::CellKeyer;
    use zicht_catalog::EntityType;

    fn shape() -> Shape {
        Shape {
            entities: vec![EntityType::Persoon, EntityType::Huishouden],
            streamed: vec![true, false],
            keeps_values: vec![false, true],
            top: 5,
        }
    }

    #[test]
    fn partial_states_of_no_cells_keep_the_layout() {
        let shape = shape();
        let empty = states(&[], &shape).unwrap();
        assert_eq!(empty.len(), layout(&shape).len());
        assert!(PartialStates::new(&empty, &shape).is_ok());
        assert!(empty.iter().all(|column| column.is_empty()));
    }

    #[test]
    fn a_cell_survives_the_round_trip() {
        let shape = shape();
        let keyer = CellKeyer::new(b"s");
        let mut cell = Cell::new(&shape);
        for i in 0..20i64 {
            let values = [Some(1.0), (i % 3 != 0).then_some(i as f64)];
            let ids = [Some(i), Some(100 + i / 2)];
            cell.update(&shape, &keyer, &Row { values: &values, ids: &ids });
        }
        cell.settle(&shape, &keyer);
        let arrays = states(std::slice::from_ref(&cell), &shape).unwrap();
        let mut merged = Cell::new(&shape);
        PartialStates::new(&arrays, &shape).unwrap().merge_into(&mut merged, &shape, 0);
        merged.settle(&shape, &keyer);
        for m in 0..2 {
            for c in 0..2 {
                for contributes in [crate::summary::Contributes::Included, crate::summary::Contributes::Nonzero] {
                    let a = cell.summary(&shape, c, m, contributes);
                    let b = merged.summary(&shape, c, m, contributes);
                    assert_eq!(
                        (a.contributors, a.contributor_keys, a.complement),
                        (b.contributors, b.contributor_keys, b.complement)
                    );
                    assert_eq!((a.top, a.total_abs), (b.top, b.total_abs));
                }
            }
            assert_eq!(cell.totals[m].rows, merged.totals[m].rows);
            assert_eq!(cell.totals[m].values, merged.totals[m].values);
        }
    }
}
