//! Bounded-memory bookkeeping for checks that look at every row: violation examples and
//! repeated-key detection (unique columns, duplicate rows).
//!
//! Repeats are found by hashing each key to 64 bits and counting hashes. Up to `capacity`
//! distinct hashes the count is exact; past it the tracker keeps only hashes whose top bits are
//! zero (a sample that halves each time it fills). Equal keys have equal hashes, so a repeated
//! key is either wholly in the sample or wholly out, and the repeat share measured on the sample
//! is an unbiased estimate of the whole file's. This keeps the memory of a 100 GB file at that of
//! a small one; the report says when a figure is estimated and at what sampling rate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
            });
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

/// A `Hasher` that passes a `u64` key through: the keys are xxh3 hashes already.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Detects repeated keys in bounded memory (see the module docs).
#[derive(Debug)]
pub struct RepeatTracker {
    /// Occurrences of each sampled hash.
    counts: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    /// Hashes are sampled when their top `shift` bits are zero.
    shift: u32,
    /// Most distinct hashes held before the sample halves.
    capacity: usize,
    /// Keys offered.
    offered: u64,
}

/// What a [`RepeatTracker`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepeatSummary {
    /// Rows whose key appeared earlier (exact, or estimated for the whole file).
    pub repeats: u64,
    /// `repeats` as a share of all rows.
    pub fraction: f64,
    /// Whether the figures are exact.
    pub exact: bool,
    /// The share of keys that were examined.
    pub sampling_rate: f64,
}

impl RepeatTracker {
    /// A tracker that stays exact up to `capacity` distinct keys.
    pub fn new(capacity: usize) -> RepeatTracker {
        RepeatTracker {
            counts: HashMap::default(),
            shift: 0,
            capacity: capacity.max(16),
            offered: 0,
        }
    }

    /// Counts a key; true when it is a repeat seen in the sample.
    pub fn offer(&mut self, hash: u64) -> bool {
        self.offered += 1;
        if !self.sampled(hash) {
            return false;
        }
        let count = self.counts.entry(hash).or_insert(0);
        *count = count.saturating_add(1);
        if *count > 1 {
            return true;
        }
        if self.counts.len() > self.capacity && self.shift < 63 {
            self.shift += 1;
            let shift = self.shift;
            self.counts.retain(|&h, _| h >> (64 - shift) == 0);
        }
        false
    }

    /// Whether a hash is in the current sample.
    fn sampled(&self, hash: u64) -> bool {
        self.shift == 0 || hash >> (64 - self.shift) == 0
    }

    /// The repeat count and share, exact or estimated.
    pub fn summary(&self) -> RepeatSummary {
        let sampled_rows: u64 = self.counts.values().map(|&c| u64::from(c)).sum();
        let repeated: u64 = self.counts.values().map(|&c| u64::from(c) - 1).sum();
        let fraction = if sampled_rows == 0 {
            0.0
        } else {
            repeated as f64 / sampled_rows as f64
        };
        let exact = self.shift == 0;
        RepeatSummary {
            repeats: if exact {
                repeated
            } else {
                (fraction * self.offered as f64).round() as u64
            },
            fraction,
            exact,
            sampling_rate: 0.5f64.powi(self.shift as i32),
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
    fn exact_below_capacity() {
        let mut tracker = RepeatTracker::new(100);
        let repeats: Vec<bool> = [1, 2, 1, 3, 1]
            .iter()
            .map(|&k| tracker.offer(h(k)))
            .collect();
        assert_eq!(repeats, [false, false, true, false, true]);
        let s = tracker.summary();
        assert!(s.exact);
        assert_eq!(s.repeats, 2);
        assert!((s.fraction - 0.4).abs() < 1e-12);
    }

    #[test]
    fn sampled_estimate_is_close_and_memory_bounded() {
        // 200k rows where every 10th row repeats an earlier key: 10% repeats.
        let mut tracker = RepeatTracker::new(4096);
        for i in 0..200_000u64 {
            let key = if i % 10 == 9 { i - 5 } else { i };
            tracker.offer(h(key));
        }
        let s = tracker.summary();
        assert!(!s.exact);
        assert!(tracker.counts.len() <= 4097);
        assert!((s.fraction - 0.1).abs() < 0.02, "{s:?}");
        assert!((s.repeats as f64 - 20_000.0).abs() < 4_000.0, "{s:?}");
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
}
