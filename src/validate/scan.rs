//! The validation pass: one [`RowSink`] that runs every per-row check and builds the profile.
//!
//! Each data column gets a [`ColumnState`] that knows its declared type and rules, and keeps
//! only bounded state: counters, the first few offending rows, a quantile sketch, a capped
//! frequency table and, for unique columns, a [`RepeatTracker`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::data::hash::FastHash;
use crate::float_order::{self, keep_max, keep_min};

use crate::data::sketch::{FrequentItems, QuantileSketch};
use crate::data::strata::StrataFeed;
use crate::data::types::{self, Cell, ColumnType, Value};
use crate::data::wide_numbers::{self, NumberKind, WideNumbers};
use crate::data::{FieldChunk, RowSink, RowText};

use super::labels::LabelCounts;
use super::row_key::{mark_missing, RowKeys};
use super::runs::{IntRuns, Settled};
use super::schema::{ColumnSchema, Schema};
use super::tracker::{RepeatTracker, Violations};

/// Rows held exactly by each repeat tracker (16 bytes each) before it samples.
pub const REPEAT_CAPACITY: usize = 2_000_000;

/// Running numeric moments, exact and mergeable.
///
/// Within a block, sums of deviations from the block's first value (no division per value,
/// and no cancellation as long as the data sits near that value); blocks combine with Chan et
/// al.'s parallel update, which re-centres on the combined mean.
///
/// The sums are kept in [`float_order::LANES`] lanes, the `i`-th finite value of a block in
/// lane `i % LANES`, so a chunk's values add up in independent chains (one chain waited four
/// cycles per value for the addition before it) and every way of feeding the same values, one
/// at a time or a chunk at a time, gives the same bits.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    /// Values seen (infinities included).
    pub n: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Finite values seen.
    finite: u64,
    /// The centre the sums are taken around.
    shift: f64,
    /// Sums of `x - shift`, by lane.
    sums: [f64; float_order::LANES],
    /// Sums of `(x - shift)^2`, by lane.
    squares: [f64; float_order::LANES],
}

impl Moments {
    /// Adds a value.
    fn add(&mut self, x: f64) {
        if self.n == 0 || self.min.is_nan() {
            // A NaN first value gives way to the next, as `f64::min` would have it.
            self.min = x;
            self.max = x;
        } else {
            self.min = keep_min(self.min, x);
            self.max = keep_max(self.max, x);
        }
        self.n += 1;
        if x.is_finite() {
            if self.finite == 0 {
                self.shift = x;
            }
            let d = x - self.shift;
            let lane = self.next_lane();
            self.sums[lane] += d;
            self.squares[lane] += d * d;
            self.finite += 1;
        }
    }

    /// The lane of the next finite value.
    fn next_lane(&self) -> usize {
        (self.finite % float_order::LANES as u64) as usize
    }

    /// Adds values in order, as [`Moments::add`] would one by one (the same sums in the same
    /// lanes), and returns their extremes when all are finite (for the sketch feed), `None`
    /// otherwise. The sums are taken in the extremes' pass
    /// ([`float_order::finite_extremes_with`], whose lane `j` is this lane `(start + j) %
    /// LANES`) and kept only when it finds every value finite; otherwise the values go through
    /// `add`, branches and all.
    fn extend(&mut self, values: &[f64]) -> Option<(f64, f64)> {
        const LANES: usize = float_order::LANES;
        let &first = values.first()?;
        let shift = if self.finite == 0 { first } else { self.shift };
        let start = self.next_lane();
        let (mut sums, mut squares) = ([0.0; LANES], [0.0; LANES]);
        for j in 0..LANES {
            (sums[j], squares[j]) = (
                self.sums[(start + j) % LANES],
                self.squares[(start + j) % LANES],
            );
        }
        let extremes = float_order::finite_extremes_with(values, |lane, x| {
            let d = x - shift;
            sums[lane] += d;
            squares[lane] += d * d;
        });
        let Some((lo, hi)) = extremes else {
            values.iter().for_each(|&x| self.add(x));
            return None;
        };
        // The extremes as `add` folds them: a NaN minimum gives way to the first value.
        if self.n == 0 || self.min.is_nan() {
            (self.min, self.max) = (lo, hi);
        } else {
            (self.min, self.max) = (keep_min(self.min, lo), keep_max(self.max, hi));
        }
        self.shift = shift;
        for j in 0..LANES {
            (
                self.sums[(start + j) % LANES],
                self.squares[(start + j) % LANES],
            ) = (sums[j], squares[j]);
        }
        self.n += values.len() as u64;
        self.finite += values.len() as u64;
        extremes
    }

    /// Sum of `x - shift` over the finite values.
    fn sum(&self) -> f64 {
        let [a, b, c, d] = self.sums;
        (a + b) + (c + d)
    }

    /// Sum of `(x - shift)^2` over the finite values.
    fn sum_sq(&self) -> f64 {
        let [a, b, c, d] = self.squares;
        (a + b) + (c + d)
    }

    /// Mean of the finite values (0 when there are none).
    pub fn mean(&self) -> f64 {
        if self.finite == 0 {
            0.0
        } else {
            self.shift + self.sum() / self.finite as f64
        }
    }

    /// Sum of squared deviations from the mean of the finite values.
    fn m2(&self) -> f64 {
        if self.finite == 0 {
            0.0
        } else {
            let sum = self.sum();
            (self.sum_sq() - sum * sum / self.finite as f64).max(0.0)
        }
    }

    /// Combines with the moments of a later block.
    fn absorb(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = other.clone();
            return;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.n += other.n;
        if other.finite == 0 {
            return;
        }
        if self.finite == 0 {
            (self.finite, self.shift, self.sums, self.squares) =
                (other.finite, other.shift, other.sums, other.squares);
            return;
        }
        let (na, nb) = (self.finite as f64, other.finite as f64);
        let (mean_a, mean_b) = (self.mean(), other.mean());
        let delta = mean_b - mean_a;
        let n = na + nb;
        let m2 = self.m2() + other.m2() + delta * delta * na * nb / n;
        self.finite += other.finite;
        self.shift = mean_a + delta * nb / n;
        // Centred on the mean, the deviations sum to nothing; the next value's lane follows
        // from the count, as in a block.
        self.sums = [0.0; float_order::LANES];
        self.squares = [0.0; float_order::LANES];
        self.squares[0] = m2;
    }

    /// Sample standard deviation (n - 1) of the finite values, 0 for fewer than two.
    pub fn std(&self) -> f64 {
        if self.finite < 2 {
            0.0
        } else {
            (self.m2() / (self.finite - 1) as f64).sqrt()
        }
    }
}

/// Everything the pass learns about one column.
#[derive(Debug)]
pub struct ColumnState {
    /// The column name.
    pub name: String,
    /// Its rules, or `None` for a column the schema does not list.
    pub schema: Option<ColumnSchema>,
    /// The type values are read as (`string` for unlisted columns).
    pub ty: ColumnType,
    /// Non-missing values that parsed.
    pub count: u64,
    /// Missing values.
    pub nulls: Violations,
    /// Values that do not parse as `ty`.
    pub type_errors: Violations,
    /// Numeric moments (numeric types).
    pub moments: Option<Moments>,
    /// Quantile sketch (numeric types).
    pub sketch: Option<QuantileSketch>,
    /// Frequencies (categorical, string, bool, int): dropped once a string column has more
    /// distinct values than the table holds, since free text has no useful frequencies.
    pub items: Option<FrequentItems>,
    /// Labels counted in this block before they reach `items`, for columns with a frequency
    /// table or an allowed set, until they have too many distinct values.
    labels: Option<LabelCounts>,
    /// Shortest and longest text, in characters.
    pub lengths: Option<(usize, usize)>,
    /// Range bounds on the column's scale.
    range: (Option<f64>, Option<f64>),
    /// Values outside the range.
    pub range_violations: Violations,
    /// The allowed set, with the fast hasher (see `data::hash`).
    allowed: Option<HashSet<String, FastHash>>,
    /// Values outside the allowed set.
    pub allowed_violations: Violations,
    /// The compiled pattern.
    pattern: Option<regex::Regex>,
    /// Values that do not match the pattern.
    pub pattern_violations: Violations,
    /// Repeat detection for unique columns.
    pub unique: Option<RepeatTracker>,
    /// Runs of consecutive ids, which the unique check holds without hashing them (unique
    /// integer columns, unless the pass does without).
    runs: Option<IntRuns>,
    /// The current chunk's numbers, on their way to the moments and the sketch.
    numbers: Vec<f64>,
    /// The current chunk's numbers as the wide path read them.
    wide: WideNumbers,
    /// How the numbers reach the sketch: all of them, or a sample far into a file.
    feed: StrataFeed,
    /// Whether a block has dropped its frequency table as free text, shared by the states
    /// split for the blocks: a later block then keeps none. Folding any block without a
    /// table leaves none, so the result is the same whenever a block learns of it.
    items_dropped: Arc<AtomicBool>,
}

impl ColumnState {
    /// State for a column with the given rules (or none); `runs` lets a unique integer column
    /// hold runs of consecutive ids, watching for the ids given.
    fn new(name: &str, schema: Option<&ColumnSchema>, runs: Option<&[(i64, i64)]>) -> ColumnState {
        let ty = schema.map(|s| s.ty).unwrap_or(ColumnType::String);
        let range = schema
            .map(|s| {
                let bound = |b: &Option<_>| b.as_ref().and_then(|b| s.bound_value(b));
                (bound(&s.min), bound(&s.max))
            })
            .unwrap_or((None, None));
        let mut state = ColumnState {
            name: name.to_string(),
            schema: schema.cloned(),
            ty,
            count: 0,
            nulls: Violations::default(),
            type_errors: Violations::default(),
            moments: ty.is_numeric().then(Moments::default),
            sketch: ty.is_numeric().then(QuantileSketch::new),
            items: (!matches!(
                ty,
                ColumnType::Float | ColumnType::Date | ColumnType::Datetime
            ))
            .then(FrequentItems::new),
            labels: None,
            lengths: None,
            range,
            range_violations: Violations::default(),
            allowed: schema
                .and_then(|s| s.allowed.as_ref())
                .map(|a| a.iter().cloned().collect()),
            allowed_violations: Violations::default(),
            pattern: schema
                .and_then(|s| s.pattern.as_deref())
                .and_then(|p| regex::Regex::new(&format!("^(?:{p})$")).ok()),
            pattern_violations: Violations::default(),
            unique: schema
                .filter(|s| s.unique)
                .map(|_| RepeatTracker::new(REPEAT_CAPACITY)),
            runs: schema
                .filter(|s| s.unique && ty == ColumnType::Int)
                .and(runs)
                .map(IntRuns::watching),
            numbers: Vec::new(),
            wide: WideNumbers::default(),
            feed: StrataFeed::default(),
            items_dropped: Arc::default(),
        };
        state.labels = state.new_label_counts();
        state
    }

    /// Label counts for a column that keeps a frequency table or checks an allowed set.
    fn new_label_counts(&self) -> Option<LabelCounts> {
        (self.items.is_some() || self.allowed.is_some()).then(LabelCounts::default)
    }

    /// An empty state with the same rules, for block `index` of a file.
    fn split(&self, index: usize) -> ColumnState {
        let mut state = ColumnState {
            name: self.name.clone(),
            schema: self.schema.clone(),
            ty: self.ty,
            count: 0,
            nulls: Violations::default(),
            type_errors: Violations::default(),
            moments: self.moments.as_ref().map(|_| Moments::default()),
            sketch: self.sketch.as_ref().map(|_| QuantileSketch::new()),
            items: (self.items.as_ref())
                .filter(|_| !self.items_dropped.load(Ordering::Relaxed))
                .map(|_| FrequentItems::new()),
            labels: None,
            lengths: None,
            range: self.range,
            range_violations: Violations::default(),
            allowed: self.allowed.clone(),
            allowed_violations: Violations::default(),
            pattern: self.pattern.clone(),
            pattern_violations: Violations::default(),
            unique: self.unique.as_ref().map(RepeatTracker::split),
            runs: self.runs.as_ref().map(IntRuns::split),
            numbers: Vec::new(),
            wide: WideNumbers::default(),
            feed: StrataFeed::for_block(index),
            items_dropped: Arc::clone(&self.items_dropped),
        };
        state.labels = state.new_label_counts();
        state
    }

    /// Folds in the state of a later block.
    fn absorb(&mut self, mut later: ColumnState, rows_before: u64) {
        self.flush_held_back();
        later.flush_held_back();
        self.count += later.count;
        self.nulls.absorb(later.nulls, rows_before);
        self.type_errors.absorb(later.type_errors, rows_before);
        self.range_violations
            .absorb(later.range_violations, rows_before);
        self.allowed_violations
            .absorb(later.allowed_violations, rows_before);
        self.pattern_violations
            .absorb(later.pattern_violations, rows_before);
        if let (Some(mine), Some(theirs)) = (&mut self.moments, &later.moments) {
            mine.absorb(theirs);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.sketch, &later.sketch) {
            mine.merge(theirs);
        }
        self.items = match (self.items.take(), later.items) {
            (Some(mut mine), Some(theirs)) => {
                mine.merge(&theirs);
                Some(mine)
            }
            _ => None,
        };
        self.drop_free_text_items();
        self.lengths = match (self.lengths, later.lengths) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
        if let (Some(mine), Some(theirs)) = (&mut self.unique, later.unique) {
            mine.append(theirs, rows_before);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.runs, later.runs) {
            mine.append(theirs, rows_before);
        }
    }

    /// Ends the runs of ids (of the whole file): the unique check then counts their rows.
    fn settle_runs(&mut self) -> Option<Settled> {
        match (&mut self.runs, &mut self.unique) {
            (Some(runs), Some(tracker)) => Some(runs.settle(tracker)),
            _ => None,
        }
    }

    /// Whether every one of the `rows` rows of the chunk just observed holds an id in a run.
    fn runs_cover(&self, rows: usize) -> bool {
        self.runs.as_ref().is_some_and(|runs| runs.covers(rows))
    }

    /// Free text keeps no frequency table once it outgrows it: its counts would say nothing.
    fn drop_free_text_items(&mut self) {
        let keep = matches!(self.ty, ColumnType::Categorical | ColumnType::Bool);
        if !keep && self.items.as_ref().is_some_and(|items| !items.is_exact()) {
            self.items = None;
            self.items_dropped.store(true, Ordering::Relaxed);
        }
    }

    /// Checks and profiles column `column` of a chunk of rows, marking in `missing` (when
    /// the duplicate-row check wants it) the rows whose cell is missing but not empty text.
    fn observe_column(
        &mut self,
        first_row: u64,
        chunk: &FieldChunk<'_>,
        column: usize,
        missing: Option<&mut [bool]>,
    ) {
        // One loop per parser, so each is inlined into its own loop.
        match self.ty {
            ColumnType::Int => self.observe_numbers(first_row, chunk, column, missing, |bytes| {
                read_number(ColumnType::Int, bytes)
            }),
            ColumnType::Float => self.observe_numbers(first_row, chunk, column, missing, |bytes| {
                read_number(ColumnType::Float, bytes)
            }),
            ColumnType::Date => self.observe_numbers(first_row, chunk, column, missing, |bytes| {
                read_number(ColumnType::Date, bytes)
            }),
            ColumnType::Datetime => {
                self.observe_numbers(first_row, chunk, column, missing, |bytes| {
                    read_number(ColumnType::Datetime, bytes)
                })
            }
            ColumnType::Bool => self.observe_each::<true>(first_row, chunk, column, missing),
            ColumnType::String | ColumnType::Categorical => {
                self.observe_each::<false>(first_row, chunk, column, missing)
            }
        }
    }

    /// Observes each cell of a bool column (`BOOL`) or a text one, marking the rows of missing
    /// ones. The step is chosen by a constant, not passed as a function: passed, it was left
    /// out of line, one call per cell.
    #[inline(always)]
    fn observe_each<const BOOL: bool>(
        &mut self,
        first_row: u64,
        chunk: &FieldChunk<'_>,
        column: usize,
        missing: Option<&mut [bool]>,
    ) {
        let cells = chunk.column(column);
        let ascii = chunk.ascii();
        let observe = |state: &mut Self, row, cell| {
            if BOOL {
                state.observe_bool(row, cell);
            } else {
                state.observe_text_cell(row, cell, ascii);
            }
        };
        match missing {
            Some(missing) => {
                for (index, cell) in cells.enumerate() {
                    observe(self, first_row + index as u64, cell);
                    if cell == Cell::Null {
                        mark_missing(missing, chunk, index, column);
                    }
                }
            }
            None => {
                for (row, cell) in (first_row..).zip(cells) {
                    observe(self, row, cell);
                }
            }
        }
    }

    /// [`ColumnState::observe`] for a cell of a bool column, with the parser inlined.
    #[inline(always)]
    fn observe_bool(&mut self, row: u64, cell: Cell<'_>) {
        match cell {
            Cell::Text(text) => match types::parse_bool(text) {
                Some(value) => {
                    self.count_present(row, cell);
                    self.observe_bool_label(row, value);
                }
                None => self.type_errors.record(row, || Some(text.to_string())),
            },
            Cell::Null => self.nulls.record(row, || None),
            typed => self.observe(row, typed),
        }
    }

    /// [`ColumnState::observe`] for a cell of a string or categorical column: text needs no
    /// conversion. `ascii` vouches that the text is ASCII.
    #[inline(always)]
    fn observe_text_cell(&mut self, row: u64, cell: Cell<'_>, ascii: bool) {
        match cell {
            Cell::Text(text) => {
                self.count_present(row, cell);
                self.observe_text(row, text, ascii);
            }
            Cell::Null => self.nulls.record(row, || None),
            typed => self.observe(row, typed),
        }
    }

    /// [`ColumnState::observe_column`] for a numeric column: the same checks as
    /// [`ColumnState::observe`], on the fields' bytes, with the parser chosen once, the
    /// column's counters and bounds in locals, and the moments and sketch fed the chunk's
    /// values in one go. A column with no labels to count and no repeats to check has its
    /// numbers read eight at a time where the CPU can (see `data::wide_numbers`), the fields
    /// that path leaves by an out-of-line parser; any other column, by `parse`.
    fn observe_numbers<'a>(
        &mut self,
        first_row: u64,
        chunk: &FieldChunk<'a>,
        column: usize,
        mut missing: Option<&mut [bool]>,
        parse: impl Fn(&'a [u8]) -> Option<f64>,
    ) {
        let mut numbers = std::mem::take(&mut self.numbers);
        numbers.clear();
        let mut unique = self.unique.take();
        let mut runs = self.runs.take();
        if let Some(runs) = &mut runs {
            runs.start_chunk();
        }
        let mut int_labels = self.wants_int_labels();
        let spans = chunk.column_span_slice(column);
        let mut wide = std::mem::take(&mut self.wide);
        // The wide path serves the columns whose numbers need only keeping: the others spend
        // their time on labels and repeats, not parsing.
        let kind = match self.ty {
            _ if unique.is_some() || int_labels => None,
            ColumnType::Int => Some(NumberKind::Int),
            ColumnType::Float => Some(NumberKind::Float),
            ColumnType::Date => Some(NumberKind::Date),
            ColumnType::Datetime => Some(NumberKind::Datetime),
            ColumnType::Bool | ColumnType::String | ColumnType::Categorical => None,
        };
        // A field that is a null token must stay missing, not be taken as a value.
        let kind = kind.filter(|&kind| !chunk.nulls_may_read_as(kind));
        let wide_read = kind.is_some_and(|kind| wide.read(chunk.text_bytes(), spans, kind));
        let mut count = 0;
        if wide_read {
            for (group, group_spans) in spans.chunks(wide_numbers::LANES).enumerate() {
                if let Some(eight) = wide.group(group) {
                    numbers.extend_from_slice(eight);
                    count += eight.len() as u64;
                    continue;
                }
                for (lane, &span) in group_spans.iter().enumerate() {
                    let index = group * wide_numbers::LANES + lane;
                    let row = first_row + index as u64;
                    let x = match wide.get(index) {
                        Some(x) => x,
                        None => {
                            let Some(bytes) = chunk.field_bytes(span) else {
                                self.record_missing(row, (chunk, index, column), &mut missing);
                                continue;
                            };
                            // Out of line: the fields the wide path leaves are few, and a
                            // second inlined parser would crowd the scalar loop below.
                            let Some(x) = read_number_out_of_line(self.ty, bytes) else {
                                self.type_errors.record(row, || Some(field_text(bytes)));
                                continue;
                            };
                            x
                        }
                    };
                    count += 1;
                    numbers.push(x);
                }
            }
        }
        // The scalar loop, kept apart from the wide one: sharing a loop cost the scalar parser
        // its inlining (74M more instructions at 1M rows).
        let fields = if wide_read { &[][..] } else { spans };
        for (index, &span) in fields.iter().enumerate() {
            let row = first_row + index as u64;
            let Some(bytes) = chunk.field_bytes(span) else {
                self.record_missing(row, (chunk, index, column), &mut missing);
                continue;
            };
            let Some(x) = parse(bytes) else {
                self.type_errors.record(row, || Some(field_text(bytes)));
                continue;
            };
            count += 1;
            if let Some(tracker) = &mut unique {
                match &mut runs {
                    Some(runs) => runs.offer(x, bytes, row, tracker),
                    None => tracker.offer(field_hash(Some(bytes)), row),
                }
            }
            numbers.push(x);
            if int_labels {
                self.observe_int_label(row, x as i64);
                int_labels = self.wants_int_labels();
            }
        }
        self.wide = wide;
        self.count += count;
        self.unique = unique;
        self.runs = runs;
        // One pass for the moments and the extremes and finiteness that the sketch wants.
        let extremes = match &mut self.moments {
            Some(moments) => moments.extend(&numbers),
            None => float_order::finite_extremes(&numbers),
        };
        if let Some(sketch) = &mut self.sketch {
            self.feed.extend(sketch, &numbers, extremes);
        }
        // The range is checked on the chunk's extremes: only a chunk that strays (or holds an
        // infinity) is read again for the rows outside it.
        let (low, high) = self.range;
        let strays = |(lo, hi): (f64, f64)| {
            low.is_some_and(|low| lo < low) || high.is_some_and(|high| hi > high)
        };
        if (low.is_some() || high.is_some()) && !numbers.is_empty() && extremes.is_none_or(strays) {
            self.check_range(first_row, chunk, column);
        }
        self.numbers = numbers;
    }

    /// Records a missing number, marking its row in `missing` (at `index` of the chunk) for
    /// the duplicate-row check.
    #[inline(always)]
    fn record_missing(
        &mut self,
        row: u64,
        (chunk, index, column): (&FieldChunk<'_>, usize, usize),
        missing: &mut Option<&mut [bool]>,
    ) {
        self.nulls.record(row, || None);
        if let Some(missing) = missing.as_deref_mut() {
            mark_missing(missing, chunk, index, column);
        }
    }

    /// Records the cells of column `column` of a chunk whose number is outside the range.
    #[cold]
    #[inline(never)]
    fn check_range(&mut self, first_row: u64, chunk: &FieldChunk<'_>, column: usize) {
        // A missing bound as an infinity: no number is outside it (parsers give no NaN).
        let low = self.range.0.unwrap_or(f64::NEG_INFINITY);
        let high = self.range.1.unwrap_or(f64::INFINITY);
        for (row, field) in (first_row..).zip(chunk.column_bytes(column)) {
            let Some(x) = field.and_then(|bytes| read_number(self.ty, bytes)) else {
                continue;
            };
            if x < low || x > high {
                let bytes = field.unwrap_or_default();
                self.range_violations
                    .record(row, || Some(field_text(bytes)));
            }
        }
    }

    /// Checks and profiles one cell.
    fn observe(&mut self, row: u64, cell: Cell<'_>) {
        let value = match types::convert(cell, self.ty) {
            Ok(Some(value)) => value,
            Ok(None) => {
                self.nulls.record(row, || None);
                return;
            }
            Err(()) => {
                self.type_errors.record(row, || Some(cell_text(cell)));
                return;
            }
        };
        self.count_present(row, cell);
        match value {
            Value::Number(x) => self.observe_number(row, x, cell),
            Value::Bool(b) => self.observe_bool_label(row, b),
            Value::Text(text) => self.observe_text(row, text, false),
        }
    }

    /// Counts a cell that holds a value of the column's type, and offers it to the unique check.
    #[inline(always)]
    fn count_present(&mut self, row: u64, cell: Cell<'_>) {
        self.count += 1;
        if let Some(tracker) = &mut self.unique {
            if let (Some(runs), Cell::Text(text)) = (&mut self.runs, cell) {
                runs.note_offered_text(text.as_bytes());
            }
            tracker.offer(tracker_hash(cell), row);
        }
    }

    /// Text values: lengths, pattern, and labels. `ascii` vouches that `text` is ASCII, so
    /// its characters are its bytes.
    #[inline(always)]
    fn observe_text(&mut self, row: u64, text: &str, ascii: bool) {
        // A character is one to four bytes: text whose byte length keeps its character count
        // within the lengths seen so far cannot move them, and is not counted.
        let bytes = text.len();
        let settled = self.lengths.is_some_and(|(lo, hi)| {
            bytes <= hi && (if ascii { bytes } else { bytes.div_ceil(4) }) >= lo
        });
        if !settled {
            let chars = if ascii { bytes } else { text.chars().count() };
            self.lengths = Some(match self.lengths {
                None => (chars, chars),
                Some((lo, hi)) => (lo.min(chars), hi.max(chars)),
            });
        }
        if let Some(pattern) = &self.pattern {
            if !pattern.is_match(text) {
                self.pattern_violations
                    .record(row, || Some(text.to_string()));
            }
        }
        self.observe_label(row, text);
    }

    /// Numeric values: moments, sketch, range, and labels for low-cardinality ints.
    fn observe_number(&mut self, row: u64, x: f64, cell: Cell<'_>) {
        if let Some(m) = &mut self.moments {
            m.add(x);
        }
        if let Some(s) = &mut self.sketch {
            self.feed.push(s, x);
        }
        self.check_number(row, x, cell);
    }

    /// The checks on a number's value: its range, and labels for low-cardinality ints.
    #[inline(always)]
    fn check_number(&mut self, row: u64, x: f64, cell: Cell<'_>) {
        let (lo, hi) = self.range;
        if lo.is_some_and(|lo| x < lo) || hi.is_some_and(|hi| x > hi) {
            self.range_violations.record(row, || Some(cell_text(cell)));
        }
        if self.wants_int_labels() {
            self.observe_int_label(row, x as i64);
        }
    }

    /// Whether an integer column's values go to its labels: while it keeps a frequency table
    /// or has an allowed set.
    #[inline]
    fn wants_int_labels(&self) -> bool {
        self.ty == ColumnType::Int && (self.items.is_some() || self.allowed.is_some())
    }

    /// [`ColumnState::observe_label`] for an integer, without its text while the label counts
    /// know it.
    #[inline(always)]
    fn observe_int_label(&mut self, row: u64, value: i64) {
        let allowed = &self.allowed;
        let verdict = (self.labels.as_mut())
            .and_then(|labels| labels.count_int(value, |text| allows(allowed, text)));
        if verdict != Some(true) {
            self.settle_int_label(row, verdict, value);
        }
    }

    /// [`ColumnState::settle_label`] for an integer, out of the column loop.
    #[inline(never)]
    fn settle_int_label(&mut self, row: u64, verdict: Option<bool>, value: i64) {
        // On the stack: `format!` would allocate once per cell, and `fmt` machinery was a few
        // percent of a whole validation pass.
        let mut digits = itoa::Buffer::new();
        self.settle_label(row, verdict, digits.format(value));
    }

    /// [`ColumnState::observe_label`] for a boolean, without hashing its text while the label
    /// counts know it.
    #[inline(always)]
    fn observe_bool_label(&mut self, row: u64, value: bool) {
        let text = if value { "true" } else { "false" };
        let allowed = &self.allowed;
        let verdict = (self.labels.as_mut())
            .and_then(|labels| labels.count_bool(value, text, |text| allows(allowed, text)));
        if verdict != Some(true) {
            self.settle_label(row, verdict, text);
        }
    }

    /// Finishes a cell that a label-count shortcut gave `verdict` for: nothing more when it
    /// was counted and allowed, a violation when it was counted and not allowed, and the text
    /// path when it was not counted (no label counts, or a full table, which that path hands on).
    #[inline(never)]
    fn settle_label(&mut self, row: u64, verdict: Option<bool>, text: &str) {
        match verdict {
            Some(true) => {}
            Some(false) => self
                .allowed_violations
                .record(row, || Some(text.to_string())),
            None => self.observe_label(row, text),
        }
    }

    /// Labels: the allowed set and the frequency table, through the label counts while the
    /// column has few distinct values. A counted, allowed label (most cells of a label column)
    /// and a column with nothing left to count stay in the column loop.
    #[inline(always)]
    fn observe_label(&mut self, row: u64, text: &str) {
        let verdict = match &mut self.labels {
            Some(labels) => {
                let allowed = &self.allowed;
                labels.count(text, |t| allows(allowed, t))
            }
            None if self.allowed.is_none() && self.items.is_none() => return,
            None => None,
        };
        if verdict != Some(true) {
            self.settle_text_label(row, text, verdict);
        }
    }

    /// [`ColumnState::observe_label`] past a counted, allowed label: a violation, or a label
    /// the counts did not take (none kept, or a full table, which is handed on here).
    #[inline(never)]
    fn settle_text_label(&mut self, row: u64, text: &str, verdict: Option<bool>) {
        match verdict {
            Some(true) => return,
            Some(false) => {
                self.allowed_violations
                    .record(row, || Some(text.to_string()));
                return;
            }
            None if self.labels.is_some() => {
                self.flush_labels();
                self.labels = None;
            }
            None => {}
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.contains(text) {
                self.allowed_violations
                    .record(row, || Some(text.to_string()));
            }
        }
        if let Some(items) = &mut self.items {
            items.add(text);
            self.drop_free_text_items();
        }
    }

    /// Hands on what this block kept back: label counts, and an unfinished stratum of numbers.
    fn flush_held_back(&mut self) {
        self.flush_labels();
        if let Some(sketch) = &mut self.sketch {
            self.feed.flush(sketch);
        }
    }

    /// Moves the label counts into the frequency table.
    fn flush_labels(&mut self) {
        let Some(labels) = &mut self.labels else {
            return;
        };
        match &mut self.items {
            Some(items) => labels.drain().for_each(|(text, n)| items.add_n(&text, n)),
            None => labels.drain().for_each(drop),
        }
        self.drop_free_text_items();
    }
}

/// The number a field of a numeric column holds, read as [`types::convert`] reads its text,
/// or `None` when it holds none. Inlined with a constant type, it is that type's parser alone.
#[inline(always)]
fn read_number(ty: ColumnType, bytes: &[u8]) -> Option<f64> {
    match ty {
        ColumnType::Int => types::parse_int_bytes(bytes).map(|v| v as f64),
        ColumnType::Float => types::parse_float_bytes(bytes),
        ColumnType::Date => types::parse_date_field(bytes).map(f64::from),
        ColumnType::Datetime => types::parse_datetime_bytes(bytes).map(|us| us as f64 / 1e6),
        ColumnType::Bool | ColumnType::String | ColumnType::Categorical => None,
    }
}

/// [`read_number`] for the few fields a fast path leaves, kept out of the column loops.
#[inline(never)]
fn read_number_out_of_line(ty: ColumnType, bytes: &[u8]) -> Option<f64> {
    read_number(ty, bytes)
}

/// A cell as text for examples.
fn cell_text(cell: Cell<'_>) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(t) => t.to_string(),
        Cell::Int(v) => v.to_string(),
        Cell::Float(v) => v.to_string(),
        Cell::Bool(v) => v.to_string(),
        Cell::Date(d) => types::format_date(i64::from(d)),
        Cell::Datetime(us) => types::format_datetime(us as f64 / 1e6),
    }
}

/// A field's bytes as text for examples (fields are cut from UTF-8 text at ASCII bytes, so
/// nothing is replaced).
fn field_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`tracker_hash`] of a field read as bytes (`None` when missing): the hash of the same
/// [`Cell::Text`] or [`Cell::Null`], so rows read either way repeat each other.
#[inline(always)]
pub(super) fn field_hash(field: Option<&[u8]>) -> u64 {
    match field {
        Some(bytes) => crate::data::hash::key_hash(bytes, TEXT_SEED),
        None => NULL_HASH,
    }
}

/// Whether an allowed set (if any) holds `text`.
fn allows(allowed: &Option<HashSet<String, FastHash>>, text: &str) -> bool {
    allowed.as_ref().is_none_or(|set| set.contains(text))
}

/// A 64-bit hash of a cell's content, with its variant as the seed so `1` and `"1"` differ.
///
/// Its values must not change between versions: training splits rows without an id by it.
pub(crate) fn hash_cell(cell: Cell<'_>) -> u64 {
    let mut scratch = [0; 8];
    match cell_key(cell, &mut scratch) {
        Some((bytes, seed)) => xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed),
        None => NULL_HASH,
    }
}

/// The hash of a cell for the repeat trackers: [`hash_cell`]'s rules with the faster
/// [`key_hash`](crate::data::hash::key_hash), since nothing keeps these values.
#[inline(always)]
fn tracker_hash(cell: Cell<'_>) -> u64 {
    let mut scratch = [0; 8];
    match cell_key(cell, &mut scratch) {
        Some((bytes, seed)) => crate::data::hash::key_hash(bytes, seed),
        None => NULL_HASH,
    }
}

/// The hash seed of a text cell.
const TEXT_SEED: u64 = 1;

/// The seed a missing cell is chained into a row's key with (present cells have their
/// variant's, from 1).
pub(super) const NULL_SEED: u64 = 0;

/// The hash of a missing cell.
const NULL_HASH: u64 = 0x9e37_79b9_7f4a_7c15;

/// A present cell's bytes, in `scratch` unless it is text, and its variant as a hash seed.
#[inline(always)]
pub(super) fn cell_key<'a>(cell: Cell<'a>, scratch: &'a mut [u8; 8]) -> Option<(&'a [u8], u64)> {
    let (len, seed) = match cell {
        Cell::Null => return None,
        Cell::Text(t) => return Some((t.as_bytes(), TEXT_SEED)),
        Cell::Int(v) => (put(scratch, &v.to_le_bytes()), 2),
        Cell::Float(v) => (put(scratch, &v.to_bits().to_le_bytes()), 3),
        Cell::Bool(v) => (put(scratch, &[u8::from(v)]), 4),
        Cell::Date(v) => (put(scratch, &v.to_le_bytes()), 5),
        Cell::Datetime(v) => (put(scratch, &v.to_le_bytes()), 6),
    };
    Some((&scratch[..len], seed))
}

/// Copies `bytes` (at most eight) to the front of `scratch`; returns their length.
#[inline(always)]
fn put(scratch: &mut [u8; 8], bytes: &[u8]) -> usize {
    scratch[..bytes.len()].copy_from_slice(bytes);
    bytes.len()
}

/// The validation pass over one dataset.
#[derive(Debug)]
pub struct Scanner {
    /// The rules.
    schema: Schema,
    /// Column states in data order.
    pub columns: Vec<ColumnState>,
    /// Schema columns missing from the data.
    pub missing: Vec<String>,
    /// Duplicate-row detection, when the schema has a duplicates rule.
    pub duplicates: Option<RepeatTracker>,
    /// Rows seen.
    pub rows: u64,
    /// Keys rows for the duplicate-row check.
    row_keys: RowKeys,
    /// Row keys of the current chunk.
    chunk_keys: Vec<u64>,
    /// Which rows of the current chunk have a missing cell that is not empty text, marked
    /// column by column.
    missing_rows: Vec<bool>,
    /// Whether unique integer columns may hold runs of consecutive ids.
    runs: bool,
    /// Whether the duplicate-row check keys every row, leaving none to the runs of ids.
    key_every_row: bool,
    /// Ids an earlier pass found in several runs: rows with them are keyed.
    watch_shared: Option<Vec<(i64, i64)>>,
    /// Ids this pass found in several runs, for the next pass to watch.
    shared_ids: Option<Vec<(i64, i64)>>,
    /// The unique column whose runs of ids spare the duplicate-row check its keys.
    key_column: Option<usize>,
    /// Rows the duplicate-row check left to the key column's runs: they repeat no row as
    /// long as no id repeats.
    left_to_runs: u64,
    /// Whether an id repeated after rows were left to the runs: the pass must be made again
    /// ([`Scanner::next_pass`]), keying those rows, to count duplicate rows.
    runs_failed: bool,
}

impl Scanner {
    /// A pass that checks data against `schema`.
    pub fn new(schema: Schema) -> Scanner {
        let duplicates = schema
            .duplicates
            .as_ref()
            .map(|_| RepeatTracker::new(REPEAT_CAPACITY));
        Scanner {
            schema,
            columns: Vec::new(),
            missing: Vec::new(),
            duplicates,
            rows: 0,
            row_keys: RowKeys::default(),
            chunk_keys: Vec::new(),
            missing_rows: Vec::new(),
            runs: true,
            key_every_row: false,
            watch_shared: None,
            shared_ids: None,
            key_column: None,
            left_to_runs: 0,
            runs_failed: false,
        }
    }

    /// The pass to make after this one when it [needs another](Scanner::needs_second_pass):
    /// one that keys the rows whose ids this pass found repeated, or failing that every row.
    pub fn next_pass(&self, schema: Schema) -> Scanner {
        let next = Scanner::new(schema);
        match &self.shared_ids {
            Some(shared) if self.watch_shared.is_none() => Scanner {
                watch_shared: Some(shared.clone()),
                ..next
            },
            _ => next.keying_every_row(),
        }
    }

    /// The same pass with every row keyed for the duplicate-row check, none left to runs of
    /// ids: for reading a file again after [`Scanner::needs_second_pass`].
    pub fn keying_every_row(mut self) -> Scanner {
        self.key_every_row = true;
        self
    }

    /// The same pass with every unique value hashed, none held in runs of ids.
    #[cfg(test)]
    pub fn without_runs(mut self) -> Scanner {
        self.runs = false;
        self
    }

    /// Whether the pass could not count duplicate rows: it left rows to runs of ids, and then
    /// an id repeated. [`Scanner::next_pass`] counts them.
    pub fn needs_second_pass(&self) -> bool {
        self.runs_failed
    }

    /// The rules this pass checks.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

impl RowSink for Scanner {
    fn begin(&mut self, columns: &[String]) -> anyhow::Result<()> {
        let key = columns.iter().position(|name| {
            (self.schema.column(name)).is_some_and(|c| c.unique && c.ty == ColumnType::Int)
        });
        let watched = self.watch_shared.as_deref().unwrap_or_default();
        self.columns = (columns.iter().enumerate())
            .map(|(index, name)| {
                let watched = if Some(index) == key { watched } else { &[] };
                let runs = self.runs.then_some(watched);
                ColumnState::new(name, self.schema.column(name), runs)
            })
            .collect();
        self.key_column = key.filter(|_| self.runs && !self.key_every_row);
        self.missing = self
            .schema
            .columns
            .iter()
            .filter(|c| !columns.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        Ok(())
    }

    fn whole_text_rows(&mut self, layout: RowText) {
        self.row_keys.set_layout(layout);
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
        self.rows = row;
        for (state, &cell) in self.columns.iter_mut().zip(cells) {
            state.observe(row, cell);
        }
        if let Some(tracker) = &mut self.duplicates {
            tracker.offer(self.row_keys.of_cells(cells), row);
        }
    }

    fn chunk(&mut self, first_row: u64, chunk: &FieldChunk<'_>) {
        let rows = chunk.rows();
        let mut missing = self.duplicates.is_some().then(|| {
            self.missing_rows.clear();
            self.missing_rows.resize(rows, false);
            &mut self.missing_rows[..]
        });
        for (index, state) in self.columns.iter_mut().enumerate() {
            state.observe_column(first_row, chunk, index, missing.as_deref_mut());
        }
        let ids_in_runs = self
            .key_column
            .is_some_and(|column| self.columns[column].runs_cover(rows));
        if let (Some(tracker), Some(missing)) = (&mut self.duplicates, missing) {
            if ids_in_runs {
                self.left_to_runs += rows as u64;
            } else {
                self.row_keys.of_chunk(chunk, missing, &mut self.chunk_keys);
                for (row, &key) in (first_row..).zip(self.chunk_keys.iter()) {
                    tracker.offer(key, row);
                }
            }
        }
        self.rows = first_row + rows as u64 - 1;
    }

    fn split(&self) -> Self {
        self.split_for_block(0)
    }

    fn split_for_block(&self, index: usize) -> Self {
        Scanner {
            schema: self.schema.clone(),
            columns: self.columns.iter().map(|c| c.split(index)).collect(),
            missing: self.missing.clone(),
            duplicates: self.duplicates.as_ref().map(RepeatTracker::split),
            rows: 0,
            row_keys: self.row_keys.split(),
            chunk_keys: Vec::new(),
            missing_rows: Vec::new(),
            runs: self.runs,
            key_every_row: self.key_every_row,
            watch_shared: self.watch_shared.clone(),
            shared_ids: None,
            key_column: self.key_column,
            left_to_runs: 0,
            runs_failed: false,
        }
    }

    fn finish(&mut self) {
        if self.left_to_runs > 0 && self.watch_shared.is_none() && self.key_runs_overlap() {
            // A second pass counts everything again: settling the runs would be wasted.
            self.shared_ids = (self.key_column)
                .and_then(|column| self.columns[column].runs.as_mut())
                .and_then(IntRuns::shared_if_clear);
            self.runs_failed = true;
            return;
        }
        let mut key_settled = None;
        for (index, column) in self.columns.iter_mut().enumerate() {
            column.flush_held_back();
            let settled = column.settle_runs();
            if Some(index) == self.key_column {
                key_settled = settled;
            }
        }
        self.settle_rows_left_to_runs(key_settled);
    }

    fn absorb(&mut self, later: Self, rows_before: u64) {
        self.rows = rows_before + later.rows;
        for (mine, theirs) in self.columns.iter_mut().zip(later.columns) {
            mine.absorb(theirs, rows_before);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.duplicates, later.duplicates) {
            mine.append(theirs, rows_before);
        }
        self.left_to_runs += later.left_to_runs;
    }
}

impl Scanner {
    /// Whether the key column's runs of ids overlap, so an id repeats.
    fn key_runs_overlap(&mut self) -> bool {
        let runs = self.key_column.and_then(|c| self.columns[c].runs.as_mut());
        runs.is_some_and(IntRuns::overlap)
    }

    /// Counts the rows left to the runs of ids as distinct, or marks the pass as needing
    /// another. They were left while their ids were in runs and (in a pass watching the ids an
    /// earlier pass found repeated) not among those: distinct when the runs met no id hashed
    /// instead and share exactly the ids watched (none, in a first pass), or when no id
    /// repeats at all.
    fn settle_rows_left_to_runs(&mut self, key_settled: Option<Settled>) {
        let Some(duplicates) = &mut self.duplicates else {
            return;
        };
        if self.left_to_runs == 0 {
            return;
        }
        let watched = self.watch_shared.as_deref().unwrap_or_default();
        let distinct = match key_settled {
            Some(Settled::SharedOffered(shared)) => shared == watched,
            // Every id was hashed: the rows are distinct when no id repeats at all.
            _ => (self.key_column)
                .and_then(|column| self.columns[column].unique.as_ref())
                .map(RepeatTracker::summary)
                .is_some_and(|ids| ids.exact && ids.repeats == 0),
        };
        if distinct {
            duplicates.add_distinct(std::mem::take(&mut self.left_to_runs));
        } else {
            self.shared_ids = None;
            self.runs_failed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Runs a scanner over literal rows of text cells.
    fn scan(schema: &str, header: &[&str], rows: &[&[&str]]) -> Scanner {
        let schema = super::super::schema::parse(Path::new("s.yml"), schema).unwrap();
        let mut scanner = Scanner::new(schema);
        let names: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        scanner.begin(&names).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<Cell<'_>> = row
                .iter()
                .map(|t| {
                    if t.is_empty() {
                        Cell::Null
                    } else {
                        Cell::Text(t)
                    }
                })
                .collect();
            scanner.row(i as u64 + 1, &cells);
        }
        scanner.finish();
        scanner
    }

    /// Options for reading a CSV file with commas, where an empty field is missing.
    fn comma_separated() -> crate::data::ReadOptions {
        crate::data::ReadOptions {
            format: crate::config::DataFormat::Csv,
            delimiter: b',',
            null_values: vec![String::new()],
            exclude: vec![],
            max_record_bytes: 1 << 20,
        }
    }

    /// A file of `rows` rows with every kind of cell the checks treat differently: nulls,
    /// type errors, out-of-range values, repeats, values outside the allowed set, pattern
    /// misses, and whole repeated rows.
    fn messy_rows(rows: usize) -> Vec<Vec<String>> {
        (0..rows)
            .map(|i| {
                let id = if i % 997 == 5 { i - 1 } else { i };
                let x = match i % 11 {
                    0 => String::new(),
                    1 => "oops".to_string(),
                    2 => format!("{}", 1e6 + i as f64),
                    3 => "-inf".to_string(),
                    _ => format!("{:.3}", (i as f64 * 0.731).sin() * 50.0),
                };
                let day = if i % 13 == 0 {
                    "2021-02-30".to_string()
                } else {
                    format!("2020-{:02}-{:02}", 1 + i % 12, 1 + i % 28)
                };
                let at = if i % 17 == 0 {
                    String::new()
                } else {
                    format!("2021-03-04T{:02}:{:02}:05", i % 24, i % 60)
                };
                let class = ["a", "b", "c", "", "zz"][i % 5].to_string();
                let text = if i % 19 == 0 {
                    "UPPER".to_string()
                } else {
                    format!("w{}", i % 300)
                };
                let n = if i % 23 == 0 {
                    "1.5".to_string()
                } else {
                    format!("{}", i % 40)
                };
                let flag = ["true", "false", "maybe", ""][i % 4].to_string();
                let mut row = vec![id.to_string(), x, day, at, class, text, n, flag];
                if i % 101 == 7 {
                    row = vec![
                        "7".into(),
                        String::new(),
                        "2020-01-01".into(),
                        String::new(),
                        "a".into(),
                        "w7".into(),
                        "7".into(),
                        "true".into(),
                    ];
                }
                row
            })
            .collect()
    }

    /// A schema with every per-cell rule, for [`messy_rows`].
    const MESSY_SCHEMA: &str = "version: 1\nduplicates: { max_fraction: 0 }\ncolumns:\n  - { name: id, type: int, unique: true }\n  - { name: x, type: float, min: -40, max: 40 }\n  - { name: d, type: date }\n  - { name: t, type: datetime }\n  - { name: c, type: categorical, allowed: [a, b, c] }\n  - { name: s, type: string, pattern: '[a-z0-9]+' }\n  - { name: n, type: int, allowed: [1, 2, 3], min: 0, max: 30 }\n  - { name: f, type: bool }\n";

    /// The header of [`messy_rows`].
    const MESSY_HEADER: [&str; 8] = ["id", "x", "d", "t", "c", "s", "n", "f"];

    /// A scanner for block `block` of a file, fed `rows` one at a time or in chunks.
    fn scan_block(rows: &[Vec<String>], block: usize, in_chunks: bool) -> Scanner {
        let schema = super::super::schema::parse(Path::new("s.yml"), MESSY_SCHEMA).unwrap();
        // Runs of ids would leave some rows' keys out; the pass would be made again without.
        let mut template = Scanner::new(schema).without_runs();
        let names: Vec<String> = MESSY_HEADER.iter().map(|s| s.to_string()).collect();
        template.begin(&names).unwrap();
        template.whole_text_rows(RowText {
            delimiter: b',',
            empty_is_null: true,
        });
        let mut scanner = template.split_for_block(block);
        let nulls = crate::data::chunk::NullTokens::new(&[String::new()]);
        let chunk_rows = crate::data::chunk::chunk_rows(MESSY_HEADER.len());
        for (index, lines) in rows.chunks(chunk_rows).enumerate() {
            let first_row = (index * chunk_rows) as u64 + 1;
            let text = lines.iter().map(|r| r.join(",") + "\n").collect::<String>();
            let width = MESSY_HEADER.len();
            let (spans, rows) = crate::data::chunk::comma_spans(&text, width);
            let chunk = FieldChunk::new(&text, width, rows, &spans, &nulls, true);
            if in_chunks {
                scanner.chunk(first_row, &chunk);
            } else {
                for row in 0..chunk.rows() {
                    let cells: Vec<Cell<'_>> = chunk.row(row).collect();
                    scanner.row(first_row + row as u64, &cells);
                }
            }
        }
        scanner.finish();
        scanner
    }

    #[test]
    fn sampled_blocks_check_and_profile_alike_by_rows_and_chunks() {
        let rows = messy_rows(5_000);
        let summary = crate::data::ScanSummary {
            rows: 5_000,
            bytes: 0,
            fingerprint: String::new(),
            one_line_per_row: false,
        };
        let profile = |scanner: &Scanner| {
            let profile = super::super::profile::Profile::from_scan("t.csv", &summary, scanner);
            serde_json::to_value(&profile).unwrap()
        };
        let first_block = profile(&scan_block(&rows, 0, true));
        // Block 40 sends one number in 32 to the sketches.
        assert_eq!(crate::data::strata::level_of_block(40), 5);
        let (by_rows, by_chunks) = (scan_block(&rows, 40, false), scan_block(&rows, 40, true));
        assert_eq!(profile(&by_chunks), profile(&by_rows));
        assert_eq!(
            super::super::report::build_checks(&by_chunks),
            super::super::report::build_checks(&by_rows)
        );
        let (full, sampled) = (
            &by_chunks.columns[1],
            &scan_block(&rows, 0, false).columns[1],
        );
        let (full, sampled) = (
            full.sketch.as_ref().unwrap(),
            sampled.sketch.as_ref().unwrap(),
        );
        assert_ne!(full, sampled, "block 40 samples its numbers");
        assert_eq!(
            (full.count(), full.min(), full.max()),
            (sampled.count(), sampled.min(), sampled.max())
        );
        // Only the sketches' levels differ from the first block's profile.
        let without_levels = |mut profile: serde_json::Value| {
            for column in profile["columns"].as_array_mut().unwrap() {
                if let Some(sketch) = column.pointer_mut("/numeric/sketch") {
                    for field in ["levels", "compactions", "exact"] {
                        sketch[field] = serde_json::Value::Null;
                    }
                }
            }
            profile
        };
        assert_eq!(
            without_levels(profile(&by_chunks)),
            without_levels(first_block)
        );
    }

    #[test]
    fn column_chunks_check_and_profile_exactly_like_rows() {
        let rows = messy_rows(5_000);
        let checks = chunks_check_like_rows(MESSY_SCHEMA, &MESSY_HEADER, &rows, true);
        let failed = checks.iter().filter(|c| !c.passed).count();
        assert!(failed >= 8, "the file should trip most checks: {checks:#?}");
    }

    /// Asserts that a file of `rows` read in column chunks (in as many passes as it takes;
    /// `repeats` when ids repeat, so it takes two) profiles and checks exactly like the rows
    /// one at a time; returns the checks.
    fn chunks_check_like_rows(
        schema: &str,
        header: &[&str],
        rows: &[Vec<String>],
        repeats: bool,
    ) -> Vec<super::super::report::CheckResult> {
        let by_rows = {
            let cells: Vec<Vec<&str>> = rows
                .iter()
                .map(|r| r.iter().map(String::as_str).collect())
                .collect();
            let cells: Vec<&[&str]> = cells.iter().map(Vec::as_slice).collect();
            scan(schema, header, &cells)
        };
        let mut csv = header.join(",") + "\n";
        rows.iter()
            .for_each(|r| csv.push_str(&(r.join(",") + "\n")));
        let options = comma_separated();
        let parsed = super::super::schema::parse(Path::new("s.yml"), schema).unwrap();
        let mut by_chunks = Scanner::new(parsed.clone());
        let bytes = csv.into_bytes();
        let mut summary =
            crate::data::scan_bytes("t.csv", &bytes, &options, &mut by_chunks).unwrap();
        assert_eq!(
            by_chunks.needs_second_pass(),
            repeats,
            "rows left to runs of ids are read again exactly when ids repeat"
        );
        while by_chunks.needs_second_pass() {
            by_chunks = by_chunks.next_pass(parsed.clone());
            summary = crate::data::scan_bytes("t.csv", &bytes, &options, &mut by_chunks).unwrap();
        }
        assert_eq!(summary.rows, rows.len() as u64);
        let profile = |scanner: &Scanner| {
            let profile = super::super::profile::Profile::from_scan("t.csv", &summary, scanner);
            serde_json::to_string(&profile).unwrap()
        };
        assert_eq!(profile(&by_chunks), profile(&by_rows));
        let checks_by_rows = super::super::report::build_checks(&by_rows);
        assert_eq!(
            super::super::report::build_checks(&by_chunks),
            checks_by_rows
        );
        checks_by_rows
    }

    #[test]
    fn ranges_checked_on_chunk_extremes_find_every_stray_row() {
        let schema = "version: 1\ncolumns:\n  - { name: a, type: float, min: 0 }\n  - { name: b, type: int, max: 100 }\n  - { name: d, type: date, min: 2020-01-01, max: 2020-12-31 }\n  - { name: e, type: float, min: -1, max: 1 }\n";
        let header = ["a", "b", "d", "e"];
        // Most chunks stay within every range; a few stray below, above, or to an infinity.
        let rows: Vec<Vec<String>> = (0..3_000)
            .map(|i| {
                let a = match i {
                    7 | 1_501 => "-0.5".to_string(),
                    2_222 => "-inf".to_string(),
                    _ => format!("{}.25", i % 50),
                };
                let b = match i {
                    900 => "101".to_string(),
                    2_999 => "-7".to_string(),
                    _ => format!("{}", i % 100),
                };
                let d = if i == 1_800 {
                    "2021-01-01"
                } else {
                    "2020-06-30"
                }
                .to_string();
                let e = if i == 2_500 { "1e999" } else { "0.5" }.to_string();
                vec![a, b, d, e]
            })
            .collect();
        let checks = chunks_check_like_rows(schema, &header, &rows, false);
        let range = |column: &str| {
            let check = checks
                .iter()
                .find(|c| {
                    c.check == super::super::schema::CheckKind::Range
                        && c.column.as_deref() == Some(column)
                })
                .unwrap_or_else(|| panic!("no range check for {column}: {checks:#?}"));
            (check.passed, check.failing_rows)
        };
        assert_eq!(range("a"), (false, 3));
        assert_eq!(range("b"), (false, 1));
        assert_eq!(range("d"), (false, 1));
        assert_eq!(range("e"), (false, 1));
    }

    #[test]
    fn ids_in_runs_spare_row_keys_and_count_like_rows() {
        // Ids counting up with gaps, some written `+n` or `0n`, some missing; the rows
        // without an id repeat each other. No id repeats, so one pass does.
        let schema = "version: 1\nduplicates: { max_fraction: 0 }\ncolumns:\n  - { name: id, type: int, nullable: true, unique: true }\n  - { name: x, type: string }\n";
        let rows: Vec<[String; 2]> = (1..=20_000u32)
            .filter(|i| i % 1_000 >= 30)
            .map(|i| match i % 4_999 {
                0 => [String::new(), "same".into()],
                1 => [format!("+{i}"), format!("x{}", i % 50)],
                2 => [format!("0{i}"), format!("x{}", i % 50)],
                _ => [i.to_string(), format!("x{}", i % 50)],
            })
            .collect();
        let by_rows = {
            let cells: Vec<[&str; 2]> =
                rows.iter().map(|[a, b]| [a.as_str(), b.as_str()]).collect();
            let cells: Vec<&[&str]> = cells.iter().map(|r| &r[..]).collect();
            scan(schema, &["id", "x"], &cells)
        };
        let csv: String = std::iter::once("id,x\n".to_string())
            .chain(rows.iter().map(|[a, b]| format!("{a},{b}\n")))
            .collect();
        let options = comma_separated();
        let mut by_chunks =
            Scanner::new(super::super::schema::parse(Path::new("s.yml"), schema).unwrap());
        crate::data::scan_bytes("t.csv", csv.as_bytes(), &options, &mut by_chunks).unwrap();
        assert!(!by_chunks.needs_second_pass());
        let dups = by_chunks.duplicates.as_ref().unwrap();
        assert!(dups.held() < 10_000, "{} rows keyed", dups.held());
        let checks = super::super::report::build_checks(&by_chunks);
        assert_eq!(checks, super::super::report::build_checks(&by_rows));
        let duplicates =
            (checks.iter()).find(|c| c.check == super::super::schema::CheckKind::Duplicates);
        assert_eq!(duplicates.map(|c| c.failing_rows), Some(3));
    }

    /// Feeds CSV lines of `header` to `scanner` as the reader does: in blocks of
    /// `block_rows` rows, each split from it and fed in chunks, then folded in file order.
    fn scan_blocks(
        mut scanner: Scanner,
        header: &[&str],
        lines: &[String],
        block_rows: usize,
    ) -> Scanner {
        let names: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        scanner.begin(&names).unwrap();
        scanner.whole_text_rows(RowText {
            delimiter: b',',
            empty_is_null: true,
        });
        let nulls = crate::data::chunk::NullTokens::new(&[String::new()]);
        let chunk_rows = crate::data::chunk::chunk_rows(header.len());
        let mut rows_before = 0;
        for (index, block) in lines.chunks(block_rows).enumerate() {
            let mut sink = scanner.split_for_block(index);
            for (at, lines) in block.chunks(chunk_rows).enumerate() {
                let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
                let (spans, rows) = crate::data::chunk::comma_spans(&text, header.len());
                let chunk = FieldChunk::new(&text, header.len(), rows, &spans, &nulls, true);
                sink.chunk((at * chunk_rows) as u64 + 1, &chunk);
            }
            scanner.absorb(sink, rows_before);
            rows_before += block.len() as u64;
        }
        scanner.finish();
        scanner
    }

    /// Unique (and possibly missing) int ids and an int column, with no duplicate rows allowed.
    fn ids_and_x() -> Schema {
        super::super::schema::parse(
            Path::new("s.yml"),
            "version: 1\nduplicates: { max_fraction: 0 }\ncolumns:\n  - { name: id, type: int, nullable: true, unique: true }\n  - { name: x, type: int }\n",
        )
        .unwrap()
    }

    #[test]
    fn a_second_pass_keys_only_the_rows_with_repeated_ids() {
        // Ids counting up, then a few of them again on rows that repeat the first ones whole.
        let lines: Vec<String> = (1..=30_000)
            .chain(1_000..1_010)
            .map(|id| format!("{id},{}", id % 7))
            .collect();
        let schema = ids_and_x();
        let header = ["id", "x"];
        let hashed = Scanner::new(schema.clone()).without_runs();
        let expected =
            super::super::report::build_checks(&scan_blocks(hashed, &header, &lines, 4_000));
        let first = scan_blocks(Scanner::new(schema.clone()), &header, &lines, 4_000);
        assert!(first.needs_second_pass());
        assert_eq!(first.shared_ids, Some(vec![(1_000, 1_010)]));
        let second = scan_blocks(first.next_pass(schema), &header, &lines, 4_000);
        assert!(!second.needs_second_pass());
        let keyed = second.duplicates.as_ref().unwrap().held();
        assert!(keyed < 3_000, "{keyed} rows keyed");
        assert_eq!(super::super::report::build_checks(&second), expected);
        let duplicates =
            (expected.iter()).find(|c| c.check == super::super::schema::CheckKind::Duplicates);
        assert_eq!(duplicates.map(|c| c.failing_rows), Some(10));
    }

    proptest::proptest! {
        #[test]
        fn runs_of_ids_change_no_check(
            segments in proptest::collection::vec((0i64..3_000, 1usize..400, 0u8..12), 1..12),
            block_rows in 40usize..700,
        ) {
            // Ids counting up, repeating, shuffled, missing or written `+n` and `0n`, beside
            // a column of few values, so that some rows repeat whole.
            let mut lines = Vec::new();
            for (start, len, style) in segments {
                for value in start..start + len as i64 {
                    let id = match style {
                        0 => format!("+{value}"),
                        1 => format!("0{value}"),
                        2 => (value * 7_919 % 3_001).to_string(),
                        3 if value % 5 == 0 => String::new(),
                        _ => value.to_string(),
                    };
                    lines.push(format!("{id},{}", value % 3));
                }
            }
            let schema = ids_and_x();
            let header = ["id", "x"];
            let hashed = Scanner::new(schema.clone()).without_runs();
            let hashed = scan_blocks(hashed, &header, &lines, block_rows);
            let with_runs = scan_blocks(Scanner::new(schema.clone()), &header, &lines, block_rows);
            let (checks, expected) = (
                super::super::report::build_checks(&with_runs),
                super::super::report::build_checks(&hashed),
            );
            if with_runs.needs_second_pass() {
                // Only a repeated id sends the pass round again, and the second pass settles
                // it, keying the rows with repeated ids (or every row).
                let unique = (expected.iter())
                    .find(|c| c.check == super::super::schema::CheckKind::Unique);
                proptest::prop_assert!(unique.is_some_and(|c| c.failing_rows > 0));
                let again = with_runs.next_pass(schema);
                let again = scan_blocks(again, &header, &lines, block_rows);
                proptest::prop_assert!(!again.needs_second_pass());
                proptest::prop_assert_eq!(super::super::report::build_checks(&again), expected);
            } else {
                proptest::prop_assert_eq!(checks, expected);
            }
        }
    }

    #[test]
    fn text_lengths_count_characters_not_bytes() {
        // Byte lengths that bound the character counts seen so far skip counting: multi-byte
        // text inside and outside those bounds must still land on the right extremes.
        let schema = "version: 1\ncolumns:\n  - { name: s, type: string }\n";
        for texts in [
            &["abcd", "ab", "日本語", "éé", "x", "𝄞𝄞𝄞𝄞𝄞"][..],
            &["abcdefgh", "日本語日本語", "ééééé", "abc"],
            &["日", "a", "ab"],
            &["abc", "abcdef", "日本"],
        ] {
            let rows: Vec<[&str; 1]> = texts.iter().map(|t| [*t]).collect();
            let rows: Vec<&[&str]> = rows.iter().map(|r| &r[..]).collect();
            let scanner = scan(schema, &["s"], &rows);
            let counts = texts.iter().map(|t| t.chars().count());
            let expected = (counts.clone().min().unwrap(), counts.max().unwrap());
            assert_eq!(scanner.columns[0].lengths, Some(expected), "{texts:?}");
        }
    }

    #[test]
    fn fields_hash_like_their_cells() {
        for text in [
            "",
            "1",
            "abc",
            "12345678",
            "a text longer than sixteen bytes",
        ] {
            assert_eq!(
                field_hash(Some(text.as_bytes())),
                tracker_hash(Cell::Text(text))
            );
        }
        assert_eq!(field_hash(None), tracker_hash(Cell::Null));
    }

    #[test]
    fn moments_extend_like_add() {
        let mut values: Vec<f64> = (0..3000).map(|i| 1e3 + (i as f64 * 0.37).sin()).collect();
        values[1500] = f64::INFINITY;
        values[10] = -0.0;
        for (start, size) in [(0, 256), (1, 256), (2000, 256), (0, 7), (3, 1)] {
            let mut one_by_one = Moments::default();
            let mut extended = Moments::default();
            values[start..].iter().for_each(|&v| one_by_one.add(v));
            for chunk in values[start..].chunks(size) {
                let extremes = extended.extend(chunk);
                assert_eq!(extremes, float_order::finite_extremes(chunk));
            }
            let state = |m: &Moments| format!("{m:?}");
            assert_eq!(state(&extended), state(&one_by_one));
        }
        let mut empty = Moments::default();
        assert_eq!(empty.extend(&[]), None);
        assert_eq!(empty.n, 0);
    }

    #[test]
    fn blocks_split_after_a_dropped_table_keep_none() {
        let mut root = ColumnState::new("note", None, Some(&[]));
        let before = root.split(1);
        let mut block = root.split(2);
        for row in 0..3_000 {
            block.observe(row + 1, Cell::Text(&format!("text {row}")));
        }
        assert!(block.items.is_none() && before.items.is_some());
        let after = root.split(3);
        assert!(after.items.is_none() && after.labels.is_none());
        // Folding gives no table whichever blocks had one.
        [before, block, after]
            .into_iter()
            .for_each(|later| root.absorb(later, 0));
        assert!(root.items.is_none());
    }

    #[test]
    fn moments_merge_like_one_pass() {
        let values: Vec<f64> = (0..1000).map(|i| 1e6 + (i as f64 * 0.37).sin()).collect();
        let mut whole = Moments::default();
        values.iter().for_each(|&v| whole.add(v));
        let mut first = Moments::default();
        let mut second = Moments::default();
        values[..300].iter().for_each(|&v| first.add(v));
        values[300..].iter().for_each(|&v| second.add(v));
        first.absorb(&second);
        let mean = values.iter().sum::<f64>() / 1000.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 999.0;
        for m in [&whole, &first] {
            assert!((m.mean() - mean).abs() < 1e-9, "{}", m.mean());
            assert!((m.std() - var.sqrt()).abs() < 1e-9, "{}", m.std());
        }
        assert_eq!(
            (first.min, first.max, first.n),
            (whole.min, whole.max, 1000)
        );
    }

    #[test]
    fn per_cell_checks_record_rows() {
        let schema = "version: 1\nduplicates: { max_fraction: 0 }\ncolumns:\n  - { name: id, type: int, unique: true }\n  - { name: x, type: float, min: 0, max: 10 }\n  - { name: c, type: categorical, allowed: [a, b] }\n  - { name: s, type: string, pattern: '[a-z]+' }\n";
        let scanner = scan(
            schema,
            &["id", "x", "c", "s", "extra"],
            &[
                &["1", "5", "a", "ok", "q"],
                &["2", "11", "z", "OK", "q"],
                &["2", "oops", "", "fine", "q"],
                &["2", "oops", "", "fine", "q"],
            ],
        );
        let [id, x, c, s, extra] = &scanner.columns[..] else {
            panic!()
        };
        let unique = id.unique.as_ref().unwrap().summary();
        assert_eq!(unique.repeats, 2);
        assert_eq!(
            (unique.examples[0].row, unique.examples[0].repeats_row),
            (3, Some(2))
        );
        assert_eq!(x.range_violations.count, 1);
        assert_eq!(x.range_violations.examples[0].value.as_deref(), Some("11"));
        assert_eq!(x.type_errors.count, 2);
        assert_eq!(c.allowed_violations.count, 1);
        assert_eq!(c.nulls.count, 2);
        assert_eq!(s.pattern_violations.count, 1);
        assert!(extra.schema.is_none());
        let duplicates = scanner.duplicates.as_ref().unwrap().summary();
        assert_eq!(duplicates.repeats, 1);
        assert_eq!(duplicates.examples[0].repeats_row, Some(3));
        assert!(scanner.missing.is_empty());
        let m = x.moments.as_ref().unwrap();
        assert!((m.mean() - 8.0).abs() < 1e-12 && (m.std() - 18f64.sqrt()).abs() < 1e-12);
        assert_eq!((m.n, m.min, m.max), (2, 5.0, 11.0));
    }
}
