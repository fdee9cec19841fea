//! Partial states read where they arrived: the units of a national total without copying them.
//!
//! The final phase of an aggregation without groups (a national total) receives one partial state
//! per input partition, each with millions of units (the households of the persons table), and
//! runs on one core. Appending the states into one cell's tallies, folding them and keying every
//! unit took as long as the whole parallel phase before it, mostly faulting in fresh memory for
//! the copies. But a state's units arrive settled (ascending, one entry each, keyed by the partial
//! aggregation, in parallel), and when the states' ranges of ids follow one another (partitions
//! read consecutive parts of a table stored by unit), all the units are in order and one entry
//! each already, but for a unit two neighbouring states share (a household cut in two by the
//! partitioning). A [`Chain`] then reads the states in their Arrow buffers and adds up only the
//! shared units, in the order the states arrived, as appending them did. States whose ranges
//! overlap (owners, who arrive in any order) are merged into one cell's tallies in one pass that
//! takes the smallest next id of all of them, keys included ([`crate::tallies::Tallies`]).

use datafusion::arrow::buffer::ScalarBuffer;

use crate::cell::Tally;
use crate::summary::{RunningSummary, Summaries};

/// One partial state of a tallied column, as it arrived: its unit ids and keys and, per input, the
/// units' contributions and numbers of included rows, in the state's own buffers.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub ids: ScalarBuffer<i64>,
    pub keys: ScalarBuffer<u64>,
    pub per_input: Vec<(ScalarBuffer<f64>, ScalarBuffer<u32>)>,
}

impl Segment {
    /// Whether the ids are strictly ascending (sorted, one entry per unit) and keyed.
    pub fn is_settled(&self) -> bool {
        self.keys.len() == self.ids.len() && self.ids.windows(2).all(|pair| pair[0] < pair[1])
    }

    /// Per input the contributions and rows, as slices.
    pub fn slices(&self) -> Vec<(&[f64], &[u32])> {
        self.per_input.iter().map(|(contributions, rows)| (&contributions[..], &rows[..])).collect()
    }

    #[inline(always)]
    pub fn tally(&self, input: usize, at: usize) -> Tally {
        let (contributions, rows) = &self.per_input[input];
        Tally { contribution: contributions[at], rows: rows[at] }
    }

    fn first(&self) -> i64 {
        self.ids[0]
    }

    fn last(&self) -> i64 {
        self.ids[self.ids.len() - 1]
    }

    pub fn size(&self) -> usize {
        self.ids.len() * (size_of::<i64>() + size_of::<u64>())
            + self.per_input.len() * self.ids.len() * size_of::<Tally>()
    }
}

/// Where a piece of a chain reads its units from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A segment, by its position in arrival order.
    Segment(usize),
    /// The units neighbouring segments share, added up.
    Shared,
}

/// Units `from..to` of a source, ascending.
#[derive(Debug, Clone, Copy)]
struct Piece {
    source: Source,
    from: usize,
    to: usize,
}

/// The units of segments whose ranges follow one another, ascending, one entry each, with their
/// keys: what judging a cell needs of a settled tallied column.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pieces: Vec<Piece>,
    /// The units neighbouring segments share: the first (segment, position) each was seen at,
    /// for its id and key, and per input their tallies added up in arrival order.
    shared_at: Vec<(usize, usize)>,
    shared: Vec<Vec<Tally>>,
}

impl Chain {
    /// The chain of `segments` (each settled, in the order they arrived), or None when two
    /// segments' ranges overlap by more than one shared unit.
    pub fn of(segments: &[Segment], inputs: usize) -> Option<Chain> {
        debug_assert!(segments.iter().all(|s| !s.ids.is_empty() && s.is_settled()));
        let mut order: Vec<usize> = (0..segments.len()).collect();
        // Stable: segments with the same range stay in arrival order.
        order.sort_by_key(|&s| (segments[s].first(), segments[s].last()));
        if order.windows(2).any(|pair| segments[pair[0]].last() > segments[pair[1]].first()) {
            return None;
        }
        let mut chain = Chain { pieces: Vec::new(), shared_at: Vec::new(), shared: vec![Vec::new(); inputs] };
        // The last unit seen and the (segment, position) places it was seen at: it is complete
        // once a segment starts with another unit.
        let mut pending: Option<(i64, Vec<(usize, usize)>)> = None;
        for &s in &order {
            let ids = &segments[s].ids;
            let mut from = 0;
            if let Some((_, places)) = pending.as_mut().filter(|unit| unit.0 == ids[0]) {
                places.push((s, 0));
                from = 1;
                if ids.len() == 1 {
                    // Its one unit is the shared one, which the next segment may share too.
                    continue;
                }
            }
            if let Some((_, places)) = pending.take() {
                chain.push_unit(segments, &places);
            }
            let last = ids.len() - 1;
            if last > from {
                chain.pieces.push(Piece { source: Source::Segment(s), from, to: last });
            }
            pending = Some((ids[last], vec![(s, last)]));
        }
        if let Some((_, places)) = pending {
            chain.push_unit(segments, &places);
        }
        Some(chain)
    }

    /// Appends one unit found at `places`: read in place when only one segment has it, else its
    /// tallies added up in arrival order.
    fn push_unit(&mut self, segments: &[Segment], places: &[(usize, usize)]) {
        let piece = match places {
            [(s, at)] => Piece { source: Source::Segment(*s), from: *at, to: at + 1 },
            _ => {
                let mut places = places.to_vec();
                places.sort_unstable();
                let (first, at) = places[0];
                for (input, shared) in self.shared.iter_mut().enumerate() {
                    let mut sum = segments[first].tally(input, at);
                    for &(s, at) in &places[1..] {
                        sum.add(&segments[s].tally(input, at));
                    }
                    shared.push(sum);
                }
                self.shared_at.push((first, at));
                let from = self.shared_at.len() - 1;
                Piece { source: Source::Shared, from, to: from + 1 }
            }
        };
        // A unit right after a run of the same segment extends that run.
        if let (Some(previous), Source::Segment(s)) = (self.pieces.last_mut(), piece.source)
            && matches!(previous.source, Source::Segment(p) if p == s)
            && previous.to == piece.from
        {
            previous.to = piece.to;
            return;
        }
        self.pieces.push(piece);
    }

    /// The summaries of input `input` over the units, a piece at a time: each piece's loop reads
    /// its keys, contributions and rows as slices, in unit order.
    pub fn summaries(&self, segments: &[Segment], input: usize, top: usize) -> Summaries {
        let mut running = RunningSummary::new();
        for piece in &self.pieces {
            match piece.source {
                Source::Segment(s) => {
                    let keys = segments[s].keys[piece.from..piece.to].iter().copied();
                    let (contributions, rows) = &segments[s].per_input[input];
                    let tallies = contributions[piece.from..piece.to]
                        .iter()
                        .zip(&rows[piece.from..piece.to])
                        .map(|(&contribution, &rows)| Tally { contribution, rows });
                    running.add_units(keys.zip(tallies), top);
                }
                Source::Shared => {
                    let keys = self.shared_at[piece.from..piece.to].iter().map(|&(s, at)| segments[s].keys[at]);
                    running.add_units(keys.zip(self.shared[input][piece.from..piece.to].iter().copied()), top)
                }
            }
        }
        running.finish()
    }

    /// The unit ids, ascending (for tests).
    #[cfg(test)]
    pub fn ids<'a>(&'a self, segments: &'a [Segment]) -> Vec<i64> {
        let ids = |piece: &Piece| match piece.source {
            Source::Segment(s) => segments[s].ids[piece.from..piece.to].to_vec(),
            Source::Shared => self.shared_at[piece.from..piece.to].iter().map(|&(s, at)| segments[s].ids[at]).collect(),
        };
        self.pieces.iter().flat_map(ids).collect()
    }

    pub fn size(&self) -> usize {
        self.pieces.capacity() * size_of::<Piece>()
            + self.shared_at.capacity() * size_of::<(usize, usize)>()
            + self.shared.iter().map(|s| s.capacity() * size_of::<Tally>()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use zicht_catalog::EntityType;

    use super::*;
    use crate::noise::CellKeyer;
    use crate::tallies::Tallies;

    type Rows = [(i64, [Option<f64>; 2])];

    /// A part of a table as a partition's partial aggregation sends it: settled, in lists.
    fn state_of(rows: &Rows, keyer: &CellKeyer) -> Segment {
        let mut tallies = Tallies::new(2);
        rows.iter().for_each(|(id, values)| tallies.add_row(*id, values));
        tallies.settle(EntityType::Huishouden, keyer);
        let (ids, tallies, keys) = tallies.entries().unwrap();
        let per_input = (0..2)
            .map(|input| {
                let contributions: Vec<f64> = tallies.chunks_exact(2).map(|unit| unit[input].contribution).collect();
                let rows: Vec<u32> = tallies.chunks_exact(2).map(|unit| unit[input].rows).collect();
                (contributions.into(), rows.into())
            })
            .collect();
        Segment { ids: ids.to_vec().into(), keys: keys.to_vec().into(), per_input }
    }

    /// Both inputs' summaries, floats to the last bit.
    fn summaries(tallies: &Tallies) -> String {
        format!("{:?}", [tallies.summaries(0, 5), tallies.summaries(1, 5)])
    }

    /// The states merged in `order`, kept where they arrived, and the same states appended.
    fn merged(states: &[Segment], order: &[usize], keyer: &CellKeyer) -> (Tallies, Tallies) {
        let (mut kept, mut appended) = (Tallies::new(2), Tallies::new(2));
        for &at in order {
            kept.merge_state(states[at].clone());
            appended.append_state(&states[at]);
        }
        kept.settle(EntityType::Huishouden, keyer);
        appended.settle(EntityType::Huishouden, keyer);
        (kept, appended)
    }

    #[test]
    fn states_that_follow_one_another_are_read_where_they_arrived_as_appending_reads_them() {
        let keyer = CellKeyer::new(b"s");
        // Households as the persons table stores them; sums of tenths, so that a unit's
        // contribution depends on the order its parts are added in.
        let rows: Vec<(i64, [Option<f64>; 2])> =
            (0..20_000i64).map(|r| (r / 3, [Some(1.0), (r % 5 != 0).then_some(r as f64 * 0.1)])).collect();
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        // Household 3_000 cut in two (and an empty part); a middle part of one row that both
        // others share; parts that do not touch.
        for splits in [[9_001, 9_001], [9_001, 9_002], [3_000, 12_000]] {
            let parts = [&rows[..splits[0]], &rows[splits[0]..splits[1]], &rows[splits[1]..]];
            let states: Vec<Segment> = parts.iter().map(|part| state_of(part, &keyer)).collect();
            for order in orders {
                let (kept, appended) = merged(&states, &order, &keyer);
                assert!(kept.reads_in_place(), "{splits:?} {order:?}");
                assert!(!appended.reads_in_place());
                assert_eq!(summaries(&kept), summaries(&appended), "{splits:?} {order:?}");
            }
        }
    }

    #[test]
    fn a_unit_three_states_share_is_added_up_in_arrival_order() {
        let keyer = CellKeyer::new(b"s");
        // Unit 5 in all three, with tenths: (a + b) + c differs from a + (b + c) in the last bit.
        let states = [
            state_of(&[(1, [Some(1.0), Some(0.1)]), (5, [Some(1.0), Some(0.1)])], &keyer),
            state_of(&[(5, [Some(1.0), Some(0.2)])], &keyer),
            state_of(&[(5, [Some(1.0), Some(0.3)]), (9, [Some(1.0), Some(0.7)])], &keyer),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let (kept, appended) = merged(&states, &order, &keyer);
            assert!(kept.reads_in_place());
            assert_eq!(summaries(&kept), summaries(&appended), "{order:?}");
        }
        let chain = Chain::of(&states, 2).unwrap();
        assert_eq!(chain.ids(&states), [1, 5, 9]);
    }

    #[test]
    fn states_that_overlap_are_merged_as_appending_them_adds_up() {
        let keyer = CellKeyer::new(b"s");
        // Owners, who arrive in any order: every state spans nearly all ids, and many units are
        // in two or three states, with tenths (the order they are added in shows in the last bit).
        let rows: Vec<(i64, [Option<f64>; 2])> =
            (0..9_000i64).map(|r| ((r * 7_919) % 4_000, [Some(1.0), Some(r as f64 * 0.1)])).collect();
        let states: Vec<Segment> = rows.chunks(3_000).map(|part| state_of(part, &keyer)).collect();
        for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let (kept, appended) = merged(&states, &order, &keyer);
            assert!(!kept.reads_in_place());
            assert_eq!(format!("{:?}", kept.entries()), format!("{:?}", appended.entries()), "{order:?}");
            assert_eq!(summaries(&kept), summaries(&appended), "{order:?}");
        }
    }

    #[test]
    fn a_row_after_the_states_appends_them_first() {
        let keyer = CellKeyer::new(b"s");
        let rows: Vec<(i64, [Option<f64>; 2])> =
            (0..3_000i64).map(|r| (r / 2, [Some(1.0), Some(r as f64 * 0.1)])).collect();
        let states: Vec<Segment> = rows.chunks(1_000).map(|part| state_of(part, &keyer)).collect();
        let (mut kept, mut appended) = (Tallies::new(2), Tallies::new(2));
        for state in &states {
            kept.merge_state(state.clone());
            appended.append_state(state);
        }
        for tallies in [&mut kept, &mut appended] {
            tallies.add_row(1_499, &[Some(1.0), Some(0.3)]);
            tallies.settle(EntityType::Huishouden, &keyer);
        }
        assert!(!kept.reads_in_place());
        assert_eq!(summaries(&kept), summaries(&appended));
    }
}
