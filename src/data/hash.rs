//! A fast, deterministic hasher for the hash maps touched once per cell (frequency tables,
//! allowed sets).
//!
//! `std`'s SipHash guards against hash flooding by untrusted keys, which buys nothing for a
//! table bounded by the schema or by a capacity, and xxh3's streaming hasher carries a large
//! state meant for long inputs. Short keys are hashed here in one xxh3 call per `write`.

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::FastHash;

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
