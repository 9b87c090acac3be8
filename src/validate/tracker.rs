//! Bounded-memory bookkeeping for checks that look at every row: violation examples and
//! repeated-key detection (unique columns, duplicate rows).
//!
//! Repeats are found by hashing each key to 64 bits and counting hashes. Up to `capacity`
//! distinct hashes the count is exact; past it the tracker keeps only hashes whose top bits are
//! zero (a sample that halves each time it fills). Equal keys have equal hashes, so a repeated
//! key is either wholly in the sample or wholly out, and the repeat share measured on the sample
//! is an unbiased estimate of the whole file's. This keeps the memory of a 100 GB file at that of
//! a small one; the report says when a figure is estimated and at what sampling rate.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

/// The most example rows kept per check.
pub const MAX_EXAMPLES: usize = 5;

/// One offending row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    /// 1-based data row.
    pub row: u64,
    /// The offending value, as text (absent for missing values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// For repeats: the earlier row this one repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats_row: Option<u64>,
}

/// A count of offending rows with the first few as examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Violations {
    /// Offending rows.
    pub count: u64,
    /// The first [`MAX_EXAMPLES`] of them.
    pub examples: Vec<Example>,
}

impl Violations {
    /// Records an offending row; the value is only rendered while examples are still wanted.
    pub fn record(&mut self, row: u64, value: impl FnOnce() -> Option<String>) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Example {
                row,
                value: value().map(|v| truncate(&v, 80)),
                repeats_row: None,
            });
        }
    }
}

/// Slots of the repeat table per occurrence: about one occurrence in this many shares its
/// slot with an unrelated hash and has to be sorted with the repeats.
const SLOTS_PER_OCCURRENCE: usize = 8;

/// Every row whose hash occurred at an earlier row, paired with that first row.
///
/// A table of two bits per slot, indexed by the hash's low bits, marks in one pass each slot
/// seen once and each seen again; a second pass keeps the occurrences whose slot was seen
/// again: every repeated hash, and the few that share a slot with another. Only those are
/// sorted, by hash alone (cheaper than by hash and row); a run's smallest row is its first.
/// Two counting sorts of every occurrence did the same with several times the work, and a
/// buffer as large as all occurrences, fresh pages that each cost a fault. Sixteen slots an
/// occurrence ran fewer instructions but took more time: the table (4 MiB at a million) no
/// longer fit a core's L2.
fn repeated_rows<'a>(parts: impl Iterator<Item = &'a Part> + Clone) -> Vec<(u64, u64)> {
    let occurrences = parts.clone().map(|part| part.entries.len()).sum::<usize>();
    if occurrences < 2 {
        return Vec::new();
    }
    let mut table = SlotTable::for_occurrences(occurrences);
    for part in parts.clone() {
        part.entries.iter().for_each(|&(hash, _)| table.mark(hash));
    }
    // Room up front for the occurrences that share a slot (about one in eight) and for some
    // repeats: grown by doubling, the vector was moved into fresh pages at each step.
    let mut shared: Vec<(u64, u64)> = Vec::with_capacity(occurrences / 4);
    shared.extend(parts.flat_map(|part| {
        let table = &table;
        (part.entries.iter())
            .filter(move |&&(hash, _)| table.seen_again(hash))
            .map(move |&(hash, row)| (hash, row + part.row_offset))
    }));
    shared.sort_unstable_by_key(|&(hash, _)| hash);
    let mut repeats = Vec::new();
    for run in shared.chunk_by(|a, b| a.0 == b.0) {
        if let [_, _, ..] = run {
            let first_row = run.iter().map(|&(_, row)| row).min().unwrap_or_default();
            let later = run.iter().filter(|&&(_, row)| row != first_row);
            repeats.extend(later.map(|&(_, row)| (row, first_row)));
        }
    }
    repeats
}

/// The share of `sampled` occurrences that repeat an earlier one.
fn sampled_fraction(repeated: u64, sampled: u64) -> f64 {
    if sampled == 0 {
        0.0
    } else {
        repeated as f64 / sampled as f64
    }
}

/// Two bits per slot of hashes: seen once, seen again.
struct SlotTable {
    /// 32 slots per word, slot `s` at bits `2 * (s % 32)` (seen) and the one above (again).
    words: Vec<u64>,
    /// The hash bits that pick a slot.
    mask: u64,
}

impl SlotTable {
    /// An empty table for `occurrences` hashes.
    fn for_occurrences(occurrences: usize) -> SlotTable {
        let slots = (occurrences.saturating_mul(SLOTS_PER_OCCURRENCE))
            .next_power_of_two()
            .max(64);
        // Zeros written, not asked of the allocator: a zeroed allocation is fresh pages that
        // the first read maps to the kernel's zero page, so each first write then faults again
        // and flushes every other core's TLB.
        #[expect(
            clippy::slow_vector_initialization,
            reason = "`vec![0; n]` asks for zeroed pages, the faults this avoids"
        )]
        let mut words = Vec::with_capacity(slots / 32);
        words.resize(slots / 32, 0);
        SlotTable {
            words,
            mask: slots as u64 - 1,
        }
    }

    /// The word and bit of the "seen" mark of `hash`'s slot.
    #[inline(always)]
    fn place(&self, hash: u64) -> (usize, u32) {
        let slot = (hash & self.mask) as usize;
        (slot / 32, 2 * (slot % 32) as u32)
    }

    /// Marks `hash`'s slot seen, or seen again when it already was.
    #[inline(always)]
    fn mark(&mut self, hash: u64) {
        let (word, bit) = self.place(hash);
        let seen = (self.words[word] >> bit) & 1;
        self.words[word] |= 1 << (bit + seen as u32);
    }

    /// Whether `hash`'s slot was marked twice or more.
    #[inline(always)]
    fn seen_again(&self, hash: u64) -> bool {
        let (word, bit) = self.place(hash);
        (self.words[word] >> (bit + 1)) & 1 == 1
    }
}

impl Violations {
    /// Adds a later block's violations, keeping the first examples in file order.
    pub fn absorb(&mut self, later: Violations, rows_before: u64) {
        self.count += later.count;
        for mut example in later.examples {
            if self.examples.len() >= MAX_EXAMPLES {
                break;
            }
            example.row += rows_before;
            self.examples.push(example);
        }
    }
}

/// Shortens long values for reports, on a character boundary.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The sampling depths a hash's leading zero bits can reach: a hash with `z` leading zeros
/// is in the sample of every `shift` up to `z` (a zero hash, in all of them).
const DEPTHS: usize = 64;

/// Occurrences as (hash, row), in parts by how many leading zero bits the hash has: halving
/// the sample drops the parts of the shallowest depth whole, where filtering every
/// occurrence was a few percent of a pass over a large file. Equal hashes share a depth, so
/// each hash's occurrences stay in row order. Appending another tracker's part takes it as
/// it is, where one vector would copy it and grow.
#[derive(Debug, Clone)]
struct Parts {
    /// Parts by the leading zeros of their hashes (capped at `DEPTHS - 1`), each in row
    /// order; occurrences go to the last.
    by_depth: Vec<Vec<Part>>,
    /// Occurrences in all parts.
    held: usize,
}

impl Default for Parts {
    fn default() -> Parts {
        Parts {
            by_depth: vec![Vec::new(); DEPTHS],
            held: 0,
        }
    }
}

/// Occurrences with rows counted from a block's start, and where that block starts: adding
/// it to every row when the block is folded in was another pass over the occurrences.
#[derive(Debug, Clone, Default)]
struct Part {
    /// Rows before the block's first.
    row_offset: u64,
    /// Occurrences as (hash, row within the block), in row order.
    entries: Vec<(u64, u64)>,
}

impl Part {
    /// A block's part holding `entry`, with room for `expected` occurrences.
    #[cold]
    fn starting_with(entry: (u64, u64), expected: usize) -> Part {
        let mut entries = Vec::with_capacity(expected.max(1));
        entries.push(entry);
        Part {
            row_offset: 0,
            entries,
        }
    }
}

/// Per depth, how many occurrences the blocks folded in so far held, so that a block's part
/// starts with room for them. A part that grew by doubling was moved at each step, and
/// jemalloc (the Linux release build's allocator) copies the whole old allocation: at a
/// million rows, a quarter of the pass's page faults.
#[derive(Debug)]
struct PartSizes([AtomicUsize; DEPTHS]);

impl Default for PartSizes {
    fn default() -> PartSizes {
        PartSizes(std::array::from_fn(|_| AtomicUsize::new(0)))
    }
}

impl PartSizes {
    /// Room for a part at `depth`: the largest seen, and an eighth more, since blocks differ
    /// a little in rows and in how many of their hashes fall at each depth.
    fn expected(&self, depth: usize) -> usize {
        let largest = self.0[depth].load(Ordering::Relaxed);
        largest + largest / 8
    }

    /// Notes a part of `len` occurrences at `depth`.
    fn note(&self, depth: usize, len: usize) {
        self.0[depth].fetch_max(len, Ordering::Relaxed);
    }
}

/// The depth of a hash: its leading zero bits, capped. A hash is in the sample of `shift`
/// (its top `shift` bits zero) when its depth is at least `shift`.
#[inline(always)]
fn depth(hash: u64) -> usize {
    (hash.leading_zeros() as usize).min(DEPTHS - 1)
}

impl Parts {
    /// Adds an occurrence, whose hash is at `depth`, after all others; a new part is sized
    /// by `sizes`.
    #[inline(always)]
    fn push(&mut self, depth: usize, entry: (u64, u64), sizes: &PartSizes) {
        let parts = &mut self.by_depth[depth];
        match parts.last_mut() {
            Some(last) if last.row_offset == 0 => last.entries.push(entry),
            _ => parts.push(Part::starting_with(entry, sizes.expected(depth))),
        }
        self.held += 1;
    }

    /// Every part, depth by depth.
    fn parts(&self) -> impl Iterator<Item = &Part> + Clone {
        self.by_depth.iter().flatten()
    }

    /// Adds the parts of `later`, whose rows follow this one's `row_offset` rows later,
    /// keeping those in the sample of `shift`, and notes their sizes in `sizes`.
    fn append(&mut self, later: Parts, row_offset: u64, shift: u32, sizes: &PartSizes) {
        let depths = self.by_depth.iter_mut().zip(later.by_depth).enumerate();
        for (depth, (mine, theirs)) in depths.skip(shift as usize) {
            for mut part in theirs {
                sizes.note(depth, part.entries.len());
                part.row_offset += row_offset;
                // A block's vector has room to spare (sized ahead, or grown by doubling): it
                // would be held to the end.
                part.entries.shrink_to_fit();
                self.held += part.entries.len();
                mine.push(part);
            }
        }
    }

    /// Drops the occurrences outside the sample of `shift`.
    fn keep_sampled(&mut self, shift: u32) {
        for parts in self.by_depth.iter_mut().take(shift as usize) {
            self.held -= parts.iter().map(|part| part.entries.len()).sum::<usize>();
            *parts = Vec::new();
        }
    }
}

/// Detects repeated keys in bounded memory (see the module docs).
///
/// Occurrences are appended to a vector and sorted once at the end: sequential writes and one
/// sort are several times faster than a hash table's random probes at millions of rows.
///
/// A tracker made by [`RepeatTracker::new`] decides when its sample halves; trackers
/// [split](RepeatTracker::split) from it, one per block of rows, never halve on their own.
/// They start at the sampling depth the first has reached by then (it only deepens, and
/// their rows are folded in after it got there), so they keep no occurrence that folding
/// would drop, and the result is the same whenever they were split.
#[derive(Debug, Clone)]
pub struct RepeatTracker {
    /// Sampled occurrences as (hash, row).
    entries: Parts,
    /// Hashes are sampled when their top `shift` bits are zero.
    shift: u32,
    /// Most occurrences held before the sample halves; `None` for a split tracker.
    capacity: Option<usize>,
    /// Keys offered.
    offered: u64,
    /// Rows known to repeat no other, counted without being offered.
    distinct: u64,
    /// The deepest `shift` the tracker made by `new` has reached, shared with its splits.
    reached: Arc<AtomicU32>,
    /// The sizes of the parts folded into the tracker made by `new`, shared with its splits.
    sizes: Arc<PartSizes>,
}

/// What a [`RepeatTracker`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatSummary {
    /// Rows whose key appeared earlier (exact, or estimated for the whole file).
    pub repeats: u64,
    /// `repeats` as a share of all rows.
    pub fraction: f64,
    /// Whether the figures are exact.
    pub exact: bool,
    /// The share of keys that were examined.
    pub sampling_rate: f64,
    /// The first repeated rows, each with the earlier row it repeats.
    pub examples: Vec<Example>,
}

impl RepeatTracker {
    /// A tracker that stays exact up to `capacity` rows.
    pub fn new(capacity: usize) -> RepeatTracker {
        RepeatTracker {
            entries: Parts::default(),
            shift: 0,
            capacity: Some(capacity.max(16)),
            offered: 0,
            distinct: 0,
            reached: Arc::default(),
            sizes: Arc::default(),
        }
    }

    /// An empty tracker for rows to be folded into this one's (or into the tracker this one
    /// was split from), sampling as deep as that one has by now.
    pub fn split(&self) -> RepeatTracker {
        RepeatTracker {
            entries: Parts::default(),
            shift: self.reached.load(Ordering::Relaxed),
            capacity: None,
            offered: 0,
            distinct: 0,
            reached: Arc::clone(&self.reached),
            sizes: Arc::clone(&self.sizes),
        }
    }

    /// Counts the key of `row`.
    #[inline(always)]
    pub fn offer(&mut self, hash: u64, row: u64) {
        self.offered += 1;
        let depth = depth(hash);
        if depth < self.shift as usize {
            return;
        }
        self.entries.push(depth, (hash, row), &self.sizes);
        if self
            .capacity
            .is_some_and(|capacity| self.entries.held > capacity)
        {
            self.halve_while_over_capacity();
        }
    }

    /// Halves the sample until it fits the capacity (never, for a split tracker), and tells
    /// the splits how deep it now is.
    #[cold]
    fn halve_while_over_capacity(&mut self) {
        let Some(capacity) = self.capacity else {
            return;
        };
        if self.entries.held <= capacity || self.shift >= 63 {
            return;
        }
        while self.entries.held > capacity && self.shift < 63 {
            self.shift += 1;
            self.entries.keep_sampled(self.shift);
        }
        self.reached.fetch_max(self.shift, Ordering::Relaxed);
    }

    /// Folds in a tracker of the rows that follow this one's (`row_offset` rows later).
    pub fn append(&mut self, other: RepeatTracker, row_offset: u64) {
        self.offered += other.offered;
        self.distinct += other.distinct;
        // Only what the sample leaves out is dropped: this tracker's entries when the other's
        // sample is sparser, and the other's by this sample.
        if other.shift > self.shift {
            self.shift = other.shift;
            self.entries.keep_sampled(self.shift);
        }
        self.entries
            .append(other.entries, row_offset, self.shift, &self.sizes);
        self.halve_while_over_capacity();
    }

    /// Counts `rows` rows that are known to repeat no other row and none of them each other
    /// (proved some other way), without offering them.
    pub fn add_distinct(&mut self, rows: u64) {
        self.distinct += rows;
    }

    /// Occurrences held.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.entries.held
    }

    /// The repeat count and share, exact or estimated, with the first repeated rows.
    pub fn summary(&self) -> RepeatSummary {
        let mut repeats = repeated_rows(self.entries.parts());
        let sampled = self.entries.held as u64;
        let repeated = repeats.len() as u64;
        let fraction = sampled_fraction(repeated, sampled);
        let exact = self.shift == 0;
        // Rows known to be distinct dilute the share; without any it stays the sample's own.
        let fraction = match (self.distinct, exact) {
            (0, _) => fraction,
            (distinct, true) => repeated as f64 / (self.offered + distinct) as f64,
            (distinct, false) => fraction * self.offered as f64 / (self.offered + distinct) as f64,
        };
        repeats.sort_unstable();
        let examples = repeats
            .iter()
            .take(MAX_EXAMPLES)
            .map(|&(row, first_row)| Example {
                row,
                value: None,
                repeats_row: Some(first_row),
            })
            .collect();
        RepeatSummary {
            repeats: if exact {
                repeated
            } else {
                (sampled_fraction(repeated, sampled) * self.offered as f64).round() as u64
            },
            fraction,
            exact,
            sampling_rate: 0.5f64.powi(self.shift as i32),
            examples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-spread 64-bit hash of a small integer key.
    fn h(key: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&key.to_le_bytes())
    }

    #[test]
    fn repeats_pair_each_row_with_the_first_of_its_hash() {
        // Hashes that share their low 20 bits in long runs and differ above them, in parts at
        // several offsets, against a map of first rows.
        let hash = |key: u64| ((key % 7) << 40) | ((key % 3_000) << 3) | (key % 5);
        let mut parts = Vec::new();
        for (block, offset) in [0u64, 5_000, 12_000].into_iter().enumerate() {
            let entries: Vec<(u64, u64)> = (0..4_000u64)
                .map(|i| (hash(i % 2_500 * 31 + block as u64 * 17), i + 1))
                .collect();
            parts.push(Part {
                row_offset: offset,
                entries,
            });
        }
        let mut repeats = repeated_rows(parts.iter());
        repeats.sort_unstable();
        let expected = pairs_with_first_rows(&parts);
        assert!(expected.len() > 3_000, "{}", expected.len());
        assert_eq!(repeats, expected);
    }

    /// Each later occurrence of a hash paired with its first row, by a map of first rows, for
    /// parts in row order; sorted.
    fn pairs_with_first_rows(parts: &[Part]) -> Vec<(u64, u64)> {
        let mut first_rows = std::collections::HashMap::new();
        let mut pairs = Vec::new();
        for part in parts {
            for &(hash, row) in &part.entries {
                let row = row + part.row_offset;
                match first_rows.get(&hash) {
                    Some(&first) => pairs.push((row, first)),
                    None => {
                        first_rows.insert(hash, row);
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }

    #[test]
    fn hashes_that_only_share_a_slot_are_not_repeats() {
        // Every hash has the same low bits, so all share one slot; only the equal ones repeat.
        let entries: Vec<(u64, u64)> = [7u64, 3, 7, 9, 3, 7]
            .iter()
            .enumerate()
            .map(|(i, &key)| ((key << 48) | 0x5a5a, i as u64 + 1))
            .collect();
        let part = Part {
            row_offset: 10,
            entries,
        };
        let mut repeats = repeated_rows([&part].into_iter());
        repeats.sort_unstable();
        assert_eq!(repeats, [(13, 11), (15, 12), (16, 11)]);
        let unique = Part {
            row_offset: 0,
            entries: (1..=500u64).map(|key| (key << 40 | 0x77, key)).collect(),
        };
        assert!(repeated_rows([&unique].into_iter()).is_empty());
    }

    proptest::proptest! {
        /// The pairs are those of a map of first rows, for parts of any sizes and offsets, in
        /// any order, and hashes drawn from few keys whose low bits often collide.
        #[test]
        fn repeats_are_those_of_a_map_of_first_rows(
            parts in proptest::collection::vec(
                proptest::collection::vec((0u64..40, 0u64..4), 0..60),
                0..6,
            ),
        ) {
            // Four hashes share each key's low bits, differing only in the top ones: equal
            // hashes repeat, unequal ones share a slot.
            let hash = |(key, high): (u64, u64)| (high << 58) | ((key % 10) << 3) | (key / 10);
            let mut built = Vec::new();
            let mut offset = 0;
            for keys in &parts {
                let entries: Vec<(u64, u64)> =
                    (1..).zip(keys).map(|(row, &key)| (hash(key), row)).collect();
                built.push(Part { row_offset: offset, entries });
                offset += keys.len() as u64 + 3;
            }
            // Parts come depth by depth, not in row order.
            let mut repeats = repeated_rows(built.iter().rev());
            repeats.sort_unstable();
            proptest::prop_assert_eq!(repeats, pairs_with_first_rows(&built));
        }
    }

    #[test]
    fn exact_below_capacity() {
        let mut tracker = RepeatTracker::new(100);
        for (row, key) in [1, 2, 1, 3, 1].iter().enumerate() {
            tracker.offer(h(*key), row as u64 + 1);
        }
        let s = tracker.summary();
        assert!(s.exact);
        assert_eq!(s.repeats, 2);
        assert!((s.fraction - 0.4).abs() < 1e-12);
        let pairs: Vec<(u64, Option<u64>)> =
            s.examples.iter().map(|e| (e.row, e.repeats_row)).collect();
        assert_eq!(pairs, [(3, Some(1)), (5, Some(1))]);
    }

    #[test]
    fn sampled_estimate_is_close_and_memory_bounded() {
        // 200k rows where every 10th row repeats an earlier key: 10% repeats.
        let mut tracker = RepeatTracker::new(4096);
        for i in 0..200_000u64 {
            let key = if i % 10 == 9 { i - 5 } else { i };
            tracker.offer(h(key), i + 1);
        }
        let s = tracker.summary();
        assert!(!s.exact);
        assert!(tracker.entries.held <= 4097);
        assert_eq!(
            tracker.entries.held,
            (tracker.entries.parts())
                .map(|part| part.entries.len())
                .sum::<usize>()
        );
        assert!((s.fraction - 0.1).abs() < 0.02, "{s:?}");
        assert!((s.repeats as f64 - 20_000.0).abs() < 4_000.0, "{s:?}");
    }

    #[test]
    fn appended_halves_equal_the_whole() {
        let keys: Vec<u64> = (0..1000u64).map(|i| i % 700).collect();
        let mut whole = RepeatTracker::new(10_000);
        keys.iter()
            .enumerate()
            .for_each(|(i, k)| whole.offer(h(*k), i as u64 + 1));
        let mut first = RepeatTracker::new(10_000);
        let mut second = RepeatTracker::new(10_000);
        keys[..400]
            .iter()
            .enumerate()
            .for_each(|(i, k)| first.offer(h(*k), i as u64 + 1));
        keys[400..]
            .iter()
            .enumerate()
            .for_each(|(i, k)| second.offer(h(*k), i as u64 + 1));
        first.append(second, 400);
        assert_eq!(first.summary(), whole.summary());
        assert_eq!(whole.summary().repeats, 300);
        assert_eq!(whole.summary().examples[0].row, 701);
    }

    #[test]
    fn many_appended_blocks_sample_like_one_pass() {
        // 100 blocks of 2,000 rows where every 10th row repeats an earlier key, some of them in
        // an earlier block, folded into a tracker that has to sample.
        let key = |i: u64| {
            if i % 10 == 9 {
                i.saturating_sub(1_995)
            } else {
                i
            }
        };
        let mut whole = RepeatTracker::new(8_192);
        (0..200_000u64).for_each(|i| whole.offer(h(key(i)), i + 1));
        let mut folded = RepeatTracker::new(8_192);
        let mut presampled = RepeatTracker::new(8_192);
        // Split trackers made some blocks ahead of their folding, as worker threads make them.
        let mut ahead = std::collections::VecDeque::new();
        for block in 0..100u64 {
            let mut part = RepeatTracker::new(8_192);
            (0..2_000u64).for_each(|i| part.offer(h(key(block * 2_000 + i)), i + 1));
            folded.append(part, block * 2_000);
            ahead.push_back(presampled.split());
            if ahead.len() > 3 || block == 99 {
                while let Some(mut part) = ahead.pop_front() {
                    let first = presampled.offered;
                    (0..2_000u64).for_each(|i| part.offer(h(key(first + i)), i + 1));
                    assert!(part.shift <= presampled.shift);
                    presampled.append(part, first);
                }
            }
        }
        let (whole, folded_summary) = (whole.summary(), folded.summary());
        assert_eq!(folded_summary, whole);
        assert_eq!(presampled.summary(), whole);
        assert!(presampled.reached.load(Ordering::Relaxed) > 0);
        assert!(!whole.exact && whole.examples.len() == MAX_EXAMPLES);
        assert!(
            folded.entries.by_depth[8].len() > 1,
            "blocks stay separate parts"
        );
        assert!((whole.fraction - 0.1).abs() < 0.02, "{whole:?}");
    }

    #[test]
    fn examples_are_capped_and_truncated() {
        let mut v = Violations::default();
        for row in 0..10 {
            v.record(row, || Some("x".repeat(100)));
        }
        assert_eq!(v.count, 10);
        assert_eq!(v.examples.len(), MAX_EXAMPLES);
        assert_eq!(v.examples[0].value.as_ref().unwrap().chars().count(), 81);
    }

    #[test]
    fn a_block_s_parts_start_as_large_as_those_folded_in_before() {
        let mut whole = RepeatTracker::new(1 << 20);
        let template = whole.split();
        let mut block = template.split();
        (0..10_000u64).for_each(|i| block.offer(h(i), i + 1));
        let held = |tracker: &RepeatTracker, depth: usize| -> usize {
            let parts = &tracker.entries.by_depth[depth];
            parts.iter().map(|part| part.entries.len()).sum()
        };
        let before = [held(&block, 0), held(&block, 1)];
        assert!(before[1] > 2_000, "{before:?}");
        whole.append(block, 0);
        // A hash with its top bit set is at depth 0, one with the next bit set at depth 1.
        let mut next = template.split();
        next.offer(1 << 63, 1);
        next.offer(1 << 62, 2);
        for (depth, before) in before.into_iter().enumerate() {
            let room = next.entries.by_depth[depth][0].entries.capacity();
            assert!(
                room >= before,
                "depth {depth}: room {room}, before {before}"
            );
        }
        assert_eq!(whole.summary().repeats, 0);
    }
}
