//! The per-unit tallies of one unit column of a cell, for a column with several rows per unit
//! (households in the persons table, the persons of an event table).
//!
//! Rows are appended as they arrive, and a row of the unit that arrived last adds to that unit's
//! entry (household members and a person's years arrive together). Whenever the entries have
//! doubled since the last fold, and before the cell is judged, they are folded: sorted by unit id,
//! the entries of one unit added up in the order they arrived. A hash map per cell did the same
//! with a lookup in a random slot of one of hundreds of maps for every row, and those cache misses
//! were a third of a protected query's time; appending touches only the end of one vector per
//! cell. Between folds the entries are at most twice the distinct units, as the map's capacity was.
//!
//! Judging reads each unit's key (its keyed hash, which seeds the noise) once per cell: the keys
//! are computed when the cell settles, not once per measure and unit column.
//!
//! Partial states are kept where they arrived while they follow one another in id order
//! ([`crate::segments`]), and merged in one pass when they do not (each is sorted already).

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::buffer::BooleanBuffer;
use zicht_catalog::EntityType;

use crate::cell::Tally;
use crate::noise::CellKeyer;
use crate::segments::{Chain, Segment};
use crate::summary::{Summaries, tallied_summaries};

/// Below this many entries a cell never folds before it settles: small cells sort once.
const FOLD_FROM: usize = 256;

/// How many appended entries ahead of the merge their tallies are fetched into the cache.
const PREFETCH_AHEAD: usize = 16;

/// The tallies of one unit column of one cell: per entry a unit id and one tally per input
/// (`tallies[entry * inputs + input]`). A unit is entered even when none of its rows is
/// included in an input, so that complements can be counted.
#[derive(Debug, Clone)]
pub(crate) struct Tallies {
    inputs: usize,
    ids: Vec<i64>,
    tallies: Vec<Tally>,
    /// The first `folded` entries are sorted by id, one per unit.
    folded: usize,
    /// The unit keys of the entries, once settled (empty before).
    keys: Vec<u64>,
    /// Partial states not appended (yet): while there are no entries and every state arrived
    /// ascending. Appended, in the order they arrived, as soon as that no longer holds.
    segments: Vec<Segment>,
    /// The segments' units in order, once settled, when their ranges follow one another.
    chain: Option<Chain>,
}

/// Asks the CPU to bring `slice[at]` into the cache, without waiting for it.
///
/// Merging appended entries in id order reads their tallies at random places of a vector of
/// millions (owners arrive in random order): waiting for each of those cache misses in turn was
/// two thirds of the merge.
#[inline(always)]
fn prefetch<T>(slice: &[T], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = slice.get(at) {
        // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((item as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, at);
}

/// The positions of `ids` (counted from `first`) with their ids, sorted by id, equal ids in
/// order of arrival (so a unit's entries are added up in the order they arrived).
///
/// Each entry is packed into one `u64`, its id (less the smallest) above its position, and the
/// packed values sorted as plain integers: the position breaks ties, so the order is stable
/// without a stable sort. For owners, millions of entries in random order, this was twice as
/// fast as a radix sort of (id, position) pairs, which moves 16 bytes an entry in every pass
/// over the bytes in which the ids differ (a stable comparison sort of the pairs, before that,
/// was slower still). Ids too far apart to pack beside their positions are radix-sorted as
/// pairs.
fn in_id_order(ids: &[i64], first: usize) -> Vec<(i64, u32)> {
    let (smallest, largest) = ids.iter().fold((i64::MAX, i64::MIN), |(low, high), &id| (low.min(id), high.max(id)));
    let span = largest.wrapping_sub(smallest) as u64;
    let position_bits = u64::BITS - (ids.len() as u64).leading_zeros();
    let id_bits = u64::BITS - span.leading_zeros();
    if id_bits + position_bits > u64::BITS {
        let mut order = in_arrival_order(ids, first);
        radsort::sort_by_key(&mut order, |&(id, _)| id);
        return order;
    }
    let mut packed: Vec<u64> = ids
        .iter()
        .enumerate()
        .map(|(at, &id)| ((id.wrapping_sub(smallest) as u64) << position_bits) | at as u64)
        .collect();
    packed.sort_unstable();
    let position_mask = (1u64 << position_bits) - 1;
    packed
        .into_iter()
        .map(|p| {
            let id = smallest.wrapping_add((p >> position_bits) as i64);
            (id, (first + (p & position_mask) as usize) as u32)
        })
        .collect()
}

/// The positions of `ids` (counted from `first`) with their ids, as they arrived.
fn in_arrival_order(ids: &[i64], first: usize) -> Vec<(i64, u32)> {
    ids.iter().enumerate().map(|(at, &id)| (id, (first + at) as u32)).collect()
}

impl Tallies {
    pub fn new(inputs: usize) -> Tallies {
        Tallies {
            inputs,
            ids: Vec::new(),
            tallies: Vec::new(),
            folded: 0,
            keys: Vec::new(),
            segments: Vec::new(),
            chain: None,
        }
    }

    /// Adds a partial state: kept as it is while the states arrive ascending and there are no
    /// entries (see [`crate::segments`]), else appended.
    pub fn merge_state(&mut self, state: Segment) {
        if state.ids.is_empty() {
            return;
        }
        if self.ids.is_empty() && state.is_settled() {
            self.chain = None;
            self.segments.push(state);
        } else {
            self.append_state(&state);
        }
    }

    /// Adds a partial state by appending it (after the segments kept so far), never kept where
    /// it arrived.
    pub fn append_state(&mut self, state: &Segment) {
        self.append_segments();
        self.append(&state.ids, &state.slices());
    }

    /// Whether the units are read from the partial states where they arrived.
    #[cfg(test)]
    pub fn reads_in_place(&self) -> bool {
        !self.segments.is_empty() && self.chain.is_some()
    }

    /// Appends the segments kept so far, in the order they arrived: before anything else is
    /// added, and when they do not follow one another.
    #[inline(always)]
    fn append_segments(&mut self) {
        if self.segments.is_empty() {
            return;
        }
        self.chain = None;
        for segment in std::mem::take(&mut self.segments) {
            self.append(&segment.ids, &segment.slices());
        }
    }

    /// Adds one row of unit `id`: per input its value when the row is included.
    #[cfg(test)]
    pub fn add_row(&mut self, id: i64, values: &[Option<f64>]) {
        self.append_segments();
        let entry = self.entry(id);
        for (tally, value) in self.tallies[entry * self.inputs..].iter_mut().zip(values) {
            if let Some(v) = value {
                tally.add_row(*v);
            }
        }
    }

    /// Adds a partial state's entries: its unit ids, and per input their contributions and rows.
    ///
    /// Appended in bulk, not unit by unit: a national total receives millions of households
    /// from each partition, on one core. The state's first unit joins the entry that arrived
    /// last when it is the same unit (a household two parts of the file share), as a row would.
    fn append(&mut self, ids: &[i64], per_input: &[(&[f64], &[u32])]) {
        let Some((&first, rest)) = ids.split_first() else { return };
        debug_assert!(self.segments.is_empty());
        self.reserve(ids.len());
        let tally =
            |at: usize, input: usize| Tally { contribution: per_input[input].0[at], rows: per_input[input].1[at] };
        let entry = self.entry(first);
        for input in 0..self.inputs {
            self.tallies[entry * self.inputs + input].add(&tally(0, input));
        }
        if rest.is_empty() {
            return;
        }
        self.keys.clear();
        self.ids.extend_from_slice(rest);
        for at in 1..ids.len() {
            for input in 0..self.inputs {
                self.tallies.push(tally(at, input));
            }
        }
    }

    /// Makes room for `units` more entries, about to arrive from a partial state.
    ///
    /// Folds first when enough entries are waiting (at least half as many as are folded, so
    /// folding stays linear overall): the partial state's units arrive ascending, and the fold
    /// that follows them then sees them as one run, not mixed with an earlier state's tail, which
    /// would have to be sorted.
    fn reserve(&mut self, units: usize) {
        let waiting = self.ids.len() - self.folded;
        if units >= FOLD_FROM && waiting >= FOLD_FROM.max(self.folded / 2) {
            self.fold();
        }
        self.ids.reserve(units);
        self.tallies.reserve(units * self.inputs);
    }

    /// Adds the rows `rows` of a batch, in order: row `row` is of unit `ids[row]` (a NULL id adds
    /// nothing) and adds, per input, `value[row]` where the input includes the row.
    ///
    /// A whole run of a cell's rows in one loop, reading the batch's columns in place: an
    /// inhabitant count adds 17 million persons' households twice (per gemeente and national),
    /// and a call per row with its values staged as options first was pure overhead on that.
    pub fn add_rows(&mut self, ids: &Int64Array, rows: &[usize], inputs: &[(&[f64], BooleanBuffer)]) {
        self.append_segments();
        let unit_of = ids.values();
        for &row in rows {
            if ids.is_null(row) {
                continue;
            }
            let start = self.entry(unit_of[row]) * self.inputs;
            for (tally, (value, included)) in self.tallies[start..].iter_mut().zip(inputs) {
                if included.value(row) {
                    tally.add_row(value[row]);
                }
            }
        }
    }

    /// The entry a row of unit `id` adds to: the last one when it is the same unit (household
    /// members arrive together), else a new one.
    #[inline(always)]
    fn entry(&mut self, id: i64) -> usize {
        if self.ids.last() == Some(&id) { self.ids.len() - 1 } else { self.new_entry(id) }
    }

    /// A new entry for unit `id`, folding first when the entries have doubled since the last fold.
    fn new_entry(&mut self, id: i64) -> usize {
        if self.ids.len() >= FOLD_FROM.max(2 * self.folded) {
            self.fold();
        }
        self.keys.clear();
        self.ids.push(id);
        self.tallies.resize(self.tallies.len() + self.inputs, Tally::default());
        self.ids.len() - 1
    }

    /// Sorts the entries by unit and adds up the entries of each unit, in the order they arrived
    /// (so a unit's contribution is the same sum, in the same order, as without folding).
    ///
    /// The first `folded` entries are already sorted and one per unit; only the entries appended
    /// since are sorted, and then merged with them. Rows mostly arrive grouped by unit and in the
    /// order of the data (persons are stored by household), so the new entries are usually
    /// ascending already: then folding is one pass that compares neighbours, and nothing more
    /// when they all come after the folded ones, or a rotation when they all come before.
    pub fn fold(&mut self) {
        self.append_segments();
        let folded = self.folded;
        if folded == self.ids.len() {
            return;
        }
        let ascending = self.ids[folded..].windows(2).all(|pair| pair[0] < pair[1]);
        if ascending && self.fold_beside() {
            return;
        }
        let appended = &self.ids[folded..];
        let order = match ascending {
            true => in_arrival_order(appended, folded),
            false => in_id_order(appended, folded),
        };
        self.merge_folded_with(&order);
    }

    /// Folds ascending appended entries that all come after the folded ones, or all before (the
    /// partial state of a later part of the table merged first), in place: no sort and no new
    /// vectors for millions of units. Where the two parts touch, their one shared unit (a
    /// household split between two parts of the file) is joined. False when they overlap more.
    fn fold_beside(&mut self) -> bool {
        let folded = self.folded;
        let (first, last) = (self.ids[folded], self.ids[self.ids.len() - 1]);
        match folded.checked_sub(1).map(|at| self.ids[at]) {
            None => {}
            Some(folded_last) if folded_last < first => {}
            Some(folded_last) if folded_last == first => self.join(folded - 1, folded),
            Some(_) if last <= self.ids[0] => {
                let count = self.ids.len() - folded;
                self.ids.rotate_right(count);
                self.tallies.rotate_right(count * self.inputs);
                if last == self.ids[count] {
                    self.join(count, count - 1);
                }
            }
            Some(_) => return false,
        }
        self.folded = self.ids.len();
        true
    }

    /// Joins two entries of one unit: `first`'s tallies plus `then`'s (in that order, the order
    /// they arrived), kept in the earlier position; the other entry is removed.
    fn join(&mut self, first: usize, then: usize) {
        let inputs = self.inputs;
        let (keep, gone) = (first.min(then), first.max(then));
        for input in 0..inputs {
            let mut sum = self.tallies[first * inputs + input];
            sum.add(&self.tallies[then * inputs + input]);
            self.tallies[keep * inputs + input] = sum;
        }
        self.ids.remove(gone);
        self.tallies.drain(gone * inputs..(gone + 1) * inputs);
    }

    /// Merges the folded entries with the appended ones in `order` (sorted by id, ties in order
    /// of arrival): a unit's folded entry comes first, as it arrived first.
    ///
    /// An index loop that copies a unit's few tallies one by one: with owners arriving in random
    /// order this runs for millions of entries, and a `memcpy` call per entry (what copying a
    /// slice of runtime length compiles to) was a tenth of a dwelling query's time.
    fn merge_folded_with(&mut self, order: &[(i64, u32)]) {
        let inputs = self.inputs;
        let mut ids = Vec::with_capacity(self.folded + order.len());
        let mut tallies: Vec<Tally> = Vec::with_capacity((self.folded + order.len()) * inputs);
        let (mut folded, mut appended) = (0, 0);
        while folded < self.folded || appended < order.len() {
            // The folded entry of a unit first; an appended one only when its unit comes earlier.
            let take_appended =
                folded == self.folded || (appended < order.len() && order[appended].0 < self.ids[folded]);
            let (id, at) = if take_appended {
                if let Some(&(_, ahead)) = order.get(appended + PREFETCH_AHEAD) {
                    prefetch(&self.tallies, ahead as usize * inputs);
                }
                appended += 1;
                order[appended - 1]
            } else {
                folded += 1;
                (self.ids[folded - 1], folded as u32 - 1)
            };
            let from = at as usize * inputs;
            if ids.last() == Some(&id) {
                let start = tallies.len() - inputs;
                for input in 0..inputs {
                    let theirs = self.tallies[from + input];
                    tallies[start + input].add(&theirs);
                }
            } else {
                ids.push(id);
                for input in 0..inputs {
                    tallies.push(self.tallies[from + input]);
                }
            }
        }
        self.folded = ids.len();
        self.ids = ids;
        self.tallies = tallies;
    }

    /// Merges the kept segments, whose ranges overlap (owners, in any order), into the entries:
    /// each is settled (ascending, one entry per unit, keyed), so one pass that takes the
    /// smallest next id of all of them gives the entries in order, with their keys.
    ///
    /// Appending them and folding did the same with a radix sort of all their units and a merge
    /// that read each unit's tallies at a random place: on one core, after the parallel phase,
    /// for the millions of owners of a national dwelling count. A unit several segments have is
    /// added up in the order they arrived (ties go to the earlier segment), as folding adds it.
    fn merge_segments(&mut self) {
        debug_assert!(self.ids.is_empty() && self.segments.iter().all(Segment::is_settled));
        let segments = std::mem::take(&mut self.segments);
        self.chain = None;
        let inputs = self.inputs;
        let units: usize = segments.iter().map(|segment| segment.ids.len()).sum();
        let (mut ids, mut keys) = (Vec::with_capacity(units), Vec::with_capacity(units));
        let mut tallies: Vec<Tally> = Vec::with_capacity(units * inputs);
        // Per segment still to be read: its position and its next id.
        let mut heads: Vec<(usize, usize)> = (0..segments.len()).map(|s| (s, 0)).collect();
        while let Some(next) = Self::smallest_head(&segments, &heads) {
            let (s, at) = heads[next];
            let segment = &segments[s];
            let id = segment.ids[at];
            if ids.last() == Some(&id) {
                let start = tallies.len() - inputs;
                for (input, tally) in tallies[start..].iter_mut().enumerate() {
                    tally.add(&segment.tally(input, at));
                }
            } else {
                ids.push(id);
                keys.push(segment.keys[at]);
                tallies.extend((0..inputs).map(|input| segment.tally(input, at)));
            }
            if at + 1 == segment.ids.len() {
                heads.remove(next);
            } else {
                heads[next].1 = at + 1;
            }
        }
        self.folded = ids.len();
        (self.ids, self.keys, self.tallies) = (ids, keys, tallies);
    }

    /// Which of `heads` (segment, position) has the smallest id; the first such (the earliest
    /// segment) on a tie.
    #[inline(always)]
    fn smallest_head(segments: &[Segment], heads: &[(usize, usize)]) -> Option<usize> {
        let id = |head: usize| segments[heads[head].0].ids[heads[head].1];
        let mut smallest = 0;
        for head in 1..heads.len() {
            if id(head) < id(smallest) {
                smallest = head;
            }
        }
        (!heads.is_empty()).then_some(smallest)
    }

    /// Folds the entries and keys each unit once, before the cell is judged: the segments read
    /// in place when they follow one another, else appended and folded.
    pub fn settle(&mut self, entity: EntityType, keyer: &CellKeyer) {
        if !self.segments.is_empty() {
            if self.chain.is_none() {
                self.chain = Chain::of(&self.segments, self.inputs);
            }
            if self.chain.is_some() {
                return;
            }
            self.merge_segments();
        }
        self.fold();
        if self.keys.len() != self.ids.len() {
            keyer.unit_keys(entity, &self.ids, &mut self.keys);
        }
    }

    /// Whether every unit has one entry and its key: what judging needs.
    pub fn is_settled(&self) -> bool {
        if !self.segments.is_empty() {
            return self.chain.is_some();
        }
        self.folded == self.ids.len() && self.keys.len() == self.ids.len()
    }

    /// The summaries of input `input` over the units of a settled column.
    pub fn summaries(&self, input: usize, top: usize) -> Summaries {
        match &self.chain {
            Some(chain) if !self.segments.is_empty() => chain.summaries(&self.segments, input, top),
            _ => tallied_summaries(self.units(input), top),
        }
    }

    /// Per unit of a settled column (with no segments) its key and its tally of input `input`.
    fn units(&self, input: usize) -> impl Iterator<Item = (u64, Tally)> + '_ {
        self.keys.iter().enumerate().map(move |(unit, &key)| (key, self.tallies[unit * self.inputs + input]))
    }

    /// The entries as unit ids, their tallies and their keys: a partial state, of a settled
    /// column with no segments; None otherwise.
    pub fn entries(&self) -> Option<(&[i64], &[Tally], &[u64])> {
        let settled = self.segments.is_empty() && self.is_settled();
        settled.then_some((&self.ids, &self.tallies, &self.keys))
    }

    pub fn size(&self) -> usize {
        self.ids.capacity() * size_of::<i64>()
            + self.tallies.capacity() * size_of::<Tally>()
            + self.keys.capacity() * size_of::<u64>()
            + self.segments.iter().map(Segment::size).sum::<usize>()
            + self.chain.as_ref().map_or(0, Chain::size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(t: &Tallies, measure: usize) -> Vec<(u64, f64, u32)> {
        let mut units: Vec<_> = t.units(measure).map(|(key, tally)| (key, tally.contribution, tally.rows)).collect();
        units.sort_by_key(|u| u.0);
        units
    }

    /// What a plain map from unit to tallies gives, for comparison.
    fn by_map(rows: &[(i64, [Option<f64>; 2])], keyer: &CellKeyer, measure: usize) -> Vec<(u64, f64, u32)> {
        let mut map: std::collections::BTreeMap<i64, (f64, u32)> = Default::default();
        for (id, values) in rows {
            let entry = map.entry(*id).or_default();
            if let Some(v) = values[measure] {
                entry.0 += v;
                entry.1 += 1;
            }
        }
        let mut units: Vec<_> =
            map.into_iter().map(|(id, (c, r))| (keyer.unit_key(EntityType::Huishouden, id), c, r)).collect();
        units.sort_by_key(|u| u.0);
        units
    }

    #[test]
    fn folding_gives_one_entry_per_unit_with_every_row_added() {
        let keyer = CellKeyer::new(b"s");
        // Units arriving together, interleaved, and again much later; enough rows to fold often.
        let rows: Vec<(i64, [Option<f64>; 2])> = (0..10_000i64)
            .map(|r| {
                let id = if r % 3 == 0 { r / 9 } else { (r * 7919) % 1_500 };
                (id, [Some(1.0), (r % 4 != 0).then_some((r % 10) as f64)])
            })
            .collect();
        let mut tallies = Tallies::new(2);
        for (id, values) in &rows {
            tallies.add_row(*id, values);
        }
        assert!(!tallies.is_settled());
        tallies.settle(EntityType::Huishouden, &keyer);
        assert!(tallies.is_settled());
        let distinct: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(tallies.entries().unwrap().0.len(), distinct.len());
        for measure in 0..2 {
            assert_eq!(totals(&tallies, measure), by_map(&rows, &keyer, measure));
        }
    }

    #[test]
    fn ascending_and_interleaved_runs_fold_like_a_map() {
        let keyer = CellKeyer::new(b"s");
        // Households as the data stores them (ascending, members together), then two input
        // partitions interleaved batch by batch (two ascending runs) and a unit seen again late.
        let ascending: Vec<(i64, [Option<f64>; 2])> =
            (0..5_000i64).map(|r| (r / 3, [Some(1.0), Some((r % 7) as f64 * 0.1)])).collect();
        let interleaved: Vec<(i64, [Option<f64>; 2])> = (0..5_000i64)
            .map(|r| {
                let batch = r / 100;
                let id = if batch % 2 == 0 { r / 2 } else { 1_000_000 + r / 2 };
                (id, [Some(0.3), (r % 3 != 0).then_some(r as f64 * 0.01)])
            })
            .chain([(7, [Some(1.0), Some(2.5)])])
            .collect();
        // A later part of the table first, as partial states from two partitions can arrive.
        let later_first: Vec<(i64, [Option<f64>; 2])> = (0..5_000i64)
            .map(|r| {
                let id = if r < 2_500 { 1_000 + r / 3 } else { (r - 2_500) / 3 };
                (id, [Some(1.0), (r % 4 != 0).then_some(r as f64 * 0.5)])
            })
            .collect();
        for rows in [ascending, interleaved, later_first] {
            let mut tallies = Tallies::new(2);
            for (id, values) in &rows {
                tallies.add_row(*id, values);
            }
            tallies.settle(EntityType::Huishouden, &keyer);
            let ids = tallies.entries().unwrap().0;
            assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
            for measure in 0..2 {
                assert_eq!(totals(&tallies, measure), by_map(&rows, &keyer, measure));
            }
        }
    }

    #[test]
    fn partial_states_merge_alike_in_any_order() {
        let keyer = CellKeyer::new(b"s");
        // Parts of a table as partitions read it, each part's state folded, then all merged into
        // one cell in every order. The splits cut household 3_000 in two; in three, with a
        // middle part of one row that both others share; and into parts that do not touch.
        let rows: Vec<(i64, [Option<f64>; 2])> =
            (0..20_000i64).map(|r| (r / 3, [Some(1.0), (r % 5 != 0).then_some(r as f64 * 0.25)])).collect();
        let part = |rows: &[(i64, [Option<f64>; 2])]| {
            let mut tallies = Tallies::new(2);
            rows.iter().for_each(|(id, values)| tallies.add_row(*id, values));
            tallies.fold();
            tallies
        };
        let merge = |tallies: &mut Tallies, part: &Tallies| {
            // As a partial state travels: per input a list of contributions and one of rows.
            let (ids, entries) = (&part.ids[..], &part.tallies[..]);
            let lists: Vec<(Vec<f64>, Vec<u32>)> = (0..2)
                .map(|input| entries.iter().skip(input).step_by(2).map(|t| (t.contribution, t.rows)).unzip())
                .collect();
            let per_input: Vec<(&[f64], &[u32])> = lists.iter().map(|(c, r)| (&c[..], &r[..])).collect();
            tallies.append(ids, &per_input);
        };
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        for splits in [[9_001, 9_001], [9_001, 9_002], [3_000, 12_000]] {
            let parts = [&rows[..splits[0]], &rows[splits[0]..splits[1]], &rows[splits[1]..]];
            for order in orders {
                let mut tallies = Tallies::new(2);
                for at in order {
                    merge(&mut tallies, &part(parts[at]));
                }
                tallies.settle(EntityType::Huishouden, &keyer);
                assert!(tallies.entries().unwrap().0.windows(2).all(|pair| pair[0] < pair[1]), "{splits:?} {order:?}");
                for measure in 0..2 {
                    assert_eq!(totals(&tallies, measure), by_map(&rows, &keyer, measure), "{splits:?} {order:?}");
                }
            }
        }
    }

    #[test]
    fn entries_stay_within_twice_the_units_between_folds() {
        let mut tallies = Tallies::new(1);
        for r in 0..100_000i64 {
            tallies.add_row(r % 1_000, &[Some(1.0)]);
            assert!(tallies.ids.len() <= FOLD_FROM.max(2 * 1_000) + 1);
        }
    }

    #[test]
    fn ids_sort_stably_packed_beside_their_positions_or_as_pairs() {
        // What a stable sort of (id, position) pairs gives, for comparison.
        let stable = |ids: &[i64], first: usize| {
            let mut order = in_arrival_order(ids, first);
            order.sort_by_key(|&(id, _)| id);
            order
        };
        let random: Vec<i64> =
            (0..50_000u64).map(|r| (r.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 20_011) as i64 - 10_000).collect();
        for ids in [
            random,
            vec![5, 5, 5, 5],
            vec![3],
            vec![-7, 1_000_000_000_000, -7, 42, 1_000_000_000_000],
            // Too far apart to pack: radix-sorted as pairs.
            vec![i64::MAX, 0, i64::MIN, 0, -1, i64::MAX, i64::MIN],
        ] {
            for first in [0, 1_000] {
                assert_eq!(in_id_order(&ids, first), stable(&ids, first), "{ids:?}");
            }
        }
    }

    #[test]
    fn a_new_row_unsettles_the_column() {
        let keyer = CellKeyer::new(b"s");
        let mut tallies = Tallies::new(1);
        tallies.add_row(1, &[Some(1.0)]);
        tallies.settle(EntityType::Persoon, &keyer);
        tallies.append(&[2], &[(&[1.0], &[1])]);
        assert!(!tallies.is_settled());
    }
}
