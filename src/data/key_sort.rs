//! Sorting the keys of a quantile sketch's compaction: a few hundred `u64`s at a time, in a
//! sorting network held in AVX-512 registers where the CPU has it.
//!
//! Every value that reaches a sketch is sorted once in a level of about `k` raw values, and
//! again, as part of sorted runs, in each level it is promoted to. With the standard library's
//! sorts that was about 12 ns of a value's 16 in the sketch, and the sketch a fifth of a
//! validation pass at 1M rows. The network sorts the default level's 201 keys in about half
//! the time of `sort_unstable` (0.63 µs against 1.2 µs), whatever their order: 128 keys are
//! loaded into sixteen registers, each lane is sorted down the registers by Batcher's
//! odd-even merge sort (only minimums and maximums, no shuffles), the two 8x8 halves are
//! transposed so each lane's column becomes a run of sixteen in two registers, and the runs
//! are merged by bitonic merges; two such halves make 256.
//!
//! A level a value is promoted to holds sorted runs, the halves promoted into it one after
//! another: three of a hundred keys or so when it compacts, too many for the network. Those
//! are merged two by two, eight keys at a time: each eight out is the smaller half of a
//! bitonic merge of the eight kept back and the next eight of the run whose next key is
//! smaller. That is about a third of the time the stable sort took to find and merge them.
//!
//! Short slices, and long ones, take the standard library's sorts: below [`NETWORK_MIN`] a
//! whole network costs more than `sort_unstable`, and above [`NETWORK_MAX`] it would not fit
//! the registers. Keys in more than [`MAX_RUNS`] runs are sorted as if they came in any
//! order. `MLGATE_NO_AVX512` turns the network and the merges off with the other AVX-512
//! paths.

use super::wide_numbers;

/// The fewest keys the network sorts.
pub const NETWORK_MIN: usize = 64;

/// The most keys the network sorts.
pub const NETWORK_MAX: usize = 256;

/// How the keys to sort were laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// In the order they came.
    Raw,
    /// As sorted runs one after another, which the stable sort merges in linear time.
    Runs,
}

/// Runs merged by [`merge_runs`] at most: a compaction's level holds three or four.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MAX_RUNS: usize = 8;

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// The two buffers [`merge_runs`] merges between, kept for the thread's next compaction.
    static MERGE_BUFFERS: std::cell::RefCell<(Vec<u64>, Vec<u64>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Sorts `keys` ascending. Equal keys are equal bits, so no order of them is observable.
pub fn sort_keys(keys: &mut [u64], order: Order) {
    if order == Order::Runs && merge_runs(keys) {
        return;
    }
    if network_sorts(keys.len()) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `network_sorts` holds only where `wide_numbers::available` found AVX-512F,
        // and the slice is no longer than the network.
        unsafe {
            avx512::sort_up_to_256(keys)
        };
        return;
    }
    match order {
        Order::Raw => keys.sort_unstable(),
        Order::Runs => keys.sort(),
    }
}

/// Sorts `keys` by merging the sorted runs they are made of, two by two, with AVX-512: about
/// a third of the stable sort's time on a compaction's level. Returns `false`, with `keys`
/// untouched, where the CPU lacks AVX-512, the keys are few, or they are more than
/// [`MAX_RUNS`] runs.
#[cfg(target_arch = "x86_64")]
fn merge_runs(keys: &mut [u64]) -> bool {
    if keys.len() < NETWORK_MIN || !wide_numbers::available() {
        return false;
    }
    let mut ends = [0; MAX_RUNS];
    // SAFETY: `wide_numbers::available` found AVX-512F.
    let Some(count) = (unsafe { avx512::run_ends(keys, &mut ends) }) else {
        return false;
    };
    if count == 1 {
        return true;
    }
    let mut runs = [(0, 0); MAX_RUNS];
    let mut start = 0;
    for (run, &end) in runs.iter_mut().zip(&ends[..count]) {
        *run = (start, end - start);
        start = end;
    }
    MERGE_BUFFERS.with_borrow_mut(|(merged, spare)| {
        let mut count = merge_pairs(keys, &mut runs[..count], merged);
        while count > 1 {
            std::mem::swap(merged, spare);
            count = merge_pairs(spare, &mut runs[..count], merged);
        }
        keys.copy_from_slice(merged);
    });
    true
}

/// [`merge_runs`] where there is no AVX-512 to merge with.
#[cfg(not(target_arch = "x86_64"))]
fn merge_runs(_keys: &mut [u64]) -> bool {
    false
}

/// Merges the runs of `source` two by two into `out` (cleared first), and returns how many
/// merged runs there are, leaving where they lie in `out` at the start of `runs`.
#[cfg(target_arch = "x86_64")]
fn merge_pairs(source: &[u64], runs: &mut [(usize, usize)], out: &mut Vec<u64>) -> usize {
    out.clear();
    let pairs = runs.len().div_ceil(2);
    for pair in 0..pairs {
        let start = out.len();
        let (first, first_len) = runs[2 * pair];
        let first = &source[first..first + first_len];
        let second = match runs.get(2 * pair + 1) {
            Some(&(second, second_len)) => &source[second..second + second_len],
            None => &[],
        };
        // SAFETY: only `merge_runs` calls this, where `wide_numbers::available` found AVX-512F.
        unsafe { avx512::merge_two(first, second, out) };
        // Drop the padding, which the next pair's keys overwrite.
        out.truncate(start + first.len() + second.len());
        runs[pair] = (start, first.len() + second.len());
    }
    pairs
}

/// Whether `len` keys go through the network on this CPU.
fn network_sorts(len: usize) -> bool {
    cfg!(target_arch = "x86_64")
        && (NETWORK_MIN..=NETWORK_MAX).contains(&len)
        && wide_numbers::available()
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Registers sorted together: 128 keys.
    const REGS: usize = 16;

    type Regs = [__m512i; REGS];

    /// Lane permutations: each lane swapped with the one 1, 2 or 4 lanes away, and the lanes
    /// reversed.
    struct Perms {
        x1: __m512i,
        x2: __m512i,
        x4: __m512i,
        reverse: __m512i,
        /// Two-source picks for the 8x8 transposition's steps of two and four.
        t2: (__m512i, __m512i),
        t4: (__m512i, __m512i),
    }

    #[inline(always)]
    unsafe fn lanes_of(picks: [i64; 8]) -> __m512i {
        _mm512_loadu_si512(picks.as_ptr().cast())
    }

    #[inline(always)]
    unsafe fn perms() -> Perms {
        Perms {
            x1: lanes_of([1, 0, 3, 2, 5, 4, 7, 6]),
            x2: lanes_of([2, 3, 0, 1, 6, 7, 4, 5]),
            x4: lanes_of([4, 5, 6, 7, 0, 1, 2, 3]),
            reverse: lanes_of([7, 6, 5, 4, 3, 2, 1, 0]),
            t2: (
                lanes_of([0, 1, 8, 9, 4, 5, 12, 13]),
                lanes_of([2, 3, 10, 11, 6, 7, 14, 15]),
            ),
            t4: (
                lanes_of([0, 1, 2, 3, 8, 9, 10, 11]),
                lanes_of([4, 5, 6, 7, 12, 13, 14, 15]),
            ),
        }
    }

    /// Compare-exchange of two registers, lane by lane: the smaller keys to `a`.
    #[inline(always)]
    unsafe fn exchange(r: &mut Regs, a: usize, b: usize) {
        let low = _mm512_min_epu64(r[a], r[b]);
        r[b] = _mm512_max_epu64(r[a], r[b]);
        r[a] = low;
    }

    /// Compare-exchange of each lane with the lane `perm` pairs it with, within every register:
    /// the larger key to the lanes in `high`.
    #[inline(always)]
    unsafe fn within(r: &mut Regs, perm: __m512i, high: __mmask8) {
        for reg in r.iter_mut() {
            *reg = within_one(*reg, perm, high);
        }
    }

    /// [`within`] for one register.
    #[inline(always)]
    unsafe fn within_one(reg: __m512i, perm: __m512i, high: __mmask8) -> __m512i {
        let partner = _mm512_permutexvar_epi64(perm, reg);
        let low = _mm512_mask_min_epu64(reg, !high, reg, partner);
        _mm512_mask_max_epu64(low, high, reg, partner)
    }

    /// The first step of merging pairs of sorted runs of `len` registers each, that lie one
    /// after another in blocks of `2 * len`: each key against its mirror in the other run, the
    /// smaller to the first. Each run is left bitonic, every key in the first no larger than
    /// any in the second.
    #[inline(always)]
    unsafe fn mirror(r: &mut Regs, len: usize, reverse: __m512i) {
        for block in (0..REGS).step_by(2 * len) {
            for t in 0..len {
                let (a, b) = (block + t, block + 2 * len - 1 - t);
                let mirrored = _mm512_permutexvar_epi64(reverse, r[b]);
                let low = _mm512_min_epu64(r[a], mirrored);
                let high = _mm512_max_epu64(r[a], mirrored);
                r[a] = low;
                r[b] = _mm512_permutexvar_epi64(reverse, high);
            }
        }
    }

    /// A bitonic half-cleaner between registers `distance` apart.
    #[inline(always)]
    unsafe fn halve(r: &mut Regs, distance: usize) {
        for a in 0..REGS {
            if a & distance == 0 {
                exchange(r, a, a | distance);
            }
        }
    }

    /// The half-cleaners within each register, that end a bitonic merge.
    #[inline(always)]
    unsafe fn halve_within(r: &mut Regs, p: &Perms) {
        within(r, p.x4, 0xF0);
        within(r, p.x2, 0xCC);
        within(r, p.x1, 0xAA);
    }

    /// Sorts each lane down the sixteen registers: Batcher's odd-even merge sort of 16,
    /// written out so the registers never leave the register file.
    #[inline(always)]
    unsafe fn sort_lanes(r: &mut Regs) {
        #[rustfmt::skip]
        const PAIRS: [(usize, usize); 63] = [
            (0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (14, 15),
            (0, 2), (1, 3), (4, 6), (5, 7), (8, 10), (9, 11), (12, 14), (13, 15),
            (1, 2), (5, 6), (9, 10), (13, 14),
            (0, 4), (1, 5), (2, 6), (3, 7), (8, 12), (9, 13), (10, 14), (11, 15),
            (2, 4), (3, 5), (10, 12), (11, 13),
            (1, 2), (3, 4), (5, 6), (9, 10), (11, 12), (13, 14),
            (0, 8), (1, 9), (2, 10), (3, 11), (4, 12), (5, 13), (6, 14), (7, 15),
            (4, 8), (5, 9), (6, 10), (7, 11),
            (2, 4), (3, 5), (6, 8), (7, 9), (10, 12), (11, 13),
            (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
        ];
        // A constant array's loop is unrolled; each step names its registers at compile time.
        for (a, b) in PAIRS {
            exchange(r, a, b);
        }
    }

    /// Transposes registers `base..base + 8` as an 8x8 matrix of keys.
    #[inline(always)]
    unsafe fn transpose(r: &mut Regs, base: usize, p: &Perms) {
        for i in [0, 2, 4, 6] {
            let (a, b) = (r[base + i], r[base + i + 1]);
            r[base + i] = _mm512_unpacklo_epi64(a, b);
            r[base + i + 1] = _mm512_unpackhi_epi64(a, b);
        }
        for (i, j) in [(0, 2), (1, 3), (4, 6), (5, 7)] {
            let (a, b) = (r[base + i], r[base + j]);
            r[base + i] = _mm512_permutex2var_epi64(a, p.t2.0, b);
            r[base + j] = _mm512_permutex2var_epi64(a, p.t2.1, b);
        }
        for i in 0..4 {
            let (a, b) = (r[base + i], r[base + i + 4]);
            r[base + i] = _mm512_permutex2var_epi64(a, p.t4.0, b);
            r[base + i + 4] = _mm512_permutex2var_epi64(a, p.t4.1, b);
        }
    }

    /// Sorts the 128 keys of sixteen registers, in register order.
    #[inline(always)]
    unsafe fn sort_128(r: &mut Regs, p: &Perms) {
        sort_lanes(r);
        transpose(r, 0, p);
        transpose(r, 8, p);
        // Lane `l`'s sorted column is now registers `l` and `8 + l`: lay the eight runs of
        // sixteen out one after another.
        let columns = *r;
        for l in 0..8 {
            r[2 * l] = columns[l];
            r[2 * l + 1] = columns[8 + l];
        }
        mirror(r, 2, p.reverse);
        halve(r, 1);
        halve_within(r, p);
        mirror(r, 4, p.reverse);
        halve(r, 2);
        halve(r, 1);
        halve_within(r, p);
        mirror(r, 8, p.reverse);
        halve(r, 4);
        halve(r, 2);
        halve(r, 1);
        halve_within(r, p);
    }

    /// The rest of a merge of 256 keys in two halves, once `mirror` has run between them.
    #[inline(always)]
    unsafe fn finish_half(r: &mut Regs, p: &Perms) {
        halve(r, 8);
        halve(r, 4);
        halve(r, 2);
        halve(r, 1);
        halve_within(r, p);
    }

    /// The lanes of register `reg` (keys `first + 8 * reg ..`) that hold one of `len` keys.
    #[inline(always)]
    fn lanes_in(len: usize, first: usize, reg: usize) -> __mmask8 {
        let start = first + 8 * reg;
        match len.saturating_sub(start) {
            0 => 0,
            n if n >= 8 => 0xFF,
            n => (1u8 << n) - 1,
        }
    }

    /// Loads keys `first..` of `len` from `ptr` into sixteen registers, the lanes past `len`
    /// holding the largest key.
    #[inline(always)]
    unsafe fn load(ptr: *const u64, len: usize, first: usize) -> Regs {
        let largest = _mm512_set1_epi64(-1);
        let mut r = [largest; REGS];
        for (reg, value) in r.iter_mut().enumerate() {
            let lanes = lanes_in(len, first, reg);
            if lanes != 0 {
                *value = _mm512_mask_loadu_epi64(largest, lanes, ptr.add(first + 8 * reg).cast());
            }
        }
        r
    }

    /// Stores sixteen registers as keys `first..` of `len` at `ptr`, lanes past `len` left out.
    #[inline(always)]
    unsafe fn store(ptr: *mut u64, len: usize, first: usize, r: &Regs) {
        for (reg, value) in r.iter().enumerate() {
            let lanes = lanes_in(len, first, reg);
            if lanes != 0 {
                _mm512_mask_storeu_epi64(ptr.add(first + 8 * reg).cast(), lanes, *value);
            }
        }
    }

    /// Sorts at most 256 keys.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sort_up_to_256(keys: &mut [u64]) {
        let len = keys.len();
        assert!(
            len <= 2 * 8 * REGS,
            "{len} keys are more than the network holds"
        );
        let ptr = keys.as_mut_ptr();
        let p = perms();
        let mut low = load(ptr, len, 0);
        sort_128(&mut low, &p);
        if len <= 8 * REGS {
            store(ptr, len, 0, &low);
            return;
        }
        // Both halves go to a buffer padded with the largest key, and are merged there: all
        // 32 registers at once would not leave room for the permutations.
        let mut merged = [u64::MAX; 16 * REGS];
        let out = merged.as_mut_ptr();
        store(out, 16 * REGS, 0, &low);
        let mut high = load(ptr, len, 8 * REGS);
        sort_128(&mut high, &p);
        store(out, 16 * REGS, 8 * REGS, &high);
        for t in 0..REGS {
            let a = out.add(8 * t).cast::<__m512i>();
            let b = out.add(8 * (2 * REGS - 1 - t)).cast::<__m512i>();
            let mirrored = _mm512_permutexvar_epi64(p.reverse, _mm512_loadu_si512(b));
            let first = _mm512_loadu_si512(a);
            _mm512_storeu_si512(a, _mm512_min_epu64(first, mirrored));
            let second = _mm512_max_epu64(first, mirrored);
            _mm512_storeu_si512(b, _mm512_permutexvar_epi64(p.reverse, second));
        }
        let mut low = load(out, 16 * REGS, 0);
        finish_half(&mut low, &p);
        store(ptr, len, 0, &low);
        let mut high = load(out, 16 * REGS, 8 * REGS);
        finish_half(&mut high, &p);
        store(ptr, len, 8 * REGS, &high);
    }

    /// The eight keys of `run` from `at` (as many as there are), the lanes past its end
    /// holding the largest key.
    #[inline(always)]
    unsafe fn load_eight(run: &[u64], at: usize) -> __m512i {
        let lanes = lanes_in(run.len(), at, 0);
        _mm512_mask_loadu_epi64(_mm512_set1_epi64(-1), lanes, run.as_ptr().add(at).cast())
    }

    /// Writes to `ends` where each sorted run of `keys` ends (after each key smaller than the
    /// one before it, and at the end), and returns how many there are; `None` past
    /// `ends.len()`. Eight neighbours are compared at once.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_ends(keys: &[u64], ends: &mut [usize]) -> Option<usize> {
        let mut count = 0;
        let mut note = |end: usize| {
            *ends.get_mut(count)? = end;
            count += 1;
            Some(())
        };
        let mut at = 1;
        while at + 8 <= keys.len() {
            let ptr = keys.as_ptr().add(at);
            let later = _mm512_loadu_si512(ptr.cast());
            let earlier = _mm512_loadu_si512(ptr.sub(1).cast());
            let mut descents = _mm512_cmplt_epu64_mask(later, earlier);
            while descents != 0 {
                note(at + descents.trailing_zeros() as usize)?;
                descents &= descents - 1;
            }
            at += 8;
        }
        for end in at..keys.len() {
            if keys[end] < keys[end - 1] {
                note(end)?;
            }
        }
        note(keys.len())?;
        Some(count)
    }

    /// Merges two sorted registers: the smaller eight keys, sorted, and the larger eight.
    #[inline(always)]
    unsafe fn merge_sixteen(a: __m512i, b: __m512i, p: &Perms) -> (__m512i, __m512i) {
        let mirrored = _mm512_permutexvar_epi64(p.reverse, b);
        let (mut low, mut high) = (_mm512_min_epu64(a, mirrored), _mm512_max_epu64(a, mirrored));
        for (perm, lanes) in [(p.x4, 0xF0), (p.x2, 0xCC), (p.x1, 0xAA)] {
            low = within_one(low, perm, lanes);
            high = within_one(high, perm, lanes);
        }
        (low, high)
    }

    /// Appends to `out` the keys of the sorted runs `a` and `b`, sorted, followed by fewer
    /// than sixteen more largest keys (padding): eight keys at a time, each eight the smaller
    /// half of a merge of the eight kept back and the next eight of the run whose next key
    /// is smaller.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn merge_two(a: &[u64], b: &[u64], out: &mut Vec<u64>) {
        if a.is_empty() || b.is_empty() {
            out.extend_from_slice(a);
            out.extend_from_slice(b);
            return;
        }
        let p = perms();
        let blocks = a.len().div_ceil(8) + b.len().div_ceil(8);
        out.reserve(8 * blocks);
        let (mut next_a, mut next_b) = (8, 8);
        let (mut kept, mut incoming) = (load_eight(a, 0), load_eight(b, 0));
        for _ in 2..blocks {
            let (low, high) = merge_sixteen(incoming, kept, &p);
            store_eight(out, low);
            kept = high;
            let take_a = match (a.get(next_a), b.get(next_b)) {
                (Some(x), Some(y)) => x <= y,
                (Some(_), None) => true,
                _ => false,
            };
            incoming = if take_a {
                next_a += 8;
                load_eight(a, next_a - 8)
            } else {
                next_b += 8;
                load_eight(b, next_b - 8)
            };
        }
        let (low, high) = merge_sixteen(incoming, kept, &p);
        store_eight(out, low);
        store_eight(out, high);
    }

    /// Appends a register's eight keys to `out`, whose capacity must hold them.
    #[inline(always)]
    unsafe fn store_eight(out: &mut Vec<u64>, keys: __m512i) {
        let len = out.len();
        debug_assert!(out.capacity() - len >= 8);
        _mm512_storeu_si512(out.as_mut_ptr().add(len).cast(), keys);
        out.set_len(len + 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sorts `keys` each way this CPU has, and checks each against `sort_unstable`.
    fn sorts_like_std(keys: &[u64]) {
        let mut expected = keys.to_vec();
        expected.sort_unstable();
        for order in [Order::Raw, Order::Runs] {
            let mut sorted = keys.to_vec();
            sort_keys(&mut sorted, order);
            assert_eq!(sorted, expected, "{order:?}, {} keys", keys.len());
        }
        #[cfg(target_arch = "x86_64")]
        if keys.len() <= NETWORK_MAX && std::arch::is_x86_feature_detected!("avx512f") {
            let mut sorted = keys.to_vec();
            // SAFETY: the CPU has AVX-512F, and the slice fits the network.
            unsafe { avx512::sort_up_to_256(&mut sorted) };
            assert_eq!(sorted, expected, "network, {} keys", keys.len());
        }
    }

    /// A key drawn from a few shapes: anything, a handful of values (many ties), or near
    /// either end of the range (the network pads with the largest key).
    fn key() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            0..4_u64,
            (0..4_u64).prop_map(|d| u64::MAX - d),
        ]
    }

    /// The next state of a xorshift generator, so the tests' keys are the same every run.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Keys made of `runs`, each sorted, one after another.
    fn concatenated_runs(mut runs: Vec<Vec<u64>>) -> Vec<u64> {
        runs.iter_mut().for_each(|run| run.sort_unstable());
        runs.concat()
    }

    proptest! {
        #[test]
        fn sorted_runs_merge_like_std(
            runs in prop::collection::vec(prop::collection::vec(key(), 0..150), 1..=MAX_RUNS + 2)
        ) {
            let keys = concatenated_runs(runs);
            sorts_like_std(&keys);
            let mut merged = keys.clone();
            if merge_runs(&mut merged) {
                let mut expected = keys.clone();
                expected.sort_unstable();
                prop_assert_eq!(merged, expected);
            } else {
                prop_assert_eq!(merged, keys);
            }
        }

        #[test]
        fn every_length_sorts_like_std(keys in prop::collection::vec(key(), 0..=300)) {
            sorts_like_std(&keys);
        }
    }

    /// A compaction's level (the largest key its last compaction held back, then three
    /// promoted halves) is merged, not handed to the stable sort, where the CPU can.
    #[test]
    fn a_level_of_promoted_runs_is_merged() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut run =
            |len: usize| -> Vec<u64> { (0..len).map(|_| xorshift(&mut state) >> 1).collect() };
        let level = concatenated_runs(vec![vec![u64::MAX - 1], run(100), run(100), run(101)]);
        let mut merged = level.clone();
        let mut expected = level.clone();
        expected.sort_unstable();
        let can = cfg!(target_arch = "x86_64") && wide_numbers::available();
        assert_eq!(merge_runs(&mut merged), can);
        if can {
            assert_eq!(merged, expected);
        }
        let too_many = concatenated_runs((0..=MAX_RUNS).map(|_| run(20)).collect());
        let mut untouched = too_many.clone();
        assert!(!merge_runs(&mut untouched));
        assert_eq!(untouched, too_many);
        sorts_like_std(&too_many);
    }

    #[test]
    fn every_length_up_to_the_network_and_past_it_sorts() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for len in 0..=NETWORK_MAX + 8 {
            let keys: Vec<u64> = (0..len)
                .map(|i| {
                    let key = xorshift(&mut state);
                    if i % 5 == 0 {
                        key % 3
                    } else {
                        key
                    }
                })
                .collect();
            sorts_like_std(&keys);
            let mut sorted_runs = keys.clone();
            sorted_runs.sort_unstable();
            sorted_runs.reverse();
            sorts_like_std(&sorted_runs);
        }
    }
}
