//! A tiny splitmix64 generator.
//!
//! Forest fits must be reproducible bit for bit from one `u64` seed, across
//! platforms and crate upgrades, so we own the generator instead of depending
//! on `rand` (whose stream is not a stability promise across major versions).

/// Weyl-sequence increment of splitmix64 (the golden ratio in 64 bits).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64 state; every draw advances it by one step.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    /// Current Weyl-sequence position.
    state: u64,
}

impl SplitMix64 {
    /// Generator starting at `seed` (any value is fine, zero included).
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Seed of tree `index`, a pure function of the forest seed and the index,
    /// which is what makes fits independent of the thread count.
    pub(crate) fn derive(seed: u64, index: u64) -> u64 {
        let mut g = SplitMix64::new(seed ^ 0x5EED_F0E5_7000_0000);
        g.state = g.state.wrapping_add(index.wrapping_mul(GOLDEN));
        g.next_u64()
    }

    /// Next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` by Lemire's multiply-shift; the bias is at
    /// most `n / 2^64`, irrelevant for sampling rows and features. `n == 0`
    /// returns 0 rather than panicking.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        (wide >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values of splitmix64 seeded with 0 (from the original C code),
    /// so a refactor cannot silently change every fitted model.
    #[test]
    fn matches_reference_stream() {
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    /// `below` stays in range, including the degenerate bound.
    #[test]
    fn below_in_range() {
        let mut g = SplitMix64::new(3);
        assert!((0..1000).all(|_| g.below(7) < 7));
        assert_eq!(g.below(0), 0);
    }
}
