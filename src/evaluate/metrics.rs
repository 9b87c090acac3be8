//! Model-quality metrics for classification and regression, and the
//! [`Metric`] names that gate configurations refer to them by.
//!
//! A promotion gate compares numbers that data scientists have usually
//! already seen in a notebook, so every metric here reproduces
//! scikit-learn's definition and edge-case conventions (checked against
//! scikit-learn 1.9.1; see `tests/fixtures/reference/gen_evaluate_reference.py`)
//! instead of a textbook variant that disagrees in the last decimal or on
//! ties. Where scikit-learn raises, mlgate returns `None`; where it only
//! warns and substitutes a value (for example a 0/0 precision counted as 0),
//! mlgate substitutes the same value. The few deliberate departures are
//! documented on the function concerned.
//!
//! Input conventions, shared by every function in this module:
//! * classes are the indices `0..k`; in a binary task the positive class is
//!   index 1;
//! * per-class scores come as a [`ScoreMatrix`]: a flat, row-major `n × k`
//!   slice, so that callers can hand over one contiguous buffer (as read from
//!   a Parquet column or a NumPy array) without building `n` vectors;
//! * invalid input (mismatched lengths, empty slices, NaN or infinite values,
//!   probabilities outside `[0, 1]`, class indices out of range) yields
//!   `None`, never a panic.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::float_order;

/// Number of equal-width confidence bins used by [`Metric::Ece`].
///
/// Ten bins is the convention of Guo et al. (2017), which is what most
/// calibration reports quote, so an ECE from mlgate can be compared with one
/// from a paper or another tool.
pub const ECE_BINS: usize = 10;

/// Largest class count for which [`confusion_matrix`] builds a dense matrix.
///
/// The matrix has `n_classes²` cells; the cap turns a typo'd class count into
/// `None` instead of an allocation that aborts the process.
pub const MAX_CONFUSION_CLASSES: usize = 4096;

/// How per-class precision, recall or F1 scores are combined into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Average {
    /// Score of the positive class (index 1) only; defined for binary data.
    Binary,
    /// Unweighted mean over the classes that occur in the labels or the
    /// predictions (scikit-learn's `average="macro"` with default `labels`).
    Macro,
    /// Mean over the same classes weighted by their number of true rows
    /// (scikit-learn's `average="weighted"`).
    Weighted,
}

/// Kind of learning task, which decides the metrics that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes, index 1 positive.
    BinaryClassification,
    /// Three or more classes.
    MulticlassClassification,
    /// Real-valued target.
    Regression,
}

/// A metric that a gate can be configured with, named as in the config file.
///
/// The serde names (snake_case, e.g. `f1_macro`, `roc_auc`) are the same
/// strings that [`Metric::name`] returns and [`Metric::from_str`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Fraction of rows whose predicted class equals the label.
    Accuracy,
    /// Mean recall over the classes present in the labels.
    BalancedAccuracy,
    /// Precision of the positive class (binary tasks).
    Precision,
    /// Macro-averaged precision.
    PrecisionMacro,
    /// Support-weighted precision.
    PrecisionWeighted,
    /// Recall of the positive class (binary tasks).
    Recall,
    /// Macro-averaged recall.
    RecallMacro,
    /// Support-weighted recall.
    RecallWeighted,
    /// F1 of the positive class (binary tasks).
    F1,
    /// Macro-averaged F1.
    F1Macro,
    /// Support-weighted F1.
    F1Weighted,
    /// Area under the ROC curve (one-vs-rest macro for multiclass).
    RocAuc,
    /// Average precision, the step-wise area under the precision-recall
    /// curve (macro over classes for multiclass).
    PrAuc,
    /// Mean negative log-likelihood of the true class.
    LogLoss,
    /// Brier score (mean squared probability error).
    Brier,
    /// Expected calibration error over [`ECE_BINS`] confidence bins.
    Ece,
    /// Mean absolute error.
    Mae,
    /// Root mean squared error.
    Rmse,
    /// Coefficient of determination.
    R2,
    /// Mean absolute percentage error (as a fraction, not percent).
    Mape,
}

/// Error returned by [`Metric::from_str`] for a name that is not a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMetric {
    /// The name as given, kept so the message can quote it back.
    pub name: String,
}

impl fmt::Display for UnknownMetric {
    /// Names the bad metric and lists the valid names, so a config typo can
    /// be fixed from the error message alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown metric `{}`; valid metrics are: ", self.name)?;
        for (i, metric) in Metric::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(metric.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownMetric {}

impl Metric {
    /// Every metric, in the order used for listings and error messages.
    pub const ALL: [Metric; 20] = [
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::Precision,
        Metric::PrecisionMacro,
        Metric::PrecisionWeighted,
        Metric::Recall,
        Metric::RecallMacro,
        Metric::RecallWeighted,
        Metric::F1,
        Metric::F1Macro,
        Metric::F1Weighted,
        Metric::RocAuc,
        Metric::PrAuc,
        Metric::LogLoss,
        Metric::Brier,
        Metric::Ece,
        Metric::Mae,
        Metric::Rmse,
        Metric::R2,
        Metric::Mape,
    ];

    /// The config-file name of the metric (its serde name).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::Precision => "precision",
            Metric::PrecisionMacro => "precision_macro",
            Metric::PrecisionWeighted => "precision_weighted",
            Metric::Recall => "recall",
            Metric::RecallMacro => "recall_macro",
            Metric::RecallWeighted => "recall_weighted",
            Metric::F1 => "f1",
            Metric::F1Macro => "f1_macro",
            Metric::F1Weighted => "f1_weighted",
            Metric::RocAuc => "roc_auc",
            Metric::PrAuc => "pr_auc",
            Metric::LogLoss => "log_loss",
            Metric::Brier => "brier",
            Metric::Ece => "ece",
            Metric::Mae => "mae",
            Metric::Rmse => "rmse",
            Metric::R2 => "r2",
            Metric::Mape => "mape",
        }
    }

    /// Whether a larger value means a better model; a gate needs this to
    /// know which sign of the candidate-minus-champion delta is a regression.
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Metric::LogLoss
                | Metric::Brier
                | Metric::Ece
                | Metric::Mae
                | Metric::Rmse
                | Metric::Mape
        )
    }

    /// The values the metric can take: a gate bound outside them can never be met.
    pub fn range(self) -> (f64, f64) {
        match self {
            // The multiclass Brier score sums over classes: two wholly wrong shares.
            Metric::Brier => (0.0, 2.0),
            Metric::LogLoss | Metric::Mae | Metric::Rmse | Metric::Mape => (0.0, f64::INFINITY),
            Metric::R2 => (f64::NEG_INFINITY, 1.0),
            _ => (0.0, 1.0),
        }
    }

    /// The averaging of a precision / recall / F1 metric, `None` for others.
    pub fn average(self) -> Option<Average> {
        match self {
            Metric::Precision | Metric::Recall | Metric::F1 => Some(Average::Binary),
            Metric::PrecisionMacro | Metric::RecallMacro | Metric::F1Macro => Some(Average::Macro),
            Metric::PrecisionWeighted | Metric::RecallWeighted | Metric::F1Weighted => {
                Some(Average::Weighted)
            }
            _ => None,
        }
    }

    /// Whether the metric needs per-class scores rather than hard predictions.
    pub fn needs_scores(self) -> bool {
        matches!(
            self,
            Metric::RocAuc | Metric::PrAuc | Metric::LogLoss | Metric::Brier | Metric::Ece
        )
    }

    /// Whether the metric is defined for a task at all (it may still be
    /// undefined for particular data, e.g. ROC AUC with a single class).
    pub fn applies_to(self, task: Task) -> bool {
        let regression = matches!(self, Metric::Mae | Metric::Rmse | Metric::R2 | Metric::Mape);
        match task {
            Task::Regression => regression,
            Task::BinaryClassification => !regression,
            Task::MulticlassClassification => {
                !regression && self.average() != Some(Average::Binary)
            }
        }
    }
}

impl fmt::Display for Metric {
    /// Writes the config-file name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = UnknownMetric;

    /// Parses the exact config-file name; matching is case-sensitive so that
    /// a config file has one spelling per metric.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMetric { name: s.to_owned() })
    }
}

/// Borrowed `n × k` matrix of per-class scores, stored flat and row-major:
/// the score of class `j` for row `i` is `values[i * k + j]`.
///
/// Probability-based metrics (log loss, Brier, ECE) expect each row to be a
/// probability vector; ranking metrics (ROC AUC, average precision) accept
/// any finite scores. In a binary task only column 1 (the positive class) is
/// read by the ranking metrics and by Brier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreMatrix<'a> {
    /// Row-major values, `n_rows * n_classes` of them.
    values: &'a [f64],
    /// Number of columns `k`, at least 2.
    n_classes: usize,
}

impl<'a> ScoreMatrix<'a> {
    /// Wraps `values` as a matrix with `n_classes` columns.
    ///
    /// Returns `None` when `n_classes < 2` (a one-column "matrix" would leave
    /// the positive-class column ambiguous) or when the length is not a
    /// multiple of `n_classes`.
    pub fn new(values: &'a [f64], n_classes: usize) -> Option<Self> {
        if n_classes < 2 || !values.len().is_multiple_of(n_classes) {
            return None;
        }
        Some(ScoreMatrix { values, n_classes })
    }

    /// Number of rows `n`.
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_classes
    }

    /// Number of classes (columns) `k`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The flat row-major values.
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// Scores of row `i`, or `None` past the last row.
    pub fn row(&self, i: usize) -> Option<&'a [f64]> {
        let start = i.checked_mul(self.n_classes)?;
        self.values.get(start..start.checked_add(self.n_classes)?)
    }

    /// Iterator over the rows.
    fn rows(&self) -> std::slice::ChunksExact<'a, f64> {
        self.values.chunks_exact(self.n_classes)
    }

    /// Iterator over column `j` (callers pass `j < n_classes`).
    fn column(&self, j: usize) -> impl Iterator<Item = f64> + 'a {
        self.values.iter().skip(j).step_by(self.n_classes).copied()
    }

    /// Whether every value is finite.
    fn all_finite(&self) -> bool {
        self.values.iter().all(|v| v.is_finite())
    }

    /// Whether every value is a probability (in `[0, 1]`, hence not NaN);
    /// scikit-learn rejects anything else for its probability metrics.
    fn all_probabilities(&self) -> bool {
        self.values.iter().all(|v| (0.0..=1.0).contains(v))
    }
}

/// Fraction of rows where `predicted` equals `labels`.
///
/// `None` when the slices are empty or differ in length.
pub fn accuracy(labels: &[usize], predicted: &[usize]) -> Option<f64> {
    if labels.is_empty() || labels.len() != predicted.len() {
        return None;
    }
    let correct = labels.iter().zip(predicted).filter(|(y, p)| y == p).count();
    Some(correct as f64 / labels.len() as f64)
}

/// Per-class counts behind precision, recall, F1 and balanced accuracy.
///
/// Crate-visible so that the bootstrap's count-based evaluators
/// ([`super::resample`]) finish a resample through the same code as
/// [`compute`] and so get bit-identical values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClassCounts {
    /// Rows of this class predicted as this class.
    pub(crate) true_positive: u64,
    /// Rows whose label is this class (the class's support).
    pub(crate) actual: u64,
    /// Rows predicted as this class.
    pub(crate) predicted: u64,
}

impl ClassCounts {
    /// Precision with scikit-learn's default `zero_division` (0/0 counts as 0).
    fn precision(self) -> f64 {
        ratio_or_zero(self.true_positive, self.predicted)
    }

    /// Recall with scikit-learn's default `zero_division` (0/0 counts as 0).
    fn recall(self) -> f64 {
        ratio_or_zero(self.true_positive, self.actual)
    }

    /// F1 as `2·TP / (actual + predicted)`, the form scikit-learn ≥ 1.3 uses,
    /// which stays defined when precision or recall alone is 0/0.
    fn f1(self) -> f64 {
        ratio_or_zero(2 * self.true_positive, self.actual + self.predicted)
    }
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's warn-and-zero default).
fn ratio_or_zero(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Counts per class for every class that occurs in `labels` or `predicted`,
/// in increasing class order.
///
/// Counted in a vector indexed by class, as fast as the rows can be read, unless the largest
/// class index is far beyond any real class count: a map then keeps a stray huge index from
/// allocating memory proportional to its value. `None` for empty or mismatched input.
fn tally(labels: &[usize], predicted: &[usize]) -> Option<Vec<(usize, ClassCounts)>> {
    if labels.is_empty() || labels.len() != predicted.len() {
        return None;
    }
    let top = labels.iter().chain(predicted).copied().max()?;
    if top >= MAX_CONFUSION_CLASSES {
        return Some(tally_sparse(labels, predicted));
    }
    let mut table = vec![ClassCounts::default(); top + 1];
    for (&y, &p) in labels.iter().zip(predicted) {
        table[y].actual += 1;
        table[p].predicted += 1;
        table[y].true_positive += u64::from(y == p);
    }
    Some(
        table
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.actual > 0 || c.predicted > 0)
            .collect(),
    )
}

/// [`tally`] in a map, for class indices too large to index a vector by.
fn tally_sparse(labels: &[usize], predicted: &[usize]) -> Vec<(usize, ClassCounts)> {
    let mut table: BTreeMap<usize, ClassCounts> = BTreeMap::new();
    for (&y, &p) in labels.iter().zip(predicted) {
        table.entry(y).or_default().actual += 1;
        table.entry(p).or_default().predicted += 1;
        if y == p {
            table.entry(y).or_default().true_positive += 1;
        }
    }
    table.into_iter().collect()
}

/// Which of the three per-class ratios to average.
#[derive(Debug, Clone, Copy)]
enum Ratio {
    /// TP / predicted.
    Precision,
    /// TP / actual.
    Recall,
    /// 2·TP / (actual + predicted).
    F1,
}

/// Shared averaging logic of [`precision`], [`recall`] and [`f1`].
fn averaged(labels: &[usize], predicted: &[usize], average: Average, ratio: Ratio) -> Option<f64> {
    averaged_counts(&tally(labels, predicted)?, average, ratio)
}

/// [`averaged`] from the per-class counts of the classes that occur (as
/// [`tally`] lists them), which is all the metric depends on.
fn averaged_counts(table: &[(usize, ClassCounts)], average: Average, ratio: Ratio) -> Option<f64> {
    if table.is_empty() {
        return None;
    }
    let score = |c: ClassCounts| match ratio {
        Ratio::Precision => c.precision(),
        Ratio::Recall => c.recall(),
        Ratio::F1 => c.f1(),
    };
    match average {
        Average::Binary => {
            // scikit-learn refuses average="binary" on multiclass data rather
            // than silently reporting class 1 only.
            if table.iter().any(|&(c, _)| c > 1) {
                return None;
            }
            let positive = table
                .iter()
                .find(|&&(c, _)| c == 1)
                .map(|&(_, counts)| counts);
            Some(score(positive.unwrap_or_default()))
        }
        Average::Macro => {
            let sum: f64 = table.iter().map(|&(_, c)| score(c)).sum();
            Some(sum / table.len() as f64)
        }
        Average::Weighted => {
            let support: u64 = table.iter().map(|(_, c)| c.actual).sum();
            if support == 0 {
                return None;
            }
            let sum: f64 = table.iter().map(|&(_, c)| c.actual as f64 * score(c)).sum();
            Some(sum / support as f64)
        }
    }
}

/// A confusion-count metric (accuracy, balanced accuracy, precision, recall
/// or F1 with any averaging) from the per-class counts of the classes that
/// occur in the labels or the predictions, in increasing class order.
///
/// This is the whole of what those metrics depend on, so the bootstrap can
/// count a resample's classes instead of gathering its rows; [`compute`]
/// goes through the same arithmetic. `None` for other metrics or no rows.
pub(crate) fn from_class_counts(metric: Metric, table: &[(usize, ClassCounts)]) -> Option<f64> {
    let ratio = match metric {
        Metric::Accuracy => return accuracy_counts(table),
        Metric::BalancedAccuracy => return balanced_accuracy_counts(table),
        Metric::Precision | Metric::PrecisionMacro | Metric::PrecisionWeighted => Ratio::Precision,
        Metric::Recall | Metric::RecallMacro | Metric::RecallWeighted => Ratio::Recall,
        Metric::F1 | Metric::F1Macro | Metric::F1Weighted => Ratio::F1,
        _ => return None,
    };
    averaged_counts(table, metric.average()?, ratio)
}

/// Accuracy as correct rows over all rows, from per-class counts.
fn accuracy_counts(table: &[(usize, ClassCounts)]) -> Option<f64> {
    let correct: u64 = table.iter().map(|(_, c)| c.true_positive).sum();
    let rows: u64 = table.iter().map(|(_, c)| c.actual).sum();
    (rows > 0).then(|| correct as f64 / rows as f64)
}

/// Precision, as scikit-learn's `precision_score(average=...)`.
///
/// Macro and weighted averages run over the classes present in `labels` or
/// `predicted` (scikit-learn's default `labels=None`), so a class that never
/// occurs in either does not dilute the mean. A class that is never predicted
/// has precision 0 (scikit-learn's default `zero_division`). With
/// [`Average::Binary`] the result is `None` if any class index exceeds 1.
/// `None` also for empty or mismatched input.
pub fn precision(labels: &[usize], predicted: &[usize], average: Average) -> Option<f64> {
    averaged(labels, predicted, average, Ratio::Precision)
}

/// Recall, as scikit-learn's `recall_score(average=...)`; the class set and
/// `None` cases are those of [`precision`].
pub fn recall(labels: &[usize], predicted: &[usize], average: Average) -> Option<f64> {
    averaged(labels, predicted, average, Ratio::Recall)
}

/// F1, as scikit-learn's `f1_score(average=...)`; the class set and `None`
/// cases are those of [`precision`], and a class with no true and no
/// predicted rows scores 0.
pub fn f1(labels: &[usize], predicted: &[usize], average: Average) -> Option<f64> {
    averaged(labels, predicted, average, Ratio::F1)
}

/// Balanced accuracy, as scikit-learn's `balanced_accuracy_score`: the mean
/// recall over the classes that occur in `labels` (classes only ever
/// predicted are ignored, as scikit-learn drops their NaN recalls).
///
/// `None` for empty or mismatched input.
pub fn balanced_accuracy(labels: &[usize], predicted: &[usize]) -> Option<f64> {
    balanced_accuracy_counts(&tally(labels, predicted)?)
}

/// [`balanced_accuracy`] from per-class counts.
fn balanced_accuracy_counts(table: &[(usize, ClassCounts)]) -> Option<f64> {
    let recalls: Vec<f64> = table
        .iter()
        .filter(|(_, c)| c.actual > 0)
        .map(|(_, c)| c.recall())
        .collect();
    if recalls.is_empty() {
        return None;
    }
    Some(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

/// Confusion matrix with rows indexed by the true class and columns by the
/// predicted class, as scikit-learn's `confusion_matrix(labels=range(k))`.
///
/// `None` when the slices differ in length, a class index is `>= n_classes`,
/// `n_classes` is 0, or `n_classes` exceeds [`MAX_CONFUSION_CLASSES`]. Empty
/// input gives an all-zero matrix.
pub fn confusion_matrix(
    labels: &[usize],
    predicted: &[usize],
    n_classes: usize,
) -> Option<Vec<Vec<u64>>> {
    if labels.len() != predicted.len() || n_classes == 0 || n_classes > MAX_CONFUSION_CLASSES {
        return None;
    }
    let mut matrix = vec![vec![0u64; n_classes]; n_classes];
    for (&y, &p) in labels.iter().zip(predicted) {
        let cell = matrix.get_mut(y)?.get_mut(p)?;
        *cell += 1;
    }
    Some(matrix)
}

/// Checks that `labels` index the rows and columns of `scores`.
fn labels_fit(labels: &[usize], scores: &ScoreMatrix<'_>) -> bool {
    !labels.is_empty()
        && labels.len() == scores.n_rows()
        && labels.iter().all(|&y| y < scores.n_classes())
}

/// Sort key that makes `-0.0` and `0.0` the same value, so that sorting with
/// `total_cmp` groups ties exactly as `==` (and scikit-learn) does.
pub(crate) fn tie_key(x: f64) -> f64 {
    x + 0.0
}

/// Splits `(score, is_positive)` pairs, sorted by score, into runs of equal
/// scores and returns `(positives, negatives)` per run in sorted order.
fn tie_groups(sorted: &[(f64, bool)]) -> Vec<(u64, u64)> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let value = sorted[start].0;
        let mut end = start;
        let (mut pos, mut neg) = (0u64, 0u64);
        while end < sorted.len() && sorted[end].0 == value {
            if sorted[end].1 {
                pos += 1;
            } else {
                neg += 1;
            }
            end += 1;
        }
        groups.push((pos, neg));
        start = end;
    }
    groups
}

/// Binary ROC AUC as the Mann-Whitney statistic with ties counted as one half.
///
/// The count is accumulated exactly in integers (twice the U statistic), so
/// the only rounding is the final division; scikit-learn's trapezoidal area
/// over the ROC curve is the same number up to its own rounding.
/// `None` when either class is absent or a score is not finite.
fn auc_of_pairs(mut pairs: Vec<(f64, bool)>) -> Option<f64> {
    if pairs.iter().any(|(s, _)| !s.is_finite()) {
        return None;
    }
    // Tied scores form one group whatever their order, so an unstable sort gives the same sums.
    pairs.sort_unstable_by_key(|&(score, _)| float_order::key(tie_key(score)));
    let mut negatives_below: u128 = 0;
    let mut twice_u: u128 = 0;
    let (mut n_pos, mut n_neg) = (0u128, 0u128);
    for (pos, neg) in tie_groups(&pairs) {
        let (pos, neg) = (u128::from(pos), u128::from(neg));
        twice_u += pos * (2 * negatives_below + neg);
        negatives_below += neg;
        n_pos += pos;
        n_neg += neg;
    }
    auc_from_counts(twice_u, n_pos, n_neg)
}

/// ROC AUC from twice the Mann-Whitney U statistic and the class sizes;
/// `None` when either class is absent. Shared with the bootstrap's weighted
/// pass so both round identically.
pub(crate) fn auc_from_counts(twice_u: u128, n_pos: u128, n_neg: u128) -> Option<f64> {
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    Some(twice_u as f64 / (2.0 * n_pos as f64 * n_neg as f64))
}

/// Average precision of `(score, is_positive)` pairs, as scikit-learn's
/// `average_precision_score`: `Σ (R_t − R_{t−1}) · P_t` over the distinct
/// score thresholds `t` in decreasing order, with no interpolation.
///
/// `None` when there is no positive row (recall is 0/0; scikit-learn warns)
/// or a score is not finite.
fn average_precision_of_pairs(mut pairs: Vec<(f64, bool)>) -> Option<f64> {
    if pairs.iter().any(|(s, _)| !s.is_finite()) {
        return None;
    }
    pairs.sort_unstable_by_key(|&(score, _)| std::cmp::Reverse(float_order::key(tie_key(score))));
    let total_pos = pairs.iter().filter(|(_, p)| *p).count() as u64;
    if total_pos == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut ap = 0.0;
    for (pos, neg) in tie_groups(&pairs) {
        tp += pos;
        fp += neg;
        if pos > 0 {
            ap += average_precision_term(pos, total_pos, tp, fp);
        }
    }
    Some(ap)
}

/// The contribution of one score threshold to the average precision: the
/// recall gained there times the precision at it. Shared with the
/// bootstrap's weighted pass so both round identically.
pub(crate) fn average_precision_term(pos: u64, total_pos: u64, tp: u64, fp: u64) -> f64 {
    (pos as f64 / total_pos as f64) * (tp as f64 / (tp + fp) as f64)
}

/// Binary ROC AUC of `scores` against boolean labels (true = positive), as
/// scikit-learn's `roc_auc_score(labels, scores)`: the probability that a
/// random positive scores above a random negative, ties counting one half.
///
/// `None` when the slices differ in length, either class is absent, or a
/// score is not finite.
pub fn binary_roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    if labels.len() != scores.len() {
        return None;
    }
    auc_of_pairs(scores.iter().copied().zip(labels.iter().copied()).collect())
}

/// Pairs of (score of class `class`, row belongs to `class`).
fn one_vs_rest(labels: &[usize], scores: &ScoreMatrix<'_>, class: usize) -> Vec<(f64, bool)> {
    scores
        .column(class)
        .zip(labels.iter().map(|&y| y == class))
        .collect()
}

/// ROC AUC, as scikit-learn's `roc_auc_score`.
///
/// Binary (`k = 2`): the AUC of column 1 against class 1. Multiclass: the
/// unweighted mean of the one-vs-rest AUCs of every class
/// (`multi_class="ovr", average="macro"`).
///
/// `None` when `labels` do not fit `scores`, any score (in any column) is not
/// finite, or (for any class) positives or negatives are absent — scikit-learn raises in
/// those cases. Unlike scikit-learn, multiclass rows are not required to sum
/// to 1: the one-vs-rest AUC is a ranking statistic and is well defined for
/// any scores.
pub fn roc_auc(labels: &[usize], scores: &ScoreMatrix<'_>) -> Option<f64> {
    if !labels_fit(labels, scores) || !scores.all_finite() {
        return None;
    }
    one_vs_rest_macro(labels, scores, auc_of_pairs)
}

/// Average precision ("PR AUC"), as scikit-learn's
/// `average_precision_score`: binary uses column 1 against class 1;
/// multiclass is the macro mean of the one-vs-rest average precisions.
///
/// `None` when `labels` do not fit `scores`, any score (in any column) is not
/// finite, or a class (class 1 in the binary case, any class otherwise) has no row —
/// scikit-learn raises for multiclass and warns and returns a meaningless
/// value for binary.
pub fn average_precision(labels: &[usize], scores: &ScoreMatrix<'_>) -> Option<f64> {
    if !labels_fit(labels, scores) || !scores.all_finite() {
        return None;
    }
    one_vs_rest_macro(labels, scores, average_precision_of_pairs)
}

/// A ranking statistic for class 1 (binary), or its macro mean over the one-vs-rest splits
/// (multiclass); `None` as soon as one class's statistic is undefined.
fn one_vs_rest_macro(
    labels: &[usize],
    scores: &ScoreMatrix<'_>,
    statistic: fn(Vec<(f64, bool)>) -> Option<f64>,
) -> Option<f64> {
    if scores.n_classes() == 2 {
        return statistic(one_vs_rest(labels, scores, 1));
    }
    let mut sum = 0.0;
    for class in 0..scores.n_classes() {
        sum += statistic(one_vs_rest(labels, scores, class))?;
    }
    Some(sum / scores.n_classes() as f64)
}

/// Mean log loss (natural logarithm) of the true-class probabilities, as
/// scikit-learn's `log_loss(labels, scores, labels=range(k))`.
///
/// Probabilities are clipped to `[ε, 1 − ε]` with `ε = f64::EPSILON`
/// (scikit-learn ≥ 1.5 uses the dtype's machine epsilon; checked against
/// 1.9.1), so a confident mistake costs `−ln ε ≈ 36.04` instead of infinity.
/// Rows are not renormalised, matching scikit-learn ≥ 1.5 (it only warns).
///
/// `None` when `labels` do not fit `scores` or a value lies outside `[0, 1]`
/// (including NaN).
pub fn log_loss(labels: &[usize], scores: &ScoreMatrix<'_>) -> Option<f64> {
    if !labels_fit(labels, scores) || !scores.all_probabilities() {
        return None;
    }
    let total: f64 = scores
        .rows()
        .zip(labels)
        .map(|(row, &y)| log_loss_term(row, y))
        .sum();
    Some(total / labels.len() as f64)
}

/// One row's log loss, `−ln p_y` with `p_y` clipped to `[ε, 1 − ε]`
/// (callers pass `y < row.len()`). Shared with the bootstrap.
pub(crate) fn log_loss_term(row: &[f64], y: usize) -> f64 {
    let eps = f64::EPSILON;
    -row[y].clamp(eps, 1.0 - eps).ln()
}

/// Brier score, as scikit-learn's `brier_score_loss` (≥ 1.7, checked against
/// 1.9.1) with its default `scale_by_half="auto"`.
///
/// Binary: `mean((p₁ − y)²)` with `p₁` the column-1 probability and `y` 1 for
/// class 1 — the textbook Brier score in `[0, 1]`. Multiclass: the mean over
/// rows of `Σ_j (p_j − [y = j])²`, unscaled, in `[0, 2]`.
///
/// `None` when `labels` do not fit `scores` or a value lies outside `[0, 1]`
/// (including NaN).
pub fn brier(labels: &[usize], scores: &ScoreMatrix<'_>) -> Option<f64> {
    if !labels_fit(labels, scores) || !scores.all_probabilities() {
        return None;
    }
    let total: f64 = scores
        .rows()
        .zip(labels)
        .map(|(row, &y)| brier_term(row, y))
        .sum();
    Some(total / labels.len() as f64)
}

/// One row's Brier term: `(p₁ − [y = 1])²` for two columns, otherwise
/// `Σ_j (p_j − [y = j])²` (callers pass `y < row.len()`). Shared with the
/// bootstrap.
pub(crate) fn brier_term(row: &[f64], y: usize) -> f64 {
    if row.len() == 2 {
        (row[1] - if y == 1 { 1.0 } else { 0.0 }).powi(2)
    } else {
        row.iter()
            .enumerate()
            .map(|(j, &p)| (p - if j == y { 1.0 } else { 0.0 }).powi(2))
            .sum::<f64>()
    }
}

/// Expected calibration error of the top-class confidence (Guo et al. 2017).
///
/// For each row the confidence is `c = max_j p_j` and the prediction is the
/// first class attaining it (NumPy's `argmax`). Bin `b` (0-based) of
/// `n_bins` covers `(b / n_bins, (b + 1) / n_bins]`, and bin 0 also takes
/// `c = 0`; the boundaries are the `f64` values `b as f64 / n_bins as f64`
/// and membership is decided by comparing with them, so a confidence of
/// exactly `0.3` falls in bin 2 of 10 regardless of how `0.3 · 10` rounds.
/// Then `ECE = Σ_b (|B_b| / n) · |acc(B_b) − conf(B_b)|`, where `acc` is the
/// fraction of rows in the bin whose prediction equals the label and `conf`
/// their mean confidence; empty bins contribute nothing.
///
/// `None` when `labels` do not fit `scores`, `n_bins` is 0, or a value lies
/// outside `[0, 1]` (including NaN).
pub fn expected_calibration_error(
    labels: &[usize],
    scores: &ScoreMatrix<'_>,
    n_bins: usize,
) -> Option<f64> {
    if n_bins == 0 || !labels_fit(labels, scores) || !scores.all_probabilities() {
        return None;
    }
    // Per bin: (rows, correct rows, sum of confidences). A map keeps memory
    // proportional to the occupied bins whatever `n_bins` is.
    let mut bins: BTreeMap<usize, (u64, u64, f64)> = BTreeMap::new();
    for (row, &y) in scores.rows().zip(labels) {
        let (top, conf) = top_class(row);
        let bin = ece_bin(conf, n_bins);
        let entry = bins.entry(bin).or_insert((0, 0, 0.0));
        entry.0 += 1;
        entry.1 += u64::from(top == y);
        entry.2 += conf;
    }
    Some(ece_from_bins(bins.into_values(), labels.len()))
}

/// The first class with the highest score and that score (NumPy's
/// `argmax`), the prediction and confidence ECE bins a row by.
pub(crate) fn top_class(row: &[f64]) -> (usize, f64) {
    let (mut top, mut conf) = (0usize, row.first().copied().unwrap_or(f64::NAN));
    for (j, &p) in row.iter().enumerate().skip(1) {
        if p > conf {
            top = j;
            conf = p;
        }
    }
    (top, conf)
}

/// The ECE bin of a confidence in `[0, 1]` (`n_bins > 0`): bin `b` covers
/// `(b / n_bins, (b + 1) / n_bins]` and bin 0 also takes 0.
///
/// First guess from the product, then corrected against the exact
/// boundaries so that rounding in `conf * n_bins` cannot misplace a row that
/// sits on a boundary.
pub(crate) fn ece_bin(conf: f64, n_bins: usize) -> usize {
    let bins_f = n_bins as f64;
    let mut bin = ((conf * bins_f).ceil() as usize)
        .saturating_sub(1)
        .min(n_bins.saturating_sub(1));
    while bin > 0 && conf <= bin as f64 / bins_f {
        bin -= 1;
    }
    while bin + 1 < n_bins && conf > (bin + 1) as f64 / bins_f {
        bin += 1;
    }
    bin
}

/// ECE from per-bin `(rows, correct rows, sum of confidences)` of the
/// occupied bins in increasing bin order, over `n` rows. Shared with the
/// bootstrap.
pub(crate) fn ece_from_bins(bins: impl Iterator<Item = (u64, u64, f64)>, n: usize) -> f64 {
    let gap: f64 = bins
        .map(|(_, correct, conf_sum)| (correct as f64 - conf_sum).abs())
        .sum();
    gap / n as f64
}

/// Checks regression input: equal non-zero lengths and finite values
/// (scikit-learn raises on NaN and infinity).
fn regression_ok(y_true: &[f64], y_pred: &[f64]) -> bool {
    !y_true.is_empty()
        && y_true.len() == y_pred.len()
        && y_true.iter().chain(y_pred).all(|v| v.is_finite())
}

/// Mean absolute error, as scikit-learn's `mean_absolute_error`.
///
/// `None` for empty, mismatched or non-finite input.
pub fn mae(y_true: &[f64], y_pred: &[f64]) -> Option<f64> {
    if !regression_ok(y_true, y_pred) {
        return None;
    }
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| absolute_error(t, p))
        .sum();
    Some(sum / y_true.len() as f64)
}

/// Root mean squared error, as scikit-learn's `root_mean_squared_error`.
///
/// `None` for empty, mismatched or non-finite input.
pub fn rmse(y_true: &[f64], y_pred: &[f64]) -> Option<f64> {
    if !regression_ok(y_true, y_pred) {
        return None;
    }
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| squared_error(t, p))
        .sum();
    Some((sum / y_true.len() as f64).sqrt())
}

/// Coefficient of determination `1 − SS_res / SS_tot`, as scikit-learn's
/// `r2_score` with its default `force_finite=True`.
///
/// A constant target (all `y_true` equal, so `SS_tot = 0`) gives 1.0 for
/// perfect predictions and 0.0 otherwise, instead of NaN or −∞. The constant
/// case is detected by comparing the values themselves, so it does not
/// depend on whether the mean happens to round back to the constant (where
/// scikit-learn can report a huge negative number instead).
///
/// `None` for fewer than two rows (scikit-learn returns NaN with a warning),
/// mismatched or non-finite input.
pub fn r2(y_true: &[f64], y_pred: &[f64]) -> Option<f64> {
    if !regression_ok(y_true, y_pred) || y_true.len() < 2 {
        return None;
    }
    let ss_res: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| squared_error(t, p))
        .sum();
    let constant = y_true.iter().all(|&t| t == y_true[0]);
    let mean = y_true.iter().sum::<f64>() / y_true.len() as f64;
    let ss_tot: f64 = y_true.iter().map(|t| (t - mean).powi(2)).sum();
    Some(r2_from_sums(ss_res, ss_tot, constant))
}

/// R² from the residual and total sums of squares, with scikit-learn's
/// `force_finite` conventions for a perfect fit and a constant target.
/// Shared with the bootstrap.
pub(crate) fn r2_from_sums(ss_res: f64, ss_tot: f64, constant: bool) -> f64 {
    if ss_res == 0.0 {
        1.0
    } else if constant || ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// Mean absolute percentage error as a fraction, as scikit-learn's
/// `mean_absolute_percentage_error`: `mean(|y − ŷ| / max(|y|, ε))` with
/// `ε = f64::EPSILON`.
///
/// A zero target therefore contributes `|ŷ| / ε`, an enormous but finite
/// value: that is scikit-learn's deliberate signal that MAPE is the wrong
/// metric for targets that can be zero, and mlgate keeps it for parity.
///
/// `None` for empty, mismatched or non-finite input.
pub fn mape(y_true: &[f64], y_pred: &[f64]) -> Option<f64> {
    if !regression_ok(y_true, y_pred) {
        return None;
    }
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| absolute_percentage_error(t, p))
        .sum();
    Some(sum / y_true.len() as f64)
}

/// One row's absolute error, shared by MAE and the bootstrap.
pub(crate) fn absolute_error(t: f64, p: f64) -> f64 {
    (t - p).abs()
}

/// One row's squared error, shared by RMSE, R² and the bootstrap.
pub(crate) fn squared_error(t: f64, p: f64) -> f64 {
    (t - p).powi(2)
}

/// One row's absolute percentage error `|ŷ − y| / max(|y|, ε)`, shared by
/// MAPE and the bootstrap.
pub(crate) fn absolute_percentage_error(t: f64, p: f64) -> f64 {
    (p - t).abs() / t.abs().max(f64::EPSILON)
}

/// Everything needed to evaluate one model on one dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalData<'a> {
    /// Classification rows: labels, hard predictions and optional scores.
    Classification {
        /// Number of classes `k`; 2 makes the task binary.
        n_classes: usize,
        /// True class index of each row.
        labels: &'a [usize],
        /// Predicted class index of each row.
        predicted: &'a [usize],
        /// Per-class scores with `n_classes` columns, if the model has them.
        scores: Option<ScoreMatrix<'a>>,
    },
    /// Regression rows.
    Regression {
        /// Observed targets.
        y_true: &'a [f64],
        /// Predicted targets.
        y_pred: &'a [f64],
    },
}

impl EvalData<'_> {
    /// The task the data describes; `None` for a classification with fewer
    /// than two classes, for which no metric is meaningful.
    pub fn task(&self) -> Option<Task> {
        match self {
            EvalData::Classification { n_classes, .. } => match n_classes {
                0 | 1 => None,
                2 => Some(Task::BinaryClassification),
                _ => Some(Task::MulticlassClassification),
            },
            EvalData::Regression { .. } => Some(Task::Regression),
        }
    }
}

/// Computes one metric, or `None` when it does not apply to the task or is
/// undefined for this data (see the individual metric functions).
///
/// Classification data is rejected as a whole (every metric `None`) when a
/// label or prediction is `>= n_classes` or the score matrix has a different
/// number of columns, because such data is a caller bug, not a model property.
pub fn compute(metric: Metric, data: &EvalData<'_>) -> Option<f64> {
    let task = data.task()?;
    if !metric.applies_to(task) {
        return None;
    }
    match *data {
        EvalData::Classification {
            n_classes,
            labels,
            predicted,
            scores,
        } => {
            if labels.iter().chain(predicted).any(|&c| c >= n_classes)
                || scores.is_some_and(|s| s.n_classes() != n_classes)
            {
                return None;
            }
            if let Some(average) = metric.average() {
                return match metric {
                    Metric::Precision | Metric::PrecisionMacro | Metric::PrecisionWeighted => {
                        precision(labels, predicted, average)
                    }
                    Metric::Recall | Metric::RecallMacro | Metric::RecallWeighted => {
                        recall(labels, predicted, average)
                    }
                    _ => f1(labels, predicted, average),
                };
            }
            match metric {
                Metric::Accuracy => accuracy(labels, predicted),
                Metric::BalancedAccuracy => balanced_accuracy(labels, predicted),
                Metric::RocAuc => roc_auc(labels, &scores?),
                Metric::PrAuc => average_precision(labels, &scores?),
                Metric::LogLoss => log_loss(labels, &scores?),
                Metric::Brier => brier(labels, &scores?),
                Metric::Ece => expected_calibration_error(labels, &scores?, ECE_BINS),
                _ => None,
            }
        }
        EvalData::Regression { y_true, y_pred } => match metric {
            Metric::Mae => mae(y_true, y_pred),
            Metric::Rmse => rmse(y_true, y_pred),
            Metric::R2 => r2(y_true, y_pred),
            Metric::Mape => mape(y_true, y_pred),
            _ => None,
        },
    }
}

/// Computes one metric on a subset of rows given by index (repeats allowed),
/// which is what a bootstrap resample needs.
///
/// `None` when an index is out of range for the data, or as for [`compute`].
pub fn compute_on_rows(metric: Metric, data: &EvalData<'_>, rows: &[usize]) -> Option<f64> {
    match *data {
        EvalData::Classification {
            n_classes,
            labels,
            predicted,
            scores,
        } => {
            let sub_labels = gather(labels, rows)?;
            let sub_predicted = gather(predicted, rows)?;
            let sub_values = match scores {
                Some(s) => {
                    let mut values = Vec::with_capacity(rows.len().saturating_mul(s.n_classes()));
                    for &i in rows {
                        values.extend_from_slice(s.row(i)?);
                    }
                    Some(values)
                }
                None => None,
            };
            let sub_scores = match (&sub_values, scores) {
                (Some(values), Some(s)) => Some(ScoreMatrix::new(values, s.n_classes())?),
                _ => None,
            };
            compute(
                metric,
                &EvalData::Classification {
                    n_classes,
                    labels: &sub_labels,
                    predicted: &sub_predicted,
                    scores: sub_scores,
                },
            )
        }
        EvalData::Regression { y_true, y_pred } => compute(
            metric,
            &EvalData::Regression {
                y_true: &gather(y_true, rows)?,
                y_pred: &gather(y_pred, rows)?,
            },
        ),
    }
}

/// `values[rows[0]], values[rows[1]], …`, or `None` for an index out of range.
fn gather<T: Copy>(values: &[T], rows: &[usize]) -> Option<Vec<T>> {
    rows.iter().map(|&i| values.get(i).copied()).collect()
}

/// Computes every metric that applies to the data's task and is defined for
/// it, keyed by [`Metric::name`].
///
/// Score-based metrics are included only when scores are given; undefined
/// metrics (`None` from [`compute`]) are left out rather than written as NaN,
/// so the map serialises to valid JSON and iterates in a fixed order.
pub fn compute_all(data: &EvalData<'_>) -> BTreeMap<String, f64> {
    Metric::ALL
        .iter()
        .filter_map(|&m| compute(m, data).map(|v| (m.name().to_owned(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// The shared reference fixture.
    fn fixture() -> Value {
        crate::evaluate::reference_fixture()
    }

    /// Reads a JSON array of unsigned integers.
    fn usizes(v: &Value) -> Vec<usize> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_u64().expect("uint") as usize)
            .collect()
    }

    /// Reads a JSON array of numbers.
    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    }

    /// Agreement to 1e-9, relative for large magnitudes (MAPE with zeros in
    /// the target reaches 1e14).
    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    /// Asserts one expected entry (number or null) against a computed value.
    fn check(case: &str, key: &str, actual: Option<f64>, expected: &Value) {
        match expected.as_f64() {
            Some(e) => {
                let a = actual.unwrap_or_else(|| panic!("{case}/{key}: got None, want {e}"));
                assert!(close(a, e), "{case}/{key}: got {a}, want {e}");
            }
            None => assert_eq!(actual, None, "{case}/{key}: want None"),
        }
    }

    /// Every classification metric and confusion matrix agrees with scikit-learn
    /// to 1e-9 on the seeded fixture cases (ties, imbalance, missing classes).

    #[test]
    fn classification_matches_sklearn() {
        let fx = fixture();
        let cases = fx["classification"].as_array().expect("cases");
        assert!(cases.len() >= 5);
        let mut checked = 0;
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let k = case["n_classes"].as_u64().expect("k") as usize;
            let labels = usizes(&case["labels"]);
            let predicted = usizes(&case["predicted"]);
            let values = floats(&case["scores"]);
            let scores = ScoreMatrix::new(&values, k).expect("matrix");
            let data = EvalData::Classification {
                n_classes: k,
                labels: &labels,
                predicted: &predicted,
                scores: Some(scores),
            };
            for (key, expected) in case["expected"].as_object().expect("expected") {
                let metric: Metric = key.parse().expect("known metric");
                check(name, key, compute(metric, &data), expected);
                checked += 1;
            }
            let cm: Vec<Vec<u64>> = case["confusion_matrix"]
                .as_array()
                .expect("cm")
                .iter()
                .map(|row| usizes(row).into_iter().map(|c| c as u64).collect())
                .collect();
            assert_eq!(confusion_matrix(&labels, &predicted, k), Some(cm), "{name}");
        }
        assert!(checked >= 80, "only {checked} values checked");
    }

    /// MAE, RMSE, R² and MAPE agree with scikit-learn to 1e-9 (relative for
    /// MAPE's huge zero-target values).

    #[test]
    fn regression_matches_sklearn() {
        let fx = fixture();
        for case in fx["regression"].as_array().expect("cases") {
            let name = case["name"].as_str().expect("name");
            let y_true = floats(&case["y_true"]);
            let y_pred = floats(&case["y_pred"]);
            let data = EvalData::Regression {
                y_true: &y_true,
                y_pred: &y_pred,
            };
            for (key, expected) in case["expected"].as_object().expect("expected") {
                let metric: Metric = key.parse().expect("known metric");
                check(name, key, compute(metric, &data), expected);
            }
        }
    }

    /// The fixture says which library versions produced it.

    #[test]
    fn fixture_records_library_versions() {
        let fx = fixture();
        for key in ["sklearn", "scipy", "statsmodels", "numpy", "python"] {
            assert!(fx[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
        }
    }

    /// Serde names, `name()` and `FromStr` are one and the same spelling.

    #[test]
    fn metric_names_round_trip_through_serde_and_from_str() {
        for m in Metric::ALL {
            let json = serde_json::to_string(&m).expect("serialise");
            assert_eq!(json, format!("\"{}\"", m.name()));
            let back: Metric = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, m);
            assert_eq!(m.name().parse::<Metric>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    /// A bad name produces a message listing every valid name.

    #[test]
    fn unknown_metric_error_lists_valid_names() {
        let err = "F1".parse::<Metric>().expect_err("case-sensitive");
        let msg = err.to_string();
        assert!(msg.starts_with("unknown metric `F1`; valid metrics are: accuracy, "));
        for m in Metric::ALL {
            assert!(msg.contains(m.name()), "{msg}");
        }
    }

    /// Direction and task applicability of a few representative metrics.

    #[test]
    fn direction_and_applicability() {
        assert!(Metric::RocAuc.higher_is_better());
        assert!(Metric::R2.higher_is_better());
        assert!(!Metric::LogLoss.higher_is_better());
        assert!(!Metric::Mape.higher_is_better());
        assert!(Metric::F1.applies_to(Task::BinaryClassification));
        assert!(!Metric::F1.applies_to(Task::MulticlassClassification));
        assert!(Metric::F1Macro.applies_to(Task::MulticlassClassification));
        assert!(!Metric::Mae.applies_to(Task::BinaryClassification));
        assert!(!Metric::Accuracy.applies_to(Task::Regression));
        assert!(Metric::Ece.needs_scores());
        assert!(!Metric::BalancedAccuracy.needs_scores());
    }

    /// ECE on small binary cases computed by hand, including rows on bin edges.

    #[test]
    fn ece_hand_computed() {
        // Rows (confidence, correct): 0.9 ✓, 0.9 ✗, 0.6 ✓, 0.3 (boundary) ✗.
        // Bins: [0.9] → 2 rows, acc 0.5, conf 0.9 → gap 0.4·2 = 0.8;
        //       (0.5,0.6] → acc 1, conf 0.6 → 0.4;
        //       (0.2,0.3] (0.3 sits on the upper edge of bin 2) → 0.3.
        // ECE = (0.8 + 0.4 + 0.3) / 4 = 0.375.
        let values = [
            0.1, 0.9, //
            0.9, 0.1, //
            0.6, 0.4, //
            0.3, 0.3, // top class 0 (first max), confidence 0.3
        ];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        let labels = [1, 1, 0, 1];
        let ece = expected_calibration_error(&labels, &scores, 10).expect("defined");
        assert!((ece - 0.375).abs() < 1e-15, "{ece}");
        // A perfectly calibrated two-bin case: confidence 1 and always right.
        let certain = [0.0, 1.0, 1.0, 0.0];
        let scores = ScoreMatrix::new(&certain, 2).expect("matrix");
        assert_eq!(expected_calibration_error(&[1, 0], &scores, 10), Some(0.0));
        // One bin: |accuracy − mean confidence|.
        let values = [0.2, 0.8, 0.4, 0.6];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        let one = expected_calibration_error(&[1, 0], &scores, 1).expect("defined");
        assert!((one - 0.2).abs() < 1e-15, "{one}");
        assert_eq!(expected_calibration_error(&[1, 0], &scores, 0), None);
        // Boundary placement: 0.7 belongs to (0.6, 0.7], not (0.7, 0.8].
        let values = [0.3, 0.7, 0.3, 0.7];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        let e = expected_calibration_error(&[1, 0], &scores, 10).expect("defined");
        assert!((e - 0.2).abs() < 1e-15, "{e}");
    }

    /// ECE uses the top-class confidence in the multiclass case.

    #[test]
    fn ece_multiclass_hand_computed() {
        // Confidences 0.5 (✓), 0.5 (✗), 0.8 (✓): bin (0.4,0.5] acc 0.5 conf
        // 0.5 → 0; bin (0.7,0.8] acc 1 conf 0.8 → 0.2. ECE = 0.2 / 3.
        let values = [0.5, 0.3, 0.2, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8];
        let scores = ScoreMatrix::new(&values, 3).expect("matrix");
        let e = expected_calibration_error(&[0, 2, 2], &scores, ECE_BINS).expect("defined");
        assert!((e - 0.2 / 3.0).abs() < 1e-15, "{e}");
    }

    /// Degenerate input yields `None` rather than a panic or a NaN.

    #[test]
    fn undefined_inputs_give_none() {
        assert_eq!(accuracy(&[], &[]), None);
        assert_eq!(accuracy(&[0, 1], &[0]), None);
        assert_eq!(precision(&[], &[], Average::Macro), None);
        assert_eq!(precision(&[0, 2], &[0, 1], Average::Binary), None);
        assert_eq!(balanced_accuracy(&[], &[]), None);
        assert_eq!(confusion_matrix(&[0, 3], &[0, 1], 3), None);
        assert_eq!(
            confusion_matrix(&[], &[], 2),
            Some(vec![vec![0, 0], vec![0, 0]])
        );
        assert_eq!(
            confusion_matrix(&[0], &[0], MAX_CONFUSION_CLASSES + 1),
            None
        );
        assert_eq!(ScoreMatrix::new(&[0.5, 0.5, 0.1], 2), None);
        assert_eq!(ScoreMatrix::new(&[0.5], 1), None);

        let values = [0.4, 0.6, 0.7, 0.3];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        // Single class present: AUC and AP undefined, log loss defined.
        assert_eq!(roc_auc(&[1, 1], &scores), None);
        assert_eq!(average_precision(&[0, 0], &scores), None);
        assert!(log_loss(&[0, 0], &scores).is_some());
        // Label out of range for the matrix.
        assert_eq!(log_loss(&[0, 2], &scores), None);
        // NaN or out-of-range probabilities.
        let bad = [f64::NAN, 0.6, 0.7, 0.3];
        let bad = ScoreMatrix::new(&bad, 2).expect("matrix");
        assert_eq!(roc_auc(&[0, 1], &bad), None);
        assert_eq!(log_loss(&[0, 1], &bad), None);
        assert_eq!(brier(&[0, 1], &bad), None);
        assert_eq!(expected_calibration_error(&[0, 1], &bad, 10), None);
        let big = [1.5, -0.5, 0.7, 0.3];
        let big = ScoreMatrix::new(&big, 2).expect("matrix");
        assert_eq!(log_loss(&[0, 1], &big), None);
        // ...but any finite scores are fine for ranking.
        assert_eq!(roc_auc(&[0, 1], &big), Some(1.0));

        assert_eq!(mae(&[], &[]), None);
        assert_eq!(rmse(&[1.0], &[f64::INFINITY]), None);
        assert_eq!(r2(&[1.0], &[1.0]), None);
        assert_eq!(mape(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(binary_roc_auc(&[true], &[0.1, 0.2]), None);
    }

    /// Constant scores are one big tie: AUC 0.5, AP equal to the prevalence.

    #[test]
    fn all_equal_scores_give_half_auc() {
        let values = [0.5; 8];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        assert_eq!(roc_auc(&[0, 1, 0, 1], &scores), Some(0.5));
        // Every row shares one threshold: precision 0.5 at recall 1.
        assert_eq!(average_precision(&[0, 1, 0, 1], &scores), Some(0.5));
        // Signed zeros are one tied score, as in scikit-learn.
        assert_eq!(binary_roc_auc(&[false, true], &[0.0, -0.0]), Some(0.5));
    }

    /// Certain probabilities are clipped to machine epsilon, as scikit-learn does.

    #[test]
    fn log_loss_clips_at_machine_epsilon() {
        let values = [1.0, 0.0];
        let scores = ScoreMatrix::new(&values, 2).expect("matrix");
        let loss = log_loss(&[1], &scores).expect("defined");
        assert_eq!(loss, -f64::EPSILON.ln());
        let perfect = log_loss(&[0], &scores).expect("defined");
        assert_eq!(perfect, -(1.0 - f64::EPSILON).ln());
    }

    /// R² of a constant target follows scikit-learn's `force_finite` rule.

    #[test]
    fn r2_constant_target_conventions() {
        assert_eq!(r2(&[3.0, 3.0, 3.0], &[3.0, 3.0, 3.0]), Some(1.0));
        assert_eq!(r2(&[3.0, 3.0, 3.0], &[3.0, 2.0, 3.0]), Some(0.0));
        // 0.1 three times has a mean that does not round back to 0.1; the
        // constant target is still recognised.
        assert_eq!(r2(&[0.1, 0.1, 0.1], &[0.2, 0.1, 0.1]), Some(0.0));
    }

    /// `compute_all` keeps only applicable, defined metrics, in name order.

    #[test]
    fn compute_all_is_task_aware_and_ordered() {
        let labels = [0, 1, 2, 1];
        let predicted = [0, 1, 1, 1];
        let values = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.5, 0.4, 0.3, 0.6, 0.1];
        let data = EvalData::Classification {
            n_classes: 3,
            labels: &labels,
            predicted: &predicted,
            scores: ScoreMatrix::new(&values, 3),
        };
        let all = compute_all(&data);
        assert!(
            !all.contains_key("f1"),
            "binary F1 is not a multiclass metric"
        );
        assert!(all.contains_key("f1_macro"));
        assert!(all.contains_key("roc_auc"));
        assert!(!all.contains_key("mae"));
        let keys: Vec<&String> = all.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);

        let no_scores = EvalData::Classification {
            n_classes: 3,
            labels: &labels,
            predicted: &predicted,
            scores: None,
        };
        let all = compute_all(&no_scores);
        assert!(!all.contains_key("roc_auc") && all.contains_key("accuracy"));

        // A prediction outside n_classes invalidates the whole dataset.
        let bad = EvalData::Classification {
            n_classes: 2,
            labels: &labels,
            predicted: &predicted,
            scores: None,
        };
        assert!(compute_all(&bad).is_empty());

        let y = [1.0, 2.0, 3.0];
        let reg = EvalData::Regression {
            y_true: &y,
            y_pred: &y,
        };
        let all = compute_all(&reg);
        assert_eq!(
            all.keys().map(String::as_str).collect::<Vec<_>>(),
            ["mae", "mape", "r2", "rmse"]
        );
        assert_eq!(all["r2"], 1.0);
    }

    /// Evaluating on row indices equals evaluating the copied-out rows.

    #[test]
    fn compute_on_rows_matches_materialised_subset() {
        let labels = [0, 1, 1, 0, 1];
        let predicted = [0, 1, 0, 0, 1];
        let values = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.7, 0.3, 0.35, 0.65];
        let data = EvalData::Classification {
            n_classes: 2,
            labels: &labels,
            predicted: &predicted,
            scores: ScoreMatrix::new(&values, 2),
        };
        let rows = [4, 4, 0, 2, 1];
        let sub_labels = [1, 1, 0, 1, 1];
        let sub_pred = [1, 1, 0, 0, 1];
        let sub_values = [0.35, 0.65, 0.35, 0.65, 0.9, 0.1, 0.6, 0.4, 0.2, 0.8];
        let sub = EvalData::Classification {
            n_classes: 2,
            labels: &sub_labels,
            predicted: &sub_pred,
            scores: ScoreMatrix::new(&sub_values, 2),
        };
        for m in Metric::ALL {
            assert_eq!(compute_on_rows(m, &data, &rows), compute(m, &sub), "{m}");
        }
        assert_eq!(compute_on_rows(Metric::Accuracy, &data, &[5]), None);
    }

    /// Strategy: (n_classes, labels, predicted, row-major scores).
    fn classification_input() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>, Vec<f64>)> {
        (2usize..5, 0usize..30).prop_flat_map(|(k, n)| {
            (
                Just(k),
                proptest::collection::vec(0..k, n),
                proptest::collection::vec(0..k, n),
                proptest::collection::vec(
                    prop_oneof![Just(0.0), Just(0.5), Just(1.0), 0.0..=1.0f64],
                    n * k,
                ),
            )
        })
    }

    proptest! {
        /// Arbitrary small inputs never panic, and bounded metrics stay in [0, 1].
        #[test]
        fn metrics_never_panic_and_stay_in_range((k, labels, predicted, values) in classification_input()) {
            let data = EvalData::Classification {
                n_classes: k,
                labels: &labels,
                predicted: &predicted,
                scores: ScoreMatrix::new(&values, k),
            };
            for (name, value) in compute_all(&data) {
                prop_assert!(value.is_finite(), "{} = {}", name, value);
                let metric: Metric = name.parse().expect("known");
                if !matches!(metric, Metric::LogLoss | Metric::Brier) {
                    prop_assert!((0.0..=1.0).contains(&value), "{} = {}", name, value);
                }
            }
        }

        /// The vector tally and the map tally count the same classes the same way, and a
        /// class index far past any real class count takes the map.
        #[test]
        fn dense_and_sparse_tallies_agree(
            pairs in proptest::collection::vec((0..6usize, 0..6usize), 1..60),
            huge in proptest::bool::ANY,
        ) {
            let (labels, mut predicted): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
            if huge {
                predicted[0] = usize::MAX;
            }
            prop_assert_eq!(tally(&labels, &predicted), Some(tally_sparse(&labels, &predicted)));
        }

        /// AUC depends only on ranks: invariant under increasing maps, complemented
        /// by negation.

        #[test]
        fn auc_is_rank_based(scores in proptest::collection::vec(-5.0..5.0f64, 2..40), seed in 0u64..1000) {
            let labels: Vec<bool> = (0..scores.len()).map(|i| (i as u64 * 7 + seed).is_multiple_of(3)).collect();
            let auc = binary_roc_auc(&labels, &scores);
            let shifted: Vec<f64> = scores.iter().map(|s| (s * 3.0 + 1.0).exp()).collect();
            let negated: Vec<f64> = scores.iter().map(|s| -s).collect();
            prop_assert_eq!(auc, binary_roc_auc(&labels, &shifted));
            if let (Some(a), Some(b)) = (auc, binary_roc_auc(&labels, &negated)) {
                prop_assert!((a + b - 1.0).abs() < 1e-12);
            }
        }

        /// Regression metrics accept any input, NaN included, without panicking.

        #[test]
        fn regression_never_panics(y in proptest::collection::vec(prop_oneof![Just(0.0), Just(f64::NAN), -1e6..1e6f64], 0..20)) {
            let pred: Vec<f64> = y.iter().rev().copied().collect();
            for f in [mae, rmse, r2, mape] {
                if let Some(v) = f(&y, &pred) {
                    prop_assert!(!v.is_nan());
                }
            }
        }
    }
}
