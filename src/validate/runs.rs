//! Runs of consecutive integers on consecutive rows in a unique column: the ids most tables
//! number their rows with. A run is held as three numbers instead of a hashed occurrence per
//! row, and runs that overlap neither each other nor any value offered as a hash prove every
//! value in them distinct, with no hash to sort. The duplicate-row check leans on that proof
//! too: a row whose id no other row has repeats no row.
//!
//! Only values written canonically (no `+`, no leading zero) join a run, because the unique
//! check compares values as written: `7` and `07` are different texts, and a canonical text
//! never equals a non-canonical one. A run can therefore be turned back into exactly the
//! hashes its rows would have offered, which is what [`IntRuns::settle`] does for the values
//! that several runs share (or for every run, when the runs meet values offered as hashes).
//! A block whose ids do not come in runs stops making them after a few rows and offers
//! hashes. A later pass over the same file can watch for the shared ids, so that only the
//! rows holding them need keys for the duplicate-row check.

use std::sync::Arc;

use crate::data::types;

use super::scan::field_hash;
use super::tracker::RepeatTracker;

/// The largest magnitude that starts a run: `f64` holds every integer up to 2^53, and a run
/// from below this would need 2^52 rows to get there.
const RUN_LIMIT: f64 = (1u64 << 52) as f64;

/// Runs a block may hold beyond one per [`ROWS_PER_RUN`] rows before it stops making them.
const SPARE_RUNS: usize = 16;

/// Rows per run below which a block's ids are not worth holding as runs.
const ROWS_PER_RUN: u64 = 16;

/// Values `first_value..first_value + len` at rows `first_row..first_row + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first_value: i64,
    first_row: u64,
    len: u64,
}

impl Run {
    /// The value after the run's last.
    fn end_value(&self) -> i64 {
        self.first_value + self.len as i64
    }
}

/// The runs of one unique integer column, in a block or, once blocks are appended, the file.
#[derive(Debug, Clone)]
pub struct IntRuns {
    /// Closed runs; their rows count from the block's start until the block is appended.
    runs: Vec<Run>,
    /// The first value and row of the run the next value may extend.
    open: Option<(i64, u64)>,
    /// The value that extends the open run (NaN when none is open, which no value equals).
    next_value: f64,
    /// The row that extends the open run.
    next_row: u64,
    /// Values of the current chunk that are held in runs.
    covered: usize,
    /// The least and greatest canonical integer offered as a hash instead.
    offered: Option<(i64, i64)>,
    /// Whether this block has stopped making runs.
    given_up: bool,
    /// Ids that an earlier pass found in several runs, as sorted, disjoint ranges.
    watched: Arc<[(i64, i64)]>,
    /// The least value that may be watched: a value from here on takes the slow path, which
    /// notes whether it is.
    watch: f64,
    /// Whether a value of the current chunk is watched.
    touched: bool,
}

impl Default for IntRuns {
    fn default() -> IntRuns {
        IntRuns {
            runs: Vec::new(),
            open: None,
            next_value: f64::NAN,
            next_row: 0,
            covered: 0,
            offered: None,
            given_up: false,
            watched: Arc::from([]),
            watch: f64::INFINITY,
            touched: false,
        }
    }
}

/// Whether an integer's text (sign and digits, as the parser took it) is the one its value
/// formats to.
#[inline(always)]
fn is_canonical(text: &[u8]) -> bool {
    matches!(text, [b'0'] | [b'1'..=b'9', ..] | [b'-', b'1'..=b'9', ..])
}

impl IntRuns {
    /// Runs that note which chunks hold one of the `watched` ids (sorted, disjoint ranges).
    pub fn watching(watched: &[(i64, i64)]) -> IntRuns {
        IntRuns::watching_shared(Arc::from(watched))
    }

    /// Empty runs for another block, watching the same ids.
    pub fn split(&self) -> IntRuns {
        IntRuns::watching_shared(Arc::clone(&self.watched))
    }

    /// [`IntRuns::watching`] with the ranges already shared.
    fn watching_shared(watched: Arc<[(i64, i64)]>) -> IntRuns {
        IntRuns {
            watch: watched
                .first()
                .map_or(f64::INFINITY, |&(low, _)| low as f64),
            watched,
            ..IntRuns::default()
        }
    }

    /// Counts `value`, written `text`, at `row` of the block, into a run, or else offers its
    /// hash to `tracker`.
    #[inline(always)]
    pub fn offer(&mut self, value: f64, text: &[u8], row: u64, tracker: &mut RepeatTracker) {
        if value == self.next_value
            && value < self.watch
            && row == self.next_row
            && is_canonical(text)
        {
            self.next_value += 1.0;
            self.next_row += 1;
            self.covered += 1;
        } else if self.given_up {
            self.note_offered(value, text);
            tracker.offer(field_hash(Some(text)), row);
        } else {
            self.offer_outside_open_run(value, text, row, tracker);
        }
    }

    /// [`IntRuns::offer`] for a value that does not extend the open run: it starts the next
    /// run, or is offered as a hash.
    #[inline(never)]
    fn offer_outside_open_run(
        &mut self,
        value: f64,
        text: &[u8],
        row: u64,
        tracker: &mut RepeatTracker,
    ) {
        self.look_out_for(value);
        if value == self.next_value && row == self.next_row && is_canonical(text) {
            self.next_value += 1.0;
            self.next_row += 1;
            self.covered += 1;
            return;
        }
        self.close_open_run();
        if is_canonical(text) && value.abs() <= RUN_LIMIT {
            self.open = Some((value as i64, row));
            self.next_value = value + 1.0;
            self.next_row = row + 1;
            self.covered += 1;
            if self.runs.len() > SPARE_RUNS + (row / ROWS_PER_RUN) as usize {
                self.give_up(tracker);
            }
            return;
        }
        self.note_offered(value, text);
        tracker.offer(field_hash(Some(text)), row);
    }

    /// Notes `value`, written `text`, as offered as a hash.
    #[inline(always)]
    fn note_offered(&mut self, value: f64, text: &[u8]) {
        if !is_canonical(text) {
            return;
        }
        // Past 2^53 the number is rounded; its text is not.
        let exact = if value.abs() <= RUN_LIMIT {
            Some(value as i64)
        } else {
            types::parse_int_bytes(text)
        };
        if let Some(value) = exact {
            self.offered = Some(match self.offered {
                Some((low, high)) => (low.min(value), high.max(value)),
                None => (value, value),
            });
        }
    }

    /// Notes a value of the column offered as a hash some other way (a row read whole).
    pub fn note_offered_text(&mut self, text: &[u8]) {
        if let Some(value) = types::parse_int_bytes(text) {
            self.note_offered(value as f64, text);
        }
    }

    /// Notes whether `value` is watched, and sets the watch for the values after it.
    fn look_out_for(&mut self, value: f64) {
        if self.watched.is_empty() {
            return;
        }
        let next = self
            .watched
            .partition_point(|&(_, high)| high as f64 <= value);
        self.watch = match self.watched.get(next) {
            Some(&(low, _)) if low as f64 <= value => {
                self.touched = true;
                value
            }
            Some(&(low, _)) => low as f64,
            None => f64::INFINITY,
        };
    }

    /// Starts counting a chunk's values.
    pub fn start_chunk(&mut self) {
        self.covered = 0;
        self.touched = false;
    }

    /// Whether every one of the current chunk's `rows` rows holds a value in a run, and none
    /// a watched one.
    pub fn covers(&self, rows: usize) -> bool {
        self.covered == rows && !self.touched
    }

    /// Closes the open run, if any.
    fn close_open_run(&mut self) {
        if let Some((first_value, first_row)) = self.open.take() {
            self.runs.push(Run {
                first_value,
                first_row,
                len: self.next_row - first_row,
            });
            self.next_value = f64::NAN;
        }
    }

    /// Stops making runs in this block: its ids are not in runs long enough to pay. The runs
    /// so far become the hashes their rows would have offered.
    #[cold]
    fn give_up(&mut self, tracker: &mut RepeatTracker) {
        self.close_open_run();
        for run in std::mem::take(&mut self.runs) {
            self.note_offered_run(run);
            offer_run(run, tracker);
        }
        self.given_up = true;
        self.covered = 0;
    }

    /// Notes a run's values as offered as hashes.
    fn note_offered_run(&mut self, run: Run) {
        let last = run.end_value() - 1;
        self.offered = Some(match self.offered {
            Some((low, high)) => (low.min(run.first_value), high.max(last)),
            None => (run.first_value, last),
        });
    }

    /// Adds the runs of a later block, whose rows follow `row_offset` rows later.
    pub fn append(&mut self, mut later: IntRuns, row_offset: u64) {
        self.close_open_run();
        later.close_open_run();
        self.runs.extend(later.runs.into_iter().map(|run| Run {
            first_row: run.first_row + row_offset,
            ..run
        }));
        if let Some((low, high)) = later.offered {
            self.offered = Some(match self.offered {
                Some((a, b)) => (a.min(low), b.max(high)),
                None => (low, high),
            });
        }
    }

    /// Whether two runs hold a value in common: then an id repeats, whatever else the file
    /// holds. Closes the open run and leaves the runs sorted by value.
    pub fn overlap(&mut self) -> bool {
        self.close_open_run();
        self.runs.sort_unstable_by_key(|run| run.first_value);
        (self.runs.windows(2)).any(|pair| pair[0].end_value() > pair[1].first_value)
    }

    /// Ends the runs of a whole file. A value in one run only, and not among the values
    /// offered as hashes, repeats nowhere: `tracker` counts its row as distinct. The values
    /// that several runs share are offered as the hashes their rows would have given, so the
    /// tracker counts exactly those repeats (and names their rows). When the runs meet the
    /// offered values, every run is offered, and `settle` says so.
    pub fn settle(&mut self, tracker: &mut RepeatTracker) -> Settled {
        let Some(shared) = self.shared_if_clear() else {
            let runs = std::mem::take(&mut self.runs);
            runs.into_iter().for_each(|run| offer_run(run, tracker));
            return Settled::AllOffered;
        };
        let runs = std::mem::take(&mut self.runs);
        let mut distinct = 0;
        for run in runs {
            let mut offered = 0;
            for &(low, high) in overlapping(&shared, run.first_value, run.end_value()) {
                let (low, high) = (low.max(run.first_value), high.min(run.end_value()));
                let skip = (low - run.first_value) as u64;
                let part = Run {
                    first_value: low,
                    first_row: run.first_row + skip,
                    len: (high - low) as u64,
                };
                offer_run(part, tracker);
                offered += part.len;
            }
            distinct += run.len - offered;
        }
        tracker.add_distinct(distinct);
        Settled::SharedOffered(shared)
    }

    /// The ids that several runs hold (see [`shared_values`]), when no run meets the values
    /// offered as hashes: then every other id in a run is in no other row.
    pub fn shared_if_clear(&mut self) -> Option<Vec<(i64, i64)>> {
        self.overlap();
        let clear_of_offers = self.offered.is_none_or(|(low, high)| {
            (self.runs.iter()).all(|run| run.end_value() <= low || run.first_value > high)
        });
        clear_of_offers.then(|| shared_values(&self.runs))
    }
}

/// How [`IntRuns::settle`] handed the runs to the tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Only the values that several runs share (these ranges), as hashes; the rest as
    /// distinct rows.
    SharedOffered(Vec<(i64, i64)>),
    /// Every value, as hashes: the runs met values offered as hashes.
    AllOffered,
}

/// The values that more than one of `runs` (sorted by first value) hold, as sorted, disjoint
/// ranges `low..high`: where a run starts below the end of one before it.
fn shared_values(runs: &[Run]) -> Vec<(i64, i64)> {
    let mut shared: Vec<(i64, i64)> = Vec::new();
    let mut reach = i64::MIN;
    for run in runs {
        let high = run.end_value().min(reach);
        if run.first_value < high {
            match shared.last_mut() {
                Some(last) if last.1 >= run.first_value => last.1 = last.1.max(high),
                _ => shared.push((run.first_value, high)),
            }
        }
        reach = reach.max(run.end_value());
    }
    shared
}

/// The ranges of `shared` (sorted, disjoint) that meet `low..high`.
fn overlapping(shared: &[(i64, i64)], low: i64, high: i64) -> &[(i64, i64)] {
    let from = shared.partition_point(|&(_, end)| end <= low);
    let to = shared.partition_point(|&(start, _)| start < high);
    &shared[from..to.max(from)]
}

/// Offers the hash of every value of `run` at its row, as the rows would have.
fn offer_run(run: Run, tracker: &mut RepeatTracker) {
    let mut digits = itoa::Buffer::new();
    for step in 0..run.len {
        let text = digits.format(run.first_value + step as i64);
        tracker.offer(field_hash(Some(text.as_bytes())), run.first_row + step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers `values` (as text) at rows from 1, through runs and straight to a tracker that
    /// holds `capacity` occurrences exactly.
    fn both_ways(values: &[&str], capacity: usize) -> (RepeatTracker, RepeatTracker, Settled) {
        let mut runs = IntRuns::default();
        let mut through_runs = RepeatTracker::new(capacity);
        let mut direct = RepeatTracker::new(capacity);
        for (row, text) in (1..).zip(values) {
            let value = types::parse_int(text).unwrap() as f64;
            runs.offer(value, text.as_bytes(), row, &mut through_runs);
            direct.offer(field_hash(Some(text.as_bytes())), row);
        }
        let settled = runs.settle(&mut through_runs);
        (through_runs, direct, settled)
    }

    fn texts(values: impl IntoIterator<Item = i64>) -> Vec<String> {
        values.into_iter().map(|v| v.to_string()).collect()
    }

    fn refs(texts: &[String]) -> Vec<&str> {
        texts.iter().map(String::as_str).collect()
    }

    #[test]
    fn canonical_texts_are_the_formatted_ones() {
        for (text, canonical) in [
            ("0", true),
            ("7", true),
            ("-7", true),
            ("120", true),
            ("00", false),
            ("07", false),
            ("+7", false),
            ("-0", false),
            ("-07", false),
            ("", false),
        ] {
            assert_eq!(is_canonical(text.as_bytes()), canonical, "{text}");
        }
    }

    #[test]
    fn runs_find_the_repeats_hashes_find() {
        let cases: Vec<Vec<String>> = vec![
            texts(1..=1_000),
            texts((1..=500).chain(400..=600)),
            texts((1..=300).chain([150]).chain(301..=400)),
            texts((1..=300).rev()),
            texts((0..2_000).map(|i| i * 7 % 1_999)),
            vec!["1".into(), "2".into(), "02".into(), "3".into(), "+3".into()],
            texts([5, 6, 7, 5, 6, 7, 8]),
            texts([-3, -2, -1, 0, 1, 2, -1]),
        ];
        for values in cases {
            assert_counted_alike(&values);
        }
    }

    /// Offers `values` through runs and as hashes, exactly and sampled, against the count of
    /// repeated texts.
    fn assert_counted_alike(values: &[String]) {
        let mut seen = std::collections::HashSet::new();
        let repeats = values.iter().filter(|text| !seen.insert(*text)).count() as u64;
        let (through_runs, direct, _) = both_ways(&refs(values), 1 << 20);
        assert_eq!(through_runs.summary(), direct.summary(), "{values:?}");
        assert_eq!(through_runs.summary().repeats, repeats, "{values:?}");
        // Sampled: runs offered whole are offered as the rows would have been, so the sample
        // is the same; otherwise the runs leave fewer hashes to sample.
        let (through_runs, direct, settled) = both_ways(&refs(values), 16);
        let mine = through_runs.summary();
        if mine.exact {
            assert_eq!(mine.repeats, repeats, "{values:?}");
        } else if settled == Settled::AllOffered {
            assert_eq!(mine, direct.summary(), "{values:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_ids_count_as_hashes_count_them(
            segments in proptest::collection::vec(
                (-50i64..50, 0usize..40, 0u8..8), 0..30
            )
        ) {
            // Counting runs (long and short), repeats, and texts written other ways.
            let mut values = Vec::new();
            for (start, len, style) in segments {
                for value in start..start + len as i64 {
                    values.push(match style {
                        0 if value >= 0 => format!("+{value}"),
                        1 if value >= 0 => format!("0{value}"),
                        2 => ((value * 37).rem_euclid(101)).to_string(),
                        _ => value.to_string(),
                    });
                }
            }
            assert_counted_alike(&values);
        }
    }

    #[test]
    fn a_few_repeated_ids_are_counted_exactly_past_the_sample() {
        // A long run, then two of its ids again: only the shared values become hashes, so
        // a tracker that holds a thousand counts them exactly.
        let values = texts((1..=100_000).chain([5, 77_777]));
        let (through_runs, direct, settled) = both_ways(&refs(&values), 1_000);
        assert_eq!(
            settled,
            Settled::SharedOffered(vec![(5, 6), (77_777, 77_778)])
        );
        assert!(!direct.summary().exact);
        let summary = through_runs.summary();
        assert!(summary.exact);
        assert_eq!(summary.repeats, 2);
        let pairs: Vec<_> = (summary.examples.iter())
            .map(|e| (e.row, e.repeats_row))
            .collect();
        assert_eq!(pairs, [(100_001, Some(5)), (100_002, Some(77_777))]);
    }

    #[test]
    fn distinct_runs_hold_no_hash() {
        let values = texts((1..=10_000).filter(|v| v % 97 != 0));
        let (through_runs, direct, settled) = both_ways(&refs(&values), 1 << 20);
        assert_eq!(settled, Settled::SharedOffered(Vec::new()));
        assert_eq!(through_runs.summary(), direct.summary());
        assert_eq!(through_runs.held(), 0);
        assert_eq!(through_runs.summary().repeats, 0);
    }

    #[test]
    fn shuffled_ids_give_up_on_runs_and_still_count_repeats() {
        let mut values = texts((0..5_000).map(|i| i * 7_919 % 5_003));
        values.push("17".into());
        let mut runs = IntRuns::default();
        let mut tracker = RepeatTracker::new(1 << 20);
        for (row, text) in (1..).zip(&values) {
            let value = types::parse_int(text).unwrap() as f64;
            runs.offer(value, text.as_bytes(), row, &mut tracker);
        }
        assert!(runs.given_up);
        assert!(runs.runs.is_empty());
        runs.settle(&mut tracker);
        assert_eq!(tracker.summary().repeats, 1);
    }

    #[test]
    fn blocks_appended_settle_like_one_block() {
        // A run split across two blocks, and a later block whose hashed value hits a run.
        let mut first = IntRuns::default();
        let mut tracker = RepeatTracker::new(1 << 20);
        for row in 1..=100u64 {
            let text = row.to_string();
            first.offer(row as f64, text.as_bytes(), row, &mut tracker);
        }
        let mut second = IntRuns::default();
        let mut later = tracker.split();
        for row in 1..=100u64 {
            let text = (row + 100).to_string();
            second.offer((row + 100) as f64, text.as_bytes(), row, &mut later);
        }
        second.note_offered_text(b"50");
        later.offer(field_hash(Some(b"50")), 101);
        first.append(second, 100);
        tracker.append(later, 100);
        first.settle(&mut tracker);
        let summary = tracker.summary();
        assert_eq!(summary.repeats, 1);
        assert_eq!(summary.examples[0].row, 201);
        assert_eq!(summary.examples[0].repeats_row, Some(50));
    }
}
