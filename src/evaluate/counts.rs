//! Bootstrap resamples as row multiplicities, and the engine that runs a paired statistic
//! over them for [`paired_bootstrap`](super::paired::paired_bootstrap).
//!
//! Drawing n rows with replacement from n only decides how often each row counts: a
//! multinomial vector of counts. It is drawn here hierarchically, which gives exactly the same
//! distribution as n uniform index draws but lets a statistic stop at the level it needs:
//!
//! 1. the rows are grouped into cells (for a classification, by label, champion prediction
//!    and candidate prediction); the cells' totals are a multinomial over at most k³ cells,
//!    drawn by sequential binomials, O(cells) per resample. Count-based metrics (accuracy,
//!    precision, recall, F1, balanced accuracy) need nothing more;
//! 2. within a cell, the total is spread over blocks of [`BLOCK_ROWS`] rows by sequential
//!    binomials, and within a block by uniform draws into a byte per row that stays in the
//!    level-1 cache. Ranking, calibration and per-row sums read these counts as weights.
//!
//! The two levels draw from separate streams of `(seed, resample)`, so every metric of one
//! evaluation sees the same cell totals for resample `r`, and the metrics that need rows the
//! same rows: the resamples are shared by all metrics and both models. Each resample has its
//! own streams, so the result does not depend on which thread draws it.

use super::paired::{in_parallel, summarise, valid_request, BootstrapResult};
use super::random::{binomial, Xoshiro256StarStar};

/// Rows per block when a cell's draws are spread over its rows: a block's byte counters fit
/// in the level-1 cache, so the uniform draws into it stay cheap.
pub(crate) const BLOCK_ROWS: usize = 8192;

/// Resamples a worker claims at a time, and the most a statistic evaluates in one batch
/// ([`CountStatistic::resample_batch`]): the ranking metrics sweep a batch's resamples
/// together ([`super::banded`]).
const RESAMPLES_PER_CLAIM: usize = 8;

/// First stream number of the count resamples: resample `r` draws its cell totals from
/// stream `STREAM_BASE + 2r` and its rows from `STREAM_BASE + 2r + 1`, apart from the streams
/// of [`bootstrap_delta_ci`](super::paired::bootstrap_delta_ci)'s chunks.
const STREAM_BASE: u64 = 1 << 62;

/// A run of consecutive positions that share a cell key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    /// The statistic's key of the cell (a class code, or 0).
    pub(crate) key: u32,
    /// First position.
    pub(crate) start: usize,
    /// Number of rows.
    pub(crate) len: usize,
}

/// The order in which a resample's row counts are laid out: rows grouped into cells, by
/// increasing key and, within a cell, by increasing row index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The row at each position.
    order: Vec<u32>,
    /// The cells, in position order.
    cells: Vec<Cell>,
}

impl Layout {
    /// Rows grouped by `keys[row]`; `None` for no rows or more than `u32::MAX`.
    pub(crate) fn by_key(keys: &[u32]) -> Option<Self> {
        Layout::by_key_then(keys, None)
    }

    /// Rows grouped by `keys[row]` and, within a cell, ordered by `then[row]` when given
    /// (an order that keeps the rows a statistic visits together close in memory; it does
    /// not change the distribution of the counts).
    pub(crate) fn by_key_then(keys: &[u32], then: Option<&[u64]>) -> Option<Self> {
        if keys.is_empty() || u32::try_from(keys.len()).is_err() {
            return None;
        }
        if then.is_some_and(|t| t.len() != keys.len()) {
            return None;
        }
        let then_of = |row: usize| then.map_or(0, |t| t[row]);
        let mut keyed: Vec<(u32, u64, u32)> = (0..keys.len())
            .map(|row| (keys[row], then_of(row), row as u32))
            .collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, _, row)| row).collect();
        let mut cells: Vec<Cell> = Vec::new();
        for (position, &row) in order.iter().enumerate() {
            let key = keys[row as usize];
            match cells.last_mut() {
                Some(cell) if cell.key == key => cell.len += 1,
                _ => cells.push(Cell {
                    key,
                    start: position,
                    len: 1,
                }),
            }
        }
        Some(Layout { order, cells })
    }

    /// All rows in one cell, in row order.
    pub(crate) fn single(n_rows: usize) -> Option<Self> {
        Layout::by_key(&vec![0; n_rows])
    }

    /// Number of rows.
    pub(crate) fn n_rows(&self) -> usize {
        self.order.len()
    }

    /// The cells in position order.
    pub(crate) fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// The row at each position.
    pub(crate) fn order(&self) -> &[u32] {
        &self.order
    }

    /// The row indices of a resample, each row repeated as often as it was drawn, in position
    /// order: what the metric functions take.
    pub(crate) fn expand(&self, counts: &[u8]) -> Vec<usize> {
        let mut rows = Vec::with_capacity(self.order.len());
        for (&row, &count) in self.order.iter().zip(counts) {
            rows.extend(std::iter::repeat_n(row as usize, usize::from(count)));
        }
        rows
    }
}

/// One resample: how many draws fell in each cell and, when the statistic needs them, on
/// each row (by position).
#[derive(Debug, Clone, Default)]
pub(crate) struct Drawn {
    /// Draws per cell, in the layout's cell order; they sum to the number of rows.
    pub(crate) cells: Vec<u64>,
    /// Draws per position; empty when only the cells were drawn.
    pub(crate) rows: Vec<u8>,
}

impl Drawn {
    /// Draws resample `resample` of `seed` over `layout`: the cells, and the rows when
    /// `with_rows`. `false` when a row was drawn more than 255 times (possible only past 255
    /// rows, with probability below 10^-500): the caller skips that resample.
    pub(crate) fn draw(
        &mut self,
        layout: &Layout,
        seed: u64,
        resample: usize,
        with_rows: bool,
    ) -> bool {
        let stream = STREAM_BASE + 2 * resample as u64;
        let mut rng = Xoshiro256StarStar::for_stream(seed, stream);
        draw_cells(layout, &mut rng, &mut self.cells);
        if !with_rows {
            self.rows.clear();
            return true;
        }
        let mut rng = Xoshiro256StarStar::for_stream(seed, stream + 1);
        self.rows.clear();
        self.rows.resize(layout.n_rows(), 0);
        draw_rows(layout, &mut rng, &self.cells, &mut self.rows, BLOCK_ROWS)
    }
}

/// Draws per cell: n draws over the cells with probabilities proportional to their sizes, as
/// sequential binomials (cell `c` gets Binomial(draws left, size / rows left)).
fn draw_cells(layout: &Layout, rng: &mut Xoshiro256StarStar, out: &mut Vec<u64>) {
    out.clear();
    let mut rows_left = layout.n_rows();
    let mut draws_left = rows_left as u64;
    for cell in &layout.cells {
        let drawn = split(rng, draws_left, cell.len, rows_left);
        out.push(drawn);
        draws_left -= drawn;
        rows_left -= cell.len;
    }
}

/// How many of `draws` uniform draws over `rows` rows fall on the first `part` of them.
fn split(rng: &mut Xoshiro256StarStar, draws: u64, part: usize, rows: usize) -> u64 {
    if part >= rows {
        draws
    } else {
        binomial(rng, draws, part as f64 / rows as f64)
    }
}

/// Spreads each cell's draws uniformly over its rows (blocks of `block` rows by sequential
/// binomials, then uniform draws within a block); `false` when a count overflowed a byte.
fn draw_rows(
    layout: &Layout,
    rng: &mut Xoshiro256StarStar,
    cells: &[u64],
    rows: &mut [u8],
    block: usize,
) -> bool {
    let mut overflow = false;
    for (cell, &total) in layout.cells.iter().zip(cells) {
        let (mut at, end) = (cell.start, cell.start + cell.len);
        let mut draws_left = total;
        while at < end && draws_left > 0 {
            let len = block.min(end - at);
            let drawn = split(rng, draws_left, len, end - at);
            if let Some(counts) = rows.get_mut(at..at + len) {
                overflow |= fill_block(rng, counts, drawn);
            }
            draws_left -= drawn;
            at += len;
        }
    }
    !overflow
}

/// Adds `draws` uniform draws to the block's byte counters, two per generator output;
/// `true` when a counter wrapped.
fn fill_block(rng: &mut Xoshiro256StarStar, counts: &mut [u8], draws: u64) -> bool {
    let Ok(bound) = u32::try_from(counts.len()) else {
        return true;
    };
    if bound == 0 {
        return draws > 0;
    }
    let mut wrapped = false;
    let mut add = |at: u32| {
        if let Some(c) = counts.get_mut(at as usize) {
            *c = c.wrapping_add(1);
            wrapped |= *c == 0;
        }
    };
    if bound.is_power_of_two() {
        // A whole block: each draw is exactly log2(bound) random bits, several per output.
        let bits = bound.trailing_zeros().max(1);
        let per_output = u64::from(64 / bits);
        let mask = u64::from(bound - 1);
        let mut left = draws;
        while left > 0 {
            let mut x = rng.next_u64();
            for _ in 0..per_output.min(left) {
                add((x & mask) as u32);
                x >>= bits;
            }
            left -= per_output.min(left);
        }
        return wrapped;
    }
    for _ in 0..draws / 2 {
        let (a, b) = rng.below32_pair(bound);
        add(a);
        add(b);
    }
    if draws % 2 == 1 {
        add(rng.below32(bound));
    }
    wrapped
}

/// A paired metric evaluated from a resample's counts.
///
/// Implementations differ only in speed: each must return what the metric of `(champion,
/// candidate)` is on the rows [`Layout::expand`] lists.
pub(crate) trait CountStatistic: Sync {
    /// Per-thread buffers reused from one resample to the next.
    type Scratch;

    /// How the rows are grouped into cells.
    fn layout(&self) -> &Layout;

    /// Whether the statistic reads row counts, or only the cell totals.
    fn needs_rows(&self) -> bool;

    /// Fresh buffers for one worker thread.
    fn scratch(&self) -> Self::Scratch;

    /// `(champion, candidate)` on all rows, the point estimate.
    fn point(&self) -> Option<(f64, f64)>;

    /// `(champion, candidate)` on one resample.
    fn resample(&self, drawn: &Drawn, scratch: &mut Self::Scratch) -> Option<(f64, f64)>;

    /// `(champion, candidate)` on each of up to [`RESAMPLES_PER_CLAIM`] resamples, in order:
    /// what [`resample`](Self::resample) gives for each, bit for bit. By default one at a time.
    fn resample_batch(
        &self,
        drawn: &[Drawn],
        scratch: &mut Self::Scratch,
    ) -> Vec<Option<(f64, f64)>> {
        drawn.iter().map(|d| self.resample(d, scratch)).collect()
    }
}

/// Object-safe face of [`run`], so that the selector in [`super::resample`] can hand back
/// whichever statistic it built without the caller naming its type.
pub(crate) trait DynStatistic {
    /// [`run`] on `self`.
    fn run(
        &self,
        resamples: usize,
        seed: u64,
        confidence: f64,
        threads: usize,
    ) -> Option<BootstrapResult>;

    /// Resamples `0..count` of `seed` drawn with rows, one scratch reused throughout as in a
    /// worker: the rows each names and the statistic's value (tests only, to check a
    /// statistic resample by resample against the metric on the gathered rows).
    #[cfg(test)]
    fn probe(&self, seed: u64, count: usize) -> Vec<Probe>;
}

/// A resample's rows and what a statistic made of them (tests only).
#[cfg(test)]
pub(crate) type Probe = (Vec<usize>, Option<(f64, f64)>);

impl<S: CountStatistic> DynStatistic for S {
    /// Runs the engine.
    fn run(
        &self,
        resamples: usize,
        seed: u64,
        confidence: f64,
        threads: usize,
    ) -> Option<BootstrapResult> {
        run(self, resamples, seed, confidence, threads)
    }

    /// Draws rows even for a statistic that needs only cells, to list them.
    #[cfg(test)]
    fn probe(&self, seed: u64, count: usize) -> Vec<Probe> {
        let layout = self.layout();
        let mut scratch = self.scratch();
        let mut drawn = Drawn::default();
        (0..count)
            .map(|r| {
                assert!(drawn.draw(layout, seed, r, true));
                let rows = layout.expand(&drawn.rows);
                if !self.needs_rows() {
                    drawn.rows.clear();
                }
                (rows, self.resample(&drawn, &mut scratch))
            })
            .collect()
    }
}

/// The bootstrap over count resamples: point estimate, resamples spread over up to `threads`
/// threads in claims of [`RESAMPLES_PER_CLAIM`], percentile interval.
pub(crate) fn run<S: CountStatistic + ?Sized>(
    statistic: &S,
    resamples: usize,
    seed: u64,
    confidence: f64,
    threads: usize,
) -> Option<BootstrapResult> {
    let layout = statistic.layout();
    if !valid_request(layout.n_rows(), resamples, confidence) {
        return None;
    }
    let delta = super::paired::finite_delta(statistic.point())?;
    let with_rows = statistic.needs_rows();
    let claims = resamples.div_ceil(RESAMPLES_PER_CLAIM);
    let scratch = || (Vec::<Drawn>::new(), statistic.scratch());
    let per_claim = in_parallel(claims, threads, scratch, |claim, (drawn, scratch)| {
        let first = claim * RESAMPLES_PER_CLAIM;
        let batch = first..resamples.min(first + RESAMPLES_PER_CLAIM);
        drawn.resize_with(batch.len(), Drawn::default);
        let complete: Vec<bool> = batch
            .zip(drawn.iter_mut())
            .map(|(r, d)| d.draw(layout, seed, r, with_rows))
            .collect();
        let values = statistic.resample_batch(drawn, scratch);
        complete
            .into_iter()
            .zip(values)
            .map(|(complete, value)| super::paired::finite_delta(value.filter(|_| complete)))
            .collect::<Vec<_>>()
    });
    let deltas: Vec<f64> = per_claim.into_iter().flatten().flatten().collect();
    summarise(deltas, delta, resamples, seed, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Multinomial probability of `counts` for n = Σ counts draws over `counts.len()` rows.
    fn multinomial_probability(counts: &[u8]) -> f64 {
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let factorial = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
        let ways = factorial(n)
            / counts
                .iter()
                .map(|&c| factorial(usize::from(c)))
                .product::<f64>();
        ways / (counts.len() as f64).powi(n as i32)
    }

    /// The hierarchical draw (cells, blocks, rows) gives exactly the multinomial
    /// distribution of n uniform draws over n rows: χ² of every count vector's frequency
    /// against its probability, with blocks of 2 rows so every level is exercised.
    #[test]
    fn row_counts_follow_the_multinomial() {
        // Six rows in cells of 1, 3 and 2 rows (keys out of row order).
        let layout = Layout::by_key(&[2, 0, 2, 1, 2, 1]).expect("layout");
        assert_eq!(layout.order(), &[1, 3, 5, 0, 2, 4]);
        let sizes: Vec<usize> = layout.cells().iter().map(|c| c.len).collect();
        assert_eq!(sizes, [1, 2, 3]);
        let trials = 300_000;
        let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut rows = vec![0u8; 6];
        let mut cells = Vec::new();
        for t in 0..trials {
            let mut rng = Xoshiro256StarStar::for_stream(9, t);
            draw_cells(&layout, &mut rng, &mut cells);
            rows.fill(0);
            assert!(draw_rows(&layout, &mut rng, &cells, &mut rows, 2));
            for (cell, &total) in layout.cells().iter().zip(&cells) {
                let in_cell: u64 = rows[cell.start..cell.start + cell.len]
                    .iter()
                    .map(|&c| u64::from(c))
                    .sum();
                assert_eq!(in_cell, total);
            }
            *seen.entry(rows.clone()).or_default() += 1;
        }
        // All C(11, 5) = 462 compositions of 6 draws over 6 rows.
        let mut chi2 = 0.0;
        let mut cells_seen = 0;
        let mut pooled = (0.0, 0.0);
        let mut all = Vec::new();
        compositions(6, 6, &mut Vec::new(), &mut all);
        assert_eq!(all.len(), 462);
        for counts in &all {
            let expected = multinomial_probability(counts) * trials as f64;
            let observed = seen.get(counts).copied().unwrap_or(0) as f64;
            pooled = (pooled.0 + observed, pooled.1 + expected);
            if pooled.1 >= 20.0 {
                chi2 += (pooled.0 - pooled.1).powi(2) / pooled.1;
                cells_seen += 1;
                pooled = (0.0, 0.0);
            }
        }
        let df = (cells_seen - 1) as f64;
        assert!(
            chi2 < df + 5.0 * (2.0 * df).sqrt(),
            "χ² {chi2:.1} on {df} df"
        );
    }

    /// Every vector of `rows` non-negative counts summing to `left`.
    fn compositions(rows: usize, left: u8, prefix: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if prefix.len() + 1 == rows {
            prefix.push(left);
            out.push(prefix.clone());
            prefix.pop();
            return;
        }
        for c in 0..=left {
            prefix.push(c);
            compositions(rows, left - c, prefix, out);
            prefix.pop();
        }
    }

    /// A resample is a function of (seed, index) alone, its cells agree with its rows, and
    /// the cells are the same whether or not the rows are drawn.
    #[test]
    fn resamples_are_reproducible_and_consistent() {
        let keys: Vec<u32> = (0..50_000u32).map(|i| (i * 7) % 5).collect();
        let layout = Layout::by_key(&keys).expect("layout");
        let (mut a, mut b) = (Drawn::default(), Drawn::default());
        assert!(a.draw(&layout, 4, 17, true));
        assert!(b.draw(&layout, 4, 17, false));
        assert_eq!(a.cells, b.cells);
        assert!(b.rows.is_empty());
        assert_eq!(a.cells.iter().sum::<u64>(), 50_000);
        for (cell, &total) in layout.cells().iter().zip(&a.cells) {
            let sum: u64 = a.rows[cell.start..cell.start + cell.len]
                .iter()
                .map(|&c| u64::from(c))
                .sum();
            assert_eq!(sum, total);
        }
        assert_eq!(layout.expand(&a.rows).len(), 50_000);
        let first = a.rows.clone();
        assert!(a.draw(&layout, 4, 17, true));
        assert_eq!(a.rows, first);
        assert!(a.draw(&layout, 4, 18, true));
        assert_ne!(a.rows, first);
    }

    /// A single row is drawn n = 1 time; no rows give no layout.
    #[test]
    fn degenerate_layouts() {
        let layout = Layout::single(1).expect("layout");
        let mut drawn = Drawn::default();
        assert!(drawn.draw(&layout, 0, 0, true));
        assert_eq!(
            (drawn.cells.as_slice(), drawn.rows.as_slice()),
            (&[1u64][..], &[1u8][..])
        );
        assert!(Layout::single(0).is_none());
    }
}
