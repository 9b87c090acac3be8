//! ROC AUC of [`LANES`] bootstrap resamples at once, in one cache-friendly sweep per
//! one-vs-rest split.
//!
//! A resample's row counts are laid out by position (the cells of the layout), but ROC AUC
//! reads them in the order of one model's scores on one split: a different order for each of
//! the 2·k splits of a k-class comparison, so read directly, nearly every row is a random
//! access, and one resample at a time every row costs a full pass of bookkeeping. Here the
//! counts of [`LANES`] resamples are packed a byte each into one `u64` per position
//! ([`pack_lanes`]), and a split reads them in two steps:
//!
//! 1. *stage*: a sequential pass over the positions writes each packed word to its slot, which
//!    groups the words by band of [`BAND_ROWS`] consecutive ranks of the split's score order;
//! 2. *sweep*: the split's entries in score order, band by band, read their band's staged
//!    words, which stay in the level-1 cache, and add up every lane's Mann-Whitney sums at
//!    once.
//!
//! The sums are integers held exactly in `f64` lanes; average precision's go through the
//! same divisions as the one-resample pass, so
//! every lane's value is bit for bit that pass's on the lane's resample. On x86-64 the sweeps
//! are compiled a second time with AVX2 and picked at run time; both give the same bits.

/// Resamples evaluated together: one byte of each in a packed word.
pub(crate) const LANES: usize = 8;

/// The counts of one position in each lane's resample.
pub(crate) type Word = [u8; LANES];

/// Ranks per band: a band's staged words (8 bytes each) fit in the level-1 cache.
const BAND_ROWS: usize = 4096;

/// Mask of the index within its band in a banded entry.
const LOCAL_MASK: u16 = (BAND_ROWS - 1) as u16;
/// Flag of a banded entry: the row is a positive of the split.
const POSITIVE: u16 = 1 << 15;
/// Flag of a banded entry: first entry of its group of tied scores.
const GROUP_START: u16 = 1 << 14;

const _: () = assert!(BAND_ROWS <= LOCAL_MASK as usize + 1 && (LOCAL_MASK & GROUP_START) == 0);

/// Most rows a banded split takes: the sums stay integers below 2^53 (at most 2·n²), exact in
/// `f64` lanes, and a batch's packed and staged words (16 bytes a row per thread) stay within
/// about 512 MiB; more rows are evaluated one resample at a time.
pub(crate) const MAX_ROWS: usize = 1 << 25;

/// How the ranked entries a split is built from are encoded: the position under
/// `position_mask`, and two flag bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankedFlags {
    /// Mask of the position.
    pub(crate) position_mask: u32,
    /// Set when the row is a positive of the split.
    pub(crate) positive: u32,
    /// Set on the first entry of each group of tied scores.
    pub(crate) group_start: u32,
}

/// One model's one-vs-rest split, arranged for [`auc_lanes`](Self::auc_lanes).
#[derive(Debug, Clone)]
pub(crate) struct BandedSplit {
    /// Staging slot of each position: its band's first slot plus its rank among the band's
    /// positions.
    slots: Vec<u32>,
    /// The split's rows in increasing score order: the row's index within its band's stage,
    /// with [`POSITIVE`] and [`GROUP_START`].
    entries: Vec<u16>,
    /// Whether two rows tie on score somewhere (the sweep without tie groups is cheaper).
    ties: bool,
}

impl BandedSplit {
    /// The split of `ranked` (every position once, by increasing score, encoded as `flags`
    /// says); `None` past [`MAX_ROWS`] or when the positions are not each position once.
    pub(crate) fn new(ranked: &[u32], flags: RankedFlags) -> Option<Self> {
        if ranked.len() > MAX_ROWS {
            return None;
        }
        let position = |entry: u32| (entry & flags.position_mask) as usize;
        let mut rank_of = vec![u32::MAX; ranked.len()];
        for (rank, &entry) in ranked.iter().enumerate() {
            let seen = rank_of.get_mut(position(entry))?;
            if *seen != u32::MAX {
                return None;
            }
            // Below MAX_ROWS, so the rank fits.
            *seen = rank as u32;
        }
        // Taking positions in increasing order, each takes the next free slot of its band: a
        // band's slots then follow position order, as the sequential stage pass writes them,
        // in three linear passes instead of a sort of every band.
        let mut taken = vec![0u32; ranked.len().div_ceil(BAND_ROWS)];
        let slots: Vec<u32> = rank_of
            .iter()
            .map(|&rank| {
                let band = rank as usize / BAND_ROWS;
                let slot = (band * BAND_ROWS) as u32 + taken[band];
                taken[band] += 1;
                slot
            })
            .collect();
        let entries: Vec<u16> = ranked
            .iter()
            .map(|&entry| {
                // The index within the band is below BAND_ROWS (4,096), so it fits.
                let mut banded = (slots[position(entry)] as usize % BAND_ROWS) as u16;
                if entry & flags.positive != 0 {
                    banded |= POSITIVE;
                }
                if entry & flags.group_start != 0 {
                    banded |= GROUP_START;
                }
                banded
            })
            .collect();
        let ties = entries.iter().any(|&e| e & GROUP_START == 0);
        Some(BandedSplit {
            slots,
            entries,
            ties,
        })
    }

    /// Each lane's ROC AUC on this split, from `packed` ([`pack_lanes`], one word per
    /// position); `stage` is a reusable buffer. A lane is `None` when either class has no
    /// drawn row there (every lane, when `packed` is not one word per position).
    pub(crate) fn auc_lanes(&self, packed: &[Word], stage: &mut Vec<Word>) -> [Option<f64>; LANES] {
        if packed.len() != self.slots.len() {
            return [None; LANES];
        }
        self.stage(packed, stage);
        sweep(&self.entries, stage, self.ties).aucs()
    }

    /// Each lane's average precision on this split, thresholds in decreasing score order
    /// as `average_precision_of_pairs` takes them, from `packed` and each lane's drawn
    /// positives `total_pos`. A lane is `None` when it drew no positive (every lane, when
    /// `packed` is not one word per position).
    pub(crate) fn average_precision_lanes(
        &self,
        packed: &[Word],
        stage: &mut Vec<Word>,
        total_pos: [u64; LANES],
    ) -> [Option<f64>; LANES] {
        if packed.len() != self.slots.len() {
            return [None; LANES];
        }
        self.stage(packed, stage);
        // Below 2^53, so exact.
        let ap = sweep_precision(&self.entries, stage, total_pos.map(|t| t as f64));
        std::array::from_fn(|lane| (total_pos[lane] > 0).then_some(ap[lane]))
    }

    /// Writes every position's word to its slot; the stage is padded to whole bands.
    fn stage(&self, packed: &[Word], stage: &mut Vec<Word>) {
        // Every slot is written below and the padding is never read: no need to clear.
        stage.resize(
            self.entries.len().div_ceil(BAND_ROWS) * BAND_ROWS,
            [0; LANES],
        );
        let stage = stage.as_mut_slice();
        for (&slot, &word) in self.slots.iter().zip(packed) {
            if let Some(staged) = stage.get_mut(slot as usize) {
                *staged = word;
            }
        }
    }
}

/// The row counts of up to [`LANES`] resamples (`rows[lane][position]`), position by
/// position; missing lanes are zero.
pub(crate) fn pack_lanes<'a>(rows: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<Word>) {
    out.clear();
    for (lane, counts) in rows.into_iter().take(LANES).enumerate() {
        if lane == 0 {
            out.resize(counts.len(), [0; LANES]);
        }
        for (word, &count) in out.iter_mut().zip(counts) {
            word[lane] = count;
        }
    }
}

/// Every lane's Mann-Whitney sums after a sweep.
#[derive(Debug, Clone, Copy)]
struct Sums {
    /// Twice the Mann-Whitney U.
    twice_u: [u64; LANES],
    /// Drawn positives.
    positives: [u64; LANES],
    /// Drawn negatives.
    negatives: [u64; LANES],
}

impl Sums {
    /// From a sweep without ties: `above` is `Σ positives · negatives below`.
    fn without_ties(above: [f64; LANES], positives: [f64; LANES], negatives: [f64; LANES]) -> Sums {
        // Exact integers, so the conversions are too.
        Sums {
            twice_u: above.map(|x| 2 * x as u64),
            positives: positives.map(|x| x as u64),
            negatives: negatives.map(|x| x as u64),
        }
    }

    /// From a sweep with ties: `above` and `under` count the pairs with the positive strictly
    /// above and strictly below (either may hold their difference, with the other zero); the
    /// rest of the `P·N` pairs are tied.
    fn with_ties(
        above: [f64; LANES],
        under: [f64; LANES],
        positives: [f64; LANES],
        negatives: [f64; LANES],
    ) -> Sums {
        let positives = positives.map(|x| x as u64);
        let negatives = negatives.map(|x| x as u64);
        Sums {
            // Signed: `A − C` is negative for a model worse than chance; the total is not.
            twice_u: std::array::from_fn(|lane| {
                let all = (positives[lane] * negatives[lane]) as i64;
                (all + above[lane] as i64 - under[lane] as i64).max(0) as u64
            }),
            positives,
            negatives,
        }
    }

    /// Each lane's AUC as `auc_from_counts` gives it from the same integers.
    fn aucs(&self) -> [Option<f64>; LANES] {
        std::array::from_fn(|lane| {
            super::metrics::auc_from_counts(
                u128::from(self.twice_u[lane]),
                u128::from(self.positives[lane]),
                u128::from(self.negatives[lane]),
            )
        })
    }
}

/// [`sweep_bands`] with the widest instructions this CPU has.
fn sweep(entries: &[u16], stage: &[Word], ties: bool) -> Sums {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { sweep_avx2(entries, stage, ties) };
    }
    sweep_portable(entries, stage, ties)
}

/// [`sweep_bands`] for any CPU.
fn sweep_portable(entries: &[u16], stage: &[Word], ties: bool) -> Sums {
    if ties {
        sweep_bands::<true, Portable>(entries, stage)
    } else {
        sweep_bands::<false, Portable>(entries, stage)
    }
}

/// [`sweep_bands`] compiled for AVX2, where the eight lanes are two vector registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sweep_avx2(entries: &[u16], stage: &[Word], ties: bool) -> Sums {
    if ties {
        sweep_ties_avx2(entries, stage)
    } else {
        sweep_bands::<false, Avx2>(entries, stage)
    }
}

/// The entries in score order against the staged words: twice the Mann-Whitney U, as
/// `auc_of_pairs` counts it (a drawn positive above a drawn negative twice, a tied pair
/// once). Without `TIES`, every row is its own group and the sum is
/// `2 · Σ positives · negatives below`. With `TIES`, it is `P·N + A − C` (`P·N` pairs in
/// all, `A` with the positive strictly above, `C` with it strictly below), where a positive
/// adds the negatives below its group to `A` and a negative the positives below its group to
/// `C`. The running totals at the group's start are held by a select, not a branch: at real
/// scores' ties half the rows start a group, and a branch would be mispredicted on every
/// other row. The integers are held in `f64` lanes, exact below 2^53 (at most 2·n² for
/// n = [`MAX_ROWS`]), so the order of the additions does not change any bit.
#[inline(always)]
fn sweep_bands<const TIES: bool, W: Widen>(entries: &[u16], stage: &[Word]) -> Sums {
    let (mut above, mut under) = ([0.0f64; LANES], [0.0f64; LANES]);
    let mut positives = [0.0f64; LANES];
    let mut below = [0.0f64; LANES];
    // Positives and negatives drawn below the current tie group.
    let (mut pos_at_start, mut neg_at_start) = ([0.0f64; LANES], [0.0f64; LANES]);
    let bands = bands(entries, stage);
    for (at, &(entries, band)) in bands.iter().enumerate() {
        let next = bands.get(at + 1).map(|&(_, next)| next);
        for (line, entries) in entries.chunks(WORDS_PER_LINE).enumerate() {
            prefetch_line(next, line);
            for &entry in entries {
                let counts = W::widen(band[usize::from(entry & LOCAL_MASK)]);
                let positive = f64::from(entry >> 15);
                if TIES {
                    let starts = entry & GROUP_START != 0;
                    for lane in 0..LANES {
                        if starts {
                            pos_at_start[lane] = positives[lane];
                            neg_at_start[lane] = below[lane];
                        }
                        let p = counts[lane] * positive;
                        let n = counts[lane] - p;
                        above[lane] += p * neg_at_start[lane];
                        under[lane] += n * pos_at_start[lane];
                        positives[lane] += p;
                        below[lane] += n;
                    }
                } else {
                    for lane in 0..LANES {
                        let p = counts[lane] * positive;
                        above[lane] += p * below[lane];
                        positives[lane] += p;
                        below[lane] += counts[lane] - p;
                    }
                }
            }
        }
    }
    if TIES {
        Sums::with_ties(above, under, positives, below)
    } else {
        Sums::without_ties(above, positives, below)
    }
}

/// [`sweep_bands`] with `TIES` written out in AVX2 registers: the compiler leaves the group
/// selects scalar, which costs more than the branch they replace.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sweep_ties_avx2(entries: &[u16], stage: &[Word]) -> Sums {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_and_pd, _mm256_blendv_pd, _mm256_mul_pd, _mm256_setzero_pd,
        _mm256_sub_pd,
    };
    let zero = _mm256_setzero_pd();
    // `A − C` in one register pair: the loop keeps every accumulator in a register.
    let [mut net, mut positives, mut below, mut pos_at_start, mut neg_at_start] = [[zero; 2]; 5];
    let bands = bands(entries, stage);
    for (at, &(entries, band)) in bands.iter().enumerate() {
        let next = bands.get(at + 1).map(|&(_, next)| next);
        for (line, entries) in entries.chunks(WORDS_PER_LINE).enumerate() {
            prefetch_line(next, line);
            for &entry in entries {
                let counts = widen_avx2_halves(band[usize::from(entry & LOCAL_MASK)]);
                let positive = lane_mask(entry & POSITIVE != 0);
                let within = lane_mask(entry & GROUP_START == 0);
                for half in 0..2 {
                    pos_at_start[half] =
                        _mm256_blendv_pd(positives[half], pos_at_start[half], within);
                    neg_at_start[half] = _mm256_blendv_pd(below[half], neg_at_start[half], within);
                    let p = _mm256_and_pd(counts[half], positive);
                    let n = _mm256_sub_pd(counts[half], p);
                    let gained = _mm256_sub_pd(
                        _mm256_mul_pd(p, neg_at_start[half]),
                        _mm256_mul_pd(n, pos_at_start[half]),
                    );
                    net[half] = _mm256_add_pd(net[half], gained);
                    positives[half] = _mm256_add_pd(positives[half], p);
                    below[half] = _mm256_add_pd(below[half], n);
                }
            }
        }
    }
    // SAFETY: two vectors of four `f64` are eight `f64`, with no padding and any bits valid.
    let lanes = |v: [__m256d; 2]| unsafe { std::mem::transmute::<[__m256d; 2], [f64; LANES]>(v) };
    Sums::with_ties(lanes(net), [0.0; LANES], lanes(positives), lanes(below))
}

/// The entries band by band, each with its band's staged words.
fn bands<'a>(entries: &'a [u16], stage: &'a [Word]) -> Vec<(&'a [u16], &'a [Word; BAND_ROWS])> {
    entries
        .chunks(BAND_ROWS)
        .zip(stage.chunks_exact(BAND_ROWS))
        .filter_map(|(entries, band)| Some((entries, band.try_into().ok()?)))
        .collect()
}

/// How a sweep turns a staged word into its eight counts as `f64` lanes (exact either way).
trait Widen {
    /// The counts of `word`.
    fn widen(word: Word) -> [f64; LANES];
}

/// Widening any CPU can do.
struct Portable;

impl Widen for Portable {
    #[inline(always)]
    fn widen(word: Word) -> [f64; LANES] {
        word.map(f64::from)
    }
}

/// Widening with two AVX2 conversions; only used inside functions compiled for AVX2.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Widen for Avx2 {
    #[inline(always)]
    fn widen(word: Word) -> [f64; LANES] {
        // SAFETY: `Avx2` is only named by the sweeps compiled with AVX2, which run only after
        // `is_x86_feature_detected!("avx2")`.
        unsafe { widen_avx2(word) }
    }
}

/// The eight bytes zero-extended to 32 bits in one instruction, then converted four at a time
/// (what the compiler does not find by itself for `[u8; 8]`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn widen_avx2(word: Word) -> [f64; LANES] {
    let halves = widen_avx2_halves(word);
    // SAFETY: two vectors of four `f64` are eight `f64`, with no padding and any bits valid.
    unsafe { std::mem::transmute::<[std::arch::x86_64::__m256d; 2], [f64; LANES]>(halves) }
}

/// All ones in every lane when `on`, else all zeros.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn lane_mask(on: bool) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::{_mm256_castsi256_pd, _mm256_set1_epi64x};
    _mm256_castsi256_pd(_mm256_set1_epi64x(-i64::from(on)))
}

/// [`widen_avx2`] as the two vector registers it is made in.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn widen_avx2_halves(word: Word) -> [std::arch::x86_64::__m256d; 2] {
    use std::arch::x86_64::{
        _mm256_castsi256_si128, _mm256_cvtepi32_pd, _mm256_cvtepu8_epi32, _mm256_extracti128_si256,
        _mm_cvtsi64_si128,
    };
    let wide = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(i64::from_le_bytes(word)));
    let low = _mm256_cvtepi32_pd(_mm256_castsi256_si128(wide));
    let high = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(wide));
    [low, high]
}

/// Staged words in a 64-byte cache line.
const WORDS_PER_LINE: usize = 64 / LANES;

/// Asks for cache line `line` of the band swept next while this one is swept, a line per
/// [`WORDS_PER_LINE`] entries, so the whole band is in cache when its sweep begins: the
/// stage was written long before, and its random reads would each wait for memory.
#[inline(always)]
fn prefetch_line(next: Option<&[Word; BAND_ROWS]>, line: usize) {
    let Some(word) = next.and_then(|band| band.get(line * WORDS_PER_LINE)) else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect the program can observe; the address is valid anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(word.as_ptr().cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = word;
}

/// [`sweep_precision_bands`] with the widest instructions this CPU has.
fn sweep_precision(entries: &[u16], stage: &[Word], total_pos: [f64; LANES]) -> [f64; LANES] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { sweep_precision_avx2(entries, stage, total_pos) };
    }
    sweep_precision_bands::<Portable>(entries, stage, total_pos)
}

/// [`sweep_precision_bands`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sweep_precision_avx2(entries: &[u16], stage: &[Word], total_pos: [f64; LANES]) -> [f64; LANES] {
    sweep_precision_bands::<Avx2>(entries, stage, total_pos)
}

/// The entries in decreasing score order against the staged words: at the last entry of
/// each tie group (its [`GROUP_START`], going down), the recall gained times the precision
/// there, `(pos / total_pos) · (tp / (tp + fp))` with the integers `average_precision_term`
/// takes, so each lane rounds as the one-resample pass does.
///
/// With scores of six decimals about every other entry ends a group, and a branch there was
/// mispredicted as often. So the running totals, exact integers, are stored after every entry
/// and the write position advances only at a group's end; the groups recorded in a run of
/// [`ENDS_PER_FLUSH`] entries are then divided out in a loop without branches.
#[inline(always)]
fn sweep_precision_bands<W: Widen>(
    entries: &[u16],
    stage: &[Word],
    total_pos: [f64; LANES],
) -> [f64; LANES] {
    let (mut tp, mut fp, mut ap) = ([0.0f64; LANES], [0.0f64; LANES], [0.0f64; LANES]);
    let mut previous_tp = [0.0f64; LANES];
    let mut ends = [[[0.0f64; LANES]; 2]; ENDS_PER_FLUSH + 1];
    let mut recorded = 0;
    let bands = bands(entries, stage);
    for (at, &(entries, band)) in bands.iter().enumerate().rev() {
        let next = at
            .checked_sub(1)
            .and_then(|b| bands.get(b))
            .map(|&(_, next)| next);
        for (line, entries) in entries.chunks(WORDS_PER_LINE).enumerate().rev() {
            prefetch_line(next, line);
            for &entry in entries.iter().rev() {
                let counts = W::widen(band[usize::from(entry & LOCAL_MASK)]);
                let positive = f64::from(entry >> 15);
                for lane in 0..LANES {
                    let p = counts[lane] * positive;
                    tp[lane] += p;
                    fp[lane] += counts[lane] - p;
                }
                ends[recorded] = [tp, fp];
                recorded += usize::from(entry & GROUP_START != 0);
            }
            if recorded + WORDS_PER_LINE > ENDS_PER_FLUSH {
                add_precision_terms(&ends[..recorded], &mut previous_tp, total_pos, &mut ap);
                recorded = 0;
            }
        }
    }
    add_precision_terms(&ends[..recorded], &mut previous_tp, total_pos, &mut ap);
    ap
}

/// Group ends recorded before their terms are added up.
const ENDS_PER_FLUSH: usize = 64;

/// Adds the average-precision term of each recorded group end (running totals `[tp, fp]`
/// there, in sweep order) to `ap`; `previous_tp` holds the true positives before the first.
#[inline(always)]
fn add_precision_terms(
    ends: &[[[f64; LANES]; 2]],
    previous_tp: &mut [f64; LANES],
    total_pos: [f64; LANES],
    ap: &mut [f64; LANES],
) {
    for &[tp, fp] in ends {
        for lane in 0..LANES {
            // Differences of exact integers: the group's positives, exactly.
            let pos = tp[lane] - previous_tp[lane];
            let term = (pos / total_pos[lane]) * (tp[lane] / (tp[lane] + fp[lane]));
            ap[lane] += if pos > 0.0 { term } else { 0.0 };
        }
        *previous_tp = tp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of the [`RankedFlags`] the tests use.
    const FLAGS: RankedFlags = RankedFlags {
        position_mask: (1 << 29) - 1,
        positive: 1 << 31,
        group_start: 1 << 29,
    };

    /// SplitMix64.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` rows in a shuffled score order, a third of them positive, scores drawn from
    /// `levels` values (few levels: many ties); the ranked entries and each row's score and
    /// class by position.
    fn split(n: usize, levels: u64, seed: u64) -> (Vec<u32>, Vec<(u64, bool)>) {
        let mut state = seed;
        let rows: Vec<(u64, bool)> = (0..n)
            .map(|_| {
                (
                    next(&mut state) % levels,
                    next(&mut state).is_multiple_of(3),
                )
            })
            .collect();
        let shuffle: Vec<u64> = (0..n).map(|_| next(&mut state)).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&p| (rows[p as usize].0, shuffle[p as usize]));
        let ranked = order
            .iter()
            .enumerate()
            .map(|(at, &p)| {
                let mut entry = p;
                if rows[p as usize].1 {
                    entry |= FLAGS.positive;
                }
                if at == 0 || rows[order[at - 1] as usize].0 != rows[p as usize].0 {
                    entry |= FLAGS.group_start;
                }
                entry
            })
            .collect();
        (ranked, rows)
    }

    /// ROC AUC of one lane straight from the definition: pairs of a drawn positive and a
    /// drawn negative, a tie counting half.
    fn reference_auc(rows: &[(u64, bool)], counts: &[u8]) -> Option<f64> {
        let mut negatives_at: std::collections::BTreeMap<u64, u128> = Default::default();
        let (mut n_pos, mut n_neg) = (0u128, 0u128);
        for (&(score, positive), &c) in rows.iter().zip(counts) {
            if positive {
                n_pos += u128::from(c);
            } else {
                n_neg += u128::from(c);
                *negatives_at.entry(score).or_default() += u128::from(c);
            }
        }
        let mut twice_u = 0u128;
        for (&(score, positive), &c) in rows.iter().zip(counts) {
            if positive {
                let below: u128 = negatives_at.range(..score).map(|(_, &m)| m).sum();
                let tied = negatives_at.get(&score).copied().unwrap_or(0);
                twice_u += u128::from(c) * (2 * below + tied);
            }
        }
        super::super::metrics::auc_from_counts(twice_u, n_pos, n_neg)
    }

    /// Average precision of one lane from its tie groups taken in decreasing score order, as
    /// the one-resample pass takes them (`average_precision_term` at each group with a
    /// positive); `None` when the lane drew no positive.
    fn reference_ap(rows: &[(u64, bool)], counts: &[u8]) -> Option<f64> {
        let mut groups: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
        for (&(score, positive), &c) in rows.iter().zip(counts) {
            let group = groups.entry(score).or_default();
            if positive {
                group.0 += u64::from(c);
            } else {
                group.1 += u64::from(c);
            }
        }
        let total_pos: u64 = groups.values().map(|g| g.0).sum();
        if total_pos == 0 {
            return None;
        }
        let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0);
        for &(pos, neg) in groups.values().rev() {
            tp += pos;
            fp += neg;
            if pos > 0 {
                ap += super::super::metrics::average_precision_term(pos, total_pos, tp, fp);
            }
        }
        Some(ap)
    }

    /// Every lane's average precision is its resample's, bit for bit, with groups of every
    /// size (one row each, a few rows, hundreds) and across band and flush boundaries.
    #[test]
    fn every_lane_is_the_average_precision_of_its_resample() {
        for (n, levels, seed) in [(10_000, u64::MAX, 6), (9_000, 7, 7), (12_345, 3_000, 8)] {
            let (ranked, rows) = split(n, levels, seed);
            let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
            let counts = lanes(n, LANES, seed + 10);
            let mut packed = Vec::new();
            pack_lanes(counts.iter().map(Vec::as_slice), &mut packed);
            let total_pos: Vec<u64> = counts
                .iter()
                .map(|c| {
                    rows.iter()
                        .zip(c)
                        .filter(|(r, _)| r.1)
                        .map(|(_, &c)| u64::from(c))
                        .sum()
                })
                .collect();
            let total_pos: [u64; LANES] = total_pos.try_into().expect("eight lanes");
            let got = banded.average_precision_lanes(&packed, &mut Vec::new(), total_pos);
            for (lane, &ap) in got.iter().enumerate() {
                let want = reference_ap(&rows, &counts[lane]);
                assert_eq!(
                    ap.map(f64::to_bits),
                    want.map(f64::to_bits),
                    "n {n}, lane {lane}"
                );
            }
        }
    }

    /// Counts of `lanes` resamples: mostly 0-3, some large, one lane all zero when asked.
    fn lanes(n: usize, lanes: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut state = seed;
        (0..lanes)
            .map(|_| {
                (0..n)
                    .map(|_| match next(&mut state) % 100 {
                        0 => 255,
                        r => (r % 4) as u8,
                    })
                    .collect()
            })
            .collect()
    }

    /// Slots and entries as first built: each band's positions sorted, a position's slot its
    /// rank among them.
    fn sorted_band_layout(ranked: &[u32]) -> (Vec<u32>, Vec<u16>) {
        let mut slots = vec![u32::MAX; ranked.len()];
        let mut entries = Vec::new();
        for (band, chunk) in ranked.chunks(BAND_ROWS).enumerate() {
            let mut by_position: Vec<(u32, usize)> = chunk
                .iter()
                .enumerate()
                .map(|(at, &entry)| (entry & FLAGS.position_mask, at))
                .collect();
            by_position.sort_unstable();
            let mut local = vec![0u16; chunk.len()];
            for (index, &(position, at)) in by_position.iter().enumerate() {
                slots[position as usize] = (band * BAND_ROWS + index) as u32;
                local[at] = index as u16;
            }
            for (&entry, &index) in chunk.iter().zip(&local) {
                let mut banded = index;
                if entry & FLAGS.positive != 0 {
                    banded |= POSITIVE;
                }
                if entry & FLAGS.group_start != 0 {
                    banded |= GROUP_START;
                }
                entries.push(banded);
            }
        }
        (slots, entries)
    }

    /// The linear construction lays out every band exactly as sorting each band does.
    #[test]
    fn bands_are_laid_out_as_sorting_each_band_would() {
        for (n, levels, seed) in [(10_000, u64::MAX, 1), (3 * BAND_ROWS, 7, 2), (17, 3, 3)] {
            let (ranked, _) = split(n, levels, seed);
            let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
            let (slots, entries) = sorted_band_layout(&ranked);
            assert_eq!(banded.slots, slots, "n {n}");
            assert_eq!(banded.entries, entries, "n {n}");
        }
    }

    #[test]
    fn every_lane_is_the_auc_of_its_resample_with_and_without_ties() {
        // Several bands, the last one partial; continuous scores (no ties) and few levels.
        for (n, levels, seed) in [(10_000, u64::MAX, 1), (9_000, 7, 2), (4_097, 1_000, 3)] {
            let (ranked, rows) = split(n, levels, seed);
            let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
            for count in [1, 5, LANES] {
                let counts = lanes(n, count, seed + 10);
                let mut packed = Vec::new();
                pack_lanes(counts.iter().map(Vec::as_slice), &mut packed);
                let got = banded.auc_lanes(&packed, &mut Vec::new());
                for (lane, &auc) in got.iter().enumerate() {
                    let want = counts.get(lane).and_then(|c| reference_auc(&rows, c));
                    assert_eq!(auc, want, "n {n}, levels {levels}, lane {lane}");
                }
            }
        }
    }

    #[test]
    fn the_vector_and_portable_sweeps_give_the_same_bits() {
        for levels in [u64::MAX, 5] {
            let (ranked, _) = split(20_000, levels, 4);
            let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
            let counts = lanes(20_000, LANES, 5);
            let mut packed = Vec::new();
            pack_lanes(counts.iter().map(Vec::as_slice), &mut packed);
            let mut stage = Vec::new();
            banded.stage(&packed, &mut stage);
            assert_eq!(banded.ties, levels != u64::MAX);
            let portable = sweep_portable(&banded.entries, &stage, banded.ties).aucs();
            assert_eq!(sweep(&banded.entries, &stage, banded.ties).aucs(), portable);
            let precision = |ap: [f64; LANES]| ap.map(f64::to_bits);
            let total_pos = [1000.0; LANES];
            assert_eq!(
                precision(sweep_precision(&banded.entries, &stage, total_pos)),
                precision(sweep_precision_bands::<Portable>(
                    &banded.entries,
                    &stage,
                    total_pos
                ))
            );
        }
    }

    #[test]
    fn a_model_worse_than_chance_has_its_auc_below_a_half() {
        // Every positive scores below every negative, in tie groups of three.
        let n = 9_000u32;
        let ranked: Vec<u32> = (0..n)
            .map(|p| {
                let mut entry = p;
                if p < n / 3 {
                    entry |= FLAGS.positive;
                }
                if p % 3 == 0 {
                    entry |= FLAGS.group_start;
                }
                entry
            })
            .collect();
        let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
        let counts = lanes(n as usize, LANES, 8);
        let mut packed = Vec::new();
        pack_lanes(counts.iter().map(Vec::as_slice), &mut packed);
        let mut stage = Vec::new();
        banded.stage(&packed, &mut stage);
        let portable = sweep_portable(&banded.entries, &stage, true).aucs();
        assert_eq!(sweep(&banded.entries, &stage, true).aucs(), portable);
        assert!(portable.iter().all(|auc| *auc == Some(0.0)), "{portable:?}");
    }

    #[test]
    fn a_lane_without_one_class_has_no_auc() {
        let (ranked, rows) = split(100, 10, 6);
        let banded = BandedSplit::new(&ranked, FLAGS).expect("valid split");
        let only_positives: Vec<u8> = rows.iter().map(|r| u8::from(r.1)).collect();
        let mut packed = Vec::new();
        pack_lanes([only_positives.as_slice()], &mut packed);
        assert_eq!(banded.auc_lanes(&packed, &mut Vec::new()), [None; LANES]);
        assert_eq!(
            banded.auc_lanes(&packed[..99], &mut Vec::new()),
            [None; LANES]
        );
    }

    #[test]
    fn malformed_ranked_entries_are_refused() {
        let (mut ranked, _) = split(50, 10, 7);
        ranked[3] = (ranked[4] & FLAGS.position_mask) | FLAGS.group_start;
        assert!(
            BandedSplit::new(&ranked, FLAGS).is_none(),
            "a position twice"
        );
        let (mut ranked, _) = split(50, 10, 7);
        ranked[0] = 50 | FLAGS.group_start;
        assert!(
            BandedSplit::new(&ranked, FLAGS).is_none(),
            "a position out of range"
        );
    }
}
