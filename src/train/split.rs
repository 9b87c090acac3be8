//! The train / evaluation split: decided per row by a hash, so it never moves old rows.
//!
//! A random split reshuffles every row when one is appended, so yesterday's evaluation rows
//! leak into today's training and the champion and candidate are no longer scored on held-out
//! data. Hashing the id column (or, without one, the row's cells) gives each row a fixed place:
//! appending rows only adds rows. The seed of the model deliberately does not enter the hash:
//! changing it must not change which rows are held out.

use super::table::Table;

/// Salt of the split hash, so it is unrelated to any other hash of the same ids.
const SPLIT_SALT: u64 = 0x6d6c_6761_7465_7370; // "mlgatesp"

/// Which rows train and which evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training row indices, ascending.
    pub train: Vec<usize>,
    /// Evaluation row indices, ascending.
    pub eval: Vec<usize>,
}

/// Whether a row with key hash `hash` is held out, for a share `fraction` of held-out rows.
pub fn is_eval(hash: u64, fraction: f64) -> bool {
    // The top 53 bits as a uniform number in [0, 1).
    let unit = (mix(hash) >> 11) as f64 / (1u64 << 53) as f64;
    unit < fraction
}

/// The key hash of an id value.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), SPLIT_SALT)
}

/// splitmix64's finaliser, so that row hashes (built for equality, not uniformity) spread evenly.
fn mix(mut z: u64) -> u64 {
    z ^= SPLIT_SALT;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Splits the `usable` rows of `table` by the id column's text, or by the row hash without one.
pub fn by_hash(table: &Table, id_column: Option<&str>, usable: &[usize], fraction: f64) -> Split {
    let id = id_column.and_then(|name| table.column(name));
    let mut split = Split {
        train: Vec::new(),
        eval: Vec::new(),
    };
    for &row in usable {
        let hash = match id.and_then(|c| c.data.text(row)) {
            Some(text) => id_hash(text),
            None => table.row_hashes[row],
        };
        if is_eval(hash, fraction) {
            split.eval.push(row);
        } else {
            split.train.push(row);
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_held_out_is_close_to_the_fraction() {
        let held = (0..100_000)
            .filter(|i| is_eval(id_hash(&format!("customer-{i}")), 0.2))
            .count();
        assert!((19_000..21_000).contains(&held), "{held}");
    }

    #[test]
    fn sequential_row_hashes_spread_too() {
        let held = (0u64..100_000).filter(|&h| is_eval(h, 0.3)).count();
        assert!((29_000..31_000).contains(&held), "{held}");
    }

    #[test]
    fn appending_ids_never_moves_earlier_ones() {
        let before: Vec<bool> = (0..1000)
            .map(|i| is_eval(id_hash(&i.to_string()), 0.25))
            .collect();
        let after: Vec<bool> = (0..2000)
            .map(|i| is_eval(id_hash(&i.to_string()), 0.25))
            .collect();
        assert_eq!(before[..], after[..1000]);
    }

    #[test]
    fn a_larger_fraction_only_adds_rows_to_evaluation() {
        for i in 0..10_000 {
            let h = id_hash(&i.to_string());
            if is_eval(h, 0.1) {
                assert!(is_eval(h, 0.2));
            }
        }
    }
}
