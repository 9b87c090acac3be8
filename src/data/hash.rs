//! A fast, deterministic hasher for the hash maps touched once per cell (frequency tables,
//! allowed sets).
//!
//! `std`'s SipHash guards against hash flooding by untrusted keys, which buys nothing for a
//! table bounded by the schema or by a capacity, and xxh3's streaming hasher carries a large
//! state meant for long inputs. Short keys are hashed here in one xxh3 call per `write`.
//!
//! [`key_hash`] is the per-cell hash of the validation pass's repeat trackers (unique columns,
//! duplicate rows): every cell of a file goes through it, most of them a few bytes long.

use std::hash::{BuildHasherDefault, Hasher};

/// Hashes each written slice with one-shot xxh3, chaining the previous value as the seed.
#[derive(Debug, Default, Clone, Copy)]
pub struct OneShotHasher(u64);

impl Hasher for OneShotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, byte: u8) {
        // `str` hashes end with a 0xff terminator byte; mix it in without a full hash call.
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The `BuildHasher` for [`OneShotHasher`].
pub type FastHash = BuildHasherDefault<OneShotHasher>;

/// The first two words of wyhash's default secret: odd 64-bit constants with balanced bits.
const SECRET: [u64; 2] = [0x2d35_8dcc_aa6c_78a5, 0x8bb8_4b93_962e_acc9];

/// The 128-bit product of `a` and `b`, folded to 64 bits.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The low and high halves of the 128-bit product of `a` and `b`.
#[inline(always)]
fn wide_mul(a: u64, b: u64) -> (u64, u64) {
    let product = u128::from(a) * u128::from(b);
    (product as u64, (product >> 64) as u64)
}

/// The first and last `N` bytes (`N` at most eight) of a key of `N` to `2 * N` bytes, as
/// little-endian words.
#[inline(always)]
fn ends<const N: usize>(bytes: &[u8]) -> (u64, u64) {
    let mut first = [0u8; 8];
    let mut last = [0u8; 8];
    first[..N].copy_from_slice(&bytes[..N]);
    last[..N].copy_from_slice(&bytes[bytes.len() - N..]);
    (u64::from_le_bytes(first), u64::from_le_bytes(last))
}

/// The two little-endian words a key of up to 16 bytes is read as (with its length they are
/// the whole key), or `None` for a longer key. Two overlapping reads cover every byte of a key
/// of 4 to 16 bytes.
#[inline(always)]
fn short_words(bytes: &[u8]) -> Option<(u64, u64)> {
    let len = bytes.len();
    Some(match len {
        0 => (0, 0),
        1..=3 => (
            (u64::from(bytes[0]) << 16)
                | (u64::from(bytes[len >> 1]) << 8)
                | u64::from(bytes[len - 1]),
            0,
        ),
        4..=7 => ends::<4>(bytes),
        8..=16 => ends::<8>(bytes),
        _ => return None,
    })
}

/// A 64-bit hash of a short key, after wyhash (final version 4).
///
/// Keys of up to 16 bytes, which is nearly every cell of a data file, take two multiplies and
/// two loads, inlined; xxh3 spends a call and a branch ladder on them. Keys of up to 48 bytes
/// take one more multiply per 16 bytes; longer keys go to xxh3.
/// The top bits are as well mixed as the bottom ones, which the trackers' sampling by top bits
/// relies on. Its values are its own, not xxh3's: nothing stores them, so they may change
/// between versions.
#[inline(always)]
pub fn key_hash(bytes: &[u8], seed: u64) -> u64 {
    let Some((a, b)) = short_words(bytes) else {
        return long_key_hash(bytes, seed);
    };
    // Seeds are constants at every call, so this folds away. The length, mixed in at the
    // end, tells apart keys whose reads agree.
    let seed = seed ^ fold_mul(seed ^ SECRET[0], SECRET[1]);
    let (low, high) = wide_mul(a ^ SECRET[1], b ^ seed);
    fold_mul(low ^ SECRET[0] ^ bytes.len() as u64, high ^ SECRET[1])
}

/// The state of a hash over a sequence of keys (a row's cells, in order) after one more key:
/// one folded multiply of the key's words and the state, as wyhash's bulk loop takes each 16
/// bytes, where hashing each key and then mixing it in took three. The key's length is added
/// after the multiply: keys whose words agree (`"aaaaaaaa"`, `"aaaaaaaaa"`) still differ, and
/// the next key's multiply spreads the difference. A key over 48 bytes is hashed first.
#[inline(always)]
pub fn chain_key(state: u64, bytes: &[u8], seed: u64) -> u64 {
    match short_words(bytes) {
        Some((a, b)) => fold_mul(a ^ SECRET[0] ^ seed, b ^ SECRET[1] ^ state) ^ bytes.len() as u64,
        None if bytes.len() <= MEDIUM_KEY => chain_medium_key(state, bytes, seed),
        None => {
            let hash = key_hash(bytes, seed);
            fold_mul(hash ^ SECRET[0] ^ seed, SECRET[1] ^ state) ^ bytes.len() as u64
        }
    }
}

/// The longest key [`chain_medium_key`] takes: timestamps with a zone and fractions, UUIDs.
const MEDIUM_KEY: usize = 48;

/// [`chain_key`] of a key over 16 bytes (up to [`MEDIUM_KEY`] there, any length for
/// [`text_hash`]): a folded multiply per 16 bytes, the last 16 read where the key ends, as
/// wyhash's bulk loop; it cost a third of xxh3's call.
#[inline(always)]
fn chain_medium_key(mut state: u64, bytes: &[u8], seed: u64) -> u64 {
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let last = bytes.len() - 16;
    let mut at = 0;
    while at < last {
        state = fold_mul(
            word(at) ^ SECRET[0] ^ seed,
            word(at + 8) ^ SECRET[1] ^ state,
        );
        at += 16;
    }
    fold_mul(
        word(last) ^ SECRET[0] ^ seed,
        word(last + 8) ^ SECRET[1] ^ state,
    ) ^ bytes.len() as u64
}

/// [`key_hash`] of a key over 16 bytes: chained from a state of the seed's own up to
/// [`MEDIUM_KEY`] bytes, xxh3 beyond.
#[inline(always)]
fn long_key_hash(bytes: &[u8], seed: u64) -> u64 {
    if bytes.len() <= MEDIUM_KEY {
        chained_text_hash(bytes, seed)
    } else {
        xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed)
    }
}

/// A 64-bit hash of a text of any length, one folded multiply per 16 bytes, as wyhash's bulk
/// loop: for a whole CSV row (around a hundred bytes), half of xxh3's instructions. Equal to
/// [`key_hash`] up to [`MEDIUM_KEY`] bytes.
#[inline]
pub fn text_hash(bytes: &[u8], seed: u64) -> u64 {
    match short_words(bytes) {
        Some(_) => key_hash(bytes, seed),
        None => chained_text_hash(bytes, seed),
    }
}

/// [`text_hash`] of a text over 16 bytes: chained from a state of the seed's own.
#[inline(always)]
fn chained_text_hash(bytes: &[u8], seed: u64) -> u64 {
    let state = fold_mul(seed ^ SECRET[1], SECRET[0]);
    fold_mul(chain_medium_key(state, bytes, seed), SECRET[1])
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::{chain_key, key_hash, text_hash, FastHash};

    #[test]
    fn short_keys_hash_apart_by_every_byte_length_and_seed() {
        // Every key of up to 2 bytes from a small alphabet, and keys of every length up to 24
        // that differ from a base key in one byte, at each position, under two seeds.
        let alphabet = b"\x000aZ,.-9\xff";
        let mut keys: HashSet<Vec<u8>> = HashSet::new();
        for &x in alphabet {
            for &y in alphabet {
                keys.extend([vec![], vec![x], vec![x, y]]);
            }
        }
        keys.extend(keys_and_one_byte_changes(|i| b'a' + i, 0x20));
        assert_distinct_under_two_seeds(&keys, key_hash);
    }

    /// Keys of every length up to 64 (short, medium and long: every path of the hashes), with
    /// byte `i` of each `byte(i)`, and each with one of its bytes flipped by `flip`.
    fn keys_and_one_byte_changes(byte: impl Fn(u8) -> u8, flip: u8) -> HashSet<Vec<u8>> {
        let mut keys = HashSet::new();
        for len in 0..=64u8 {
            let base: Vec<u8> = (0..len).map(&byte).collect();
            for at in 0..usize::from(len) {
                let mut key = base.clone();
                key[at] ^= flip;
                keys.insert(key);
            }
            keys.insert(base);
        }
        keys
    }

    /// Asserts that `hash` under seeds 1 and 2 gives every key its own value.
    fn assert_distinct_under_two_seeds(keys: &HashSet<Vec<u8>>, hash: impl Fn(&[u8], u64) -> u64) {
        let hashes: HashSet<u64> = [1, 2]
            .iter()
            .flat_map(|&seed| keys.iter().map(|key| hash(key, seed)).collect::<Vec<_>>())
            .collect();
        assert_eq!(hashes.len(), 2 * keys.len());
    }

    #[test]
    fn chains_of_keys_hash_apart() {
        // Sequences that agree in their bytes, their reads or their order, but not as keys.
        let rows: [&[(&[u8], u64)]; 12] = [
            &[],
            &[(b"", 1)],
            &[(b"", 0)],
            &[(b"", 1), (b"", 1)],
            &[(b"ab", 1), (b"c", 1)],
            &[(b"a", 1), (b"bc", 1)],
            &[(b"c", 1), (b"ab", 1)],
            &[(b"aaaaaaaa", 1), (b"x", 1)],
            &[(b"aaaaaaaaa", 1), (b"x", 1)],
            &[(b"AAAAAAAAA", 1)],
            &[(b"AAAAAAAAAB", 1)],
            &[(b"AAAAAAAAAB", 2)],
        ];
        let chain = |row: &[(&[u8], u64)]| {
            row.iter()
                .fold(0, |state, &(bytes, seed)| chain_key(state, bytes, seed))
        };
        let hashes: HashSet<u64> = rows.iter().map(|row| chain(row)).collect();
        assert_eq!(hashes.len(), rows.len());
        // Digits, as timestamps and ids are, chained after a cell.
        let keys = keys_and_one_byte_changes(|i| b'0' + i % 10, 0x01);
        assert_distinct_under_two_seeds(&keys, |key, seed| chain(&[(b"x", 1), (key, seed)]));
        // Long keys too, and the state reaches every later key.
        let long = [b"a key that is longer than sixteen bytes".as_slice(), b"1"];
        assert_ne!(
            chain(&[(long[0], 1), (long[1], 1)]),
            chain(&[(long[1], 1), (long[0], 1)])
        );
    }

    /// Asserts that the top four bits of `hash` over the ids 0..2^16, as text, are zero about
    /// one time in 16: the repeat trackers keep hashes whose top bits are zero, so sequential
    /// ids must land in the sample at its rate.
    fn assert_top_bits_uniform(hash: impl Fn(&[u8]) -> u64) {
        let keys = 1u64 << 16;
        let top_zero = (0..keys)
            .filter(|i| hash(i.to_string().as_bytes()) >> 60 == 0)
            .count() as f64;
        let expected = keys as f64 / 16.0;
        assert!(
            (top_zero - expected).abs() < 4.0 * expected.sqrt(),
            "{top_zero}"
        );
    }

    #[test]
    fn top_bits_of_chained_rows_are_uniform() {
        assert_top_bits_uniform(|id| chain_key(chain_key(0, id, 1), b"same", 1));
    }

    #[test]
    fn top_bits_of_short_keys_are_uniform() {
        assert_top_bits_uniform(|id| key_hash(id, 1));
    }

    #[test]
    fn top_bits_of_medium_keys_are_uniform() {
        // Ids padded past 16 bytes, as UUIDs and timestamps are: one alone, and chained.
        let padded = |id: &[u8]| [b"2024-01-01T00:00:".as_slice(), id].concat();
        assert_top_bits_uniform(|id| key_hash(&padded(id), 1));
        assert_top_bits_uniform(|id| chain_key(chain_key(0, &padded(id), 1), b"same", 1));
    }

    #[test]
    fn texts_of_any_length_hash_apart_and_as_keys_up_to_medium() {
        let mut texts = keys_and_one_byte_changes(|i| b'a' + i % 26, 0x04);
        // Whole rows are longer: lengths past 64, with one byte changed at each position.
        for len in (65..=260).step_by(13) {
            let base: Vec<u8> = (0..len).map(|i| b"0123456789,."[i % 12]).collect();
            for at in 0..len {
                let mut text = base.clone();
                text[at] ^= 0x01;
                texts.insert(text);
            }
            texts.insert(base);
        }
        assert_distinct_under_two_seeds(&texts, text_hash);
        for text in texts.iter().filter(|text| text.len() <= super::MEDIUM_KEY) {
            assert_eq!(text_hash(text, 5), key_hash(text, 5));
        }
    }

    #[test]
    fn top_bits_of_row_texts_are_uniform() {
        // Rows that differ only in their id, in front of a hundred bytes that repeat.
        let row = |id: &[u8]| {
            [id, b",41,52000.50,-0.25,0.5,1200.00,true,smb,some words here,2021-01-22,2023-04-27T01:53:08,1".repeat(2).as_slice()].concat()
        };
        assert_top_bits_uniform(|id| text_hash(&row(id), 3));
    }

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut map: HashMap<String, usize, FastHash> = HashMap::default();
        for i in 0..10_000 {
            map.insert(format!("key{i}"), i);
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("key1234"), Some(&1234));
        assert_eq!(map.get("key12345"), None);
    }
}
