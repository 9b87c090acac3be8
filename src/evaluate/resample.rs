//! Per-resample evaluators for [`paired_bootstrap`](super::paired::paired_bootstrap): each
//! metric from a resample's counts ([`super::counts`]), without copying the rows out.
//!
//! The per-row quantities are prepared once; a resample then costs:
//!
//! * accuracy, balanced accuracy, precision / recall / F1: the totals of the cells of rows
//!   with the same `(label, champion prediction, candidate prediction)`, from which the
//!   per-class counts follow, O(k³) ([`ClassCodes`]);
//! * ROC AUC and average precision: per model and one-vs-rest split, the rows sorted by score
//!   once ([`ranked_entries`]); eight resamples are then evaluated together, one sweep per
//!   split over cache-resident, staged counts ([`super::banded`]), accumulating counts per
//!   tie group ([`RocAuc`], [`AveragePrecision`]). Past `banded::MAX_ROWS` rows, one pass per
//!   resample reads the counts in score order;
//! * log loss, Brier, MAE, RMSE, MAPE: count-weighted sums of per-row terms ([`RowSums`]);
//!   R²: the same for the squared errors and the targets, then the weighted total sum of
//!   squares ([`RSquared`]); ECE: per-bin weighted sums ([`Calibration`]).
//!
//! Counts and integer statistics finish through the same arithmetic as
//! [`compute`](super::metrics::compute) (shared helpers in [`super::metrics`]), so their value
//! is bit for bit the metric on the gathered rows; weighted float sums differ from summing the
//! repeated rows only by rounding. Data the evaluators do not cover (different labels for the
//! two models, inconsistent lengths, very many classes) is evaluated by gathering the drawn
//! rows ([`Gathered`]).

use super::banded::{pack_lanes, BandedSplit, RankedFlags, Word, LANES};
use super::counts::CountStatistic;
use super::counts::{Drawn, DynStatistic, Layout};
use super::metrics::{
    absolute_error, absolute_percentage_error, auc_from_counts, average_precision_term, brier_term,
    compute, compute_on_rows, ece_bin, ece_from_bins, from_class_counts, log_loss_term,
    r2_from_sums, squared_error, tie_key, top_class, ClassCounts, EvalData, Metric, ScoreMatrix,
    ECE_BINS,
};
use super::paired::in_parallel;

/// Largest class count whose `(label, champion, candidate)` codes group the rows: `k³` cells
/// with keys below 2^16.
const MAX_CODE_CLASSES: usize = 40;

/// Largest number of rows the ranking evaluators handle: an average-precision entry packs the
/// position into the low 29 bits of a `u32` next to three flags, and twice the U statistic of
/// fewer draws stays below 2^57.
const MAX_RANKED_ROWS: usize = 1 << 29;

/// The evaluator for `metric` on these two datasets, or `None` when the metric is undefined
/// on all rows for either model (there is then no interval) or there are no rows.
///
/// Every classification evaluator of consistent data groups the rows by the same codes, so
/// all metrics of one evaluation see the same resamples; the evaluators can rely on what
/// [`compute`] validated: class indices in range, finite scores, probabilities in `[0, 1]`,
/// finite regression values. The set-up (point estimates, sorting the rows) runs on up to
/// `threads` threads.
pub(crate) fn statistic<'a>(
    metric: Metric,
    champion: &EvalData<'a>,
    candidate: &EvalData<'a>,
    threads: usize,
) -> Option<Box<dyn DynStatistic + 'a>> {
    let models = [champion, candidate];
    let points = in_parallel(2, threads, || (), |m, _| compute(metric, models[m]));
    let point = (points[0]?, points[1]?);
    if let Some(fast) = fast_statistic(metric, champion, candidate, point, threads) {
        return Some(fast);
    }
    Some(Box::new(Gathered {
        metric,
        data: [*champion, *candidate],
        layout: Layout::single(rows_of(champion))?,
        point,
    }))
}

/// The evaluator that works from counts for `metric`, or `None` when the data is not covered.
fn fast_statistic<'a>(
    metric: Metric,
    champion: &EvalData<'a>,
    candidate: &EvalData<'a>,
    point: (f64, f64),
    threads: usize,
) -> Option<Box<dyn DynStatistic + 'a>> {
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
            let predicted = [predicted_a, predicted_b];
            let scores = [scores_a, scores_b];
            let data = Classified::new(n_classes, labels, predicted, scores, threads)?;
            classification_statistic(metric, data, point)
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

/// Rows of a dataset, as [`compute`] measures them.
fn rows_of(data: &EvalData<'_>) -> usize {
    match data {
        EvalData::Classification { labels, .. } => labels.len(),
        EvalData::Regression { y_true, .. } => y_true.len(),
    }
}

/// Two models' classification outputs on shared labels, as [`statistic`] checked them, with
/// the rows grouped by code.
struct Classified<'a> {
    /// Number of classes `k`.
    n_classes: usize,
    /// Shared true classes.
    labels: &'a [usize],
    /// Champion's and candidate's score matrices, when given.
    scores: [Option<ScoreMatrix<'a>>; 2],
    /// Rows grouped by `(label · k + champion prediction) · k + candidate prediction`.
    layout: Layout,
    /// Threads the set-up may use.
    threads: usize,
}

impl<'a> Classified<'a> {
    /// Groups the rows by code; `None` past [`MAX_CODE_CLASSES`] classes or with a class
    /// index out of range.
    fn new(
        n_classes: usize,
        labels: &'a [usize],
        predicted: [&'a [usize]; 2],
        scores: [Option<ScoreMatrix<'a>>; 2],
        threads: usize,
    ) -> Option<Self> {
        let k = n_classes;
        if k > MAX_CODE_CLASSES {
            return None;
        }
        let [pa, pb] = predicted;
        let codes = labels
            .iter()
            .zip(pa.iter().zip(pb))
            .map(|(&y, (&a, &b))| (y < k && a < k && b < k).then(|| ((y * k + a) * k + b) as u32))
            .collect::<Option<Vec<u32>>>()?;
        let then = match scores {
            [Some(a), Some(b)] => locality_order(labels.len(), [a, b], threads),
            _ => None,
        };
        Some(Classified {
            n_classes,
            labels,
            scores,
            layout: Layout::by_key_then(&codes, then.as_deref())?,
            threads,
        })
    }

    /// Both score matrices, when both are given with one row per label.
    fn both_scores(&self) -> Option<[ScoreMatrix<'a>; 2]> {
        let n = self.labels.len();
        match self.scores {
            [Some(a), Some(b)] if a.n_rows() == n && b.n_rows() == n => Some([a, b]),
            _ => None,
        }
    }

    /// `f(row)` for the row at each position.
    fn by_position<T>(&self, f: impl FnMut(usize) -> Option<T>) -> Option<Vec<T>> {
        self.layout
            .order()
            .iter()
            .map(|&row| row as usize)
            .map(f)
            .collect()
    }
}

/// Champion score bands of [`locality_order`].
const LOCALITY_BANDS: u64 = 64;

/// An order of the rows within each cell that keeps ROC AUC's passes in cache: by band of
/// the champion's rank (on the last class's score), then by the candidate's rank. The
/// champion's pass in score order then reads one small window of counts per band, the
/// candidate's pass a few hundred ordered streams, instead of one random row per draw.
/// `None` when a score matrix does not have one row per label.
fn locality_order(n: usize, scores: [ScoreMatrix<'_>; 2], threads: usize) -> Option<Vec<u64>> {
    let rank = |s: &ScoreMatrix<'_>| -> Option<Vec<u64>> {
        let k = s.n_classes();
        if s.n_rows() != n || k == 0 {
            return None;
        }
        let rows = sorted_by(n, |row| score_key(s, row as usize, k - 1));
        let mut ranks = vec![0u64; n];
        for (rank, &row) in rows.iter().enumerate() {
            *ranks.get_mut(row as usize)? = rank as u64;
        }
        Some(ranks)
    };
    let mut ranks = in_parallel(2, threads, || (), |m, _| rank(&scores[m])).into_iter();
    let (a, b) = (ranks.next()??, ranks.next()??);
    let rows = n as u64;
    Some(
        a.iter()
            .zip(&b)
            .map(|(&ra, &rb)| ra * LOCALITY_BANDS / rows * rows + rb)
            .collect(),
    )
}

/// The classification evaluator for `metric`, if there is one.
fn classification_statistic<'a>(
    metric: Metric,
    data: Classified<'a>,
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
            let terms = data.by_position(|row| {
                let y = *data.labels.get(row)?;
                Some([term(scores[0].row(row)?, y), term(scores[1].row(row)?, y)])
            })?;
            Some(Box::new(RowSums {
                terms,
                finish: Finish::Mean,
                layout: data.layout,
                point,
            }))
        }
        Metric::Ece => Some(Box::new(Calibration::new(data, point)?)),
        Metric::RocAuc => Some(Box::new(RocAuc::new(data, point)?)),
        Metric::PrAuc => Some(Box::new(AveragePrecision::new(data, point)?)),
        Metric::Mae | Metric::Rmse | Metric::R2 | Metric::Mape => None,
        _ => Some(Box::new(ClassCodes::new(metric, data, point))),
    }
}

/// The regression evaluator for `metric`, if there is one.
fn regression_statistic<'a>(
    metric: Metric,
    y_true: &'a [f64],
    y_pred: [&'a [f64]; 2],
    point: (f64, f64),
) -> Option<Box<dyn DynStatistic + 'a>> {
    let layout = Layout::single(y_true.len())?;
    let (term, finish): (fn(f64, f64) -> f64, Finish) = match metric {
        Metric::Mae => (absolute_error, Finish::Mean),
        Metric::Rmse => (squared_error, Finish::RootMean),
        Metric::Mape => (absolute_percentage_error, Finish::Mean),
        Metric::R2 => return Some(Box::new(RSquared::new(y_true, y_pred, layout, point))),
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
        layout,
        point,
    }))
}

/// Partial sums a weighted sum runs in parallel: the additions of one sum form a dependency
/// chain, four independent chains keep the floating-point unit busy. The order is fixed, so
/// the result is the same on every run.
const SUM_CHAINS: usize = 4;

/// `Σ count · term` over the positions, `[champion, candidate]`, in [`SUM_CHAINS`] fixed partial
/// sums.
fn weighted_sums(counts: &[u8], terms: &[[f64; 2]]) -> [f64; 2] {
    let mut sums = [[0.0; 2]; SUM_CHAINS];
    let mut count_chunks = counts.chunks_exact(SUM_CHAINS);
    let mut term_chunks = terms.chunks_exact(SUM_CHAINS);
    for (c, t) in (&mut count_chunks).zip(&mut term_chunks) {
        for chain in 0..SUM_CHAINS {
            let w = f64::from(c[chain]);
            sums[chain][0] += w * t[chain][0];
            sums[chain][1] += w * t[chain][1];
        }
    }
    for (&c, t) in count_chunks.remainder().iter().zip(term_chunks.remainder()) {
        let w = f64::from(c);
        sums[0][0] += w * t[0];
        sums[0][1] += w * t[1];
    }
    let total = |m: usize| (sums[0][m] + sums[1][m]) + (sums[2][m] + sums[3][m]);
    [total(0), total(1)]
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

/// Metrics that are a function of the sum of a per-row term: the terms of both models, by
/// position, interleaved so one row touches one cache line.
struct RowSums {
    /// `[champion, candidate]` term at each position.
    terms: Vec<[f64; 2]>,
    /// Sum to metric.
    finish: Finish,
    /// Row grouping.
    layout: Layout,
    /// The metric on all rows.
    point: (f64, f64),
}

impl CountStatistic for RowSums {
    type Scratch = ();

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) {}

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// The count-weighted sums.
    fn resample(&self, drawn: &Drawn, _: &mut ()) -> Option<(f64, f64)> {
        let [a, b] = weighted_sums(&drawn.rows, &self.terms);
        let n = self.terms.len();
        Some((self.finish.apply(a, n), self.finish.apply(b, n)))
    }
}

/// R²: both models' squared errors and the targets, count-weighted; the total sum of squares
/// needs the drawn mean first, so it is a second pass.
struct RSquared {
    /// `[target, target]` at each position (the shape [`weighted_sums`] takes).
    targets: Vec<[f64; 2]>,
    /// `[champion, candidate]` squared error at each position.
    squared: Vec<[f64; 2]>,
    /// Row grouping.
    layout: Layout,
    /// R² on all rows.
    point: (f64, f64),
}

impl RSquared {
    /// Prepares the squared errors.
    fn new(y_true: &[f64], y_pred: [&[f64]; 2], layout: Layout, point: (f64, f64)) -> Self {
        let squared = y_true
            .iter()
            .zip(y_pred[0].iter().zip(y_pred[1]))
            .map(|(&t, (&a, &b))| [squared_error(t, a), squared_error(t, b)])
            .collect();
        RSquared {
            targets: y_true.iter().map(|&t| [t, t]).collect(),
            squared,
            layout,
            point,
        }
    }
}

impl CountStatistic for RSquared {
    type Scratch = ();

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) {}

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// As [`r2`](super::metrics::r2) on the drawn rows: residual sums, mean, total sum of
    /// squares, and whether every drawn target is the same.
    fn resample(&self, drawn: &Drawn, _: &mut ()) -> Option<(f64, f64)> {
        let counts = &drawn.rows;
        let [res_a, res_b] = weighted_sums(counts, &self.squared);
        let [sum, _] = weighted_sums(counts, &self.targets);
        let n = self.targets.len();
        let mean = sum / n as f64;
        let (mut ss_tot, mut low, mut high) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for (&c, &[t, _]) in counts.iter().zip(&self.targets) {
            if c > 0 {
                ss_tot += f64::from(c) * (t - mean).powi(2);
                low = low.min(t);
                high = high.max(t);
            }
        }
        let constant = low == high;
        Some((
            r2_from_sums(res_a, ss_tot, constant),
            r2_from_sums(res_b, ss_tot, constant),
        ))
    }
}

/// Confusion-count metrics from the totals of the `(label, champion, candidate)` cells.
struct ClassCodes {
    /// Which metric to finish with.
    metric: Metric,
    /// Number of classes `k`.
    n_classes: usize,
    /// Row grouping by code.
    layout: Layout,
    /// The metric on all rows.
    point: (f64, f64),
}

/// Reused buffers of [`ClassCodes`].
struct CodeScratch {
    /// Per-class counts of one model, indexed by class.
    counts: Vec<ClassCounts>,
    /// The classes that occur, as the metric functions list them.
    table: Vec<(usize, ClassCounts)>,
}

impl ClassCodes {
    /// Keeps the grouping.
    fn new(metric: Metric, data: Classified<'_>, point: (f64, f64)) -> Self {
        ClassCodes {
            metric,
            n_classes: data.n_classes,
            layout: data.layout,
            point,
        }
    }

    /// The metric of model `model` (0 champion, 1 candidate) from the cell totals.
    fn finish(&self, model: usize, cells: &[u64], scratch: &mut CodeScratch) -> Option<f64> {
        let k = self.n_classes;
        scratch.counts.clear();
        scratch.counts.resize(k, ClassCounts::default());
        for (cell, &rows) in self.layout.cells().iter().zip(cells) {
            if rows == 0 {
                continue;
            }
            let code = cell.key as usize;
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

impl CountStatistic for ClassCodes {
    type Scratch = CodeScratch;

    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The cell totals are enough.
    fn needs_rows(&self) -> bool {
        false
    }

    fn scratch(&self) -> CodeScratch {
        CodeScratch {
            counts: Vec::with_capacity(self.n_classes),
            table: Vec::with_capacity(self.n_classes),
        }
    }

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    fn resample(&self, drawn: &Drawn, scratch: &mut CodeScratch) -> Option<(f64, f64)> {
        Some((
            self.finish(0, &drawn.cells, scratch)?,
            self.finish(1, &drawn.cells, scratch)?,
        ))
    }
}

/// Per-position inputs of [`Calibration`] for both models.
#[derive(Debug, Clone, Copy)]
struct CalibrationRow {
    /// Top-class confidence of `[champion, candidate]`.
    confidence: [f64; 2],
    /// `bin · 2 + correct` of `[champion, candidate]`.
    code: [u16; 2],
}

/// Expected calibration error from count-weighted per-bin sums.
struct Calibration {
    /// Confidence, bin and correctness at each position.
    rows: Vec<CalibrationRow>,
    /// Row grouping.
    layout: Layout,
    /// ECE on all rows.
    point: (f64, f64),
}

/// Per-bin `(rows, correct rows, confidence sum)` of both models.
type BinSums = [[(u64, u64, f64); ECE_BINS]; 2];

impl Calibration {
    /// Bins every row of both models.
    fn new(data: Classified<'_>, point: (f64, f64)) -> Option<Self> {
        let scores = data.both_scores()?;
        let rows = data.by_position(|row| {
            let y = *data.labels.get(row)?;
            let (a, b) = (scores[0].row(row)?, scores[1].row(row)?);
            let ((top_a, conf_a), (top_b, conf_b)) = (top_class(a), top_class(b));
            let code = |top: usize, conf: f64| {
                u16::try_from(ece_bin(conf, ECE_BINS) * 2 + usize::from(top == y)).ok()
            };
            Some(CalibrationRow {
                confidence: [conf_a, conf_b],
                code: [code(top_a, conf_a)?, code(top_b, conf_b)?],
            })
        })?;
        Some(Calibration {
            rows,
            layout: data.layout,
            point,
        })
    }
}

impl CountStatistic for Calibration {
    type Scratch = ();

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) {}

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    /// Adds each drawn row to its bin with its count, then sums the bins' gaps.
    fn resample(&self, drawn: &Drawn, _: &mut ()) -> Option<(f64, f64)> {
        let mut bins: BinSums = [[(0, 0, 0.0); ECE_BINS]; 2];
        for (&count, row) in drawn.rows.iter().zip(&self.rows) {
            if count == 0 {
                continue;
            }
            let w = u64::from(count);
            for (model, bins) in bins.iter_mut().enumerate() {
                let code = usize::from(row.code[model]);
                let bin = bins.get_mut(code >> 1)?;
                bin.0 += w;
                bin.1 += w * (code & 1) as u64;
                bin.2 += f64::from(count) * row.confidence[model];
            }
        }
        let n = self.rows.len();
        let ece = |bins: &[(u64, u64, f64); ECE_BINS]| {
            ece_from_bins(bins.iter().copied().filter(|b| b.0 > 0), n)
        };
        Some((ece(&bins[0]), ece(&bins[1])))
    }
}

/// The one-vs-rest splits a ranking metric averages: class 1 alone for two classes, every
/// class otherwise.
fn ranked_classes(k: usize) -> Vec<usize> {
    if k == 2 {
        vec![1]
    } else {
        (0..k).collect()
    }
}

/// The score of `row` in column `class`, with `-0.0` as `0.0` (ties grouped as `==` does).
fn score_key(scores: &ScoreMatrix<'_>, row: usize, class: usize) -> f64 {
    tie_key(scores.values()[row * scores.n_classes() + class])
}

/// Positions sorted by increasing score of column `class` (stable in position order).
fn positions_by_score(layout: &Layout, scores: &ScoreMatrix<'_>, class: usize) -> Vec<u32> {
    let order = layout.order();
    sorted_by(order.len(), |position| {
        score_key(scores, order[position as usize] as usize, class)
    })
}

/// `0..n` sorted by `key` in `total_cmp` order, ties by index: the keys are computed once
/// into sortable integers, so the sort compares plain pairs instead of looking scores up.
pub(super) fn sorted_by(n: usize, key: impl Fn(u32) -> f64) -> Vec<u32> {
    // Callers keep `n` below 2^32.
    let mut keyed: Vec<(u64, u32)> = (0..n as u32)
        .map(|i| (crate::float_order::key(key(i)), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// ROC AUC (macro one-vs-rest for more than two classes) from row counts and rows pre-sorted
/// by score, for each model and split.
struct RocAuc {
    /// Number of classes.
    n_classes: usize,
    /// Each model's splits.
    splits: RankedSplits,
    /// Row grouping.
    layout: Layout,
    /// The metric on all rows.
    point: (f64, f64),
}

/// `splits[model][s]`, one per [`ranked_classes`] entry, in the form the resamples are
/// evaluated from.
enum RankedSplits {
    /// Up to [`MAX_ROWS`](super::banded::MAX_ROWS) rows: [`LANES`] resamples a sweep.
    Banded([Vec<BandedSplit>; 2]),
    /// More rows: [`ranked_entries`], one resample a pass.
    Ranked([Vec<Vec<u32>>; 2]),
}

/// How [`ranked_entries`] are encoded, for [`BandedSplit::new`].
const RANKED_FLAGS: RankedFlags = RankedFlags {
    position_mask: POSITION_MASK,
    positive: POSITIVE,
    group_start: GROUP_START,
};

impl RankedSplits {
    /// Every split of both models, banded when they fit; `None` past [`MAX_RANKED_ROWS`] rows
    /// or without both score matrices.
    fn new(data: &Classified<'_>) -> Option<Self> {
        let scores = data.both_scores()?;
        let k = data.n_classes;
        if data.labels.len() >= MAX_RANKED_ROWS || scores.iter().any(|s| s.n_classes() != k) {
            return None;
        }
        let classes = ranked_classes(k);
        let per_model = classes.len();
        // Each split sorts all rows: the 2·k sorts are spread over the threads.
        let built = in_parallel(
            2 * per_model,
            data.threads,
            || (),
            |job, _| {
                let (model, class) = (job / per_model, classes[job % per_model]);
                let entries = ranked_entries(&data.layout, data.labels, &scores[model], class);
                let banded = BandedSplit::new(&entries, RANKED_FLAGS);
                (entries, banded)
            },
        );
        let (ranked, banded): (Vec<Vec<u32>>, Vec<Option<BandedSplit>>) = built.into_iter().unzip();
        Some(match banded.into_iter().collect::<Option<Vec<_>>>() {
            Some(banded) => RankedSplits::Banded(by_model(banded, per_model)),
            None => RankedSplits::Ranked(by_model(ranked, per_model)),
        })
    }

    /// `(champion, candidate)` on each resample of `drawn`: `ranked(model's splits, rows)`
    /// one resample at a time, or `banded(model's splits, packed counts of a batch)` for up
    /// to [`LANES`] at once.
    fn evaluate(
        &self,
        drawn: &[Drawn],
        packed: &mut Vec<Word>,
        ranked: impl Fn(&[Vec<u32>], &Drawn) -> Option<f64>,
        mut banded: impl FnMut(&[BandedSplit], &[Drawn], &[Word]) -> [Option<f64>; LANES],
    ) -> Vec<Option<(f64, f64)>> {
        match self {
            RankedSplits::Ranked(models) => drawn
                .iter()
                .map(|d| Some((ranked(&models[0], d)?, ranked(&models[1], d)?)))
                .collect(),
            RankedSplits::Banded(models) => {
                let mut pairs = Vec::with_capacity(drawn.len());
                for batch in drawn.chunks(LANES) {
                    pack_lanes(batch.iter().map(|d| d.rows.as_slice()), packed);
                    let [a, b] = [0, 1].map(|model| banded(&models[model], batch, packed));
                    pairs.extend((0..batch.len()).map(|lane| a[lane].zip(b[lane])));
                }
                pairs
            }
        }
    }
}

/// A batched statistic's value on one resample: its batch of one.
fn batch_of_one<S: CountStatistic>(
    statistic: &S,
    drawn: &Drawn,
    scratch: &mut S::Scratch,
) -> Option<(f64, f64)> {
    statistic
        .resample_batch(std::slice::from_ref(drawn), scratch)
        .pop()
        .flatten()
}

/// `[champion's, candidate's]` from both models' splits in a row, `per_model` each.
fn by_model<T>(mut splits: Vec<T>, per_model: usize) -> [Vec<T>; 2] {
    let candidate = splits.split_off(per_model.min(splits.len()));
    [splits, candidate]
}

/// The macro mean of a model's per-split values (a binary metric has one split, taken as it
/// is); `None` as soon as a split has none.
fn macro_mean(n_classes: usize, values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut values = values.into_iter();
    if n_classes == 2 {
        return values.next()?;
    }
    let mut sum = 0.0;
    for value in values {
        sum += value?;
    }
    Some(sum / n_classes as f64)
}

/// [`macro_mean`] for each lane of per-split lane values.
fn macro_mean_lanes(
    n_classes: usize,
    values: impl IntoIterator<Item = [Option<f64>; LANES]>,
) -> [Option<f64>; LANES] {
    let splits: Vec<[Option<f64>; LANES]> = values.into_iter().collect();
    std::array::from_fn(|lane| macro_mean(n_classes, splits.iter().map(|split| split[lane])))
}

impl RocAuc {
    /// Sorts every split of both models; `None` past [`MAX_RANKED_ROWS`] rows or without
    /// both score matrices.
    fn new(data: Classified<'_>, point: (f64, f64)) -> Option<Self> {
        Some(RocAuc {
            n_classes: data.n_classes,
            splits: RankedSplits::new(&data)?,
            layout: data.layout,
            point,
        })
    }
}

/// ROC AUC of one split ([`ranked_entries`]) with the resample's counts, in one pass: twice
/// the Mann-Whitney U as `Σ positives · (2 · negatives below + negatives tied)` over the tie
/// groups in increasing score order, the integer `auc_of_pairs` accumulates on the gathered
/// rows. `None` when either class has no drawn row.
fn ranked_auc(entries: &[u32], counts: &[u8]) -> Option<f64> {
    let (mut below, mut twice_u, mut n_pos) = (0u64, 0u64, 0u64);
    let (mut group_pos, mut group_neg) = (0u64, 0u64);
    for &entry in entries {
        if entry & GROUP_START != 0 {
            twice_u += group_pos * (2 * below + group_neg);
            below += group_neg;
            n_pos += group_pos;
            group_pos = 0;
            group_neg = 0;
        }
        let w = counts
            .get((entry & POSITION_MASK) as usize)
            .map_or(0, |&c| u64::from(c));
        // Positives and negatives interleave unpredictably: no branch.
        let p = w * u64::from(entry >> 31);
        group_pos += p;
        group_neg += w - p;
    }
    twice_u += group_pos * (2 * below + group_neg);
    below += group_neg;
    n_pos += group_pos;
    auc_from_counts(u128::from(twice_u), u128::from(n_pos), u128::from(below))
}

impl CountStatistic for RocAuc {
    /// The packed counts of a batch, and the stage of [`BandedSplit`].
    type Scratch = (Vec<Word>, Vec<Word>);

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) -> (Vec<Word>, Vec<Word>) {
        (Vec::new(), Vec::new())
    }

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    fn resample(&self, drawn: &Drawn, scratch: &mut Self::Scratch) -> Option<(f64, f64)> {
        batch_of_one(self, drawn, scratch)
    }

    fn resample_batch(
        &self,
        drawn: &[Drawn],
        (packed, stage): &mut Self::Scratch,
    ) -> Vec<Option<(f64, f64)>> {
        let k = self.n_classes;
        self.splits.evaluate(
            drawn,
            packed,
            |splits, d| macro_mean(k, splits.iter().map(|entries| ranked_auc(entries, &d.rows))),
            |splits, _, packed: &[Word]| {
                macro_mean_lanes(k, splits.iter().map(|s| s.auc_lanes(packed, stage)))
            },
        )
    }
}

/// The positions of one-vs-rest split `class` by increasing score, each with the
/// [`POSITIVE`] flag when its row is of `class` and [`GROUP_START`] on the first of each
/// group of tied scores.
fn ranked_entries(
    layout: &Layout,
    labels: &[usize],
    scores: &ScoreMatrix<'_>,
    class: usize,
) -> Vec<u32> {
    let order = layout.order();
    let sorted = positions_by_score(layout, scores, class);
    let key = |at: usize| score_key(scores, order[sorted[at] as usize] as usize, class);
    (0..sorted.len())
        .map(|at| {
            let mut entry = sorted[at];
            if labels[order[entry as usize] as usize] == class {
                entry |= POSITIVE;
            }
            if at == 0 || key(at - 1) != key(at) {
                entry |= GROUP_START;
            }
            entry
        })
        .collect()
}

/// Flag of a ranked entry: the row is a positive of the split.
const POSITIVE: u32 = 1 << 31;
/// Flag of a ranked entry: first entry of its tie group (ascending).
const GROUP_START: u32 = 1 << 29;
/// Mask of the position in a ranked entry.
const POSITION_MASK: u32 = GROUP_START - 1;

/// Average precision (macro one-vs-rest for more than two classes) from row counts and rows
/// pre-sorted by score, for each model and split.
struct AveragePrecision {
    /// Number of classes `k`.
    n_classes: usize,
    /// Each model's splits.
    splits: RankedSplits,
    /// Row grouping by code (labels first, so a class's rows are whole cells).
    layout: Layout,
    /// The metric on all rows.
    point: (f64, f64),
}

impl AveragePrecision {
    /// Sorts every split of both models; `None` past [`MAX_RANKED_ROWS`] rows or without
    /// both score matrices.
    fn new(data: Classified<'_>, point: (f64, f64)) -> Option<Self> {
        Some(AveragePrecision {
            n_classes: data.n_classes,
            splits: RankedSplits::new(&data)?,
            layout: data.layout,
            point,
        })
    }

    /// Drawn rows of `class`: the totals of the cells whose code starts with it.
    fn class_rows(&self, class: usize, cells: &[u64]) -> u64 {
        let kk = (self.n_classes * self.n_classes) as u32;
        self.layout
            .cells()
            .iter()
            .zip(cells)
            .filter(|(cell, _)| (cell.key / kk) as usize == class)
            .map(|(_, &rows)| rows)
            .sum()
    }
}

/// Average precision of a split with row counts: thresholds in decreasing score order (the
/// sorted entries backwards), as `average_precision_of_pairs` does for the gathered rows.
/// `None` when no positive row was drawn.
fn weighted_average_precision(entries: &[u32], counts: &[u8], total_pos: u64) -> Option<f64> {
    if total_pos == 0 {
        return None;
    }
    let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0);
    let (mut pos, mut neg) = (0u64, 0u64);
    for &entry in entries.iter().rev() {
        let w = counts
            .get((entry & POSITION_MASK) as usize)
            .map_or(0, |&c| u64::from(c));
        // Positives and negatives interleave unpredictably: no branch.
        let p = w * u64::from(entry >> 31);
        pos += p;
        neg += w - p;
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

impl CountStatistic for AveragePrecision {
    /// The packed counts of a batch, and the stage of [`BandedSplit`].
    type Scratch = (Vec<Word>, Vec<Word>);

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) -> (Vec<Word>, Vec<Word>) {
        (Vec::new(), Vec::new())
    }

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    fn resample(&self, drawn: &Drawn, scratch: &mut Self::Scratch) -> Option<(f64, f64)> {
        batch_of_one(self, drawn, scratch)
    }

    fn resample_batch(
        &self,
        drawn: &[Drawn],
        (packed, stage): &mut Self::Scratch,
    ) -> Vec<Option<(f64, f64)>> {
        let k = self.n_classes;
        let classes = ranked_classes(k);
        self.splits.evaluate(
            drawn,
            packed,
            |splits, d| {
                let per_split = splits.iter().zip(&classes).map(|(entries, &class)| {
                    let positives = self.class_rows(class, &d.cells);
                    weighted_average_precision(entries, &d.rows, positives)
                });
                macro_mean(k, per_split)
            },
            |splits, batch, packed| {
                let per_split = splits.iter().zip(&classes).map(|(split, &class)| {
                    let positives = std::array::from_fn(|lane| {
                        batch
                            .get(lane)
                            .map_or(0, |d| self.class_rows(class, &d.cells))
                    });
                    split.average_precision_lanes(packed, stage, positives)
                });
                macro_mean_lanes(k, per_split)
            },
        )
    }
}

/// Anything else: the drawn rows gathered and the metric recomputed on them.
struct Gathered<'a> {
    /// The metric.
    metric: Metric,
    /// `[champion, candidate]`.
    data: [EvalData<'a>; 2],
    /// Row grouping.
    layout: Layout,
    /// The metric on all rows.
    point: (f64, f64),
}

impl CountStatistic for Gathered<'_> {
    type Scratch = ();

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn needs_rows(&self) -> bool {
        true
    }

    fn scratch(&self) {}

    fn point(&self) -> Option<(f64, f64)> {
        Some(self.point)
    }

    fn resample(&self, drawn: &Drawn, _: &mut ()) -> Option<(f64, f64)> {
        let rows = self.layout.expand(&drawn.rows);
        Some((
            compute_on_rows(self.metric, &self.data[0], &rows)?,
            compute_on_rows(self.metric, &self.data[1], &rows)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::paired::{
        bootstrap_delta_ci_with_threads, paired_bootstrap_with_threads, BootstrapResult,
    };

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

    /// Whether the evaluator of `metric` computes exactly what the metric functions compute
    /// on the gathered rows (integer counts), rather than a count-weighted float sum that
    /// differs from adding the repeated rows by rounding.
    fn exact(metric: Metric) -> bool {
        !matches!(
            metric,
            Metric::LogLoss
                | Metric::Brier
                | Metric::Ece
                | Metric::Mae
                | Metric::Rmse
                | Metric::R2
                | Metric::Mape
        )
    }

    /// `a` and `b` agree: bit for bit when `exact`, else to 1e-12 relative.
    fn agree(a: Option<(f64, f64)>, b: Option<(f64, f64)>, exact: bool) -> bool {
        match (a, b) {
            _ if exact => bits(a) == bits(b),
            (Some(a), Some(b)) => {
                let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
                close(a.0, b.0) && close(a.1, b.1)
            }
            (a, b) => a.is_none() && b.is_none(),
        }
    }

    /// The fast evaluator of `metric` with its point estimate, if the data is covered.
    fn fast<'a>(
        metric: Metric,
        a: &EvalData<'a>,
        b: &EvalData<'a>,
    ) -> Option<Box<dyn DynStatistic + 'a>> {
        let point = (compute(metric, a)?, compute(metric, b)?);
        fast_statistic(metric, a, b, point, 2)
    }

    /// Every fast statistic matches `compute_on_rows` on the rows each resample draws, and
    /// counts how many it checked.
    fn check_resamples(label: &str, a: &EvalData<'_>, b: &EvalData<'_>) -> usize {
        let mut checked = 0;
        for metric in Metric::ALL {
            let Some(fast) = fast(metric, a, b) else {
                let applies = a.task().is_some_and(|t| metric.applies_to(t));
                let defined = compute(metric, a).is_some() && compute(metric, b).is_some();
                assert!(!(applies && defined), "{label}/{metric}: no fast path");
                continue;
            };
            for (rows, got) in fast.probe(9, 40) {
                assert_eq!(rows.len(), champion_len(a));
                let want = compute_on_rows(metric, a, &rows)
                    .and_then(|x| Some((x, compute_on_rows(metric, b, &rows)?)));
                assert!(
                    agree(got, want, exact(metric)),
                    "{label}/{metric}: {got:?} vs {want:?}"
                );
                checked += usize::from(want.is_some());
            }
        }
        checked
    }

    /// Rows of a dataset.
    fn champion_len(data: &EvalData<'_>) -> usize {
        rows_of(data)
    }

    /// Binary and multiclass statistics equal the metric on gathered rows, bit for bit for
    /// the count and ranking metrics, on data full of ties.
    #[test]
    fn classification_resamples_match_gathered_rows() {
        for (n, k, seed) in [(37, 2, 1), (8, 2, 2), (60, 3, 3), (25, 4, 4), (12, 3, 5)] {
            let c = Classes::new(n, k, seed);
            let checked = check_resamples(&format!("n={n} k={k}"), &c.data(0), &c.data(1));
            assert!(checked > 0, "nothing defined for n={n} k={k}");
        }
    }

    /// Regression statistics equal the metric on gathered rows, including a constant target
    /// (R²'s special cases) and zero targets (MAPE).
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

    /// The layout a fast statistic of these data groups its rows by.
    fn layout_of(a: &EvalData<'_>, b: &EvalData<'_>) -> Layout {
        match (*a, *b) {
            (
                EvalData::Classification {
                    n_classes,
                    labels,
                    predicted,
                    scores,
                },
                EvalData::Classification {
                    predicted: predicted_b,
                    scores: scores_b,
                    ..
                },
            ) => {
                Classified::new(
                    n_classes,
                    labels,
                    [predicted, predicted_b],
                    [scores, scores_b],
                    1,
                )
                .expect("classified")
                .layout
            }
            _ => Layout::single(rows_of(a)).expect("layout"),
        }
    }

    /// The gathered-rows bootstrap of `metric` over `layout`.
    fn gathered<'a>(
        metric: Metric,
        a: &EvalData<'a>,
        b: &EvalData<'a>,
        layout: Layout,
        threads: usize,
    ) -> Option<BootstrapResult> {
        let point = (compute(metric, a)?, compute(metric, b)?);
        let statistic = Gathered {
            metric,
            data: [*a, *b],
            layout,
            point,
        };
        statistic.run(300, 17, 0.9, threads)
    }

    /// The whole bootstrap result of every fast evaluator equals gathering the same drawn
    /// rows and recomputing (bit for bit for count and ranking metrics), for every thread
    /// count.
    #[test]
    fn fast_bootstrap_equals_gathered_rows() {
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
        let datasets = [(c.data(0), c.data(1)), (b2.data(0), b2.data(1)), (ra, rb)];
        for (a, b) in &datasets {
            for metric in Metric::ALL {
                let want = gathered(metric, a, b, layout_of(a, b), 1);
                let reference = paired_bootstrap_with_threads(metric, a, b, 300, 17, 0.9, 1);
                for threads in [1, 2, 3] {
                    let got = paired_bootstrap_with_threads(metric, a, b, 300, 17, 0.9, threads);
                    assert_eq!(got, reference, "{metric}, {threads} threads");
                }
                let pair = |r: Option<BootstrapResult>| r.map(|r| (r.ci_low, r.ci_high));
                let se = |r: Option<BootstrapResult>| r.map(|r| (r.std_error, r.delta));
                assert!(
                    agree(pair(reference), pair(want), exact(metric))
                        && agree(se(reference), se(want), exact(metric)),
                    "{metric}: {reference:?} vs {want:?}"
                );
                assert_eq!(reference.map(|r| r.skipped), want.map(|r| r.skipped));
            }
        }
    }

    /// Count resamples and index resamples are the same distribution: on 1,000 rows with
    /// 4,000 resamples each, the standard errors agree to 7% and the interval bounds to a
    /// quarter of a standard error (Monte Carlo error: about 2% and 0.05).
    #[test]
    fn count_resamples_match_index_resamples_in_distribution() {
        let c = Classes::new(1000, 2, 31);
        let (a, b) = (c.data(0), c.data(1));
        for metric in [Metric::Accuracy, Metric::RocAuc, Metric::LogLoss] {
            let counts =
                paired_bootstrap_with_threads(metric, &a, &b, 4000, 5, 0.95, 2).expect("counts");
            let rows = |r: &[usize]| {
                Some((
                    compute_on_rows(metric, &a, r)?,
                    compute_on_rows(metric, &b, r)?,
                ))
            };
            let index =
                bootstrap_delta_ci_with_threads(1000, rows, 4000, 6, 0.95, 2).expect("index");
            assert_eq!(counts.delta, index.delta);
            let se = index.std_error;
            assert!(
                (counts.std_error / se - 1.0).abs() < 0.07,
                "{metric}: se {} vs {se}",
                counts.std_error
            );
            for (x, y) in [
                (counts.ci_low, index.ci_low),
                (counts.ci_high, index.ci_high),
            ] {
                assert!((x - y).abs() < 0.25 * se, "{metric}: {x} vs {y} (se {se})");
            }
        }
    }

    /// Data the fast path does not cover gathers its rows; datasets of different sizes and
    /// metrics undefined on all rows give `None`.
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
            assert!(fast(metric, &a, &b).is_none());
            let got = paired_bootstrap_with_threads(metric, &a, &b, 300, 17, 0.9, 2);
            let layout = Layout::single(30).expect("layout");
            assert_eq!(got, gathered(metric, &a, &b, layout, 2), "{metric}");
            assert!(got.is_some());
        }
        let short = Classes::new(29, 2, 22);
        assert_eq!(
            paired_bootstrap_with_threads(Metric::Accuracy, &a, &short.data(0), 300, 1, 0.9, 1),
            None
        );
        // Undefined on all rows: no statistic, and no interval.
        let one = Classes::new(1, 2, 23);
        assert!(statistic(Metric::RocAuc, &one.data(0), &one.data(1), 1).is_none());
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

    /// On 10,000 rows (three bands, heavy ties) in batches of eight and a partial batch,
    /// the banded sweeps give every resample's ROC AUC and average precision bit for bit as
    /// the one-resample passes over the ranked entries.
    #[test]
    fn banded_batches_equal_the_one_resample_passes() {
        for k in [2, 3] {
            let c = Classes::new(10_000, k, 40 + k as u64);
            let classified = |threads| match (c.data(0), c.data(1)) {
                (
                    EvalData::Classification {
                        labels,
                        predicted,
                        scores,
                        ..
                    },
                    EvalData::Classification {
                        predicted: predicted_b,
                        scores: scores_b,
                        ..
                    },
                ) => Classified::new(
                    k,
                    labels,
                    [predicted, predicted_b],
                    [scores, scores_b],
                    threads,
                )
                .expect("classified"),
                _ => unreachable!("classification data"),
            };
            let data = classified(2);
            let RankedSplits::Banded(banded) = RankedSplits::new(&data).expect("splits") else {
                panic!("10,000 rows are banded");
            };
            let scores = data.both_scores().expect("scores");
            let ranked = scores.map(|s| {
                ranked_classes(k)
                    .into_iter()
                    .map(|class| ranked_entries(&data.layout, data.labels, &s, class))
                    .collect::<Vec<_>>()
            });
            let drawn: Vec<Drawn> = (0..13)
                .map(|r| {
                    let mut d = Drawn::default();
                    assert!(d.draw(&data.layout, 9, r, true));
                    d
                })
                .collect();
            let point = (0.5, 0.5);
            let roc = |splits| RocAuc {
                n_classes: k,
                splits,
                layout: classified(1).layout,
                point,
            };
            let ap = |splits| AveragePrecision {
                n_classes: k,
                splits,
                layout: classified(1).layout,
                point,
            };
            let mut scratch = (Vec::new(), Vec::new());
            let banded_roc = roc(RankedSplits::Banded(banded.clone()));
            let ranked_roc = roc(RankedSplits::Ranked(ranked.clone()));
            let want = ranked_roc.resample_batch(&drawn, &mut scratch);
            assert!(want.iter().all(Option::is_some));
            assert_eq!(
                banded_roc.resample_batch(&drawn, &mut scratch),
                want,
                "{k} classes"
            );
            let banded_ap = ap(RankedSplits::Banded(banded));
            let ranked_ap = ap(RankedSplits::Ranked(ranked));
            let want = ranked_ap.resample_batch(&drawn, &mut scratch);
            assert!(want.iter().all(Option::is_some));
            assert_eq!(
                banded_ap.resample_batch(&drawn, &mut scratch),
                want,
                "{k} classes"
            );
        }
    }
}
