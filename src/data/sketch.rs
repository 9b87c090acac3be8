//! Mergeable profile sketches: [`QuantileSketch`] for numeric columns and
//! [`FrequentItems`] for categorical/string columns.
//!
//! Data profiles are computed per file or per partition and merged, then
//! stored as `profile.json` and compared across commits by the drift checks.
//! That use dictates the design:
//!
//! * **Mergeable** — profiles of shards combine into the profile of the whole.
//! * **Exact when small** — below a configurable size the sketches keep every
//!   value (quantiles) or every category (frequencies), so drift tests on
//!   small data run on the real data rather than an approximation.
//! * **Bounded memory** — beyond that, KLL-style compaction (quantiles) and
//!   Misra-Gries decrements (frequencies) keep size independent of row count.
//! * **Deterministic** — no randomness anywhere: the same input in the same
//!   order yields byte-identical JSON, so profiles can be committed, diffed
//!   and cached by hash.
//! * **Checked on load** — deserialisation validates every invariant and
//!   returns an error for a corrupt or hand-edited `profile.json` instead of
//!   panicking later in a query.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use std::fmt;

use super::hash::FastHash;
use super::key_sort::{sort_keys, Order};
use crate::float_order::{self, keep_max, keep_min};

/// Default accuracy parameter `k` of [`QuantileSketch`]; 200 gives rank errors
/// well under 1% in practice, the same default as Apache DataSketches' KLL.
pub const DEFAULT_K: usize = 200;

/// Smallest accepted `k`; below this the compactors are too small for the
/// error analysis to mean anything.
pub const MIN_K: usize = 8;

/// Largest accepted `k`; larger values only waste memory (and a corrupt
/// profile must not be able to request unbounded buffers).
pub const MAX_K: usize = 65_536;

/// Default number of values a [`QuantileSketch`] stores verbatim before it
/// starts compacting.
pub const DEFAULT_EXACT_CAPACITY: usize = 2048;

/// Largest accepted exact capacity, for the same memory-safety reason as
/// [`MAX_K`].
pub const MAX_EXACT_CAPACITY: usize = 1 << 24;

/// Default number of distinct values a [`FrequentItems`] counts exactly.
pub const DEFAULT_FREQUENT_CAPACITY: usize = 1024;

/// Smallest accepted [`FrequentItems`] capacity: a purge keeps `capacity / 2`
/// counters, which must be at least one.
pub const MIN_FREQUENT_CAPACITY: usize = 2;

/// Largest accepted [`FrequentItems`] capacity.
pub const MAX_FREQUENT_CAPACITY: usize = 1 << 24;

/// Maximum number of levels: an item at level `h` stands for `2^h` values, so
/// 64 levels already cover every `u64` count.
const MAX_LEVELS: usize = 64;

/// Why a sketch was rejected by validation or deserialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SketchError {
    /// A size parameter is outside its documented range.
    InvalidParameter {
        /// Parameter name as it appears in the serialised form.
        name: &'static str,
        /// Offending value.
        value: u64,
    },
    /// Stored contents contradict the sketch's invariants (e.g. counts that
    /// do not add up, or non-finite values in a level).
    Corrupt(&'static str),
}

impl fmt::Display for SketchError {
    /// Human-readable message, suitable for "cannot load profile" errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SketchError::InvalidParameter { name, value } => {
                write!(f, "sketch parameter `{name}` out of range: {value}")
            }
            SketchError::Corrupt(what) => write!(f, "corrupt sketch: {what}"),
        }
    }
}

impl std::error::Error for SketchError {}

/// Weight carried by an item at `level`, saturating at `u64::MAX`.
fn level_weight(level: usize) -> u64 {
    if level >= 64 {
        u64::MAX
    } else {
        1_u64 << level
    }
}

/// Deterministic, mergeable KLL-style quantile sketch over `f64`.
///
/// While at most `exact_capacity` values (default 2048) have been added, the
/// sketch stores them all and every query is exact. After that, levels of
/// KLL "compactors" hold items of weight `2^level`; a level holding more
/// than `k` items is sorted and every second item is promoted to the next
/// level, so memory stays at O(k · log(n/k)) items.
///
/// Two deliberate departures from textbook KLL:
/// * **No randomness.** Instead of a coin flip choosing which half to
///   promote, each level alternates between the even and odd half using its
///   stored compaction counter, so the same input order always produces the
///   same sketch, while consecutive compaction errors still tend to cancel.
/// * **Equal level capacities.** Every level holds up to `k` items rather
///   than KLL's geometrically shrinking capacities. This spends the
///   O(k log(n/k)) memory budget on accuracy: at `k = 200` the rank error on
///   a million values is typically below 1% (tests assert < 1.5%), where
///   deterministic compaction with shrinking capacities sits near 1.5%.
///
/// NaN is ignored (it is a missing value, not an observation). `±inf` are
/// counted separately, so the serialised levels contain only finite numbers
/// while ranks and quantiles still see them as the most extreme values.
///
/// In JSON, stored values (`levels`, `min`, `max`) are written as strings
/// holding Rust's shortest round-trip decimal form (e.g. `"0.1"`,
/// `"1e-300"`). serde_json's default number parser may be off by one ulp,
/// which would silently break ties between a stored reference and fresh data
/// in an exact KS test and make re-serialised profiles differ byte-wise;
/// strings parse exactly with any feature set. Plain JSON numbers are still
/// accepted on input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "QuantileSketchRepr")]
pub struct QuantileSketch {
    /// Accuracy parameter: capacity of every level once compacting.
    k: usize,
    /// Number of values kept verbatim before compaction starts.
    exact_capacity: usize,
    /// Whether every value added so far is still stored verbatim.
    exact: bool,
    /// Number of non-NaN values added (including infinities), saturating.
    count: u64,
    /// Smallest finite value seen; `None` if no finite value was added.
    min: Option<f64>,
    /// Largest finite value seen; `None` if no finite value was added.
    max: Option<f64>,
    /// How many `-inf` values were added.
    neg_inf: u64,
    /// How many `+inf` values were added.
    pos_inf: u64,
    /// Compactor buffers; an item in `levels[h]` has weight `2^h`.
    levels: Vec<Vec<f64>>,
    /// Per-level compaction counters; their parity picks the half promoted.
    compactions: Vec<u64>,
}

/// Unvalidated mirror of [`QuantileSketch`]'s serialised form; deserialising
/// goes through it so that [`QuantileSketch::validate`] always runs.
#[derive(Deserialize)]
struct QuantileSketchRepr {
    /// See [`QuantileSketch::k`].
    k: usize,
    /// See [`QuantileSketch::exact_capacity`].
    exact_capacity: usize,
    /// See [`QuantileSketch::exact`].
    exact: bool,
    /// See [`QuantileSketch::count`].
    count: u64,
    /// See [`QuantileSketch::min`].
    min: Option<FloatValue>,
    /// See [`QuantileSketch::max`].
    max: Option<FloatValue>,
    /// See [`QuantileSketch::neg_inf`].
    neg_inf: u64,
    /// See [`QuantileSketch::pos_inf`].
    pos_inf: u64,
    /// See [`QuantileSketch::levels`].
    levels: Vec<Vec<FloatValue>>,
    /// See [`QuantileSketch::compactions`].
    compactions: Vec<u64>,
}

/// Serialises an `f64` as a string with its shortest round-trip decimal
/// form, so reading it back is bit-exact regardless of the JSON parser's
/// float accuracy.
struct FloatText(f64);

impl Serialize for FloatText {
    /// Writes `{:?}` formatting, which is the shortest exact representation.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:?}", self.0))
    }
}

/// Serialises one level as a sequence of [`FloatText`].
struct LevelText<'a>(&'a [f64]);

impl Serialize for LevelText<'_> {
    /// Writes the level's values in stored order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|&v| FloatText(v)))
    }
}

/// Serialises all levels as nested sequences of [`FloatText`].
struct LevelsText<'a>(&'a [Vec<f64>]);

impl Serialize for LevelsText<'_> {
    /// Writes levels from weight 1 upwards.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|level| LevelText(level)))
    }
}

/// An `f64` read from either a decimal string (what [`FloatText`] writes,
/// parsed exactly by Rust's correctly rounded parser) or a plain JSON number
/// (accepted for hand-written or foreign profiles).
struct FloatValue(f64);

impl<'de> Deserialize<'de> for FloatValue {
    /// Accepts a string or a number; anything else is a type error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FloatVisitor).map(FloatValue)
    }
}

/// Visitor behind [`FloatValue`].
struct FloatVisitor;

impl serde::de::Visitor<'_> for FloatVisitor {
    type Value = f64;

    /// Describes the accepted input for error messages.
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a decimal string")
    }

    /// Parses the decimal string exactly.
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
        v.parse::<f64>()
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
    }

    /// Accepts a JSON float as is.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    /// Accepts a JSON integer (may round above 2^53, like any JSON reader).
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    /// Accepts a JSON integer (may round above 2^53, like any JSON reader).
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

impl Serialize for QuantileSketch {
    /// Writes the fields in declaration order with values as exact strings
    /// (see the type docs), so equal sketches give byte-identical JSON.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("QuantileSketch", 10)?;
        st.serialize_field("k", &self.k)?;
        st.serialize_field("exact_capacity", &self.exact_capacity)?;
        st.serialize_field("exact", &self.exact)?;
        st.serialize_field("count", &self.count)?;
        st.serialize_field("min", &self.min.map(FloatText))?;
        st.serialize_field("max", &self.max.map(FloatText))?;
        st.serialize_field("neg_inf", &self.neg_inf)?;
        st.serialize_field("pos_inf", &self.pos_inf)?;
        st.serialize_field("levels", &LevelsText(&self.levels))?;
        st.serialize_field("compactions", &self.compactions)?;
        st.end()
    }
}

impl TryFrom<QuantileSketchRepr> for QuantileSketch {
    type Error = SketchError;

    /// Accepts the deserialised fields only if they form a valid sketch.
    fn try_from(repr: QuantileSketchRepr) -> Result<Self, Self::Error> {
        let sketch = QuantileSketch {
            k: repr.k,
            exact_capacity: repr.exact_capacity,
            exact: repr.exact,
            count: repr.count,
            min: repr.min.map(|v| v.0),
            max: repr.max.map(|v| v.0),
            neg_inf: repr.neg_inf,
            pos_inf: repr.pos_inf,
            levels: repr
                .levels
                .into_iter()
                .map(|level| level.into_iter().map(|v| v.0).collect())
                .collect(),
            compactions: repr.compactions,
        };
        sketch.validate()?;
        Ok(sketch)
    }
}

impl Default for QuantileSketch {
    /// Same as [`QuantileSketch::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl QuantileSketch {
    /// Empty sketch with `k = 200` and exact capacity 2048.
    pub fn new() -> Self {
        Self::with_params(DEFAULT_K, DEFAULT_EXACT_CAPACITY)
    }

    /// Empty sketch with accuracy parameter `k` (clamped to
    /// [`MIN_K`]`..=`[`MAX_K`]) and the default exact capacity.
    pub fn with_k(k: usize) -> Self {
        Self::with_params(k, DEFAULT_EXACT_CAPACITY)
    }

    /// Empty sketch with explicit `k` (clamped to [`MIN_K`]`..=`[`MAX_K`])
    /// and exact capacity (clamped to `..=`[`MAX_EXACT_CAPACITY`]; 0 means
    /// "compact from the first value").
    pub fn with_params(k: usize, exact_capacity: usize) -> Self {
        QuantileSketch {
            k: k.clamp(MIN_K, MAX_K),
            exact_capacity: exact_capacity.min(MAX_EXACT_CAPACITY),
            exact: true,
            count: 0,
            min: None,
            max: None,
            neg_inf: 0,
            pos_inf: 0,
            levels: vec![Vec::new()],
            compactions: vec![0],
        }
    }

    /// Accuracy parameter `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of values stored verbatim before compaction starts.
    pub fn exact_capacity(&self) -> usize {
        self.exact_capacity
    }

    /// Adds one observation. NaN is ignored; `±inf` are counted.
    pub fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.count = self.count.saturating_add(1);
        if value == f64::INFINITY {
            self.pos_inf = self.pos_inf.saturating_add(1);
        } else if value == f64::NEG_INFINITY {
            self.neg_inf = self.neg_inf.saturating_add(1);
        } else {
            self.min = Some(self.min.map_or(value, |m| keep_min(m, value)));
            self.max = Some(self.max.map_or(value, |m| keep_max(m, value)));
            if let Some(level0) = self.levels.first_mut() {
                level0.push(value);
                // Only level 0 grows on `add`: skip the full scan of levels until it overflows.
                if !self.exact && level0.len() <= self.k {
                    return;
                }
            } else {
                self.levels.push(vec![value]);
                self.compactions.push(0);
            }
        }
        self.settle();
    }

    /// Adds observations in order: the same sketch as calling [`QuantileSketch::add`] on each,
    /// with less work per value: level 0 is filled a run at a time, up to the size that makes
    /// it compact or, while exact, up to the value that ends exact mode (every block of a file
    /// starts its sketches exact).
    pub fn extend(&mut self, values: &[f64]) {
        let mut rest = values;
        while let Some((&first, after_first)) = rest.split_first() {
            if self.levels.is_empty() {
                self.add(first);
                rest = after_first;
                continue;
            }
            let room = if self.exact {
                let left = (self.exact_capacity as u64 + 1).saturating_sub(self.count);
                usize::try_from(left).unwrap_or(usize::MAX).max(1)
            } else {
                (self.k + 1).saturating_sub(self.levels[0].len()).max(1)
            };
            let (run, after_run) = rest.split_at(room.min(rest.len()));
            rest = after_run;
            if !run.iter().fold(true, |finite, v| finite & v.is_finite()) {
                run.iter().for_each(|&value| self.add(value));
                continue;
            }
            // The extremes in the same order `add` takes them, so even the sign of a zero
            // minimum is the same.
            let (mut min, mut max) = (self.min.unwrap_or(run[0]), self.max.unwrap_or(run[0]));
            for &value in run {
                min = keep_min(min, value);
                max = keep_max(max, value);
            }
            (self.min, self.max) = (Some(min), Some(max));
            self.count = self.count.saturating_add(run.len() as u64);
            self.levels[0].extend_from_slice(run);
            if self.levels[0].len() > self.k
                || (self.exact && self.count > self.exact_capacity as u64)
            {
                self.settle();
            }
        }
    }

    /// Adds runs ("strata") of `2^h` finite values each, every run as one item of weight `2^h`:
    /// the value at `pick()` in it. The count, minimum and maximum take in every value, so
    /// they stay exact and the stored weights still sum to the count; only the levels see a
    /// sample. With `h = 0` this is [`Self::extend`].
    ///
    /// One item per run is what a compaction would keep of it after `h` rounds, without the
    /// sorting: a stratified sample, whose rank error is far below the sketch's own at the
    /// sizes it is used for (see `data::strata`).
    ///
    /// # Panics
    /// If `values` is not whole runs, holds a non-finite value, or `pick` returns a position
    /// outside a run: callers cut the runs themselves, so any of these is a bug.
    pub fn add_strata(&mut self, values: &[f64], h: u32, pick: impl FnMut() -> usize) {
        if h > 0 && !values.is_empty() {
            let (min, max) =
                float_order::finite_extremes(values).expect("strata hold finite values only");
            self.note_finite_extremes(min, max);
        }
        self.add_noted_strata(values, h, pick);
    }

    /// Takes finite values' extremes into the minimum and maximum, as adding the values in
    /// order would: ahead of [`Self::add_noted_strata`] on them, or of [`Self::add`].
    pub fn note_finite_extremes(&mut self, min: f64, max: f64) {
        self.min = Some(self.min.map_or(min, |m| keep_min(m, min)));
        self.max = Some(self.max.map_or(max, |m| keep_max(m, max)));
    }

    /// [`Self::add_strata`] of values whose extremes were noted by
    /// [`Self::note_finite_extremes`].
    ///
    /// # Panics
    /// As [`Self::add_strata`], but without checking that the values are finite.
    pub fn add_noted_strata(&mut self, values: &[f64], h: u32, mut pick: impl FnMut() -> usize) {
        let run = 1_usize << h;
        assert!(
            values.len().is_multiple_of(run),
            "{} values are not runs of {run}",
            values.len()
        );
        if h == 0 {
            self.extend(values);
            return;
        }
        if values.is_empty() {
            return;
        }
        self.count = self.count.saturating_add(values.len() as u64);
        // Leaving exact mode can leave level 0 over capacity, so that settles too.
        let was_exact = std::mem::replace(&mut self.exact, false);
        let h = h as usize;
        if self.levels.len() <= h {
            self.levels.resize_with(h + 1, Vec::new);
            self.compactions.resize(h + 1, 0);
        }
        if was_exact {
            self.settle();
        }
        for stratum in values.chunks_exact(run) {
            let at = pick();
            assert!(at < run, "pick {at} is outside a run of {run}");
            self.levels[h].push(stratum[at]);
            if self.levels[h].len() > self.k {
                self.settle_with_raw_level(Some(h));
            }
        }
    }

    /// Folds `other` into `self`, so `self` summarises both inputs.
    ///
    /// The result uses the smaller `k` and the smaller exact capacity of the
    /// two (the accuracy guarantee of the coarser input is all that can be
    /// promised); merging an empty sketch changes nothing. Two exact sketches
    /// stay exact if their combined count fits the exact capacity.
    pub fn merge(&mut self, other: &QuantileSketch) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.k = other.k;
            self.exact_capacity = other.exact_capacity;
        } else {
            self.k = self.k.min(other.k);
            self.exact_capacity = self.exact_capacity.min(other.exact_capacity);
        }
        self.exact = self.exact && other.exact;
        self.count = self.count.saturating_add(other.count);
        self.neg_inf = self.neg_inf.saturating_add(other.neg_inf);
        self.pos_inf = self.pos_inf.saturating_add(other.pos_inf);
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
            self.compactions.push(0);
        }
        for (h, level) in other.levels.iter().enumerate() {
            if let Some(mine) = self.levels.get_mut(h) {
                mine.extend_from_slice(level);
            }
            if let (Some(mine), Some(theirs)) =
                (self.compactions.get_mut(h), other.compactions.get(h))
            {
                *mine = mine.wrapping_add(*theirs);
            }
        }
        self.settle();
    }

    /// Leaves exact mode once the count exceeds the exact capacity, then
    /// compacts until every level fits its capacity.
    fn settle(&mut self) {
        self.settle_with_raw_level(None)
    }

    /// [`Self::settle`] when level `raw` holds values in the order they came (strata's picks),
    /// not sorted runs: its compaction sorts them as level 0's does.
    fn settle_with_raw_level(&mut self, raw: Option<usize>) {
        if self.exact && self.count > self.exact_capacity as u64 {
            self.exact = false;
        }
        if self.exact {
            return;
        }
        loop {
            let overfull = self.levels.iter().position(|level| level.len() > self.k);
            match overfull {
                Some(h) => self.compact(h, raw == Some(h)),
                None => break,
            }
        }
    }

    /// Compacts level `h`: sorts it, promotes every second item (odd or even
    /// positions, alternating per compaction) to level `h + 1`, and keeps
    /// the largest item back when the count is odd so weight is conserved.
    ///
    /// The last possible level (weight `2^63`) can only overflow after the
    /// count has saturated at `u64::MAX`; it is thinned in place instead, so
    /// memory stays bounded even then (weights are no longer conserved, but
    /// they already exceed what `count` can express).
    ///
    /// `raw` says the level holds values in the order they came rather than sorted runs, and
    /// picks the sort that is faster for them; the result is the same either way.
    fn compact(&mut self, h: usize, raw: bool) {
        let top_limit = h + 1 >= MAX_LEVELS;
        let wanted = if top_limit { h + 1 } else { h + 2 };
        if self.levels.len() < wanted {
            self.levels.resize_with(wanted, Vec::new);
        }
        // Keep one counter per level even if a caller broke the pairing.
        if self.compactions.len() < self.levels.len() {
            self.compactions.resize(self.levels.len(), 0);
        }
        let Some(level) = self.levels.get_mut(h) else {
            return;
        };
        let items = std::mem::take(level);
        let offset = match self.compactions.get_mut(h) {
            Some(counter) => {
                let parity = (*counter % 2) as usize;
                *counter = counter.wrapping_add(1);
                parity
            }
            None => 0,
        };
        let target = if top_limit { h } else { h + 1 };
        SORT_KEYS.with_borrow_mut(|keys| {
            // Keys of values equal under total_cmp are equal, so every sort gives the same
            // keys. Level 0 and a level strata are picked into arrive in file order: up to
            // 256 keys go through `key_sort`'s network where the CPU has one, more to the
            // unstable sort (0.8% fewer instructions in a validation pass than the stable one
            // on picked strata). Any other level holds the sorted halves promoted into it one
            // after another (after the item its last compaction held back), runs that
            // `key_sort` merges, or the stable sort finds and merges in linear time: merging
            // each half in as it came, into a fresh vector, cost a tenth of a validation
            // pass.
            keys.clear();
            keys.extend(items.iter().map(|&v| float_order::key(v)));
            let order = if h == 0 || raw {
                Order::Raw
            } else {
                Order::Runs
            };
            sort_keys(keys, order);
            let held_back = if keys.len() % 2 == 1 {
                keys.pop().map(float_order::from_key)
            } else {
                None
            };
            let promoted = Promoted { keys, offset };
            let mut kept = items;
            kept.clear();
            kept.extend(held_back);
            if target == h {
                kept.extend((0..promoted.len()).map(|j| promoted.value(j)));
            } else if let Some(next) = self.levels.get_mut(target) {
                next.extend((0..promoted.len()).map(|j| promoted.value(j)));
            }
            if let Some(level) = self.levels.get_mut(h) {
                *level = kept;
            }
        });
    }

    /// Number of non-NaN values summarised (saturating at `u64::MAX`).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True while every value is stored verbatim (no compaction yet).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Smallest value added (`-inf` if one was added); `None` when empty.
    pub fn min(&self) -> Option<f64> {
        if self.neg_inf > 0 {
            Some(f64::NEG_INFINITY)
        } else if self.min.is_some() {
            self.min
        } else if self.pos_inf > 0 {
            Some(f64::INFINITY)
        } else {
            None
        }
    }

    /// Largest value added (`+inf` if one was added); `None` when empty.
    pub fn max(&self) -> Option<f64> {
        if self.pos_inf > 0 {
            Some(f64::INFINITY)
        } else if self.max.is_some() {
            self.max
        } else if self.neg_inf > 0 {
            Some(f64::NEG_INFINITY)
        } else {
            None
        }
    }

    /// Distinct retained values with their total weights, sorted ascending;
    /// weights sum to [`count`](Self::count) (unless it saturated).
    ///
    /// In exact mode the weights are the true multiplicities, which is what
    /// a weighted two-sample test or Wasserstein distance needs.
    pub fn weighted_items(&self) -> Vec<(f64, u64)> {
        let mut items: Vec<(f64, u64)> = Vec::new();
        if self.neg_inf > 0 {
            items.push((f64::NEG_INFINITY, self.neg_inf));
        }
        let mut finite: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, level)| level.iter().map(move |&v| (v, level_weight(h))))
            .collect();
        finite.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (v, w) in finite {
            match items.last_mut() {
                Some(last) if last.0.total_cmp(&v) == Ordering::Equal => {
                    last.1 = last.1.saturating_add(w);
                }
                _ => items.push((v, w)),
            }
        }
        if self.pos_inf > 0 {
            items.push((f64::INFINITY, self.pos_inf));
        }
        items
    }

    /// Every value added, sorted ascending, while the sketch is exact;
    /// `None` once it has compacted.
    pub fn exact_values(&self) -> Option<Vec<f64>> {
        if !self.exact {
            return None;
        }
        let mut values: Vec<f64> = Vec::with_capacity(usize::try_from(self.count).unwrap_or(0));
        values.extend(std::iter::repeat_n(
            f64::NEG_INFINITY,
            usize::try_from(self.neg_inf).unwrap_or(0),
        ));
        let mut finite = self.levels.first().cloned().unwrap_or_default();
        finite.sort_by(f64::total_cmp);
        values.extend(finite);
        values.extend(std::iter::repeat_n(
            f64::INFINITY,
            usize::try_from(self.pos_inf).unwrap_or(0),
        ));
        Some(values)
    }

    /// Value at cumulative fraction `p` of the weight: the smallest retained
    /// value whose cumulative weight reaches `p · count` (the "inverted CDF"
    /// definition, numpy's `method='inverted_cdf'` when exact).
    ///
    /// `p = 0` and `p = 1` return the exact minimum and maximum. Returns
    /// `None` for an empty sketch or `p` outside `[0, 1]` (including NaN).
    /// Quantiles are monotone non-decreasing in `p`.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&p) {
            return None;
        }
        if p == 0.0 {
            return self.min();
        }
        if p == 1.0 {
            return self.max();
        }
        let items = self.weighted_items();
        let total: f64 = items.iter().map(|&(_, w)| w as f64).sum();
        let target = p * total;
        let mut cumulative = 0.0;
        for &(v, w) in &items {
            cumulative += w as f64;
            if cumulative >= target {
                return Some(v);
            }
        }
        self.max()
    }

    /// Estimated fraction of the weight at or below `x` (the empirical CDF
    /// at `x`), in `[0, 1]`.
    ///
    /// Exact in exact mode, and exactly 0 below the minimum and 1 at or above
    /// the maximum in any mode. Returns `NaN` when `x` is NaN or the sketch is
    /// empty, because the fraction is undefined there.
    pub fn rank(&self, x: f64) -> f64 {
        if x.is_nan() || self.count == 0 {
            return f64::NAN;
        }
        if let Some(max) = self.max() {
            if x >= max {
                return 1.0;
            }
        }
        if let Some(min) = self.min() {
            if x < min {
                return 0.0;
            }
        }
        let mut below = self.neg_inf as f64;
        let mut total = (self.neg_inf as f64) + (self.pos_inf as f64);
        for (h, level) in self.levels.iter().enumerate() {
            let w = level_weight(h) as f64;
            total += w * level.len() as f64;
            below += w * level.iter().filter(|&&v| v <= x).count() as f64;
        }
        if total > 0.0 {
            (below / total).clamp(0.0, 1.0)
        } else {
            f64::NAN
        }
    }

    /// Checks every structural invariant; deserialisation calls this, so a
    /// loaded sketch is always safe to query and merge.
    pub fn validate(&self) -> Result<(), SketchError> {
        if !(MIN_K..=MAX_K).contains(&self.k) {
            return Err(SketchError::InvalidParameter {
                name: "k",
                value: self.k as u64,
            });
        }
        if self.exact_capacity > MAX_EXACT_CAPACITY {
            return Err(SketchError::InvalidParameter {
                name: "exact_capacity",
                value: self.exact_capacity as u64,
            });
        }
        if self.levels.is_empty() || self.levels.len() > MAX_LEVELS {
            return Err(SketchError::Corrupt("level count out of range"));
        }
        if self.compactions.len() != self.levels.len() {
            return Err(SketchError::Corrupt(
                "one compaction counter per level required",
            ));
        }
        if self.levels.iter().flatten().any(|v| !v.is_finite()) {
            return Err(SketchError::Corrupt("levels may hold only finite values"));
        }
        let mut weight: u128 = u128::from(self.neg_inf) + u128::from(self.pos_inf);
        let mut finite_items = 0_usize;
        for (h, level) in self.levels.iter().enumerate() {
            weight += u128::from(level_weight(h)) * level.len() as u128;
            finite_items += level.len();
        }
        if weight.min(u128::from(u64::MAX)) != u128::from(self.count) {
            return Err(SketchError::Corrupt("count does not match stored weights"));
        }
        match (self.min, self.max) {
            (None, None) if finite_items == 0 => {}
            (Some(lo), Some(hi))
                if finite_items > 0 && lo.is_finite() && hi.is_finite() && lo <= hi =>
            {
                if self.levels.iter().flatten().any(|&v| v < lo || v > hi) {
                    return Err(SketchError::Corrupt("value outside [min, max]"));
                }
            }
            _ => return Err(SketchError::Corrupt("min/max inconsistent with values")),
        }
        if self.exact {
            if self.levels.iter().skip(1).any(|l| !l.is_empty()) {
                return Err(SketchError::Corrupt("exact sketch has compacted levels"));
            }
            if self.count > self.exact_capacity as u64 {
                return Err(SketchError::Corrupt(
                    "exact sketch exceeds its exact capacity",
                ));
            }
        } else {
            if self.levels.iter().any(|level| level.len() > self.k) {
                return Err(SketchError::Corrupt("level exceeds its capacity"));
            }
        }
        Ok(())
    }
}

/// Mergeable frequent-items (heavy hitters) counter for categorical columns,
/// using Misra-Gries with batched decrements.
///
/// While at most `capacity` distinct values (default 1024) have been seen,
/// every count is exact. When a new value would exceed the capacity, all
/// counters are decreased by the `(capacity/2 + 1)`-th largest count and
/// non-positive ones are dropped (amortised O(1) per update). The total
/// amount subtracted is reported by [`max_error`](Self::max_error) and
/// bounds every estimate:
///
/// `count_of(v) <= true count of v <= count_of(v) + max_error()`, with
/// `max_error() <= total() / (capacity/2 + 1)`,
///
/// so any value occurring more than `2·total/(capacity+2)` times is always
/// retained. Merging (Agarwal et al., "Mergeable summaries") keeps the same
/// guarantees. Counts saturate at `u64::MAX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FrequentItemsRepr")]
pub struct FrequentItems {
    /// Maximum number of counters kept.
    capacity: usize,
    /// Total weight added, including weight later decremented away.
    total: u64,
    /// Sum of all decrements: the maximum undercount of any estimate.
    max_error: u64,
    /// Counters. A hash map because this is touched once per cell of every label column; it is
    /// written out sorted by value so serialisation stays deterministic.
    #[serde(serialize_with = "serialize_sorted")]
    counts: HashMap<String, u64, FastHash>,
}

/// Serialises counters in value order, whatever order the hash map holds them in.
fn serialize_sorted<S: serde::Serializer>(
    counts: &HashMap<String, u64, FastHash>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let sorted: BTreeMap<&String, &u64> = counts.iter().collect();
    serde::Serialize::serialize(&sorted, serializer)
}

/// Unvalidated mirror of [`FrequentItems`]' serialised form; deserialising
/// goes through it so that [`FrequentItems::validate`] always runs.
#[derive(Deserialize)]
struct FrequentItemsRepr {
    /// See [`FrequentItems::capacity`].
    capacity: usize,
    /// See [`FrequentItems::total`].
    total: u64,
    /// See [`FrequentItems::max_error`].
    max_error: u64,
    /// See [`FrequentItems::counts`].
    counts: BTreeMap<String, u64>,
}

impl TryFrom<FrequentItemsRepr> for FrequentItems {
    type Error = SketchError;

    /// Accepts the deserialised fields only if they form a valid counter.
    fn try_from(repr: FrequentItemsRepr) -> Result<Self, Self::Error> {
        let items = FrequentItems {
            capacity: repr.capacity,
            total: repr.total,
            max_error: repr.max_error,
            counts: repr.counts.into_iter().collect(),
        };
        items.validate()?;
        Ok(items)
    }
}

thread_local! {
    /// The keys of the level being compacted: one buffer per thread instead of an allocation
    /// per compaction, which happens once per `k` values of every numeric column.
    static SORT_KEYS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The half of a sorted level that a compaction promotes: every second key from `offset`.
struct Promoted<'a> {
    /// The level's keys, sorted, without the held-back largest one.
    keys: &'a [u64],
    /// 0 or 1: which half.
    offset: usize,
}

impl Promoted<'_> {
    /// Items promoted.
    fn len(&self) -> usize {
        (self.keys.len() + 1 - self.offset) / 2
    }

    /// The key of the `j`-th promoted item.
    #[inline]
    fn key(&self, j: usize) -> u64 {
        self.keys[self.offset + 2 * j]
    }

    /// The `j`-th promoted item.
    fn value(&self, j: usize) -> f64 {
        float_order::from_key(self.key(j))
    }
}

impl Default for FrequentItems {
    /// Same as [`FrequentItems::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl FrequentItems {
    /// Empty counter with capacity 1024.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_FREQUENT_CAPACITY)
    }

    /// Empty counter keeping at most `capacity` distinct values, clamped to
    /// [`MIN_FREQUENT_CAPACITY`]`..=`[`MAX_FREQUENT_CAPACITY`].
    pub fn with_capacity(capacity: usize) -> Self {
        FrequentItems {
            capacity: capacity.clamp(MIN_FREQUENT_CAPACITY, MAX_FREQUENT_CAPACITY),
            total: 0,
            max_error: 0,
            counts: HashMap::default(),
        }
    }

    /// Maximum number of distinct values tracked.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Counts one occurrence of `value`.
    pub fn add(&mut self, value: &str) {
        self.add_n(value, 1);
    }

    /// Counts `n` occurrences of `value`; `n = 0` is a no-op.
    pub fn add_n(&mut self, value: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.total = self.total.saturating_add(n);
        match self.counts.get_mut(value) {
            Some(c) => *c = c.saturating_add(n),
            None => {
                self.counts.insert(value.to_owned(), n);
                if self.counts.len() > self.capacity {
                    self.purge();
                }
            }
        }
    }

    /// Folds `other` into `self` (counts add, error bounds add). The result
    /// keeps the smaller capacity of the two non-empty inputs.
    pub fn merge(&mut self, other: &FrequentItems) {
        if other.total == 0 {
            return;
        }
        self.capacity = if self.total == 0 {
            other.capacity
        } else {
            self.capacity.min(other.capacity)
        };
        self.total = self.total.saturating_add(other.total);
        self.max_error = self.max_error.saturating_add(other.max_error);
        for (value, &n) in &other.counts {
            let c = self.counts.entry(value.clone()).or_insert(0);
            *c = c.saturating_add(n);
        }
        if self.counts.len() > self.capacity {
            self.purge();
        }
    }

    /// Subtracts the `(capacity/2 + 1)`-th largest count from every counter
    /// and drops those that reach zero, leaving at most `capacity/2`.
    ///
    /// Decrementing by that order statistic rather than by one is what makes
    /// updates amortised O(1) while keeping the Misra-Gries bound.
    fn purge(&mut self) {
        let keep = self.capacity / 2;
        let mut values: Vec<u64> = self.counts.values().copied().collect();
        if values.len() <= keep {
            return;
        }
        values.select_nth_unstable_by(keep, |a, b| b.cmp(a));
        let Some(&decrement) = values.get(keep) else {
            return;
        };
        self.counts.retain(|_, c| {
            *c -= (*c).min(decrement);
            *c > 0
        });
        self.max_error = self.max_error.saturating_add(decrement);
    }

    /// Total weight added (including weight later decremented away).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// True while every count is exact (no decrement has happened).
    pub fn is_exact(&self) -> bool {
        self.max_error == 0
    }

    /// Maximum amount by which any estimate may undercount the truth; 0 when
    /// exact.
    pub fn max_error(&self) -> u64 {
        self.max_error
    }

    /// Number of values currently tracked.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when nothing is tracked (nothing added, or everything purged).
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Estimated count of `value` (a lower bound; see the type docs). Values
    /// not tracked give 0.
    pub fn count_of(&self, value: &str) -> u64 {
        self.counts.get(value).copied().unwrap_or(0)
    }

    /// Tracked values with their estimated counts, by count descending then
    /// value ascending, so equal inputs always list identically.
    pub fn items(&self) -> Vec<(String, u64)> {
        let mut items: Vec<(String, u64)> =
            self.counts.iter().map(|(k, &v)| (k.clone(), v)).collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items
    }

    /// Checks every structural invariant; deserialisation calls this, so a
    /// loaded counter is always consistent.
    pub fn validate(&self) -> Result<(), SketchError> {
        if !(MIN_FREQUENT_CAPACITY..=MAX_FREQUENT_CAPACITY).contains(&self.capacity) {
            return Err(SketchError::InvalidParameter {
                name: "capacity",
                value: self.capacity as u64,
            });
        }
        if self.counts.len() > self.capacity {
            return Err(SketchError::Corrupt("more counters than capacity"));
        }
        if self.counts.values().any(|&c| c == 0) {
            return Err(SketchError::Corrupt("zero counter stored"));
        }
        let counted: u128 = self.counts.values().map(|&c| u128::from(c)).sum();
        let total = u128::from(self.total);
        let saturated = self.total == u64::MAX;
        if counted > total && !saturated {
            return Err(SketchError::Corrupt("counters exceed total"));
        }
        if self.max_error == 0 && counted != total && !saturated {
            return Err(SketchError::Corrupt("exact counters do not sum to total"));
        }
        let bound = u128::from(self.max_error) * (self.capacity as u128 / 2 + 1);
        if bound > total && !saturated {
            return Err(SketchError::Corrupt(
                "error bound exceeds total / (capacity/2 + 1)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// Sorting level 0 by integer keys gives `total_cmp`'s order.
    #[test]
    fn level_sort_matches_total_cmp() {
        let mut values: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 601) as f64 - 300.5)
            .collect();
        values.extend([0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY]);
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        // As a compaction sorts a level: by keys, which are then the values again.
        let mut keys: Vec<u64> = values.iter().map(|&v| float_order::key(v)).collect();
        keys.sort_unstable();
        let values: Vec<f64> = keys.into_iter().map(float_order::from_key).collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values), bits(&expected));
    }

    use super::*;
    use std::collections::HashMap;

    /// Deterministic xorshift64* generator so tests need no RNG crate and
    /// always see the same data.
    struct XorShift(u64);

    impl XorShift {
        /// Next raw 64-bit output.
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Uniform value in `[0, 1)` from the top 53 bits.
        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
        }

        /// Approximately normal value: sum of 12 uniforms minus 6 (Irwin-Hall),
        /// enough to give a bell-shaped, non-uniform test distribution.
        fn normalish(&mut self) -> f64 {
            (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
        }
    }

    /// Largest |sketch rank - true rank| over 199 evenly spaced quantiles of
    /// the data, plus the rank error of the sketch's own quantile estimates.
    fn max_rank_error(sketch: &QuantileSketch, data: &[f64]) -> f64 {
        let mut sorted = data.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let true_rank = |x: f64| sorted.partition_point(|&v| v <= x) as f64 / n;
        let mut worst: f64 = 0.0;
        for i in 1..200 {
            let p = f64::from(i) / 200.0;
            let x = sorted[((p * n) as usize).min(sorted.len() - 1)];
            worst = worst.max((sketch.rank(x) - true_rank(x)).abs());
            // A quantile estimate is off by the distance from p to the rank
            // interval [fraction < q, fraction <= q] that q truly occupies.
            let q = sketch.quantile(p).expect("non-empty");
            let below = sorted.partition_point(|&v| v < q) as f64 / n;
            let at_or_below = true_rank(q);
            worst = worst.max((below - p).max(p - at_or_below).max(0.0));
        }
        worst
    }

    /// Builds a sketch from a slice with default parameters.
    fn sketch_of(data: &[f64]) -> QuantileSketch {
        let mut s = QuantileSketch::new();
        for &x in data {
            s.add(x);
        }
        s
    }

    /// Below the exact capacity every value is kept and queries are exact.
    #[test]
    fn exact_below_capacity() {
        let mut rng = XorShift(7);
        let data: Vec<f64> = (0..DEFAULT_EXACT_CAPACITY)
            .map(|_| rng.normalish())
            .collect();
        let s = sketch_of(&data);
        assert!(s.is_exact());
        assert_eq!(s.count(), data.len() as u64);
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(s.exact_values(), Some(sorted.clone()));
        assert_eq!(s.min(), sorted.first().copied());
        assert_eq!(s.max(), sorted.last().copied());
        assert_eq!(max_rank_error(&s, &data), 0.0);
        // Inverted-CDF quantile: the ceil(p n)-th smallest value.
        assert_eq!(s.quantile(0.5), Some(sorted[1023]));
        let total: u64 = s.weighted_items().iter().map(|&(_, w)| w).sum();
        assert_eq!(total, data.len() as u64);
        let mut s2 = s.clone();
        s2.add(0.5);
        assert!(!s2.is_exact());
        assert!(s2.exact_values().is_none());
    }

    /// Ties are reported once with their multiplicity.
    #[test]
    fn weighted_items_coalesce_ties() {
        let s = sketch_of(&[2.0, 1.0, 2.0, f64::INFINITY, 2.0, f64::NEG_INFINITY]);
        assert_eq!(
            s.weighted_items(),
            vec![
                (f64::NEG_INFINITY, 1),
                (1.0, 1),
                (2.0, 3),
                (f64::INFINITY, 1)
            ]
        );
        assert_eq!(s.rank(2.0), 5.0 / 6.0);
        assert_eq!(s.rank(1.5), 2.0 / 6.0);
        assert_eq!(s.quantile(0.0), Some(f64::NEG_INFINITY));
        assert_eq!(s.quantile(1.0), Some(f64::INFINITY));
    }

    /// Empty sketches and invalid queries give the documented values.
    #[test]
    fn empty_and_invalid_queries() {
        let mut s = QuantileSketch::new();
        s.add(f64::NAN);
        assert_eq!(s.count(), 0);
        assert!(s.is_exact());
        assert_eq!(s.min(), None);
        assert_eq!(s.max(), None);
        assert_eq!(s.quantile(0.5), None);
        assert!(s.rank(1.0).is_nan());
        assert_eq!(s.exact_values(), Some(vec![]));
        s.add(3.0);
        assert_eq!(s.quantile(f64::NAN), None);
        assert_eq!(s.quantile(-0.1), None);
        assert_eq!(s.quantile(1.1), None);
        assert!(s.rank(f64::NAN).is_nan());
        assert_eq!(s.rank(2.0), 0.0);
        assert_eq!(s.rank(3.0), 1.0);
    }

    /// Uniform data: rank error below 1.5% at k = 200 over a million values,
    /// while memory stays small.
    #[test]
    fn rank_error_uniform_1m() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let data: Vec<f64> = (0..1_000_000).map(|_| rng.uniform()).collect();
        let s = sketch_of(&data);
        assert_eq!(s.count(), 1_000_000);
        let err = max_rank_error(&s, &data);
        assert!(err < 0.015, "max rank error {err}");
        let stored: usize = s.levels.iter().map(Vec::len).sum();
        assert!(stored <= DEFAULT_K * s.levels.len(), "stored {stored}");
        assert!(s.levels.len() <= 14, "levels {}", s.levels.len());
    }

    /// Bell-shaped data: same error bound.
    #[test]
    fn rank_error_normalish_1m() {
        let mut rng = XorShift(42);
        let data: Vec<f64> = (0..1_000_000).map(|_| rng.normalish()).collect();
        let s = sketch_of(&data);
        let err = max_rank_error(&s, &data);
        assert!(err < 0.015, "max rank error {err}");
    }

    /// `extend` leaves exactly the sketch that `add` leaves, value by value: through the exact
    /// phase, compactions at every level, infinities, NaN and zeros of both signs.
    #[test]
    fn extend_is_add_in_order() {
        let mut rng = XorShift(7);
        let mut values: Vec<f64> = (0..50_000)
            .map(|i| match i % 997 {
                0 => f64::INFINITY,
                1 => f64::NEG_INFINITY,
                2 => f64::NAN,
                3 => 0.0,
                4 => -0.0,
                _ => (rng.normalish() * 1e3).round() / 10.0,
            })
            .collect();
        values.extend((0..5_000).map(|i| -(i as f64)));
        // Exact capacities above `k`, below it and none at all: the exact phase ends after a
        // compaction is due, before, or at once.
        for (k, exact) in [(MIN_K, 300), (DEFAULT_K, 300), (DEFAULT_K, 5), (MIN_K, 0)] {
            for chunk in [1, 7, 1024, 100_000] {
                let mut one_by_one = QuantileSketch::with_params(k, exact);
                let mut extended = QuantileSketch::with_params(k, exact);
                for (i, c) in values.chunks(chunk).enumerate() {
                    c.iter().for_each(|&v| one_by_one.add(v));
                    extended.extend(c);
                    // Between chunks too, while the exact phase ends.
                    if i % 64 == 0 {
                        assert_eq!(extended, one_by_one, "k {k}, exact {exact}, chunk {i}");
                    }
                }
                assert_eq!(
                    extended, one_by_one,
                    "k {k}, exact {exact}, chunks of {chunk}"
                );
                assert_eq!(
                    serde_json::to_string(&extended).unwrap(),
                    serde_json::to_string(&one_by_one).unwrap()
                );
            }
        }
    }

    /// Merging sketches of two halves is as accurate as sketching the whole.
    #[test]
    fn merge_of_halves_matches_whole() {
        let mut rng = XorShift(2024);
        let data: Vec<f64> = (0..1_000_000).map(|_| rng.normalish()).collect();
        let (left, right) = data.split_at(data.len() / 2);
        let mut merged = sketch_of(left);
        merged.merge(&sketch_of(right));
        assert_eq!(merged.count(), data.len() as u64);
        assert!(merged.validate().is_ok());
        let err = max_rank_error(&merged, &data);
        assert!(err < 0.015, "max rank error {err}");
        assert_eq!(merged.min(), data.iter().copied().reduce(f64::min));
        assert_eq!(merged.max(), data.iter().copied().reduce(f64::max));
    }

    /// Sorted and reverse-sorted streams (timestamps, ids) stay accurate.
    #[test]
    fn rank_error_sorted_streams() {
        let ascending: Vec<f64> = (0..300_000).map(f64::from).collect();
        let descending: Vec<f64> = ascending.iter().rev().copied().collect();
        for data in [&ascending, &descending] {
            let err = max_rank_error(&sketch_of(data), data);
            assert!(err < 0.015, "max rank error {err}");
        }
    }

    /// Profiles merged from many partitions keep the same accuracy.
    #[test]
    fn merge_of_many_shards() {
        let mut rng = XorShift(77);
        let data: Vec<f64> = (0..500_000).map(|_| rng.uniform().powi(3)).collect();
        let mut merged = QuantileSketch::new();
        for shard in data.chunks(5_000) {
            merged.merge(&sketch_of(shard));
        }
        assert_eq!(merged.count(), data.len() as u64);
        assert!(merged.validate().is_ok());
        let err = max_rank_error(&merged, &data);
        assert!(err < 0.015, "max rank error {err}");
    }

    /// Two exact sketches merge to the exact sketch of the concatenation.
    #[test]
    fn merge_of_exact_sketches_is_exact() {
        let a = sketch_of(&[3.0, 1.0, 2.0]);
        let b = sketch_of(&[5.0, 4.0]);
        let mut m = a.clone();
        m.merge(&b);
        assert!(m.is_exact());
        assert_eq!(m.exact_values(), Some(vec![1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!(m, sketch_of(&[3.0, 1.0, 2.0, 5.0, 4.0]));
        let mut e = QuantileSketch::with_k(400);
        e.merge(&a);
        assert_eq!(e.k(), DEFAULT_K);
        let mut unchanged = a.clone();
        unchanged.merge(&QuantileSketch::with_k(16));
        assert_eq!(unchanged, a);
    }

    /// JSON round trip preserves the sketch exactly, in both modes.
    #[test]
    fn serde_round_trip() {
        let mut rng = XorShift(5);
        for n in [0_usize, 10, 5000, 100_000] {
            let mut s = QuantileSketch::new();
            for _ in 0..n {
                s.add(rng.normalish());
            }
            for extreme in [
                f64::INFINITY,
                5e-324,
                -1.797_693_134_862_315_7e308,
                -0.0,
                0.1,
            ] {
                s.add(extreme);
            }
            let json = serde_json::to_string(&s).expect("serialisable");
            let back: QuantileSketch = serde_json::from_str(&json).expect("valid");
            assert_eq!(back, s);
            // Bit-exact, not merely approximately equal.
            let bits = |q: &QuantileSketch| -> Vec<u64> {
                q.levels.iter().flatten().map(|v| v.to_bits()).collect()
            };
            assert_eq!(bits(&back), bits(&s));
            assert_eq!(serde_json::to_string(&back).expect("serialisable"), json);
        }
    }

    /// Values are written as exact decimal strings; plain JSON numbers are
    /// accepted when reading.
    #[test]
    fn json_format() {
        let s = sketch_of(&[0.5, 2.25, 1.0]);
        let json = serde_json::to_string(&s).expect("serialisable");
        assert_eq!(
            json,
            concat!(
                r#"{"k":200,"exact_capacity":2048,"exact":true,"count":3,"#,
                r#""min":"0.5","max":"2.25","neg_inf":0,"pos_inf":0,"#,
                r#""levels":[["0.5","2.25","1.0"]],"compactions":[0]}"#
            )
        );
        let plain = r#"{"k":200,"exact_capacity":2048,"exact":true,"count":3,
            "min":0.5,"max":2.25,"neg_inf":0,"pos_inf":0,
            "levels":[[0.5,2.25,1]],"compactions":[0]}"#;
        let back: QuantileSketch = serde_json::from_str(plain).expect("numbers accepted");
        assert_eq!(back, s);
    }

    /// Same input order, byte-identical JSON (no hidden randomness).
    #[test]
    fn deterministic_serialisation() {
        let build = || {
            let mut rng = XorShift(99);
            let mut s = QuantileSketch::with_k(64);
            for _ in 0..200_000 {
                s.add(rng.uniform() * 1000.0);
            }
            serde_json::to_string(&s).expect("serialisable")
        };
        assert_eq!(build(), build());
    }

    /// Corrupt profiles fail to load with an error instead of panicking.
    #[test]
    fn corrupt_json_is_rejected() {
        let mut s = QuantileSketch::new();
        for i in 0..5000 {
            s.add(f64::from(i));
        }
        let good: serde_json::Value = serde_json::to_value(&s).expect("serialisable");
        let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            serde_json::from_value::<QuantileSketch>(v)
        };
        assert!(tamper(&|_| {}).is_ok());
        assert!(tamper(&|v| v["count"] = 1.into()).is_err());
        assert!(tamper(&|v| v["k"] = 0.into()).is_err());
        assert!(tamper(&|v| v["k"] = u64::MAX.into()).is_err());
        assert!(tamper(&|v| v["min"] = 1e9.into()).is_err());
        assert!(tamper(&|v| v["min"] = serde_json::Value::Null).is_err());
        assert!(tamper(&|v| v["exact"] = true.into()).is_err());
        assert!(tamper(&|v| v["compactions"] = serde_json::json!([])).is_err());
        assert!(tamper(&|v| v["levels"] = serde_json::json!([])).is_err());
        // The top level is never empty after compaction.
        let top = s.levels.len() - 1;
        assert!(tamper(&|v| v["levels"][top] = serde_json::json!([null])).is_err());
        assert!(tamper(&|v| v["levels"][top][0] = "inf".into()).is_err());
        assert!(tamper(&|v| v["levels"][top][0] = "not a number".into()).is_err());
        assert!(tamper(&|v| v["max"] = "NaN".into()).is_err());
        assert!(tamper(&|v| {
            v["levels"][0] = serde_json::json!(vec![1.0; 10_000]);
        })
        .is_err());
        assert!(serde_json::from_str::<QuantileSketch>("{}").is_err());
        assert!(serde_json::from_str::<QuantileSketch>("[1,2]").is_err());
    }

    /// Tiny k, zero exact capacity and huge merges all work.
    #[test]
    fn extreme_parameters() {
        let mut s = QuantileSketch::with_params(0, 0);
        assert_eq!(s.k(), MIN_K);
        for i in 0..10_000 {
            s.add(f64::from(i));
        }
        assert!(!s.is_exact());
        assert!(s.validate().is_ok());
        let mut doubled = s.clone();
        for _ in 0..70 {
            let copy = doubled.clone();
            doubled.merge(&copy);
        }
        assert_eq!(doubled.count(), u64::MAX);
        assert!(doubled.levels.len() <= MAX_LEVELS);
        assert!(doubled.validate().is_ok());
        let q = doubled.quantile(0.5).expect("non-empty");
        assert!((0.0..10_000.0).contains(&q));
    }

    /// Values are written as `{:?}` writes them, the longest ones included.
    #[test]
    fn float_text_is_the_debug_form() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.5e-7,
            1e16,
            1e17,
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 3.0,
            -2.2250738585072014e-308,
            f64::EPSILON,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for v in values {
            let json = serde_json::to_string(&FloatText(v)).unwrap();
            assert_eq!(json, format!("\"{v:?}\""));
        }
    }

    proptest::proptest! {
        /// Any `f64`'s text is its `{:?}` form.
        #[test]
        fn any_float_text_is_the_debug_form(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            let json = serde_json::to_string(&FloatText(v)).unwrap();
            proptest::prop_assert_eq!(json, format!("\"{v:?}\""));
        }

        /// Arbitrary values (NaN, infinities, subnormals) and merges never
        /// panic, counts add up, quantiles are monotone in p, ranks stay in
        /// [0, 1], and the JSON always reloads.
        #[test]
        fn quantile_sketch_never_panics(
            a in proptest::collection::vec(proptest::num::f64::ANY, 0..300),
            b in proptest::collection::vec(proptest::num::f64::ANY, 0..300),
            k in 0_usize..40,
            cap in 0_usize..50,
            ps in proptest::collection::vec(0.0_f64..=1.0, 0..20),
        ) {
            let mut s = QuantileSketch::with_params(k, cap);
            let mut t = QuantileSketch::with_params(k + 3, cap / 2);
            for &x in &a { s.add(x); }
            for &x in &b { t.add(x); }
            s.merge(&t);
            let expected = a.iter().chain(&b).filter(|x| !x.is_nan()).count() as u64;
            proptest::prop_assert_eq!(s.count(), expected);
            proptest::prop_assert!(s.validate().is_ok());
            let mut ps = ps;
            ps.sort_by(f64::total_cmp);
            let mut last = f64::NEG_INFINITY;
            for &p in &ps {
                match s.quantile(p) {
                    Some(q) => {
                        proptest::prop_assert!(q >= last);
                        last = q;
                    }
                    None => proptest::prop_assert_eq!(expected, 0),
                }
            }
            for &x in a.iter().chain(&b) {
                let r = s.rank(x);
                proptest::prop_assert!(r.is_nan() || (0.0..=1.0).contains(&r));
            }
            let json = serde_json::to_string(&s).expect("serialisable");
            let back: QuantileSketch = serde_json::from_str(&json).expect("reloads");
            proptest::prop_assert_eq!(back, s);
        }

        /// Misra-Gries guarantees hold for any stream and merge: estimates
        /// never exceed the truth nor undercount it by more than
        /// `max_error`, which itself respects `total / (capacity/2 + 1)`.
        #[test]
        fn frequent_items_bounds_hold(
            a in proptest::collection::vec((0_u8..40, 0_u64..5), 0..300),
            b in proptest::collection::vec((0_u8..40, 0_u64..5), 0..300),
            cap in 0_usize..20,
        ) {
            let mut truth: HashMap<String, u64> = HashMap::new();
            let mut fa = FrequentItems::with_capacity(cap);
            let mut fb = FrequentItems::with_capacity(cap + 5);
            for &(v, n) in &a {
                let key = format!("v{v}");
                fa.add_n(&key, n);
                *truth.entry(key).or_insert(0) += n;
            }
            for &(v, n) in &b {
                let key = format!("v{v}");
                fb.add_n(&key, n);
                *truth.entry(key).or_insert(0) += n;
            }
            fa.merge(&fb);
            proptest::prop_assert!(fa.validate().is_ok());
            let total: u64 = truth.values().sum();
            proptest::prop_assert_eq!(fa.total(), total);
            proptest::prop_assert!(fa.len() <= fa.capacity());
            for (key, &n) in &truth {
                let est = fa.count_of(key);
                proptest::prop_assert!(est <= n);
                proptest::prop_assert!(n <= est + fa.max_error());
            }
            if fa.is_exact() {
                for (key, &n) in &truth {
                    proptest::prop_assert_eq!(fa.count_of(key), n);
                }
            }
            let json = serde_json::to_string(&fa).expect("serialisable");
            let back: FrequentItems = serde_json::from_str(&json).expect("reloads");
            proptest::prop_assert_eq!(back, fa);
        }
    }

    /// Exact while distinct values fit the capacity; listing order is by
    /// count descending, then value ascending.
    #[test]
    fn frequent_items_exact_below_capacity() {
        let mut f = FrequentItems::with_capacity(4);
        for (v, n) in [("b", 3_u64), ("a", 3), ("c", 5), ("d", 1)] {
            f.add_n(v, n);
        }
        f.add_n("zero", 0);
        assert!(f.is_exact());
        assert_eq!(f.total(), 12);
        assert_eq!(
            f.items(),
            vec![
                ("c".to_owned(), 5),
                ("a".to_owned(), 3),
                ("b".to_owned(), 3),
                ("d".to_owned(), 1)
            ]
        );
        assert_eq!(f.count_of("zero"), 0);
        f.add("e");
        assert!(!f.is_exact());
        assert!(f.len() <= 2);
        assert!(f.count_of("c") >= 5 - f.max_error());
    }

    /// Heavy hitters survive a long high-cardinality stream at the default
    /// capacity, within the documented error.
    #[test]
    fn frequent_items_heavy_hitters() {
        let mut rng = XorShift(11);
        let mut f = FrequentItems::new();
        let mut heavy = 0_u64;
        for i in 0..200_000_u64 {
            if i % 10 == 0 {
                f.add("heavy");
                heavy += 1;
            } else {
                f.add(&format!("id{}", rng.next_u64() % 50_000));
            }
        }
        assert!(!f.is_exact());
        assert!(f.max_error() <= f.total() / (f.capacity() as u64 / 2 + 1));
        let est = f.count_of("heavy");
        assert!(est <= heavy && heavy <= est + f.max_error());
        assert_eq!(f.items().first().map(|(v, _)| v.as_str()), Some("heavy"));
    }

    /// Merging exact counters gives the exact counts of the combined stream.
    #[test]
    fn frequent_items_merge_exact() {
        let mut a = FrequentItems::new();
        let mut b = FrequentItems::with_capacity(8);
        a.add_n("x", 3);
        b.add_n("x", 2);
        b.add("y");
        a.merge(&b);
        assert!(a.is_exact());
        assert_eq!(a.capacity(), 8);
        assert_eq!(a.total(), 6);
        assert_eq!(a.items(), vec![("x".to_owned(), 5), ("y".to_owned(), 1)]);
        let before = a.clone();
        a.merge(&FrequentItems::new());
        assert_eq!(a, before);
    }

    /// Serialisation is sorted (deterministic) and reloads; order of
    /// insertion does not matter while exact.
    #[test]
    fn frequent_items_serialisation() {
        let mut a = FrequentItems::new();
        let mut b = FrequentItems::new();
        for v in ["x", "y", "x", "z"] {
            a.add(v);
        }
        for v in ["z", "x", "y", "x"] {
            b.add(v);
        }
        let ja = serde_json::to_string(&a).expect("serialisable");
        assert_eq!(ja, serde_json::to_string(&b).expect("serialisable"));
        assert_eq!(
            ja,
            r#"{"capacity":1024,"total":4,"max_error":0,"counts":{"x":2,"y":1,"z":1}}"#
        );
        let back: FrequentItems = serde_json::from_str(&ja).expect("valid");
        assert_eq!(back, a);
    }

    /// Corrupt frequency profiles are rejected on load.
    #[test]
    fn frequent_items_corrupt_json_is_rejected() {
        let bad = [
            r#"{"capacity":1,"total":0,"max_error":0,"counts":{}}"#,
            r#"{"capacity":4,"total":3,"max_error":0,"counts":{"a":2}}"#,
            r#"{"capacity":4,"total":3,"max_error":0,"counts":{"a":2,"b":0,"c":1}}"#,
            r#"{"capacity":2,"total":9,"max_error":1,"counts":{"a":2,"b":3,"c":1}}"#,
            r#"{"capacity":4,"total":3,"max_error":5,"counts":{"a":1}}"#,
            r#"{"capacity":4,"total":1,"max_error":0,"counts":{"a":5}}"#,
            r#"{"capacity":4}"#,
        ];
        for json in bad {
            assert!(
                serde_json::from_str::<FrequentItems>(json).is_err(),
                "{json}"
            );
        }
        let ok = r#"{"capacity":4,"total":9,"max_error":2,"counts":{"a":2}}"#;
        assert!(serde_json::from_str::<FrequentItems>(ok).is_ok());
    }

    /// Error messages name the problem.
    #[test]
    fn error_display() {
        let e = SketchError::InvalidParameter {
            name: "k",
            value: 3,
        };
        assert_eq!(e.to_string(), "sketch parameter `k` out of range: 3");
        assert_eq!(SketchError::Corrupt("x").to_string(), "corrupt sketch: x");
    }
}
