//! Fast per-resample evaluators for [`paired_bootstrap`](super::paired::paired_bootstrap).
//!
//! Resampling rows with replacement only changes how often each row counts,
//! so a bootstrap resample never needs its rows copied out and its metric
//! recomputed from scratch (what the generic path does: about 1M row copies
//! and, for ranking metrics, a 1M-element sort per resample). Instead, the
//! per-row quantities are prepared once and each resample streams its drawn
//! indices into a few small accumulators:
//!
//! * sums over rows (log loss, Brier, MAE, RMSE, MAPE): each model's per-row
//!   term, summed in draw order ([`RowSums`]);
//! * R²: squared errors and targets summed in draw order, the drawn targets
//!   kept for the total sum of squares ([`RSquared`]);
//! * accuracy, balanced accuracy, precision / recall / F1: a histogram of
//!   `(label, champion prediction, candidate prediction)` codes, from which
//!   the per-class counts follow ([`ClassCodes`]);
//! * ECE: per-bin row count, correct count and confidence sum ([`Calibration`]);
//! * ROC AUC and average precision: rows sorted by score once per model and
//!   class; a resample is then a vector of row counts (weights) and each
//!   statistic one pass over the sorted order, tie groups included
//!   ([`Ranking`]).
//!
//! Every evaluator finishes through the same arithmetic as
//! [`compute`](super::metrics::compute) (shared helpers in
//! [`super::metrics`]) and adds floating-point terms in the order the rows
//! were drawn, which is the order of the gathered rows, so each resample's
//! value is bit for bit what [`compute_on_rows`](super::metrics::compute_on_rows)
//! gives on the same indices. Data the evaluators do not cover (different
//! labels for the two models, inconsistent lengths, very many classes) is
//! left to the generic path by [`fast_statistic`] returning `None`.

use super::metrics::{
    absolute_error, absolute_percentage_error, auc_from_counts, average_precision_term, brier_term,
    compute, ece_bin, ece_from_bins, from_class_counts, log_loss_term, r2_from_sums, squared_error,
    tie_key, top_class, ClassCounts, EvalData, Metric, ScoreMatrix, ECE_BINS,
};
use super::paired::{Draws, DynStatistic, PairedStatistic};

/// Largest class count handled by [`ClassCodes`]: its histogram has `k³`
/// cells, indexed by a `u16`.
const MAX_CODE_CLASSES: usize = 40;

/// Largest number of rows [`Ranking`] handles: a sorted entry packs the row
/// index into the low 29 bits of a `u32` next to three flags.
const MAX_RANKED_ROWS: usize = 1 << 29;

/// The fast evaluator for `metric` on these two datasets, or `None` when
/// the generic path must be used.
///
/// `None` in particular when the metric is undefined on all rows for either
/// model (the generic path then reports that cheaply), so the evaluators can
/// rely on what [`compute`] validated: class indices in range, finite scores,
/// probabilities in `[0, 1]`, finite regression values.
pub(crate) fn fast_statistic<'a>(
    metric: Metric,
    champion: &EvalData<'a>,
    candidate: &EvalData<'a>,
) -> Option<Box<dyn DynStatistic + 'a>> {
    let point = (compute(metric, champion)?, compute(metric, candidate)?);
    match (*champion, *candidate) {
        (
            EvalData::Classification {
                n_classes,
                labels,
                predicted: predicted_a,
                scores: scores_a,
            },
            EvalData::Classification {
                n_classes: n_classes_b,
                labels: labels_b,
                predicted: predicted_b,
                scores: scores_b,
            },
        ) => {
            let n = labels.len();
            let consistent = n_classes == n_classes_b
                && labels == labels_b
                && predicted_a.len() == n
                && predicted_b.len() == n;
            if !consistent {
                return None;
            }
            let data = Classified {
                n_classes,
                labels,
                predicted: [predicted_a, predicted_b],
                scores: [scores_a, scores_b],
            };
            classification_statistic(metric, &data, point)
        }
        (
            EvalData::Regression { y_true, y_pred: a },
            EvalData::Regression {
                y_true: y_true_b,
                y_pred: b,
            },
        ) => {
            let consistent = y_true == y_true_b && a.len() == y_true.len() && b.len() == a.len();
            if !consistent {
                return None;
            }
            regression_statistic(metric, y_true, [a, b], point)
        }
        _ => None,
    }
}

/// Two models' classification outputs on shared labels, as
/// [`fast_statistic`] checked them.
struct Classified<'a> {
    /// Number of classes.
    n_classes: usize,
    /// Shared true classes.
    labels: &'a [usize],
    /// Champion's and candidate's hard predictions.
    predicted: [&'a [usize]; 2],
    /// Champion's and candidate's score matrices, when given.
    scores: [Option<ScoreMatrix<'a>>; 2],
}

impl<'a> Classified<'a> {
    /// Both score matrices, when both are given with one row per label.
    fn both_scores(&self) -> Option<[ScoreMatrix<'a>; 2]> {
        let n = self.labels.len();
        match self.scores {
            [Some(a), Some(b)] if a.n_rows() == n && b.n_rows() == n => Some([a, b]),
            _ => None,
        }
    }
}

/// The classification evaluator for `metric`, if there is one.
fn classification_statistic<'a>(
    metric: Metric,
    data: &Classified<'a>,
    point: (f64, f64),
) -> Option<Box<dyn DynStatistic + 'a>> {
    match metric {
        Metric::LogLoss | Metric::Brier => {
            let term = if metric == Metric::LogLoss {
                log_loss_term
            } else {
                brier_term
            };
            let scores = data.both_scores()?;
            let terms = data
                .labels
                .iter()
                .enumerate()
                .map(|(i, &y)| {
                    let a = term(scores[0].row(i)?, y);
                    let b = term(scores[1].row(i)?, y);
                    Some([a, b])
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Box::new(RowSums {
                terms,
                finish: Finish::Mean,
                point,
            }))
        }
        Metric::Ece => Some(Box::new(Calibration::new(data, point)?)),
        Metric::RocAuc | Metric::PrAuc => Some(Box::new(Ranking::new(metric, data, point)?)),
        Metric::Mae | Metric::Rmse | Metric::R2 | Metric::Mape => None,
        _ => Some(Box::new(ClassCodes::new(metric, data, point)?)),
    }
}

/// The regression evaluator for `metric`, if there is one.
fn regression_statistic<'a>(
    metric: Metric,
    y_true: &'a [f64],
    y_pred: [&'a [f64]; 2],
    point: (f64, f64),
) -> Option<Box<dyn DynStatistic + 'a>> {
    let (term, finish): (fn(f64, f64) -> f64, Finish) = match metric {
        Metric::Mae => (absolute_error, Finish::Mean),
        Metric::Rmse => (squared_error, Finish::RootMean),
        Metric::Mape => (absolute_percentage_error, Finish::Mean),
        Metric::R2 => return Some(Box::new(RSquared::new(y_true, y_pred, point))),
        _ => return None,
    };
    let terms = y_true
        .iter()
        .zip(y_pred[0].iter().zip(y_pred[1]))
        .map(|(&t, (&a, &b))| [term(t, a), term(t, b)])
        .collect();
    Some(Box::new(RowSums {
        terms,
        finish,
        point,
    }))
}

/// How a sum of per-row terms becomes the metric.
#[derive(Debug, Clone, Copy)]
enum Finish {
    /// `sum / n` (log loss, Brier, MAE, MAPE).
    Mean,
    /// `sqrt(sum / n)` (RMSE).
    RootMean,
}

impl Finish {
    /// The metric from the sum of `n` terms, as the metric functions do it.
    fn apply(self, sum: f64, n: usize) -> f64 {
        match self {
            Finish::Mean => sum / n as f64,
            Finish::RootMean => (sum / n as f64).sqrt(),
        }
    }
}

/// Metrics that are a function of the sum of a per-row term: the terms of
/// both models, interleaved so one draw touches one cache line.
struct RowSums {
    /// `[champion, candidate]` term of each row.
    terms: Vec<[f64; 2]>,
    /// Sum to metric.
    finish: Finish,
    /// The metric on all rows.
    point: (f64, f64),
}

impl PairedStatistic for RowSums {
    type Scratch = ();

    /// One term per row.
    fn n_rows(&self) -> usize {
        self.terms.len()
    }

    /// Nothing to reuse: the sums live in registers.
    fn scratch(&self) {}

    /// Computed up front by [`fast_statistic`].
    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// Sums the drawn rows' terms in draw order.
    fn resample(&self, draws: &mut Draws<'_>, _: &mut ()) -> Option<(f64, f64)> {
        let (mut a, mut b) = (0.0, 0.0);
        for i in draws {
            let [ta, tb] = *self.terms.get(i)?;
            a += ta;
            b += tb;
        }
        let n = self.terms.len();
        Some((self.finish.apply(a, n), self.finish.apply(b, n)))
    }
}

/// R²: both models' squared errors and the targets, summed in draw order;
/// the drawn targets are kept for the second pass of the total sum of
/// squares, which needs their mean first.
struct RSquared<'a> {
    /// Shared targets.
    y_true: &'a [f64],
    /// `[champion, candidate]` squared error of each row.
    squared: Vec<[f64; 2]>,
    /// R² on all rows.
    point: (f64, f64),
}

impl<'a> RSquared<'a> {
    /// Prepares the squared errors.
    fn new(y_true: &'a [f64], y_pred: [&'a [f64]; 2], point: (f64, f64)) -> Self {
        let squared = y_true
            .iter()
            .zip(y_pred[0].iter().zip(y_pred[1]))
            .map(|(&t, (&a, &b))| [squared_error(t, a), squared_error(t, b)])
            .collect();
        RSquared {
            y_true,
            squared,
            point,
        }
    }
}

impl PairedStatistic for RSquared<'_> {
    /// The drawn targets, in draw order.
    type Scratch = Vec<f64>;

    /// One target per row.
    fn n_rows(&self) -> usize {
        self.y_true.len()
    }

    /// Room for one resample's targets.
    fn scratch(&self) -> Vec<f64> {
        Vec::with_capacity(self.y_true.len())
    }

    /// Computed up front by [`fast_statistic`].
    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// As [`r2`](super::metrics::r2) on the gathered rows, pass for pass.
    fn resample(&self, draws: &mut Draws<'_>, drawn: &mut Vec<f64>) -> Option<(f64, f64)> {
        drawn.clear();
        let (mut res_a, mut res_b) = (0.0, 0.0);
        for i in draws {
            let [sa, sb] = *self.squared.get(i)?;
            res_a += sa;
            res_b += sb;
            drawn.push(*self.y_true.get(i)?);
        }
        let first = *drawn.first()?;
        let constant = drawn.iter().all(|&t| t == first);
        let mean = drawn.iter().sum::<f64>() / drawn.len() as f64;
        let ss_tot: f64 = drawn.iter().map(|t| (t - mean).powi(2)).sum();
        Some((
            r2_from_sums(res_a, ss_tot, constant),
            r2_from_sums(res_b, ss_tot, constant),
        ))
    }
}

/// Confusion-count metrics from a histogram of per-row codes
/// `(label · k + champion prediction) · k + candidate prediction`.
struct ClassCodes {
    /// Which metric to finish with.
    metric: Metric,
    /// Number of classes `k`.
    n_classes: usize,
    /// Code of each row.
    codes: Vec<u16>,
    /// The metric on all rows.
    point: (f64, f64),
}

/// Reused buffers of [`ClassCodes`].
struct CodeScratch {
    /// Rows per code in the current resample.
    histogram: Vec<u64>,
    /// Per-class counts of one model, indexed by class.
    counts: Vec<ClassCounts>,
    /// The classes that occur, as the metric functions list them.
    table: Vec<(usize, ClassCounts)>,
}

impl ClassCodes {
    /// Encodes every row; `None` beyond [`MAX_CODE_CLASSES`] classes.
    fn new(metric: Metric, data: &Classified<'_>, point: (f64, f64)) -> Option<Self> {
        let k = data.n_classes;
        if k > MAX_CODE_CLASSES {
            return None;
        }
        let [pa, pb] = data.predicted;
        let codes = data
            .labels
            .iter()
            .zip(pa.iter().zip(pb))
            .map(|(&y, (&a, &b))| u16::try_from((y * k + a) * k + b).ok())
            .collect::<Option<Vec<u16>>>()?;
        Some(ClassCodes {
            metric,
            n_classes: k,
            codes,
            point,
        })
    }

    /// The metric of model `model` (0 champion, 1 candidate) from the code
    /// histogram.
    fn finish(&self, model: usize, scratch: &mut CodeScratch) -> Option<f64> {
        let k = self.n_classes;
        scratch.counts.clear();
        scratch.counts.resize(k, ClassCounts::default());
        for (code, &rows) in scratch.histogram.iter().enumerate() {
            if rows == 0 {
                continue;
            }
            let (y, a, b) = (code / (k * k), code / k % k, code % k);
            let p = if model == 0 { a } else { b };
            scratch.counts.get_mut(y)?.actual += rows;
            scratch.counts.get_mut(p)?.predicted += rows;
            if y == p {
                scratch.counts.get_mut(y)?.true_positive += rows;
            }
        }
        scratch.table.clear();
        let present = scratch
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.actual > 0 || c.predicted > 0);
        scratch.table.extend(present.map(|(class, &c)| (class, c)));
        from_class_counts(self.metric, &scratch.table)
    }
}

impl PairedStatistic for ClassCodes {
    type Scratch = CodeScratch;

    /// One code per row.
    fn n_rows(&self) -> usize {
        self.codes.len()
    }

    /// A `k³` histogram and per-class tables.
    fn scratch(&self) -> CodeScratch {
        let k = self.n_classes;
        CodeScratch {
            histogram: vec![0; k * k * k],
            counts: Vec::with_capacity(k),
            table: Vec::with_capacity(k),
        }
    }

    /// Computed up front by [`fast_statistic`].
    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// Counts the drawn codes, then finishes each model from the counts.
    fn resample(&self, draws: &mut Draws<'_>, scratch: &mut CodeScratch) -> Option<(f64, f64)> {
        scratch.histogram.fill(0);
        for i in draws {
            let code = usize::from(*self.codes.get(i)?);
            *scratch.histogram.get_mut(code)? += 1;
        }
        Some((self.finish(0, scratch)?, self.finish(1, scratch)?))
    }
}

/// Per-row inputs of [`Calibration`] for both models.
#[derive(Debug, Clone, Copy)]
struct CalibrationRow {
    /// Top-class confidence of `[champion, candidate]`.
    confidence: [f64; 2],
    /// `bin · 2 + correct` of `[champion, candidate]`.
    code: [u16; 2],
}

/// Expected calibration error from per-bin sums accumulated in draw order.
struct Calibration {
    /// Confidence, bin and correctness of each row.
    rows: Vec<CalibrationRow>,
    /// ECE on all rows.
    point: (f64, f64),
}

/// Per-bin `(rows, correct rows, confidence sum)` of both models.
type BinSums = [[(u64, u64, f64); ECE_BINS]; 2];

impl Calibration {
    /// Bins every row of both models.
    fn new(data: &Classified<'_>, point: (f64, f64)) -> Option<Self> {
        let scores = data.both_scores()?;
        let rows = data
            .labels
            .iter()
            .enumerate()
            .map(|(i, &y)| {
                let (a, b) = (scores[0].row(i)?, scores[1].row(i)?);
                let ((top_a, conf_a), (top_b, conf_b)) = (top_class(a), top_class(b));
                let code = |top: usize, conf: f64| {
                    u16::try_from(ece_bin(conf, ECE_BINS) * 2 + usize::from(top == y)).ok()
                };
                Some(CalibrationRow {
                    confidence: [conf_a, conf_b],
                    code: [code(top_a, conf_a)?, code(top_b, conf_b)?],
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Calibration { rows, point })
    }
}

impl PairedStatistic for Calibration {
    type Scratch = ();

    /// One entry per row.
    fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// The bin sums are small enough for the stack.
    fn scratch(&self) {}

    /// Computed up front by [`fast_statistic`].
    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// Adds each drawn row to its bin, then sums the bins' gaps.
    fn resample(&self, draws: &mut Draws<'_>, _: &mut ()) -> Option<(f64, f64)> {
        let mut bins: BinSums = [[(0, 0, 0.0); ECE_BINS]; 2];
        for i in draws {
            let row = self.rows.get(i)?;
            for (model, bins) in bins.iter_mut().enumerate() {
                let code = usize::from(row.code[model]);
                let bin = bins.get_mut(code >> 1)?;
                bin.0 += 1;
                bin.1 += (code & 1) as u64;
                bin.2 += row.confidence[model];
            }
        }
        let n = self.rows.len();
        let ece = |bins: &[(u64, u64, f64); ECE_BINS]| {
            ece_from_bins(bins.iter().copied().filter(|b| b.0 > 0), n)
        };
        Some((ece(&bins[0]), ece(&bins[1])))
    }
}

/// Flag of a [`Ranking`] entry: the row is a positive of the split.
const POSITIVE: u32 = 1 << 31;
/// Flag of a [`Ranking`] entry: last entry of its tie group (ascending).
const GROUP_END: u32 = 1 << 30;
/// Flag of a [`Ranking`] entry: first entry of its tie group (ascending).
const GROUP_START: u32 = 1 << 29;
/// Mask of the row index in a [`Ranking`] entry.
const ROW_MASK: u32 = GROUP_START - 1;

/// ROC AUC or average precision from row counts and rows pre-sorted by
/// score, for each model and each one-vs-rest split (one split, class 1, in
/// the binary case).
///
/// A resample is a vector of row counts; a split's statistic is one pass
/// over its sorted entries accumulating the counts of positives and
/// negatives per tie group, exactly what the metric functions compute from
/// the gathered rows' groups (a group with no drawn row adds nothing).
struct Ranking {
    /// ROC AUC or average precision.
    metric: Metric,
    /// Number of classes `k`.
    n_classes: usize,
    /// Shared true classes, narrowed (only average precision needs them per
    /// draw, for the number of positives).
    labels: Vec<u16>,
    /// `splits[model][s]`: entries of split `s` sorted by increasing score,
    /// each a row index with [`POSITIVE`], [`GROUP_START`] and
    /// [`GROUP_END`] flags.
    splits: [Vec<Vec<u32>>; 2],
    /// The metric on all rows.
    point: (f64, f64),
}

/// Reused buffers of [`Ranking`].
struct RankScratch {
    /// Times each row was drawn in the current resample.
    counts: Vec<u32>,
    /// Rows of each class in the current resample.
    class_rows: Vec<u64>,
}

impl Ranking {
    /// Sorts every split of both models; `None` past [`MAX_RANKED_ROWS`]
    /// rows or without both score matrices.
    fn new(metric: Metric, data: &Classified<'_>, point: (f64, f64)) -> Option<Self> {
        let n = data.labels.len();
        let scores = data.both_scores()?;
        let k = data.n_classes;
        if n >= MAX_RANKED_ROWS || scores.iter().any(|s| s.n_classes() != k) {
            return None;
        }
        let labels = data
            .labels
            .iter()
            .map(|&y| u16::try_from(y).ok())
            .collect::<Option<Vec<u16>>>()?;
        let classes: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
        let splits = scores.map(|s| {
            classes
                .iter()
                .map(|&class| sorted_split(&s, data.labels, class))
                .collect()
        });
        Some(Ranking {
            metric,
            n_classes: k,
            labels,
            splits,
            point,
        })
    }

    /// The metric of one model from the current counts: the split's
    /// statistic (binary) or the mean over the one-vs-rest splits.
    fn finish(&self, model: usize, scratch: &RankScratch) -> Option<f64> {
        let splits = self.splits.get(model)?;
        let statistic = |s: usize, entries: &[u32]| -> Option<f64> {
            if self.metric == Metric::RocAuc {
                weighted_auc(entries, &scratch.counts)
            } else {
                let class = if self.n_classes == 2 { 1 } else { s };
                let positives = *scratch.class_rows.get(class)?;
                weighted_average_precision(entries, &scratch.counts, positives)
            }
        };
        if self.n_classes == 2 {
            return statistic(0, splits.first()?);
        }
        let mut sum = 0.0;
        for (s, entries) in splits.iter().enumerate() {
            sum += statistic(s, entries)?;
        }
        Some(sum / self.n_classes as f64)
    }
}

/// Entries of the one-vs-rest split of `class` (column `class`), sorted by
/// increasing score with ties grouped as the metric functions group them.
fn sorted_split(scores: &ScoreMatrix<'_>, labels: &[usize], class: usize) -> Vec<u32> {
    let k = scores.n_classes();
    let values = scores.values();
    let score = |row: u32| values[row as usize * k + class];
    // Callers keep `labels.len()` below 2^29, so every index fits.
    let mut rows: Vec<u32> = (0..labels.len() as u32).collect();
    rows.sort_by(|&a, &b| tie_key(score(a)).total_cmp(&tie_key(score(b))));
    let mut entries = Vec::with_capacity(rows.len());
    for (at, &row) in rows.iter().enumerate() {
        let value = score(row);
        let mut entry = row;
        if labels[row as usize] == class {
            entry |= POSITIVE;
        }
        if at == 0 || score(rows[at - 1]) != value {
            entry |= GROUP_START;
        }
        if at + 1 == rows.len() || score(rows[at + 1]) != value {
            entry |= GROUP_END;
        }
        entries.push(entry);
    }
    entries
}

/// The count of the entry's row, split into `(positive, negative)` weight
/// without a branch (positives and negatives interleave unpredictably).
#[inline]
fn weights(entry: u32, counts: &[u32]) -> (u64, u64) {
    let w = counts
        .get((entry & ROW_MASK) as usize)
        .map_or(0, |&c| u64::from(c));
    let positive = u64::from(entry >> 31);
    let pos = w * positive;
    (pos, w - pos)
}

/// ROC AUC of a split with row weights: twice the Mann-Whitney U summed per
/// tie group in increasing score order, as `auc_of_pairs` does for the
/// gathered rows. `None` when either class has no drawn row.
fn weighted_auc(entries: &[u32], counts: &[u32]) -> Option<f64> {
    let (mut below, mut twice_u, mut n_pos) = (0u64, 0u64, 0u64);
    let (mut pos, mut neg) = (0u64, 0u64);
    for &entry in entries {
        let (p, q) = weights(entry, counts);
        pos += p;
        neg += q;
        if entry & GROUP_END != 0 {
            // Fewer than 2^29 draws: 2·U < 2^57, no overflow.
            twice_u += pos * (2 * below + neg);
            below += neg;
            n_pos += pos;
            pos = 0;
            neg = 0;
        }
    }
    auc_from_counts(u128::from(twice_u), u128::from(n_pos), u128::from(below))
}

/// Average precision of a split with row weights: thresholds in decreasing
/// score order (the sorted entries backwards), as
/// `average_precision_of_pairs` does for the gathered rows. `None` when no
/// positive row was drawn.
fn weighted_average_precision(entries: &[u32], counts: &[u32], total_pos: u64) -> Option<f64> {
    if total_pos == 0 {
        return None;
    }
    let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0);
    let (mut pos, mut neg) = (0u64, 0u64);
    for &entry in entries.iter().rev() {
        let (p, q) = weights(entry, counts);
        pos += p;
        neg += q;
        if entry & GROUP_START != 0 {
            tp += pos;
            fp += neg;
            if pos > 0 {
                ap += average_precision_term(pos, total_pos, tp, fp);
            }
            pos = 0;
            neg = 0;
        }
    }
    Some(ap)
}

impl PairedStatistic for Ranking {
    type Scratch = RankScratch;

    /// One label per row.
    fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// A count per row and per class.
    fn scratch(&self) -> RankScratch {
        RankScratch {
            counts: vec![0; self.labels.len()],
            class_rows: vec![0; self.n_classes],
        }
    }

    /// Computed up front by [`fast_statistic`].
    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// Counts the drawn rows (and, for average precision, their classes),
    /// then makes one weighted pass per model and split.
    fn resample(&self, draws: &mut Draws<'_>, scratch: &mut RankScratch) -> Option<(f64, f64)> {
        scratch.counts.fill(0);
        scratch.class_rows.fill(0);
        if self.metric == Metric::RocAuc {
            for i in draws {
                *scratch.counts.get_mut(i)? += 1;
            }
        } else {
            for i in draws {
                *scratch.counts.get_mut(i)? += 1;
                let class = usize::from(*self.labels.get(i)?);
                *scratch.class_rows.get_mut(class)? += 1;
            }
        }
        Some((self.finish(0, scratch)?, self.finish(1, scratch)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::metrics::compute_on_rows;
    use crate::evaluate::paired::{bootstrap_delta_ci_with_threads, paired_bootstrap_with_threads};

    /// Deterministic test data: SplitMix64 outputs.
    struct Gen(u64);

    impl Gen {
        /// Uniform in `[0, 1)`.
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Uniform in `0..k`.
        fn below(&mut self, k: usize) -> usize {
            ((self.uniform() * k as f64) as usize).min(k - 1)
        }
    }

    /// Owned classification data of two models on shared labels.
    struct Classes {
        /// Number of classes.
        k: usize,
        /// Shared labels.
        labels: Vec<usize>,
        /// Predictions of both models.
        predicted: [Vec<usize>; 2],
        /// Row-major probabilities of both models, coarsely rounded (ties,
        /// tied top classes, rows on ECE bin edges, signed zeros).
        scores: [Vec<f64>; 2],
    }

    impl Classes {
        /// `n` rows of `k` classes from `seed`.
        fn new(n: usize, k: usize, seed: u64) -> Self {
            let mut g = Gen(seed);
            let labels: Vec<usize> = (0..n).map(|_| g.below(k)).collect();
            let mut model = |_| {
                let mut scores = Vec::with_capacity(n * k);
                for _ in 0..n {
                    let raw: Vec<f64> = (0..k).map(|_| g.below(5) as f64).collect();
                    let total: f64 = raw.iter().sum();
                    scores.extend(raw.iter().map(|&r| {
                        if total == 0.0 {
                            if r == 0.0 && g.below(2) == 0 {
                                -0.0
                            } else {
                                1.0 / k as f64
                            }
                        } else {
                            r / total
                        }
                    }));
                }
                let predicted = (0..n).map(|_| g.below(k)).collect::<Vec<usize>>();
                (predicted, scores)
            };
            let (pa, sa) = model(0);
            let (pb, sb) = model(1);
            Classes {
                k,
                labels,
                predicted: [pa, pb],
                scores: [sa, sb],
            }
        }

        /// Model `m` as evaluation data.
        fn data(&self, m: usize) -> EvalData<'_> {
            EvalData::Classification {
                n_classes: self.k,
                labels: &self.labels,
                predicted: &self.predicted[m],
                scores: ScoreMatrix::new(&self.scores[m], self.k),
            }
        }
    }

    /// Owned regression data: targets with repeats and zeros, two models.
    fn regression(n: usize, seed: u64, constant: bool) -> (Vec<f64>, [Vec<f64>; 2]) {
        let mut g = Gen(seed);
        let y: Vec<f64> = (0..n)
            .map(|_| {
                if constant {
                    2.5
                } else {
                    g.below(6) as f64 - 1.0
                }
            })
            .collect();
        let mut model = |noise: f64| {
            y.iter()
                .map(|t| t + (g.below(5) as f64 - 2.0) * noise)
                .collect()
        };
        let pa = model(0.5);
        let pb = model(0.25);
        (y, [pa, pb])
    }

    /// Bit-level equality of optional pairs, so that -0.0 ≠ 0.0 and
    /// NaN = NaN.
    fn bits(pair: Option<(f64, f64)>) -> Option<(u64, u64)> {
        pair.map(|(a, b)| (a.to_bits(), b.to_bits()))
    }

    /// Every fast statistic matches `compute_on_rows` resample by resample,
    /// and counts how many it checked.
    fn check_resamples(label: &str, a: &EvalData<'_>, b: &EvalData<'_>) -> usize {
        let mut checked = 0;
        for metric in Metric::ALL {
            let Some(fast) = fast_statistic(metric, a, b) else {
                let applies = a.task().is_some_and(|t| metric.applies_to(t));
                let defined = compute(metric, a).is_some() && compute(metric, b).is_some();
                assert!(!(applies && defined), "{label}/{metric}: no fast path");
                continue;
            };
            for (rows, got) in fast.probe(9, 0..40) {
                let want = compute_on_rows(metric, a, &rows)
                    .and_then(|x| Some((x, compute_on_rows(metric, b, &rows)?)));
                assert_eq!(
                    bits(got),
                    bits(want),
                    "{label}/{metric}: {got:?} vs {want:?}"
                );
                checked += usize::from(want.is_some());
            }
        }
        checked
    }

    /// Binary and multiclass statistics equal the metric on gathered rows,
    /// bit for bit, on data full of ties.
    #[test]
    fn classification_resamples_match_gathered_rows() {
        for (n, k, seed) in [(37, 2, 1), (8, 2, 2), (60, 3, 3), (25, 4, 4), (12, 3, 5)] {
            let c = Classes::new(n, k, seed);
            let checked = check_resamples(&format!("n={n} k={k}"), &c.data(0), &c.data(1));
            assert!(checked > 0, "nothing defined for n={n} k={k}");
        }
    }

    /// Regression statistics equal the metric on gathered rows, including a
    /// constant target (R²'s special cases) and zero targets (MAPE).
    #[test]
    fn regression_resamples_match_gathered_rows() {
        for (n, seed, constant) in [(40, 1, false), (5, 2, false), (9, 3, true)] {
            let (y, [pa, pb]) = regression(n, seed, constant);
            let a = EvalData::Regression {
                y_true: &y,
                y_pred: &pa,
            };
            let b = EvalData::Regression {
                y_true: &y,
                y_pred: &pb,
            };
            assert!(check_resamples(&format!("n={n}"), &a, &b) > 0);
        }
        // A perfect model: SS_res is exactly 0 on every resample.
        let y = [1.0, 2.0, 4.0];
        let a = EvalData::Regression {
            y_true: &y,
            y_pred: &y,
        };
        check_resamples("perfect", &a, &a);
    }

    /// The generic result of `bootstrap_delta_ci` over `compute_on_rows`.
    fn generic(
        metric: Metric,
        a: &EvalData<'_>,
        b: &EvalData<'_>,
        n: usize,
        threads: usize,
    ) -> Option<crate::evaluate::paired::BootstrapResult> {
        let f = |rows: &[usize]| {
            Some((
                compute_on_rows(metric, a, rows)?,
                compute_on_rows(metric, b, rows)?,
            ))
        };
        bootstrap_delta_ci_with_threads(n, f, 300, 17, 0.9, threads)
    }

    /// The whole bootstrap result of the fast path equals the generic one,
    /// for every thread count.
    #[test]
    fn paired_bootstrap_equals_generic_path() {
        let c = Classes::new(80, 3, 11);
        let b2 = Classes::new(50, 2, 12);
        let (y, [pa, pb]) = regression(45, 13, false);
        let ra = EvalData::Regression {
            y_true: &y,
            y_pred: &pa,
        };
        let rb = EvalData::Regression {
            y_true: &y,
            y_pred: &pb,
        };
        let datasets = [
            (c.data(0), c.data(1), 80),
            (b2.data(0), b2.data(1), 50),
            (ra, rb, 45),
        ];
        for (a, b, n) in &datasets {
            for metric in Metric::ALL {
                let want = generic(metric, a, b, *n, 1);
                for threads in [1, 2, 3] {
                    let got = paired_bootstrap_with_threads(metric, a, b, 300, 17, 0.9, threads);
                    assert_eq!(got, want, "{metric}, {threads} threads");
                }
            }
        }
    }

    /// Data the fast path does not cover goes through the generic path and
    /// gives its result; datasets of different sizes give `None`.
    #[test]
    fn uncovered_data_falls_back() {
        let c = Classes::new(30, 2, 21);
        let mut other_labels = c.labels.clone();
        other_labels[0] = 1 - other_labels[0];
        let b = EvalData::Classification {
            n_classes: 2,
            labels: &other_labels,
            predicted: &c.predicted[1],
            scores: ScoreMatrix::new(&c.scores[1], 2),
        };
        let a = c.data(0);
        for metric in [Metric::Accuracy, Metric::RocAuc, Metric::LogLoss] {
            assert!(fast_statistic(metric, &a, &b).is_none());
            let got = paired_bootstrap_with_threads(metric, &a, &b, 300, 17, 0.9, 2);
            assert_eq!(got, generic(metric, &a, &b, 30, 2), "{metric}");
            assert!(got.is_some());
        }
        let short = Classes::new(29, 2, 22);
        assert_eq!(
            paired_bootstrap_with_threads(Metric::Accuracy, &a, &short.data(0), 300, 1, 0.9, 1),
            None
        );
        // Undefined on all rows: no fast statistic, and no interval.
        let one = Classes::new(1, 2, 23);
        assert!(fast_statistic(Metric::RocAuc, &one.data(0), &one.data(1)).is_none());
        assert_eq!(
            paired_bootstrap_with_threads(
                Metric::RocAuc,
                &one.data(0),
                &one.data(1),
                50,
                1,
                0.9,
                1
            ),
            None
        );
    }
}
