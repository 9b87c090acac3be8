//! Growing one CART tree over binned data.
//!
//! Each node's split search works on per-bin statistics ("histograms"):
//! weighted class counts for classification, `(w, w*y, w*y^2)` for
//! regression. Three ways to get a feature's histogram, picked per node by
//! cost:
//! - whole-node histograms (every feature) kept for nodes where the parent
//!   had one: the smaller child is scanned and the larger one is the parent
//!   minus the smaller (the subtraction trick), which pays off when most
//!   features are examined per node (`max_features` all or a large fraction);
//! - a dense scan of one feature into a 255-bin scratch histogram;
//! - for nodes with fewer rows than bins, sorting `(bin, row)` pairs, so deep
//!   small nodes do not pay for 255 empty bins.
//!
//! Everything is sequential inside a tree and draws randomness only from the
//! tree's own generator, so a tree is a pure function of its seed.

use super::bins::{Binned, MAX_BINS};
use super::rng::SplitMix64;
use super::{Criterion, Tree};

/// What is being predicted, with the per-row targets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Task<'a> {
    /// Class labels in `0..k`.
    Classify {
        /// One label per row, already checked `< k`.
        labels: &'a [u32],
        /// Number of classes (histogram slots per bin).
        k: usize,
        /// Impurity measure.
        criterion: Criterion,
    },
    /// Real-valued targets.
    Regress {
        /// One finite target per row.
        y: &'a [f64],
    },
}

impl Task<'_> {
    /// Statistics slots per bin: class counts, or `(w, w*y, w*y^2)`.
    pub(crate) fn stride(&self) -> usize {
        match self {
            Task::Classify { k, .. } => *k,
            Task::Regress { .. } => 3,
        }
    }

    /// Total sample weight in a statistics vector.
    fn weight(&self, s: &[f64]) -> f64 {
        match self {
            Task::Classify { .. } => s.iter().sum(),
            Task::Regress { .. } => s.first().copied().unwrap_or(0.0),
        }
    }

    /// Adds the statistics of `rows` (weights `w`) into `h`, slot block of a
    /// row chosen by its bin in `col`. The hottest loop of the fit, so the
    /// task is matched once outside it.
    fn accumulate(&self, col: &[u8], rows: &[u32], w: &[f64], h: &mut [f64]) {
        match *self {
            Task::Classify { labels, k, .. } => {
                for &r in rows {
                    let r = r as usize;
                    let slot = col[r] as usize * k + labels[r] as usize;
                    h[slot] += w[r];
                }
            }
            Task::Regress { y } => {
                for &r in rows {
                    let r = r as usize;
                    let b = col[r] as usize * 3;
                    let (wr, yr) = (w[r], y[r]);
                    h[b] += wr;
                    h[b + 1] += wr * yr;
                    h[b + 2] += wr * yr * yr;
                }
            }
        }
    }

    /// Adds one row's statistics into a single slot block `s`.
    fn add_row(&self, r: usize, w: f64, s: &mut [f64]) {
        match *self {
            Task::Classify { labels, .. } => s[labels[r] as usize] += w,
            Task::Regress { y } => {
                s[0] += w;
                s[1] += w * y[r];
                s[2] += w * y[r] * y[r];
            }
        }
    }

    /// Split score of one side, higher is better; summing both sides gives
    /// the impurity-decrease proxy scikit-learn maximises.
    fn side_score(&self, s: &[f64], weight: f64) -> f64 {
        match *self {
            Task::Classify {
                criterion: Criterion::Gini,
                ..
            } => s.iter().map(|c| c * c).sum::<f64>() / weight,
            Task::Classify {
                criterion: Criterion::Entropy,
                ..
            } => s
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| c * (c / weight).ln())
                .sum(),
            Task::Regress { .. } => s[1] * s[1] / weight,
        }
    }

    /// Whether a node with statistics `s` cannot be improved by splitting.
    fn is_pure(&self, s: &[f64], weight: f64) -> bool {
        match self {
            Task::Classify { .. } => s.iter().any(|&c| c >= weight),
            Task::Regress { .. } => {
                let mean = s[1] / weight;
                let var = s[2] / weight - mean * mean;
                var <= f64::EPSILON * (1.0 + mean * mean)
            }
        }
    }
}

/// Tree settings resolved against the data (feature count known).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Depth limit (root is depth 0); `usize::MAX` for none.
    pub(crate) max_depth: usize,
    /// Least weight a node needs to be split.
    pub(crate) min_samples_split: f64,
    /// Least weight on each side of a split.
    pub(crate) min_samples_leaf: f64,
    /// Non-constant features examined per node.
    pub(crate) mtry: usize,
    /// Draw a bootstrap sample (counts) instead of using every row once.
    pub(crate) bootstrap: bool,
}

/// Best split found so far at a node.
#[derive(Debug)]
struct Best {
    /// Proxy score (higher is better).
    score: f64,
    /// Split feature.
    feature: usize,
    /// Rows with bin `<= edge` go left.
    edge: usize,
    /// Statistics of the left side.
    left: Vec<f64>,
}

/// A node waiting to be grown.
#[derive(Debug)]
struct Work {
    /// Index in the tree arrays.
    node: usize,
    /// Its rows are `rows[start..end]`.
    start: usize,
    /// End of its row range.
    end: usize,
    /// Depth (root 0).
    depth: usize,
    /// Statistics of the whole node.
    total: Vec<f64>,
    /// Whole-node histogram, when one was computed or derived.
    full: Option<Vec<f64>>,
}

/// Whole-node histograms larger than this many `f64` are never kept (they
/// would cost more memory per depth level than they save).
const MAX_FULL_LEN: usize = 1 << 20;

/// Mutable state of one tree fit.
struct Grower<'a> {
    /// Binned training features.
    data: &'a Binned,
    /// Targets and criterion.
    task: Task<'a>,
    /// Resolved settings.
    set: Settings,
    /// Slots per bin.
    stride: usize,
    /// Bootstrap count of every training row (0 out of bag).
    weight: Vec<f64>,
    /// In-bag rows, partitioned node by node (stable, so ascending in each node).
    rows: Vec<u32>,
    /// Scratch for stable partitioning.
    spill: Vec<u32>,
    /// One-feature scratch histogram (`MAX_BINS * stride`).
    hist: Vec<f64>,
    /// Non-empty bins of the feature being evaluated.
    nz_bins: Vec<usize>,
    /// Their statistics, `stride` each.
    nz_stats: Vec<f64>,
    /// `(bin, row)` pairs for the sorting path.
    pairs: Vec<(u8, u32)>,
    /// Feature order for the per-node random draw.
    perm: Vec<usize>,
    /// Left-side accumulator of the sweep.
    left: Vec<f64>,
    /// Recycled whole-node histogram buffers.
    pool: Vec<Vec<f64>>,
    /// The tree's own generator.
    rng: SplitMix64,
    /// The tree being grown.
    tree: Tree,
}

/// Grows one tree from `seed`; the result depends on nothing else.
pub(crate) fn grow(data: &Binned, task: Task<'_>, set: Settings, seed: u64) -> Tree {
    let n = data.rows;
    let mut rng = SplitMix64::new(seed);
    let mut weight = vec![0.0; n];
    if set.bootstrap {
        for _ in 0..n {
            weight[rng.below(n)] += 1.0;
        }
    } else {
        weight.iter_mut().for_each(|w| *w = 1.0);
    }
    let rows: Vec<u32> = (0..n as u32)
        .filter(|&r| weight[r as usize] > 0.0)
        .collect();
    let stride = task.stride();
    let cols = data.edges.len();
    let mut g = Grower {
        data,
        task,
        set,
        stride,
        spill: Vec::with_capacity(rows.len()),
        rows,
        weight,
        hist: vec![0.0; MAX_BINS * stride],
        nz_bins: Vec::with_capacity(MAX_BINS),
        nz_stats: Vec::with_capacity(MAX_BINS * stride),
        pairs: Vec::new(),
        perm: (0..cols).collect(),
        left: vec![0.0; stride],
        pool: Vec::new(),
        rng,
        tree: Tree::empty(),
    };
    g.run();
    g.tree
}

impl Grower<'_> {
    /// Depth-first growth from the root with an explicit stack (deep trees
    /// must not overflow the thread stack).
    fn run(&mut self) {
        let mut total = vec![0.0; self.stride];
        for &r in &self.rows {
            self.task
                .add_row(r as usize, self.weight[r as usize], &mut total);
        }
        let root = self.tree.push_node();
        let mut stack = vec![Work {
            node: root,
            start: 0,
            end: self.rows.len(),
            depth: 0,
            total,
            full: None,
        }];
        while let Some(w) = stack.pop() {
            self.grow_node(w, &mut stack);
        }
    }

    /// Splits one node (pushing its children) or turns it into a leaf.
    fn grow_node(&mut self, mut w: Work, stack: &mut Vec<Work>) {
        let weight = self.task.weight(&w.total);
        let cols = self.perm.len();
        if w.depth >= self.set.max_depth
            || weight < self.set.min_samples_split
            || weight < 2.0 * self.set.min_samples_leaf
            || weight <= 0.0
            || self.task.is_pure(&w.total, weight)
        {
            self.leaf(w);
            return;
        }
        let m = w.end - w.start;
        if w.full.is_none()
            && self.set.mtry >= cols
            && m >= MAX_BINS
            && self.data.total_bins * self.stride <= MAX_FULL_LEN
        {
            w.full = Some(self.scan_full(w.start, w.end));
        }
        let Some(best) = self.best_split(&w, weight) else {
            self.leaf(w);
            return;
        };
        let mid = self.partition(w.start, w.end, best.feature, best.edge);
        let right_total: Vec<f64> = w.total.iter().zip(&best.left).map(|(t, l)| t - l).collect();
        let (lnode, rnode) = (self.tree.push_node(), self.tree.push_node());
        self.tree.set_split(
            w.node,
            best.feature,
            self.data.edges[best.feature][best.edge],
            lnode,
            rnode,
        );
        let (lfull, rfull) = match w.full.take() {
            Some(parent) => self.child_hists(parent, (w.start, mid), (mid, w.end)),
            None => (None, None),
        };
        stack.push(Work {
            node: rnode,
            start: mid,
            end: w.end,
            depth: w.depth + 1,
            total: right_total,
            full: rfull,
        });
        stack.push(Work {
            node: lnode,
            start: w.start,
            end: mid,
            depth: w.depth + 1,
            total: best.left,
            full: lfull,
        });
    }

    /// Turns a node into a leaf holding its class distribution or mean.
    fn leaf(&mut self, w: Work) {
        let weight = self.task.weight(&w.total);
        let value: Vec<f64> = match self.task {
            Task::Classify { .. } => w
                .total
                .iter()
                .map(|c| if weight > 0.0 { c / weight } else { 0.0 })
                .collect(),
            Task::Regress { .. } => vec![if weight > 0.0 {
                w.total[1] / weight
            } else {
                0.0
            }],
        };
        self.tree.set_leaf(w.node, &value);
        if let Some(buf) = w.full {
            self.pool.push(buf);
        }
    }

    /// Histograms for the children of a node that had a whole-node one:
    /// scan the smaller child and subtract, when that is cheaper than the
    /// per-feature scans the children would otherwise do.
    fn child_hists(
        &mut self,
        mut parent: Vec<f64>,
        left: (usize, usize),
        right: (usize, usize),
    ) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
        let (nl, nr) = (left.1 - left.0, right.1 - right.0);
        let small = nl.min(nr);
        let cols = self.perm.len();
        let full_cost = small * cols + self.data.total_bins * self.stride;
        let lazy_cost = (nl + nr) * self.set.mtry.min(cols);
        if full_cost >= lazy_cost || nl.max(nr) < MAX_BINS {
            self.pool.push(parent);
            return (None, None);
        }
        let (s, e) = if nl <= nr { left } else { right };
        let small_hist = self.scan_full(s, e);
        parent
            .iter_mut()
            .zip(&small_hist)
            .for_each(|(p, c)| *p -= c);
        if nl <= nr {
            (Some(small_hist), Some(parent))
        } else {
            (Some(parent), Some(small_hist))
        }
    }

    /// Whole-node histogram of `rows[start..end]`, every feature.
    fn scan_full(&mut self, start: usize, end: usize) -> Vec<f64> {
        let len = self.data.total_bins * self.stride;
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.resize(len, 0.0);
        let rows = &self.rows[start..end];
        for f in 0..self.perm.len() {
            let off = self.data.offsets[f] * self.stride;
            let n = self.data.n_bins(f) * self.stride;
            self.task.accumulate(
                self.data.column(f),
                rows,
                &self.weight,
                &mut buf[off..off + n],
            );
        }
        buf
    }

    /// Fills `nz_bins`/`nz_stats` with feature `f`'s non-empty bins at node `w`.
    fn feature_hist(&mut self, w: &Work, f: usize) {
        let s = self.stride;
        self.nz_bins.clear();
        self.nz_stats.clear();
        let nb = self.data.n_bins(f);
        if let Some(full) = &w.full {
            let off = self.data.offsets[f] * s;
            for b in 0..nb {
                let st = &full[off + b * s..off + (b + 1) * s];
                if self.task.weight(st) > 0.0 {
                    self.nz_bins.push(b);
                    self.nz_stats.extend_from_slice(st);
                }
            }
            return;
        }
        let col = self.data.column(f);
        let rows = &self.rows[w.start..w.end];
        if rows.len() < nb {
            self.pairs.clear();
            self.pairs
                .extend(rows.iter().map(|&r| (col[r as usize], r)));
            self.pairs.sort_unstable();
            let mut i = 0;
            while i < self.pairs.len() {
                let b = self.pairs[i].0;
                let at = self.nz_stats.len();
                self.nz_stats.resize(at + s, 0.0);
                while i < self.pairs.len() && self.pairs[i].0 == b {
                    let r = self.pairs[i].1 as usize;
                    self.task
                        .add_row(r, self.weight[r], &mut self.nz_stats[at..at + s]);
                    i += 1;
                }
                self.nz_bins.push(b as usize);
            }
            return;
        }
        let h = &mut self.hist[..nb * s];
        h.iter_mut().for_each(|v| *v = 0.0);
        self.task.accumulate(col, rows, &self.weight, h);
        for b in 0..nb {
            let st = &h[b * s..(b + 1) * s];
            if self.task.weight(st) > 0.0 {
                self.nz_bins.push(b);
                self.nz_stats.extend_from_slice(st);
            }
        }
    }

    /// Best split over `mtry` randomly drawn non-constant features (more are
    /// drawn while the ones seen are constant in the node, as scikit-learn).
    fn best_split(&mut self, w: &Work, weight: f64) -> Option<Best> {
        let cols = self.perm.len();
        let mut best: Option<Best> = None;
        let mut useful = 0;
        for j in 0..cols {
            if useful >= self.set.mtry {
                break;
            }
            let pick = j + self.rng.below(cols - j);
            self.perm.swap(j, pick);
            let f = self.perm[j];
            self.feature_hist(w, f);
            if self.nz_bins.len() < 2 {
                continue;
            }
            useful += 1;
            self.sweep(f, &w.total, weight, &mut best);
        }
        best
    }

    /// Scores every boundary between consecutive non-empty bins of feature
    /// `f`; the edge chosen is the middle one of the empty gap (scikit-learn
    /// likewise splits halfway between neighbouring node values).
    fn sweep(&mut self, f: usize, total: &[f64], weight: f64, best: &mut Option<Best>) {
        let s = self.stride;
        let min_leaf = self.set.min_samples_leaf;
        self.left.iter_mut().for_each(|v| *v = 0.0);
        let mut right = vec![0.0; s];
        let mut wl = 0.0;
        for i in 0..self.nz_bins.len() {
            if i > 0 {
                let wr = weight - wl;
                if wl >= min_leaf && wr >= min_leaf {
                    right
                        .iter_mut()
                        .zip(total.iter().zip(&self.left))
                        .for_each(|(r, (t, l))| *r = t - l);
                    let score =
                        self.task.side_score(&self.left, wl) + self.task.side_score(&right, wr);
                    if best.as_ref().is_none_or(|b| score > b.score) {
                        let (prev, cur) = (self.nz_bins[i - 1], self.nz_bins[i]);
                        *best = Some(Best {
                            score,
                            feature: f,
                            edge: (prev + cur - 1) / 2,
                            left: self.left.clone(),
                        });
                    }
                }
            }
            let st = &self.nz_stats[i * s..(i + 1) * s];
            wl += self.task.weight(st);
            self.left.iter_mut().zip(st).for_each(|(l, v)| *l += v);
        }
    }

    /// Stable partition of `rows[start..end]` into bin `<= edge` first;
    /// returns where the right side starts.
    fn partition(&mut self, start: usize, end: usize, f: usize, edge: usize) -> usize {
        let col = self.data.column(f);
        self.spill.clear();
        let mut out = start;
        for i in start..end {
            let r = self.rows[i];
            if (col[r as usize] as usize) <= edge {
                self.rows[out] = r;
                out += 1;
            } else {
                self.spill.push(r);
            }
        }
        self.rows[out..end].copy_from_slice(&self.spill);
        out
    }
}
