//! Exact counts of a column's labels while it has few distinct ones, with each label's
//! allowed-set verdict kept beside its count.
//!
//! A label column (categorical, bool, low-cardinality int) used to cost two hash-map lookups
//! per cell, one in the allowed set and one in the frequency table, each hashing and comparing
//! the text again: a tenth of a validation pass. Here one probe of a small open-addressing
//! table does both. The counts reach the frequency table in bulk ([`LabelCounts::drain`]),
//! which leaves it exactly as one addition per cell would: no Misra-Gries purge can happen
//! while a table holds fewer distinct values than [`MAX_LABELS`], and the frequency tables'
//! capacity is larger.

/// Distinct labels counted here; the column goes back to the frequency table past that.
pub const MAX_LABELS: usize = 256;

/// Slots of the open-addressing table: four per label, so probes stay short.
const SLOTS: usize = 4 * MAX_LABELS;

/// Slots of the integer memo, indexed by a value's low byte.
const INT_SLOTS: usize = 256;

/// One distinct label.
#[derive(Debug, Clone)]
struct Label {
    /// The text.
    text: Box<str>,
    /// Its [`Key`].
    key: Key,
    /// Cells seen with it.
    count: u64,
    /// Whether the allowed set (if any) holds it.
    allowed: bool,
}

/// A text's length and two words of its bytes (the first and last eight, or four, or three
/// single bytes): together they are the whole text up to 16 bytes, so most labels compare
/// as three integers instead of through `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    /// Length in bytes.
    len: usize,
    /// The leading bytes.
    head: u64,
    /// The trailing bytes.
    tail: u64,
}

impl Key {
    /// The key of `bytes`.
    fn of(bytes: &[u8]) -> Key {
        let len = bytes.len();
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                bytes[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        let (head, tail) = match len {
            0 => (0, 0),
            1..=3 => (
                u64::from(bytes[0]) << 16
                    | u64::from(bytes[len / 2]) << 8
                    | u64::from(bytes[len - 1]),
                0,
            ),
            4..=7 => (half(0), half(len - 4)),
            _ => (word(0), word(len - 8)),
        };
        Key { len, head, tail }
    }

    /// Whether equal keys mean equal texts, without looking at the bytes.
    fn is_whole_text(&self) -> bool {
        self.len <= 16
    }

    /// A well-mixed hash of the key (a folded 128-bit multiply).
    fn hash(&self) -> u64 {
        let a = self.head ^ 0x9e37_79b9_7f4a_7c15 ^ self.len as u64;
        let b = self.tail ^ 0xbf58_476d_1ce4_e5b9;
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ (product >> 64) as u64
    }
}

/// The labels of one column in one block, in order of first appearance.
#[derive(Debug, Clone)]
pub struct LabelCounts {
    /// Index + 1 into `labels` of each slot's label; 0 for an empty slot.
    slots: Vec<u16>,
    /// The labels.
    labels: Vec<Label>,
    /// Integers already among the labels, each with its index + 1 (0: empty), in the slot of
    /// its low byte: an integer column skips formatting and hashing its text once it has been
    /// seen.
    ints: Vec<(i64, u16)>,
    /// The same for `false` and `true`.
    bools: [u16; 2],
}

impl Default for LabelCounts {
    fn default() -> Self {
        LabelCounts {
            slots: vec![0; SLOTS],
            labels: Vec::new(),
            ints: vec![(0, 0); INT_SLOTS],
            bools: [0; 2],
        }
    }
}

impl LabelCounts {
    /// Counts one cell of `text`, returning whether it is allowed (`is_allowed` is asked once
    /// per distinct label); `None` when the table already holds [`MAX_LABELS`] other labels,
    /// and the cell is not counted.
    #[inline(always)]
    pub fn count(&mut self, text: &str, is_allowed: impl FnOnce(&str) -> bool) -> Option<bool> {
        self.count_at(text, is_allowed)
            .map(|index| self.labels[index].allowed)
    }

    /// [`LabelCounts::count`] for an integer's decimal text: the same counts and verdicts.
    /// A value already known is counted inline, in the column loop.
    #[inline(always)]
    pub fn count_int(&mut self, value: i64, is_allowed: impl FnOnce(&str) -> bool) -> Option<bool> {
        let slot = (value as u64 % INT_SLOTS as u64) as usize;
        if let (known, index @ 1..) = self.ints[slot] {
            if known == value {
                return Some(self.count_known(index));
            }
        }
        self.count_new_int(slot, value, is_allowed)
    }

    /// [`LabelCounts::count_int`] of a value not in its memo slot.
    #[inline(never)]
    fn count_new_int(
        &mut self,
        slot: usize,
        value: i64,
        is_allowed: impl FnOnce(&str) -> bool,
    ) -> Option<bool> {
        let mut digits = itoa::Buffer::new();
        let index = self.count_at(digits.format(value), is_allowed)?;
        // At most MAX_LABELS (256) labels, so the index fits.
        self.ints[slot] = (value, index as u16 + 1);
        Some(self.labels[index].allowed)
    }

    /// [`LabelCounts::count`] for a boolean, whose text is `text`: the same counts and verdicts.
    /// A value already known is counted inline, in the column loop.
    #[inline(always)]
    pub fn count_bool(
        &mut self,
        value: bool,
        text: &str,
        is_allowed: impl FnOnce(&str) -> bool,
    ) -> Option<bool> {
        let slot = usize::from(value);
        if let index @ 1.. = self.bools[slot] {
            return Some(self.count_known(index));
        }
        self.count_new_bool(slot, text, is_allowed)
    }

    /// [`LabelCounts::count_bool`] of a value not yet in its memo slot.
    #[inline(never)]
    fn count_new_bool(
        &mut self,
        slot: usize,
        text: &str,
        is_allowed: impl FnOnce(&str) -> bool,
    ) -> Option<bool> {
        let index = self.count_at(text, is_allowed)?;
        // At most MAX_LABELS (256) labels, so the index fits.
        self.bools[slot] = index as u16 + 1;
        Some(self.labels[index].allowed)
    }

    /// Counts one more cell of the label at `index - 1`, returning its verdict.
    #[inline(always)]
    fn count_known(&mut self, index: u16) -> bool {
        let label = &mut self.labels[usize::from(index) - 1];
        label.count += 1;
        label.allowed
    }

    /// Counts one cell of `text` and returns its label's index, or `None` when the table is
    /// full without it. A known label is found and counted inline, in the column loop.
    #[inline(always)]
    fn count_at(&mut self, text: &str, is_allowed: impl FnOnce(&str) -> bool) -> Option<usize> {
        let key = Key::of(text.as_bytes());
        let mut slot = key.hash() as usize % SLOTS;
        loop {
            match self.slots[slot] {
                0 => break,
                index => {
                    let label = &mut self.labels[usize::from(index) - 1];
                    if label.key == key && (key.is_whole_text() || *label.text == *text) {
                        label.count += 1;
                        return Some(usize::from(index) - 1);
                    }
                }
            }
            slot = (slot + 1) % SLOTS;
        }
        self.add_label(slot, key, text, is_allowed)
    }

    /// Adds `text`, whose key is `key`, as a new label at the empty `slot`, counted once;
    /// returns its index, or `None` when the table is full.
    #[inline(never)]
    fn add_label(
        &mut self,
        slot: usize,
        key: Key,
        text: &str,
        is_allowed: impl FnOnce(&str) -> bool,
    ) -> Option<usize> {
        if self.labels.len() >= MAX_LABELS {
            return None;
        }
        let allowed = is_allowed(text);
        self.labels.push(Label {
            text: text.into(),
            key,
            count: 1,
            allowed,
        });
        // At most MAX_LABELS (256) labels, so the index fits.
        self.slots[slot] = self.labels.len() as u16;
        Some(self.labels.len() - 1)
    }

    /// Each label with its count, in order of first appearance; the table is left empty.
    pub fn drain(&mut self) -> impl Iterator<Item = (Box<str>, u64)> + '_ {
        self.slots.fill(0);
        self.ints.fill((0, 0));
        self.bools = [0; 2];
        self.labels.drain(..).map(|label| (label.text, label.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_labels_and_remembers_the_verdict() {
        let mut counts = LabelCounts::default();
        let mut asked = 0;
        for text in ["b", "a", "b", "", "b", "a"] {
            let verdict = counts.count(text, |t| {
                asked += 1;
                t != "a"
            });
            assert_eq!(verdict, Some(text != "a"));
        }
        assert_eq!(asked, 3, "the allowed set is asked once per distinct label");
        let drained: Vec<(Box<str>, u64)> = counts.drain().collect();
        assert_eq!(
            drained,
            vec![("b".into(), 3), ("a".into(), 2), ("".into(), 1)]
        );
        assert_eq!(counts.drain().count(), 0);
        assert_eq!(counts.count("a", |_| true), Some(true));
    }

    #[test]
    fn refuses_labels_past_the_limit_but_keeps_counting_known_ones() {
        let mut counts = LabelCounts::default();
        for i in 0..MAX_LABELS {
            assert_eq!(counts.count(&format!("label {i}"), |_| true), Some(true));
        }
        assert_eq!(counts.count("one too many", |_| true), None);
        assert_eq!(counts.count("label 7", |_| false), Some(true));
        let drained: Vec<(Box<str>, u64)> = counts.drain().collect();
        assert_eq!(drained.len(), MAX_LABELS);
        assert_eq!(drained[7], ("label 7".into(), 2));
    }

    /// Counts each of `texts` in two tables: through `count` (a shortcut, or the text path) in
    /// one, by text in the other. Their answers must agree cell by cell, and their drained
    /// labels halfway and at the end.
    fn assert_counts_like_text(
        texts: &[String],
        allowed: fn(&str) -> bool,
        mut count: impl FnMut(&mut LabelCounts, usize) -> Option<bool>,
    ) {
        let (mut by_value, mut by_text) = (LabelCounts::default(), LabelCounts::default());
        let drained = |counts: &mut LabelCounts| counts.drain().collect::<Vec<_>>();
        for (i, text) in texts.iter().enumerate() {
            let got = count(&mut by_value, i);
            assert_eq!(got, by_text.count(text, allowed), "cell {i}: {text}");
            if i == texts.len() / 2 {
                assert_eq!(drained(&mut by_value), drained(&mut by_text));
            }
        }
        assert_eq!(drained(&mut by_value), drained(&mut by_text));
    }

    /// Integers counted by value share labels, counts, verdicts and the limit with their
    /// decimal texts, including values whose low bytes collide in the memo.
    #[test]
    fn integers_count_like_their_text() {
        let values: Vec<i64> = (0..3_000)
            .map(|i: i64| match i % 5 {
                0 => i % 7,
                1 => 256 + i % 7,
                2 => -(i % 300),
                3 => i64::MIN + i % 3,
                _ => i * 1_000_003,
            })
            .collect();
        let texts: Vec<String> = values.iter().map(i64::to_string).collect();
        let allowed = |t: &str| t.len().is_multiple_of(2);
        // Half the cells by value, half by text, as a column that falls back would.
        assert_counts_like_text(&texts, allowed, |labels, i| match i % 2 {
            0 => labels.count_int(values[i], allowed),
            _ => labels.count(&texts[i], allowed),
        });
    }

    /// Booleans counted by value share labels, counts and verdicts with their texts.
    #[test]
    fn booleans_count_like_their_text() {
        let values: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let texts: Vec<String> = values.iter().map(bool::to_string).collect();
        let allowed = |t: &str| t == "true";
        assert_counts_like_text(&texts, allowed, |labels, i| match i % 4 {
            1 => labels.count(&texts[i], allowed),
            _ => labels.count_bool(values[i], &texts[i], allowed),
        });
    }

    /// Texts of every length up to 40 bytes that differ in one byte, or only in length, are
    /// counted apart: the key is the whole text up to 16 bytes, and longer ones compare bytes.
    #[test]
    fn texts_that_differ_anywhere_or_in_length_stay_apart() {
        let mut texts = Vec::new();
        for len in 0..40u8 {
            let base: Vec<u8> = (0..len).map(|i| b'a' + i % 26).collect();
            texts.push(base.clone());
            for at in 0..usize::from(len) {
                let mut changed = base.clone();
                changed[at] = b'Z';
                texts.push(changed);
            }
        }
        for chunk in texts.chunks(MAX_LABELS) {
            let mut counts = LabelCounts::default();
            for text in chunk.iter().chain(chunk) {
                let text = std::str::from_utf8(text).unwrap();
                assert_eq!(counts.count(text, |_| true), Some(true));
            }
            let drained: Vec<(Box<str>, u64)> = counts.drain().collect();
            assert_eq!(drained.len(), chunk.len());
            assert!(drained.iter().all(|(_, n)| *n == 2));
        }
    }
}
