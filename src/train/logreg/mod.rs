//! Fast, deterministic L2-regularised logistic regression.
//!
//! Minimises scikit-learn's `LogisticRegression(solver="lbfgs")` objective
//! (see [`objective`]) with our own L-BFGS (see [`lbfgs`]), so fitted
//! coefficients agree with scikit-learn's to within the solver tolerance.
//! Binary problems fit one weight vector scoring the larger present label;
//! multiclass problems fit the multinomial (softmax) model, one vector per
//! present class. Labels declared in `0..n_classes` but absent from the
//! training rows are not modelled and get probability 0, as mlgate's
//! `LinearClassifier` does.
//!
//! Determinism: the loss/gradient pass sums fixed-size row chunks in chunk
//! order, so `fit` gives bit-identical models for any `threads`.

mod lbfgs;
mod objective;

use std::fmt;

use serde::{Deserialize, Serialize};

use objective::{dot, log1pexp_sigmoid, Problem};

/// Hyperparameters, named and defaulted like scikit-learn's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRegParams {
    /// Inverse regularisation strength (`C`), finite and > 0.
    pub c: f64,
    /// Maximum L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when the max-norm of the scaled objective's gradient is `<= tol`.
    pub tol: f64,
}

impl Default for LogRegParams {
    /// scikit-learn's defaults: `C=1.0, max_iter=100, tol=1e-4`.
    fn default() -> Self {
        Self {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
        }
    }
}

/// Everything that can go wrong; no input makes this crate panic.
#[derive(Clone, Debug, PartialEq)]
pub enum LogRegError {
    /// A buffer's length does not match the declared shape.
    Shape {
        /// Which buffer.
        what: &'static str,
        /// Length implied by the shape (`None` when it overflows `usize`).
        expected: Option<usize>,
        /// Length given.
        found: usize,
    },
    /// No training rows.
    NoRows,
    /// A feature is NaN or infinite.
    NonFiniteFeature {
        /// Row index.
        row: usize,
        /// Column index.
        col: usize,
    },
    /// A label is not below `n_classes`.
    LabelOutOfRange {
        /// Row index.
        row: usize,
        /// The label.
        label: u32,
        /// Declared class count.
        n_classes: u32,
    },
    /// Fewer than two distinct labels in the training rows.
    TooFewClasses {
        /// Distinct labels present.
        found: usize,
    },
    /// A hyperparameter is out of range.
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// Why it is rejected.
        why: &'static str,
    },
    /// The optimiser produced non-finite weights.
    Diverged,
    /// A (deserialised) model is internally inconsistent.
    Corrupt {
        /// What is inconsistent.
        why: &'static str,
    },
}

impl fmt::Display for LogRegError {
    /// Human-readable message naming the offending value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape {
                what,
                expected: Some(e),
                found,
            } => {
                write!(f, "{what} has length {found}, expected {e}")
            }
            Self::Shape {
                what,
                expected: None,
                found,
            } => {
                write!(
                    f,
                    "{what} has length {found}, but its declared shape overflows usize"
                )
            }
            Self::NoRows => write!(f, "no training rows"),
            Self::NonFiniteFeature { row, col } => {
                write!(f, "feature at row {row}, column {col} is NaN or infinite")
            }
            Self::LabelOutOfRange {
                row,
                label,
                n_classes,
            } => write!(
                f,
                "label {label} at row {row} is out of range: labels must be 0..{n_classes}"
            ),
            Self::TooFewClasses { found } => {
                write!(
                    f,
                    "need at least 2 classes in the training rows, found {found}"
                )
            }
            Self::InvalidParam { name, why } => write!(f, "invalid {name}: {why}"),
            Self::Diverged => write!(
                f,
                "L-BFGS produced non-finite weights; try a smaller c (stronger regularisation)"
            ),
            Self::Corrupt { why } => write!(f, "corrupt logistic regression model: {why}"),
        }
    }
}

impl std::error::Error for LogRegError {}

/// A fitted model; serialise it with serde (enable serde_json's
/// `float_roundtrip` for exact round trips).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogReg {
    /// Row-major `k x cols` weights, `k = 1` when binary (scores
    /// `classes[1]`), else one row per present class.
    weights: Vec<f64>,
    /// One intercept per weight row.
    intercepts: Vec<f64>,
    /// Sorted labels present at training; weight rows follow this order.
    classes: Vec<u32>,
    /// Declared label space size; probabilities have this many columns.
    n_classes: u32,
    /// Feature count the model expects.
    cols: usize,
    /// L-BFGS iterations taken.
    iterations: usize,
    /// Whether a stopping criterion was met before `max_iter`.
    converged: bool,
}

/// Fits the model on row-major `x` (`rows x cols`) and labels in
/// `0..n_classes`, using up to `threads` threads (0 counts as 1; the result
/// is identical for any value).
pub fn fit(
    x: &[f64],
    rows: usize,
    cols: usize,
    labels: &[u32],
    n_classes: u32,
    params: &LogRegParams,
    threads: usize,
) -> Result<LogReg, LogRegError> {
    check_params(params)?;
    check_features(x, rows, cols)?;
    if rows == 0 {
        return Err(LogRegError::NoRows);
    }
    let classes = present_classes(labels, rows, n_classes)?;
    let compact = compact_labels(labels, &classes);
    let k = if classes.len() == 2 { 1 } else { classes.len() };
    let problem = Problem {
        x,
        y: &compact,
        rows,
        cols,
        k,
        c: params.c,
        threads: threads.max(1),
    };
    let settings = lbfgs::Settings {
        max_iter: params.max_iter,
        tol: params.tol,
        memory: 10,
        max_evals: 50,
    };
    let out = lbfgs::minimize(
        |theta, grad| problem.value_grad(theta, grad),
        vec![0.0; problem.dim()],
        &settings,
    );
    if out.theta.iter().any(|v| !v.is_finite()) {
        return Err(LogRegError::Diverged);
    }
    let mut weights = out.theta;
    let intercepts = weights.split_off(k * cols);
    Ok(LogReg {
        weights,
        intercepts,
        classes,
        n_classes,
        cols,
        iterations: out.iterations,
        converged: out.converged,
    })
}

/// Rejects hyperparameters scikit-learn would reject (and NaNs).
fn check_params(p: &LogRegParams) -> Result<(), LogRegError> {
    if !(p.c.is_finite() && p.c > 0.0) {
        return Err(LogRegError::InvalidParam {
            name: "c",
            why: "must be finite and > 0",
        });
    }
    if !(p.tol.is_finite() && p.tol >= 0.0) {
        return Err(LogRegError::InvalidParam {
            name: "tol",
            why: "must be finite and >= 0",
        });
    }
    Ok(())
}

/// Checks `x` has `rows * cols` finite values.
fn check_features(x: &[f64], rows: usize, cols: usize) -> Result<(), LogRegError> {
    let expected = rows.checked_mul(cols);
    if expected != Some(x.len()) {
        return Err(LogRegError::Shape {
            what: "x",
            expected,
            found: x.len(),
        });
    }
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(LogRegError::NonFiniteFeature {
            row: i / cols,
            col: i % cols,
        }),
        None => Ok(()),
    }
}

/// Validates labels and returns the sorted distinct labels present (at
/// least two). Sorts a copy instead of a `n_classes`-sized table so memory
/// is bounded by the row count, whatever `n_classes` claims.
fn present_classes(labels: &[u32], rows: usize, n_classes: u32) -> Result<Vec<u32>, LogRegError> {
    if labels.len() != rows {
        return Err(LogRegError::Shape {
            what: "labels",
            expected: Some(rows),
            found: labels.len(),
        });
    }
    if let Some(row) = labels.iter().position(|&l| l >= n_classes) {
        let label = labels[row];
        return Err(LogRegError::LabelOutOfRange {
            row,
            label,
            n_classes,
        });
    }
    let mut classes = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return Err(LogRegError::TooFewClasses {
            found: classes.len(),
        });
    }
    Ok(classes)
}

/// Position of each label in the sorted `classes` (all labels are present).
fn compact_labels(labels: &[u32], classes: &[u32]) -> Vec<u32> {
    labels
        .iter()
        .map(|l| classes.binary_search(l).unwrap_or(0) as u32)
        .collect()
}

impl LogReg {
    /// Class probabilities, row-major `rows x n_classes`; each row sums to 1
    /// and labels absent at training get 0.
    pub fn predict_proba(
        &self,
        x: &[f64],
        rows: usize,
        cols: usize,
    ) -> Result<Vec<f64>, LogRegError> {
        self.check_consistent()?;
        if cols != self.cols {
            return Err(LogRegError::Shape {
                what: "cols",
                expected: Some(self.cols),
                found: cols,
            });
        }
        check_features(x, rows, cols)?;
        let width = self.n_classes as usize;
        let Some(len) = rows.checked_mul(width) else {
            return Err(LogRegError::Shape {
                what: "probabilities",
                expected: None,
                found: rows,
            });
        };
        let mut out = vec![0.0; len];
        let mut scores = vec![0.0; self.intercepts.len()];
        for (row, probs) in x
            .chunks_exact(cols.max(1))
            .take(rows)
            .zip(out.chunks_exact_mut(width))
        {
            self.raw_scores(row, &mut scores);
            self.scatter(&scores, probs);
        }
        if cols == 0 {
            // No features: every row has the intercept-only distribution.
            self.raw_scores(&[], &mut scores);
            for probs in out.chunks_exact_mut(width) {
                self.scatter(&scores, probs);
            }
        }
        Ok(out)
    }

    /// Most probable label per row (ties to the lowest label).
    pub fn predict(&self, x: &[f64], rows: usize, cols: usize) -> Result<Vec<u32>, LogRegError> {
        let proba = self.predict_proba(x, rows, cols)?;
        let width = (self.n_classes as usize).max(1);
        Ok(proba.chunks_exact(width).map(argmax).collect())
    }

    /// Weights, row-major `k x cols` (`k = 1` when binary).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// One intercept per weight row.
    pub fn intercepts(&self) -> &[f64] {
        &self.intercepts
    }

    /// Sorted labels present at training.
    pub fn classes(&self) -> &[u32] {
        &self.classes
    }

    /// Declared label space size.
    pub fn n_classes(&self) -> u32 {
        self.n_classes
    }

    /// Feature count expected by `predict_proba`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// L-BFGS iterations taken.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Whether the solver met its tolerance within `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Guards against deserialised models whose parts disagree, so
    /// prediction can index without panicking.
    fn check_consistent(&self) -> Result<(), LogRegError> {
        let p = self.classes.len();
        let k = if p == 2 { 1 } else { p };
        if p < 2 || self.classes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(LogRegError::Corrupt {
                why: "classes must be >= 2 sorted distinct labels",
            });
        }
        if self.classes.iter().any(|&c| c >= self.n_classes) {
            return Err(LogRegError::Corrupt {
                why: "class label outside n_classes",
            });
        }
        if self.intercepts.len() != k || Some(self.weights.len()) != k.checked_mul(self.cols) {
            return Err(LogRegError::Corrupt {
                why: "weight shape does not match classes and cols",
            });
        }
        Ok(())
    }

    /// Linear scores `w_j . row + b_j` of one row.
    fn raw_scores(&self, row: &[f64], scores: &mut [f64]) {
        for (j, s) in scores.iter_mut().enumerate() {
            let w = &self.weights[j * self.cols..(j + 1) * self.cols];
            *s = self.intercepts[j] + dot(w, row);
        }
    }

    /// Turns raw scores into probabilities over the present classes and
    /// writes them into the full-width `probs` row.
    fn scatter(&self, scores: &[f64], probs: &mut [f64]) {
        if let [z] = scores {
            let (_, p1) = log1pexp_sigmoid(*z);
            let (_, p0) = log1pexp_sigmoid(-*z);
            probs[self.classes[0] as usize] = p0;
            probs[self.classes[1] as usize] = p1;
            return;
        }
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        for (&c, s) in self.classes.iter().zip(scores) {
            probs[c as usize] = (s - max).exp() / sum;
        }
    }
}

/// Index of the largest value, the lowest index among ties.
fn argmax(values: &[f64]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}
