//! What the rules need to know of one unit column of a cell: a [`ColumnSummary`] per input and
//! way of contributing, from a key column's running summaries or from a tallied column's units.

use crate::cell::{Cell, Column, Shape, Streamed, Tally, push_top};

/// What a measure's rules need to know of one unit column of a cell.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnSummary {
    /// Contributing units (a sum's: non-zero contribution; other measures': an included row; the
    /// cell flag's: every unit seen) and the wrapping sum of their keys.
    pub contributors: u64,
    pub contributor_keys: u64,
    /// Units seen with no included row.
    pub complement: u64,
    /// Units with an included row, by whether their contribution is zero.
    pub with_nonzero: u64,
    pub with_zero: u64,
    /// The largest |contribution| of units with an included row, descending, and their total.
    pub top: Vec<f64>,
    pub total_abs: f64,
    /// Whether the contributions of units with an included row are all alike.
    pub alike: bool,
    /// The largest numbers of included rows of one unit, descending, and the total.
    pub top_rows: Vec<f64>,
    pub total_rows: f64,
}

/// Which units count as contributing to a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contributes {
    /// Every unit seen in the cell (the cell flag).
    Seen = 0,
    /// Units with an included row.
    Included = 1,
    /// Units with a non-zero contribution (sums).
    Nonzero = 2,
}

/// The summaries of one unit column for one input, one per way of contributing
/// (`[contributes as usize]`): all but the contributors are the same in the three.
pub(crate) type Summaries = [ColumnSummary; 3];

impl Cell {
    /// The summary of unit column `column` for input `input`, in a settled cell.
    #[cfg(test)]
    pub fn summary(&self, shape: &Shape, column: usize, input: usize, contributes: Contributes) -> ColumnSummary {
        self.summaries(shape, column, input)[contributes as usize].clone()
    }

    /// The summaries of unit column `column` for input `input`, in a settled cell, from one pass
    /// over its units (the measures of one input share it: a count and the cell flag, a median
    /// and its quartiles). A tallied column that is not settled could count a unit twice: it
    /// summarises as no units (fails closed).
    pub fn summaries(&self, shape: &Shape, column: usize, input: usize) -> Summaries {
        match &self.columns[column] {
            Column::Streamed(streams) => streamed_summaries(&streams[input]),
            Column::Tallied(tallies) if tallies.is_settled() => tallies.summaries(input, shape.top),
            Column::Tallied(_) => {
                debug_assert!(false, "a tallied column summarised before it settled");
                Summaries::default()
            }
        }
    }
}

fn streamed_summaries(s: &Streamed) -> Summaries {
    let summary = ColumnSummary {
        contributors: 0,
        contributor_keys: 0,
        complement: s.excluded,
        with_nonzero: s.nonzero,
        with_zero: s.included - s.nonzero,
        top: s.top.clone(),
        total_abs: s.total_abs,
        alike: s.included == 0 || alike(s.min, s.max),
        top_rows: if s.included > 0 { vec![1.0; s.included.min(2) as usize] } else { Vec::new() },
        total_rows: s.included as f64,
    };
    // Every row is a unit; the excluded ones were seen too (their keys are not kept: the cell
    // flag is seeded by its units only through the threshold, which uses the included ones).
    let contributors =
        [(s.included + s.excluded, s.included_keys), (s.included, s.included_keys), (s.nonzero, s.nonzero_keys)];
    per_way(&summary, contributors)
}

/// The summaries of a tallied column from its units (key and tally each).
pub(crate) fn tallied_summaries(tallies: impl Iterator<Item = (u64, Tally)>, top: usize) -> Summaries {
    let mut running = RunningSummary::new();
    running.add_units(tallies, top);
    running.finish()
}

/// A tallied column's summaries while its units are read, in parts when they are not in one
/// slice ([`crate::segments::Chain`]).
#[derive(Debug)]
pub(crate) struct RunningSummary {
    seen: (u64, u64),
    included: (u64, u64),
    nonzero: (u64, u64),
    total_abs: f64,
    total_rows: f64,
    low: f64,
    high: f64,
    top_values: Vec<f64>,
    top_rows: Vec<f64>,
}

impl RunningSummary {
    pub fn new() -> RunningSummary {
        RunningSummary {
            seen: (0, 0),
            included: (0, 0),
            nonzero: (0, 0),
            total_abs: 0.0,
            total_rows: 0.0,
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
            top_values: Vec::new(),
            top_rows: Vec::new(),
        }
    }

    /// Adds units (key and tally each), in order: sums are added in the order of the units.
    #[inline(always)]
    pub fn add_units(&mut self, tallies: impl Iterator<Item = (u64, Tally)>, top: usize) {
        // Running counts and sums in locals, not in the struct: a national cell has millions of
        // units, and fields of a struct the loop also pushes into stay in memory, each addition
        // waiting for the previous one's store.
        let ((mut seen, mut seen_keys), (mut included, mut included_keys)) = (self.seen, self.included);
        let (mut nonzero, mut nonzero_keys) = self.nonzero;
        let (mut total_abs, mut total_rows) = (self.total_abs, self.total_rows);
        let (mut low, mut high) = (self.low, self.high);
        for (key, tally) in tallies {
            seen += 1;
            seen_keys = seen_keys.wrapping_add(key);
            if tally.rows == 0 {
                continue;
            }
            included += 1;
            included_keys = included_keys.wrapping_add(key);
            let contribution = tally.contribution;
            if contribution != 0.0 {
                nonzero += 1;
                nonzero_keys = nonzero_keys.wrapping_add(key);
            }
            let magnitude = contribution.abs();
            push_top(&mut self.top_values, magnitude, top);
            total_abs += magnitude;
            low = low.min(contribution);
            high = high.max(contribution);
            push_top(&mut self.top_rows, f64::from(tally.rows), top);
            total_rows += f64::from(tally.rows);
        }
        (self.seen, self.included, self.nonzero) =
            ((seen, seen_keys), (included, included_keys), (nonzero, nonzero_keys));
        (self.total_abs, self.total_rows, self.low, self.high) = (total_abs, total_rows, low, high);
    }

    pub fn finish(self) -> Summaries {
        let (seen, included, nonzero) = (self.seen, self.included, self.nonzero);
        let summary = ColumnSummary {
            contributors: 0,
            contributor_keys: 0,
            complement: seen.0 - included.0,
            with_nonzero: nonzero.0,
            with_zero: included.0 - nonzero.0,
            top: self.top_values,
            total_abs: self.total_abs,
            alike: included.0 == 0 || alike(self.low, self.high),
            top_rows: self.top_rows,
            total_rows: self.total_rows,
        };
        per_way(&summary, [seen, included, nonzero])
    }
}

/// The summaries of one column, one per way of contributing: `summary` with each way's
/// contributors and the sum of their keys.
fn per_way(summary: &ColumnSummary, contributors: [(u64, u64); 3]) -> Summaries {
    contributors.map(|(contributors, contributor_keys)| ColumnSummary {
        contributors,
        contributor_keys,
        ..summary.clone()
    })
}

/// Values closer together than this share of their magnitude count as identical.
const IDENTICAL_RELATIVE: f64 = 1e-3;

/// Whether two extremes are so close that every value between them is as good as known.
pub(crate) fn alike(low: f64, high: f64) -> bool {
    high - low <= IDENTICAL_RELATIVE * low.abs().max(high.abs())
}

#[cfg(test)]
mod tests {
    use zicht_catalog::EntityType;

    use super::*;
    use crate::cell::Row;
    use crate::noise::CellKeyer;

    /// Persons in two columns: once as the table's key (streamed), once tallied per unit.
    fn shape() -> Shape {
        Shape {
            entities: vec![EntityType::Persoon, EntityType::Persoon],
            streamed: vec![true, false],
            keeps_values: vec![false, false, false],
            top: 5,
        }
    }

    #[test]
    fn a_key_column_summarises_like_a_tallied_one() {
        let shape = shape();
        let keyer = CellKeyer::new(b"s");
        let mut cell = Cell::new(&shape);
        for id in 0..40i64 {
            // The cell flag (every row), a count-like measure included for most rows, and a sum
            // with zeros and NULLs.
            let values = [Some(1.0), (id % 7 != 0).then_some(1.0), (id % 5 != 0).then_some((id % 4) as f64 * 1000.0)];
            cell.update(&shape, &keyer, &Row { values: &values, ids: &[Some(id), Some(id)] });
        }
        cell.settle(&shape, &keyer);
        // The cell flag counts every unit seen; the streamed path keeps the keys of included rows
        // only, which are all of them for the flag.
        let ways =
            [(0, Contributes::Seen), (1, Contributes::Included), (2, Contributes::Included), (2, Contributes::Nonzero)];
        for (measure, contributes) in ways {
            let streamed = cell.summary(&shape, 0, measure, contributes);
            let tallied = cell.summary(&shape, 1, measure, contributes);
            let same = |s: &ColumnSummary| {
                (s.contributors, s.contributor_keys, s.complement, s.with_nonzero, s.with_zero, s.alike)
            };
            assert_eq!(same(&streamed), same(&tallied), "{measure} {contributes:?}");
            assert_eq!((&streamed.top, streamed.total_abs), (&tallied.top, tallied.total_abs));
            // One row per unit: the two largest row counts are what dominance reads.
            assert_eq!(streamed.top_rows[..2], tallied.top_rows[..2]);
            assert_eq!(streamed.total_rows, tallied.total_rows);
        }
    }
}
