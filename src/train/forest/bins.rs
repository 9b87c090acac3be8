//! Quantile binning of the training matrix.
//!
//! Trees search splits over at most [`MAX_BINS`] bins per feature instead of
//! over sorted raw values: histograms make a node's split search linear in
//! its rows, which is what takes the fit from quadratic (smartcore) to
//! `O(rows * depth)`. Edges are computed once per fit from the training data
//! and each edge is a real value between two training values, so fitted
//! trees store plain `f64` thresholds and prediction needs no binning.

/// Most bins per feature; bin indices must fit a `u8`.
pub(crate) const MAX_BINS: usize = 255;

/// Training matrix reduced to bin indices, column after column.
#[derive(Debug)]
pub(crate) struct Binned {
    /// Rows of the training matrix.
    pub(crate) rows: usize,
    /// Bin of row `r` in feature `f` at `bins[f * rows + r]`; column-major so
    /// a histogram pass over one feature reads one contiguous column.
    pub(crate) bins: Vec<u8>,
    /// Per feature, increasing split values: bin `b` holds the values `v`
    /// with `edges[b - 1] < v <= edges[b]`.
    pub(crate) edges: Vec<Vec<f64>>,
    /// Start of each feature's block in a whole-node histogram, in bins.
    pub(crate) offsets: Vec<usize>,
    /// Sum of every feature's bin count (length of a whole-node histogram in bins).
    pub(crate) total_bins: usize,
}

impl Binned {
    /// Number of bins of feature `f` (edges plus one).
    pub(crate) fn n_bins(&self, f: usize) -> usize {
        self.edges.get(f).map_or(1, |e| e.len() + 1)
    }

    /// Bin column of feature `f`.
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        self.bins
            .get(f * self.rows..(f + 1) * self.rows)
            .unwrap_or(&[])
    }
}

/// A split value strictly between `a < b` that sorts every `v <= a` left and
/// every `v >= b` right; the midpoint as scikit-learn, falling back to `a`
/// where rounding would reach `b`.
fn between(a: f64, b: f64) -> f64 {
    let m = a / 2.0 + b / 2.0;
    if m >= b || m < a {
        a
    } else {
        m
    }
}

/// Edges of one feature from its sorted values: every distinct value gets its
/// own bin when there are at most [`MAX_BINS`] of them, otherwise cuts are
/// placed at (de-duplicated) quantiles, always just below a training value.
fn edges_of(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    let mut edges = Vec::new();
    let mut distinct = sorted.windows(2).filter(|w| w[0] < w[1]).count() + 1;
    if n == 0 {
        distinct = 0;
    }
    if distinct <= MAX_BINS {
        for w in sorted.windows(2) {
            if w[0] < w[1] {
                edges.push(between(w[0], w[1]));
            }
        }
        return edges;
    }
    for q in 1..MAX_BINS {
        let pos = q * n / MAX_BINS;
        let Some(&v) = sorted.get(pos) else { continue };
        let below = sorted.partition_point(|&x| x < v);
        let Some(&lower) = below.checked_sub(1).and_then(|i| sorted.get(i)) else {
            continue;
        };
        let e = between(lower, v);
        if edges.last().is_none_or(|&last| e > last) {
            edges.push(e);
        }
    }
    edges
}

/// Bins a row-major `rows x cols` matrix, features spread over `threads`
/// scoped threads (each feature is independent, so the result does not
/// depend on the thread count).
pub(crate) fn bin_matrix(x: &[f64], rows: usize, cols: usize, threads: usize) -> Binned {
    let one = |f: usize| -> (Vec<f64>, Vec<u8>) {
        let column: Vec<f64> = (0..rows).map(|r| x[r * cols + f]).collect();
        let mut sorted = column.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let edges = edges_of(&sorted);
        let bins = column
            .iter()
            .map(|&v| edges.partition_point(|&e| e < v) as u8)
            .collect();
        (edges, bins)
    };
    let threads = threads.clamp(1, cols.max(1));
    let mut per_feature: Vec<(Vec<f64>, Vec<u8>)> = Vec::with_capacity(cols);
    if threads == 1 {
        per_feature.extend((0..cols).map(one));
    } else {
        let mut slots: Vec<Option<(Vec<f64>, Vec<u8>)>> = (0..cols).map(|_| None).collect();
        std::thread::scope(|s| {
            let one = &one;
            let chunk = cols.div_ceil(threads);
            for (t, part) in slots.chunks_mut(chunk).enumerate() {
                s.spawn(move || {
                    for (i, slot) in part.iter_mut().enumerate() {
                        *slot = Some(one(t * chunk + i));
                    }
                });
            }
        });
        per_feature.extend(slots.into_iter().flatten());
    }
    let mut bins = Vec::with_capacity(rows * cols);
    let mut edges = Vec::with_capacity(cols);
    let mut offsets = Vec::with_capacity(cols);
    let mut total_bins = 0;
    for (e, b) in per_feature {
        offsets.push(total_bins);
        total_bins += e.len() + 1;
        edges.push(e);
        bins.extend_from_slice(&b);
    }
    Binned {
        rows,
        bins,
        edges,
        offsets,
        total_bins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Few distinct values: one bin each, edges at midpoints.
    #[test]
    fn distinct_values_get_own_bins() {
        let x = [3.0, 1.0, 2.0, 1.0];
        let b = bin_matrix(&x, 4, 1, 1);
        assert_eq!(b.edges[0], vec![1.5, 2.5]);
        assert_eq!(b.column(0), &[2, 0, 1, 0]);
    }

    /// Many distinct values: at most MAX_BINS bins, every edge separates
    /// training values (a value equal to an edge would be ambiguous).
    #[test]
    fn quantile_bins_are_bounded() {
        let x: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 10_007) as f64).collect();
        let b = bin_matrix(&x, x.len(), 1, 2);
        assert!(b.n_bins(0) <= MAX_BINS);
        assert!(b.edges[0].windows(2).all(|w| w[0] < w[1]));
        assert!(x.iter().all(|v| !b.edges[0].contains(v)));
    }
}
