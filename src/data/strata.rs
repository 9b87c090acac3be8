//! Which of a column's numbers reach its quantile sketch: all of them near the start of a
//! file, a stratified sample further in.
//!
//! Sorting levels for the sketch's compactions was a fifth of a validation pass, spent on
//! values a compaction then halves away. A compaction `h` rounds up keeps one value in `2^h`;
//! taking one value from each run of `2^h` consecutive values, at weight `2^h`, gets there
//! without sorting. The runs are strata of the file's order, and the value each keeps is picked
//! by a hash of its position, so periodic data cannot line up with the picks.
//!
//! The level grows with the block a value is in (blocks are cut every
//! [`BLOCK_BYTES`](super::csv_source::BLOCK_BYTES), so the same file always gets the same
//! levels, on any number of threads): every value in the first [`FULL_BLOCKS`] blocks (8 MiB),
//! then one in two up to 16 MiB, one in four up to 32 MiB, and so on, down to one in
//! `2^`[`MAX_LEVEL`]. Each doubling of the file thus adds as many sampled values as 4 MiB of
//! rows (about 42,000 rows of 100 bytes), whose rank error (about `0.5 / sqrt(n)`, 0.25% at
//! that size) stays under the sketch's own (about 1% at `k = 200`). Count, minimum and maximum
//! still see every value, and files under 8 MiB get exactly the sketch they always did.

use super::sketch::QuantileSketch;

/// Blocks, from the start of a file, whose every value reaches the sketch.
pub const FULL_BLOCKS: usize = 2;

/// The deepest level: one value in 256 reaches the sketch, from 1 GiB into a file.
pub const MAX_LEVEL: u32 = 8;

/// The level of block `index`: its values reach the sketch one in `2^level`.
pub fn level_of_block(index: usize) -> u32 {
    if index < FULL_BLOCKS {
        0
    } else {
        ((index / FULL_BLOCKS).ilog2() + 1).min(MAX_LEVEL)
    }
}

/// Feeds one column's numbers, in row order, to its sketch at one level.
#[derive(Debug, Clone, Default)]
pub struct StrataFeed {
    /// Strata hold `2^level` values; 0 passes every value straight on.
    level: u32,
    /// Seeds the picks, so blocks do not all pick the same positions.
    seed: u64,
    /// Finite values of the stratum being filled.
    pending: Vec<f64>,
    /// Strata closed so far.
    strata: u64,
}

impl StrataFeed {
    /// A feed for the values of block `index`.
    pub fn for_block(index: usize) -> StrataFeed {
        StrataFeed {
            level: level_of_block(index),
            seed: index as u64,
            ..StrataFeed::default()
        }
    }

    /// Values per stratum.
    fn stratum_len(&self) -> usize {
        1 << self.level
    }

    /// Feeds one value. Non-finite values go straight to the sketch, which counts
    /// infinities apart and ignores NaN, so strata hold finite values only.
    pub fn push(&mut self, sketch: &mut QuantileSketch, value: f64) {
        if self.level == 0 || !value.is_finite() {
            sketch.add(value);
            return;
        }
        self.pending.push(value);
        self.close_full_stratum(sketch);
    }

    /// Hands the pending stratum to the sketch once it is whole.
    fn close_full_stratum(&mut self, sketch: &mut QuantileSketch) {
        if self.pending.len() == self.stratum_len() {
            let (level, seed, strata) = (self.level, self.seed, &mut self.strata);
            sketch.add_strata(&self.pending, level, || next_pick(level, seed, strata));
            self.pending.clear();
        }
    }

    /// Feeds values in order: the same as [`StrataFeed::push`] on each, with whole strata
    /// taken straight from `values`. `extremes` are theirs when all are finite (from
    /// [`finite_extremes`](crate::float_order::finite_extremes)), `None` otherwise.
    pub fn extend(
        &mut self,
        sketch: &mut QuantileSketch,
        values: &[f64],
        extremes: Option<(f64, f64)>,
    ) {
        if self.level == 0 {
            sketch.extend(values);
            return;
        }
        let Some((min, max)) = extremes else {
            values.iter().for_each(|&value| self.push(sketch, value));
            return;
        };
        // The sketch takes in the extremes of the values it has not yet counted, the last
        // stratum's included: they reach it next, in order, so its extremes end the same.
        sketch.note_finite_extremes(min, max);
        let size = self.stratum_len();
        let filling = (size - self.pending.len()) % size;
        let (head, rest) = values.split_at(filling.min(values.len()));
        // `push` on each of the head's (finite) values, in one go: one call per value was
        // about a tenth of the feed.
        self.pending.extend_from_slice(head);
        self.close_full_stratum(sketch);
        let (whole, remainder) = rest.split_at(rest.len() - rest.len() % size);
        let (level, seed, strata) = (self.level, self.seed, &mut self.strata);
        sketch.add_noted_strata(whole, level, || next_pick(level, seed, strata));
        self.pending.extend_from_slice(remainder);
    }

    /// Hands the values of an unfinished stratum to the sketch one by one, at full weight.
    pub fn flush(&mut self, sketch: &mut QuantileSketch) {
        self.pending.drain(..).for_each(|value| sketch.add(value));
    }
}

/// Where in stratum number `*strata` of a block its value is taken, for strata of `2^level`: a
/// splitmix64 hash of the number and the block's seed. Counts the stratum.
fn next_pick(level: u32, seed: u64, strata: &mut u64) -> usize {
    let mut z = (seed << 40 ^ *strata).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    *strata += 1;
    (z >> (64 - level)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_order::finite_extremes;

    /// A reproducible stream of values with some ties, from a 64-bit LCG.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % 100_000) as f64 / 8.0 - 4_000.0
            })
            .collect()
    }

    /// The fraction of `sorted` at or below `x`.
    fn true_rank(sorted: &[f64], x: f64) -> f64 {
        sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64
    }

    #[test]
    fn levels_double_with_the_file() {
        let levels: Vec<u32> = [0, 1, 2, 3, 4, 7, 8, 15, 16, 255, 256, 1 << 20]
            .into_iter()
            .map(level_of_block)
            .collect();
        assert_eq!(levels, [0, 0, 1, 1, 2, 2, 3, 3, 4, 7, 8, 8]);
    }

    #[test]
    fn level_zero_is_the_plain_sketch() {
        let data = values(50_000, 1);
        let mut fed = QuantileSketch::new();
        let mut feed = StrataFeed::for_block(FULL_BLOCKS - 1);
        for chunk in data.chunks(1000) {
            feed.extend(&mut fed, chunk, finite_extremes(chunk));
        }
        feed.flush(&mut fed);
        let mut plain = QuantileSketch::new();
        plain.extend(&data);
        assert_eq!(fed, plain);
    }

    #[test]
    fn extend_is_push_in_order() {
        let mut data = values(20_000, 2);
        data[77] = f64::INFINITY;
        data[5_000] = f64::NAN;
        data[12_345] = f64::NEG_INFINITY;
        for block in [8, 40, 5_000] {
            for chunk_len in [1, 7, 1024, 20_000] {
                let (mut pushed, mut extended) = (QuantileSketch::new(), QuantileSketch::new());
                let (mut a, mut b) = (StrataFeed::for_block(block), StrataFeed::for_block(block));
                data.iter().for_each(|&v| a.push(&mut pushed, v));
                data.chunks(chunk_len)
                    .for_each(|c| b.extend(&mut extended, c, finite_extremes(c)));
                a.flush(&mut pushed);
                b.flush(&mut extended);
                assert_eq!(pushed, extended, "block {block}, chunks of {chunk_len}");
            }
        }
    }

    #[test]
    fn count_and_extremes_stay_exact() {
        let mut data = values(100_003, 3);
        data[99] = f64::INFINITY;
        for block in [8, 16, 100, 10_000] {
            let mut sketch = QuantileSketch::new();
            let mut feed = StrataFeed::for_block(block);
            feed.extend(&mut sketch, &data, finite_extremes(&data));
            feed.flush(&mut sketch);
            sketch.validate().expect("weights add up to the count");
            // The sketch's extremes include infinities.
            let min = data.iter().copied().fold(f64::INFINITY, f64::min);
            let max = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(sketch.count(), data.len() as u64);
            assert_eq!((sketch.min(), sketch.max()), (Some(min), Some(max)));
        }
    }

    #[test]
    fn a_sampled_sketch_stays_within_the_sketch_error() {
        // 2M values in 100 parts, fed as blocks 0, 4, ..., 396 would be (up to 1.6 GB into a
        // file, levels 0 to 8), then merged.
        let data = values(2_000_000, 4);
        let mut sketch = QuantileSketch::new();
        for (index, block) in data.chunks(20_000).enumerate() {
            let mut part = QuantileSketch::new();
            let mut feed = StrataFeed::for_block(index * 4);
            feed.extend(&mut part, block, finite_extremes(block));
            feed.flush(&mut part);
            sketch.merge(&part);
        }
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        let worst = (1..100)
            .map(|p| {
                let x = sorted[p * sorted.len() / 100];
                (sketch.rank(x) - true_rank(&sorted, x)).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 0.015, "worst rank error {worst}");
    }

    #[test]
    fn periodic_data_is_not_aliased() {
        // A column that cycles through 16 values: fixed picks would see one of them.
        let data: Vec<f64> = (0..200_000).map(|i| f64::from(i % 16)).collect();
        let mut sketch = QuantileSketch::new();
        // Block 20 has strata of 16: each holds every value once, in the same order.
        assert_eq!(level_of_block(20), 4);
        let mut feed = StrataFeed::for_block(20);
        feed.extend(&mut sketch, &data, finite_extremes(&data));
        feed.flush(&mut sketch);
        for value in 0..16 {
            let below = sketch.rank(f64::from(value));
            let expected = f64::from(value + 1) / 16.0;
            assert!((below - expected).abs() < 0.02, "rank of {value}: {below}");
        }
    }
}
