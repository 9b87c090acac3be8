//! Histogram-based CART decision trees and random forests.
//!
//! Why this module (vendored from a standalone crate): smartcore's tree
//! building is roughly quadratic in rows (minutes at 100k rows), and the other
//! Rust forests lack one of seeded determinism, class probabilities or speed.
//! Here:
//! - features are binned once into at most 255 quantile bins, and every
//!   node's split search runs over per-bin statistics (see [`grow`]), so a
//!   tree costs `O(rows * depth)`;
//! - splits maximise the Gini / entropy decrease (classification) or the
//!   variance decrease (regression), with scikit-learn's `max_depth`,
//!   `min_samples_split`, `min_samples_leaf`, `max_features` and bootstrap
//!   counts semantics (limits apply to bootstrap-weighted counts);
//! - each tree is a pure function of a seed derived from the forest seed and
//!   its index, trees are grown on `threads` scoped threads and collected in
//!   tree order, so the fitted model is byte-identical for any thread count;
//! - fitted trees are flat arrays with real `f64` thresholds, so prediction
//!   needs no binning, and serialise compactly through serde (one array per
//!   field per tree, `u32` indices); deserialising checks the structure, so a
//!   damaged model is refused at load time.
//!
//! Input values must be finite (the caller imputes); they are checked, and
//! every input problem is a [`ForestError`], never a panic.

#![warn(missing_docs, clippy::missing_docs_in_private_items)]

mod bins;
mod grow;
mod rng;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use grow::{Settings, Task};
use rng::SplitMix64;

/// Row-major dense matrix borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    /// `rows * cols` values, row after row.
    pub values: &'a [f64],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
}

/// How many features each node draws when looking for its split.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// `floor(sqrt(cols))`, at least 1 (scikit-learn's classifier default).
    Sqrt,
    /// `floor(log2(cols))`, at least 1.
    Log2,
    /// Every feature (single trees; scikit-learn's regressor default).
    All,
    /// A fixed count, at most `cols`.
    Count(usize),
    /// `floor(fraction * cols)`, at least 1; fraction in `(0, 1]`.
    Fraction(f64),
}

/// Impurity measure of classification splits.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity (scikit-learn's default).
    #[default]
    Gini,
    /// Shannon entropy (information gain).
    Entropy,
}

/// Forest hyperparameters; a single decision tree is one tree without
/// bootstrap and with every feature ([`ForestParams::single_tree`]).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct ForestParams {
    /// Number of trees (>= 1).
    pub n_trees: usize,
    /// Depth limit; `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Least (bootstrap-weighted) rows a node needs to be split (>= 2).
    pub min_samples_split: usize,
    /// Least (bootstrap-weighted) rows in each leaf (>= 1).
    pub min_samples_leaf: usize,
    /// Features drawn per node.
    pub max_features: MaxFeatures,
    /// Fit each tree on a bootstrap sample (counts, as scikit-learn).
    pub bootstrap: bool,
    /// Classification impurity (ignored by regressors).
    pub criterion: Criterion,
}

impl Default for ForestParams {
    /// scikit-learn's `RandomForestClassifier` defaults.
    fn default() -> Self {
        ForestParams {
            n_trees: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            criterion: Criterion::Gini,
        }
    }
}

impl ForestParams {
    /// scikit-learn's `DecisionTreeClassifier` / `Regressor` defaults.
    pub fn single_tree() -> Self {
        ForestParams {
            n_trees: 1,
            max_features: MaxFeatures::All,
            bootstrap: false,
            ..ForestParams::default()
        }
    }
}

/// Why a fit or prediction was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ForestError {
    /// `values.len()` is not `rows * cols`, or targets do not match `rows`.
    Shape(String),
    /// No rows or no columns to learn from.
    Empty,
    /// A feature or target value is NaN or infinite.
    NonFinite {
        /// Row of the first offending value.
        row: usize,
    },
    /// A class label is `>= n_classes`.
    Label {
        /// Row of the offending label.
        row: usize,
        /// The label.
        label: u32,
    },
    /// A hyperparameter is out of range.
    Param(String),
    /// Prediction asked of the wrong model kind (probabilities of a regressor).
    WrongKind(&'static str),
    /// A deserialised model is structurally invalid.
    Corrupt(String),
    /// A worker thread died (a bug; reported instead of propagating the panic).
    Internal(String),
}

impl std::fmt::Display for ForestError {
    /// Human-readable message for CLI output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForestError::Shape(m) => write!(f, "shape mismatch: {m}"),
            ForestError::Empty => write!(f, "no rows or no features to fit on"),
            ForestError::NonFinite { row } => write!(f, "non-finite value in row {row}"),
            ForestError::Label { row, label } => {
                write!(f, "label {label} in row {row} is not below n_classes")
            }
            ForestError::Param(m) => write!(f, "invalid parameter: {m}"),
            ForestError::WrongKind(m) => write!(f, "{m}"),
            ForestError::Corrupt(m) => write!(f, "corrupt model: {m}"),
            ForestError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for ForestError {}

/// One fitted tree in struct-of-arrays form. Node 0 is the root; node `i`
/// is a leaf when `left[i] == 0` (the root is never a child), and then
/// `feature[i]` is its row in `values`. Children always come after parents,
/// which bounds traversal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Tree {
    /// Split feature, or leaf index for leaves.
    feature: Vec<u32>,
    /// Go left when `x[feature] <= threshold` (0 for leaves).
    threshold: Vec<f64>,
    /// Left child, 0 for leaves.
    left: Vec<u32>,
    /// Right child, 0 for leaves.
    right: Vec<u32>,
    /// Leaf outputs, `outputs` values per leaf (class probabilities or a mean).
    values: Vec<f64>,
}

impl Tree {
    /// A tree with no nodes, grown by [`grow`].
    fn empty() -> Self {
        Tree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends an unset node and returns its index.
    fn push_node(&mut self) -> usize {
        self.feature.push(0);
        self.threshold.push(0.0);
        self.left.push(0);
        self.right.push(0);
        self.feature.len() - 1
    }

    /// Makes `node` a split.
    fn set_split(&mut self, node: usize, feature: usize, threshold: f64, l: usize, r: usize) {
        self.feature[node] = feature as u32;
        self.threshold[node] = threshold;
        self.left[node] = l as u32;
        self.right[node] = r as u32;
    }

    /// Makes `node` a leaf with output `value`.
    fn set_leaf(&mut self, node: usize, value: &[f64]) {
        let width = value.len().max(1);
        self.feature[node] = (self.values.len() / width) as u32;
        self.values.extend_from_slice(value);
    }

    /// Number of nodes (for reports).
    pub fn n_nodes(&self) -> usize {
        self.feature.len()
    }

    /// Leaf reached by `row`, or `None` for a corrupt tree.
    fn leaf(&self, row: &[f64]) -> Option<usize> {
        let mut node = 0usize;
        for _ in 0..=self.left.len() {
            let left = *self.left.get(node)? as usize;
            let feature = *self.feature.get(node)? as usize;
            if left == 0 {
                return Some(feature);
            }
            node = if *row.get(feature)? <= *self.threshold.get(node)? {
                left
            } else {
                *self.right.get(node)? as usize
            };
        }
        None
    }

    /// Structural check used after deserialisation, so corrupt files are
    /// reported at load time rather than at prediction.
    fn check(&self, cols: usize, outputs: usize) -> Result<(), String> {
        let n = self.feature.len();
        if n == 0 || self.threshold.len() != n || self.left.len() != n || self.right.len() != n {
            return Err("node arrays of different lengths or empty".to_string());
        }
        let leaves = self.values.len() / outputs.max(1);
        for i in 0..n {
            let (l, r, f) = (
                self.left[i] as usize,
                self.right[i] as usize,
                self.feature[i] as usize,
            );
            let ok = if l == 0 {
                f < leaves
            } else {
                l > i && r > i && l < n && r < n && f < cols
            };
            if !ok {
                return Err(format!("node {i} is invalid"));
            }
        }
        Ok(())
    }
}

/// Kind of a fitted forest.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Leaves hold class probabilities.
    Classifier,
    /// Leaves hold means.
    Regressor,
}

/// A fitted forest (or single tree); predictions average the trees.
/// Deserialisation goes through [`RawForest`] and [`Forest::validate`], so
/// every `Forest` in memory is structurally sound.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(try_from = "RawForest")]
pub struct Forest {
    /// Classifier or regressor.
    kind: Kind,
    /// Features expected at prediction.
    n_features: usize,
    /// Values per leaf: number of classes, or 1.
    outputs: usize,
    /// The trees, in seed order.
    trees: Vec<Tree>,
}

/// A [`Forest`] as read, before its structure is checked.
#[derive(Deserialize)]
struct RawForest {
    /// Classifier or regressor.
    kind: Kind,
    /// Features expected at prediction.
    n_features: usize,
    /// Values per leaf.
    outputs: usize,
    /// The trees, in seed order.
    trees: Vec<Tree>,
}

impl TryFrom<RawForest> for Forest {
    type Error = ForestError;

    /// Accepts only structurally valid forests.
    fn try_from(raw: RawForest) -> Result<Forest, ForestError> {
        let f = Forest {
            kind: raw.kind,
            n_features: raw.n_features,
            outputs: raw.outputs,
            trees: raw.trees,
        };
        f.validate()?;
        Ok(f)
    }
}

/// Checks the matrix shape and finiteness shared by fit and predict.
fn check_matrix(x: &Matrix<'_>) -> Result<(), ForestError> {
    if x.rows.checked_mul(x.cols) != Some(x.values.len()) {
        return Err(ForestError::Shape(format!(
            "{} values for {} rows x {} cols",
            x.values.len(),
            x.rows,
            x.cols
        )));
    }
    if let Some(i) = x.values.iter().position(|v| !v.is_finite()) {
        return Err(ForestError::NonFinite {
            row: i / x.cols.max(1),
        });
    }
    Ok(())
}

/// Validates hyperparameters and resolves them against `cols`.
fn settings(p: &ForestParams, cols: usize) -> Result<Settings, ForestError> {
    if p.n_trees == 0 {
        return Err(ForestError::Param("n_trees must be at least 1".into()));
    }
    if p.min_samples_split < 2 {
        return Err(ForestError::Param("min_samples_split must be >= 2".into()));
    }
    if p.min_samples_leaf < 1 {
        return Err(ForestError::Param("min_samples_leaf must be >= 1".into()));
    }
    if p.max_depth == Some(0) {
        return Err(ForestError::Param("max_depth must be >= 1".into()));
    }
    let mtry = match p.max_features {
        MaxFeatures::Sqrt => (cols as f64).sqrt().floor() as usize,
        MaxFeatures::Log2 => (cols as f64).log2().floor() as usize,
        MaxFeatures::All => cols,
        MaxFeatures::Count(c) if (1..=cols).contains(&c) => c,
        MaxFeatures::Count(c) => {
            return Err(ForestError::Param(format!(
                "max_features {c} not in 1..={cols}"
            )))
        }
        MaxFeatures::Fraction(f) if f > 0.0 && f <= 1.0 => (f * cols as f64).floor() as usize,
        MaxFeatures::Fraction(f) => {
            return Err(ForestError::Param(format!(
                "max_features fraction {f} not in (0, 1]"
            )))
        }
    };
    Ok(Settings {
        max_depth: p.max_depth.unwrap_or(usize::MAX),
        min_samples_split: p.min_samples_split as f64,
        min_samples_leaf: p.min_samples_leaf as f64,
        mtry: mtry.clamp(1, cols.max(1)),
        bootstrap: p.bootstrap,
    })
}

/// Fits `params.n_trees` trees on `threads` threads (clamped to `1..=n_trees`).
fn fit(
    x: &Matrix<'_>,
    task: Task<'_>,
    params: &ForestParams,
    seed: u64,
    threads: usize,
) -> Result<Vec<Tree>, ForestError> {
    let set = settings(params, x.cols)?;
    let threads = threads.clamp(1, params.n_trees);
    if u32::try_from(x.rows).is_err() {
        return Err(ForestError::Shape("more than u32::MAX rows".into()));
    }
    let data = bins::bin_matrix(x.values, x.rows, x.cols, threads);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= params.n_trees {
                return done;
            }
            let tree_seed = SplitMix64::derive(seed, i as u64);
            done.push((i, grow::grow(&data, task, set, tree_seed)));
        }
    };
    let mut all: Vec<(usize, Tree)> = if threads == 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            let mut all = Vec::with_capacity(params.n_trees);
            for h in handles {
                match h.join() {
                    Ok(part) => all.extend(part),
                    Err(_) => {
                        return Err(ForestError::Internal(
                            "a tree-building thread panicked".into(),
                        ))
                    }
                }
            }
            Ok(all)
        })?
    };
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// A training matrix must be finite, non-empty, and have one target per row.
fn check_training_shape(x: &Matrix<'_>, targets: usize, what: &str) -> Result<(), ForestError> {
    check_matrix(x)?;
    if x.rows == 0 || x.cols == 0 {
        return Err(ForestError::Empty);
    }
    if targets != x.rows {
        return Err(ForestError::Shape(format!(
            "{targets} {what} for {} rows",
            x.rows
        )));
    }
    Ok(())
}

/// Fits a random forest classifier (or, with [`ForestParams::single_tree`],
/// a decision tree) on labels in `0..n_classes`. The model is a pure
/// function of the inputs and `seed`; `threads` only changes speed.
pub fn fit_classifier(
    x: Matrix<'_>,
    labels: &[u32],
    n_classes: usize,
    params: &ForestParams,
    seed: u64,
    threads: usize,
) -> Result<Forest, ForestError> {
    check_training_shape(&x, labels.len(), "labels")?;
    if n_classes == 0 {
        return Err(ForestError::Param("n_classes must be >= 1".into()));
    }
    if let Some(row) = labels.iter().position(|&l| l as usize >= n_classes) {
        return Err(ForestError::Label {
            row,
            label: labels[row],
        });
    }
    let task = Task::Classify {
        labels,
        k: n_classes,
        criterion: params.criterion,
    };
    Ok(Forest {
        kind: Kind::Classifier,
        n_features: x.cols,
        outputs: n_classes,
        trees: fit(&x, task, params, seed, threads)?,
    })
}

/// Fits a random forest regressor (or a regression tree); same determinism
/// guarantees as [`fit_classifier`].
pub fn fit_regressor(
    x: Matrix<'_>,
    y: &[f64],
    params: &ForestParams,
    seed: u64,
    threads: usize,
) -> Result<Forest, ForestError> {
    check_training_shape(&x, y.len(), "targets")?;
    if let Some(row) = y.iter().position(|v| !v.is_finite()) {
        return Err(ForestError::NonFinite { row });
    }
    Ok(Forest {
        kind: Kind::Regressor,
        n_features: x.cols,
        outputs: 1,
        trees: fit(&x, Task::Regress { y }, params, seed, threads)?,
    })
}

/// Rows per scoring block: large enough to amortise a thread, small enough to spread 100k
/// rows over the cores.
const PREDICT_BLOCK_ROWS: usize = 4096;

impl Forest {
    /// Classifier or regressor.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The trees (for size reports).
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Class probabilities, `rows * n_classes` values row after row, each
    /// row summing to 1 (up to rounding).
    pub fn predict_proba(&self, x: Matrix<'_>) -> Result<Vec<f64>, ForestError> {
        if self.kind != Kind::Classifier {
            return Err(ForestError::WrongKind(
                "predict_proba needs a classifier; use predict_values",
            ));
        }
        self.average(&x)
    }

    /// Regression predictions, one per row.
    pub fn predict_values(&self, x: Matrix<'_>) -> Result<Vec<f64>, ForestError> {
        if self.kind != Kind::Regressor {
            return Err(ForestError::WrongKind(
                "predict_values needs a regressor; use predict_proba",
            ));
        }
        self.average(&x)
    }

    /// Mean of the trees' leaf outputs. Rows are cut into fixed blocks scored on all cores;
    /// within a block the trees are the outer loop so each tree stays in cache. Every row
    /// adds its trees' outputs in tree order whatever the block or thread, so the result is
    /// bit-identical on any number of threads.
    fn average(&self, x: &Matrix<'_>) -> Result<Vec<f64>, ForestError> {
        self.average_with_threads(x, crate::threads::budget())
    }

    /// [`Forest::average`] on at most `threads` threads.
    fn average_with_threads(
        &self,
        x: &Matrix<'_>,
        threads: usize,
    ) -> Result<Vec<f64>, ForestError> {
        check_matrix(x)?;
        if x.cols != self.n_features {
            return Err(ForestError::Shape(format!(
                "model expects {} features, got {}",
                self.n_features, x.cols
            )));
        }
        let k = self.outputs;
        let mut out = vec![0.0; x.rows * k];
        if x.rows == 0 {
            return Ok(out);
        }
        let blocks: Vec<(&[f64], &mut [f64])> = x
            .values
            .chunks(PREDICT_BLOCK_ROWS * x.cols.max(1))
            .zip(out.chunks_mut(PREDICT_BLOCK_ROWS * k))
            .collect();
        let threads = threads.clamp(1, blocks.len());
        let per_thread = blocks.len().div_ceil(threads);
        let mut groups: Vec<Vec<(&[f64], &mut [f64])>> = Vec::new();
        let mut blocks = blocks.into_iter().peekable();
        while blocks.peek().is_some() {
            groups.push(blocks.by_ref().take(per_thread).collect());
        }
        let results: Vec<Result<(), ForestError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = groups
                .into_iter()
                .map(|group| {
                    scope.spawn(move || {
                        for (rows, acc) in group {
                            self.accumulate(rows, acc, x.cols.max(1))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ForestError::Internal("a scoring thread panicked".into()))
                    })
                })
                .collect()
        });
        results.into_iter().collect::<Result<(), _>>()?;
        let n = self.trees.len().max(1) as f64;
        out.iter_mut().for_each(|v| *v /= n);
        Ok(out)
    }

    /// Adds every tree's leaf output to each row of one block.
    fn accumulate(&self, rows: &[f64], out: &mut [f64], cols: usize) -> Result<(), ForestError> {
        let k = self.outputs;
        for tree in &self.trees {
            for (row, acc) in rows.chunks_exact(cols).zip(out.chunks_exact_mut(k)) {
                let leaf = tree
                    .leaf(row)
                    .and_then(|l| tree.values.get(l * k..(l + 1) * k))
                    .ok_or_else(|| ForestError::Corrupt("a tree leads to no leaf".into()))?;
                acc.iter_mut().zip(leaf).for_each(|(a, v)| *a += v);
            }
        }
        Ok(())
    }

    /// Compact JSON bytes (exact float round trip).
    pub fn to_json(&self) -> Result<Vec<u8>, ForestError> {
        serde_json::to_vec(self).map_err(|e| ForestError::Internal(e.to_string()))
    }

    /// Reads and structurally validates a model written by [`Forest::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Forest, ForestError> {
        serde_json::from_slice(bytes).map_err(|e| ForestError::Corrupt(e.to_string()))
    }

    /// Structural check (run on every deserialisation): at least one tree,
    /// one output per leaf for regressors, every node and leaf in range.
    fn validate(&self) -> Result<(), ForestError> {
        if self.trees.is_empty() || self.outputs == 0 {
            return Err(ForestError::Corrupt("no trees or no outputs".into()));
        }
        if self.kind == Kind::Regressor && self.outputs != 1 {
            return Err(ForestError::Corrupt("a regressor has one output".into()));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.check(self.n_features, self.outputs)
                .map_err(|m| ForestError::Corrupt(format!("tree {i}: {m}")))?;
        }
        Ok(())
    }
}
