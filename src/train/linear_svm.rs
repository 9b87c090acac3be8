//! Linear support vector machine trained by dual coordinate descent.
//!
//! This module owns mlgate's linear SVM: the L2-regularised L1-loss (hinge)
//! and L2-loss (squared hinge) solvers of liblinear (Hsieh et al., "A Dual
//! Coordinate Descent Method for Large-scale Linear SVM", ICML 2008), with the
//! bias handled like liblinear (an extra constant feature that is regularised
//! too), one-vs-rest for more than two classes and a seeded, dependency-free
//! PRNG for the per-epoch permutation so that fits are reproducible.
//!
//! smartcore's `SVC` is a kernel SMO solver whose cost grows roughly with the
//! square of the row count, which is far too slow for CI-sized tables; this
//! solver is linear in rows x columns per epoch.
//!
//! Scores produced by [`LinearSvm::scores`] are a softmax over the one-vs-rest
//! decision values (a logistic sigmoid in the binary case). They rank rows
//! sensibly for ROC AUC but are *not* calibrated probabilities.

use serde::{Deserialize, Serialize};

/// Value of the constant bias feature appended to every row, as liblinear's
/// `-B 1` (scikit-learn's `intercept_scaling=1`).
const BIAS_FEATURE: f64 = 1.0;

/// Projected gradients smaller than this are treated as zero, as in liblinear,
/// to avoid pointless updates that only accumulate rounding noise.
const PG_EPSILON: f64 = 1e-12;

/// Which loss the solver minimises; both use an L2 penalty on the weights.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SvmLoss {
    /// Standard hinge loss `max(0, 1 - y w.x)` (liblinear solver 3).
    Hinge,
    /// Squared hinge loss `max(0, 1 - y w.x)^2` (liblinear solver 1, the
    /// scikit-learn `LinearSVC` default).
    SquaredHinge,
}

/// Solver settings, already validated by the caller.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct SvmSettings {
    /// Inverse regularisation strength (liblinear's `C`), must be > 0.
    pub c: f64,
    /// Loss function.
    pub loss: SvmLoss,
    /// Stopping tolerance on the projected-gradient spread (liblinear `eps`).
    pub tol: f64,
    /// Maximum number of passes over the data per binary problem.
    pub max_iter: usize,
}

/// A fitted linear SVM: one weight vector per binary problem.
///
/// With two classes there is a single problem whose positive class is class
/// index 1; with more there is one problem per class (one-vs-rest).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LinearSvm {
    /// Number of input features (without the bias feature).
    n_features: usize,
    /// Number of classes (compact indices `0..n_classes`).
    n_classes: usize,
    /// Per binary problem, `n_features` weights followed by the bias weight.
    weights: Vec<Vec<f64>>,
    /// Passes used per binary problem; kept so callers can report
    /// non-convergence (a value equal to `max_iter` means it did not converge).
    iterations: Vec<usize>,
}

/// Borrowed, row-major training matrix handed to the solver.
#[derive(Clone, Copy, Debug)]
pub struct RowMajor<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub values: &'a [f64],
}

impl RowMajor<'_> {
    /// Row `i` as a slice; callers guarantee `i < rows` and a consistent
    /// length, and an empty slice comes back otherwise instead of a panic.
    fn row(&self, i: usize) -> &[f64] {
        let start = i.saturating_mul(self.cols);
        self.values.get(start..start + self.cols).unwrap_or(&[])
    }
}

/// Tiny splitmix64 generator: enough quality for shuffling, no dependency,
/// and identical output on every platform.
#[derive(Clone, Debug)]
struct SplitMix64 {
    /// Current state, advanced by the golden-ratio increment on every draw.
    state: u64,
}

impl SplitMix64 {
    /// Seeds the generator.
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..bound` (Lemire's multiply-high; the tiny bias
    /// is irrelevant for shuffling). `bound` must be > 0.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }

    /// Fisher-Yates shuffle of `items`.
    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Dot product of a weight vector (features then bias) with one row.
fn decision(weights: &[f64], row: &[f64]) -> f64 {
    let n = row.len();
    let dot: f64 = weights.iter().zip(row).map(|(w, x)| w * x).sum();
    dot + weights.get(n).copied().unwrap_or(0.0) * BIAS_FEATURE
}

/// Adds `step * row` (plus the bias feature) to `weights`.
fn axpy(weights: &mut [f64], step: f64, row: &[f64]) {
    let n = row.len();
    for (w, x) in weights.iter_mut().zip(row) {
        *w += step * x;
    }
    if let Some(bias) = weights.get_mut(n) {
        *bias += step * BIAS_FEATURE;
    }
}

/// Loss-dependent constants of the dual problem: the box upper bound `U` and
/// the diagonal term `D_ii` (Hsieh et al. 2008, table 1).
fn dual_constants(settings: &SvmSettings) -> (f64, f64) {
    match settings.loss {
        SvmLoss::Hinge => (settings.c, 0.0),
        SvmLoss::SquaredHinge => (f64::INFINITY, 0.5 / settings.c),
    }
}

/// Outcome of one binary fit.
struct BinaryFit {
    /// Weights, features then bias.
    weights: Vec<f64>,
    /// Passes over the data that were used.
    iterations: usize,
}

/// Shrinking state of the solver (liblinear's `PGmax_old` / `PGmin_old`).
struct Bounds {
    /// Largest projected gradient seen in the previous pass.
    max_old: f64,
    /// Smallest projected gradient seen in the previous pass.
    min_old: f64,
}

/// Solves one binary problem; `positive[i]` says whether row `i` is +1.
fn fit_binary(
    x: RowMajor<'_>,
    positive: &[bool],
    settings: &SvmSettings,
    rng: &mut SplitMix64,
) -> BinaryFit {
    let (upper, diag) = dual_constants(settings);
    let n = x.rows;
    let mut weights = vec![0.0; x.cols + 1];
    let mut alpha = vec![0.0; n];
    let qd: Vec<f64> = (0..n)
        .map(|i| {
            let r = x.row(i);
            r.iter().map(|v| v * v).sum::<f64>() + BIAS_FEATURE * BIAS_FEATURE + diag
        })
        .collect();
    let sign = |i: usize| {
        if positive.get(i).copied().unwrap_or(false) {
            1.0
        } else {
            -1.0
        }
    };
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut bounds = Bounds {
        max_old: f64::INFINITY,
        min_old: f64::NEG_INFINITY,
    };
    let mut iter = 0;
    while iter < settings.max_iter {
        let mut pg_max = f64::NEG_INFINITY;
        let mut pg_min = f64::INFINITY;
        rng.shuffle(&mut index[..active]);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let yi = sign(i);
            let row = x.row(i);
            let g = yi * decision(&weights, row) - 1.0 + diag * alpha[i];
            let pg = if alpha[i] == 0.0 {
                if g > bounds.max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else if alpha[i] >= upper {
                if g < bounds.min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.max(0.0)
            } else {
                g
            };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > PG_EPSILON && qd[i] > 0.0 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).clamp(0.0, upper);
                axpy(&mut weights, (alpha[i] - old) * yi, row);
            }
            s += 1;
        }
        iter += 1;
        if pg_max - pg_min <= settings.tol {
            if active == n {
                break;
            }
            active = n;
            bounds = Bounds {
                max_old: f64::INFINITY,
                min_old: f64::NEG_INFINITY,
            };
            continue;
        }
        bounds.max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        bounds.min_old = if pg_min >= 0.0 {
            f64::NEG_INFINITY
        } else {
            pg_min
        };
    }
    BinaryFit {
        weights,
        iterations: iter,
    }
}

impl LinearSvm {
    /// Fits the SVM. `labels` are compact class indices below `n_classes`
    /// (`n_classes >= 2`, checked by the caller, as are the matrix shape and
    /// finiteness). The same inputs and `seed` give bit-identical weights.
    pub fn fit(
        x: RowMajor<'_>,
        labels: &[u32],
        n_classes: usize,
        settings: &SvmSettings,
        seed: u64,
    ) -> LinearSvm {
        let mut rng = SplitMix64::new(seed);
        let problems: Vec<u32> = if n_classes == 2 {
            vec![1]
        } else {
            (0..n_classes as u32).collect()
        };
        let mut weights = Vec::with_capacity(problems.len());
        let mut iterations = Vec::with_capacity(problems.len());
        for class in problems {
            let positive: Vec<bool> = labels.iter().map(|&l| l == class).collect();
            let fit = fit_binary(x, &positive, settings, &mut rng);
            weights.push(fit.weights);
            iterations.push(fit.iterations);
        }
        LinearSvm {
            n_features: x.cols,
            n_classes,
            weights,
            iterations,
        }
    }

    /// Number of input features the model expects.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Passes over the data used by each binary problem.
    pub fn iterations(&self) -> &[usize] {
        &self.iterations
    }

    /// True when every weight is finite (a diverged solve is reported as an
    /// error by the caller rather than stored).
    pub fn is_finite(&self) -> bool {
        self.weights.iter().flatten().all(|w| w.is_finite())
    }

    /// Raw decision values of one row: one per binary problem.
    pub fn decision_values(&self, row: &[f64]) -> Vec<f64> {
        self.weights.iter().map(|w| decision(w, row)).collect()
    }

    /// Class scores of one row, `n_classes` values summing to 1: sigmoid of
    /// the decision value for two classes, softmax over the one-vs-rest
    /// decision values otherwise. Not calibrated probabilities.
    pub fn scores(&self, row: &[f64]) -> Vec<f64> {
        let d = self.decision_values(row);
        if self.n_classes == 2 {
            let v = d.first().copied().unwrap_or(0.0);
            return softmax(&[0.0, v]);
        }
        softmax(&d)
    }
}

/// Numerically stable softmax; an empty input gives an empty output.
pub fn softmax(values: &[f64]) -> Vec<f64> {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well separated 2-D blobs with labels 0/1, interleaved.
    fn blobs(n: usize) -> (Vec<f64>, Vec<u32>) {
        let mut rng = SplitMix64::new(3);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = (i % 2) as u32;
            let centre = if c == 1 { 2.0 } else { -2.0 };
            for _ in 0..2 {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                x.push(centre + (u - 0.5) * 2.0);
            }
            y.push(c);
        }
        (x, y)
    }

    /// Settings used by the tests.
    fn settings(loss: SvmLoss) -> SvmSettings {
        SvmSettings {
            c: 1.0,
            loss,
            tol: 1e-4,
            max_iter: 1000,
        }
    }

    #[test]
    fn separates_blobs_with_both_losses() {
        let (x, y) = blobs(200);
        let m = RowMajor {
            rows: 200,
            cols: 2,
            values: &x,
        };
        for loss in [SvmLoss::Hinge, SvmLoss::SquaredHinge] {
            let svm = LinearSvm::fit(m, &y, 2, &settings(loss), 1);
            let correct = (0..200)
                .filter(|&i| {
                    let s = svm.scores(m.row(i));
                    u32::from(s[1] > s[0]) == y[i]
                })
                .count();
            assert_eq!(correct, 200, "{loss:?}");
            assert!(svm.iterations()[0] < 1000);
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let (x, y) = blobs(100);
        let m = RowMajor {
            rows: 100,
            cols: 2,
            values: &x,
        };
        let a = LinearSvm::fit(m, &y, 2, &settings(SvmLoss::Hinge), 9);
        let b = LinearSvm::fit(m, &y, 2, &settings(SvmLoss::Hinge), 9);
        assert_eq!(a, b);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = SplitMix64::new(5);
        let mut v: Vec<usize> = (0..50).collect();
        rng.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }

    #[test]
    fn softmax_sums_to_one() {
        let s = softmax(&[1000.0, -5.0, 3.0]);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s[0] > 0.99);
    }
}
