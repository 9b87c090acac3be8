//! Paired comparison of a champion and a candidate model scored on the same
//! rows: a paired bootstrap confidence interval for any metric's delta,
//! McNemar's exact test (with its mid-p variant) for paired correctness,
//! DeLong's test for two correlated ROC AUCs, and the minimum detectable
//! effect that tells a gate whether its data could have seen a difference.
//!
//! Evaluating both models on the same rows makes their errors correlated;
//! tests that treat the two scores as independent overstate the noise and
//! let real regressions through. Everything here exploits the pairing.
//!
//! Results must be reproducible bit for bit — a gate that passes on one
//! machine and fails on another is worse than no gate — so the bootstrap
//! draws from the small generator of [`super::random`] (xoshiro256**, seeded
//! through SplitMix64) whose output does not depend on the platform, the
//! standard library version or the number of threads. The normal
//! distribution functions are implemented here (Cody's rational
//! approximations for the tail, Wichura's AS241 for the quantile) so this
//! file needs nothing beyond `std` and `serde`; they agree with SciPy to
//! 1e-15 relative for moderate arguments and 1e-13 in the far tail.

use super::metrics::{EvalData, Metric};
use super::random::Xoshiro256StarStar;
use super::resample;
use serde::{Deserialize, Serialize};

/// Resamples drawn from one random stream in [`bootstrap_delta_ci`].
///
/// The B resamples are cut into chunks of this size and chunk `c` draws from
/// the stream derived from `(seed, c)`. Threads pick up whole chunks, so the
/// resamples — and hence the result — are the same whichever thread runs
/// which chunk. Changing this constant changes every bootstrap result.
pub const BOOTSTRAP_CHUNK: usize = 64;

/// Confidence level of [`delong_test`]'s interval.
pub const DELONG_CONFIDENCE: f64 = 0.95;

/// Outcome of a paired bootstrap of `candidate − champion`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapResult {
    /// `candidate − champion` on all rows (not a bootstrap average).
    pub delta: f64,
    /// Lower percentile bound, the `(1 − confidence) / 2` quantile of the
    /// bootstrap deltas.
    pub ci_low: f64,
    /// Upper percentile bound, the `(1 + confidence) / 2` quantile.
    pub ci_high: f64,
    /// Two-sided confidence level of the interval, e.g. 0.95.
    pub confidence: f64,
    /// Standard deviation (n − 1 denominator) of the bootstrap deltas.
    pub std_error: f64,
    /// Number of resamples requested (B).
    pub resamples: usize,
    /// Resamples whose metric was undefined for either model and were left
    /// out of the interval and the standard error.
    pub skipped: usize,
    /// Seed the resamples were derived from.
    pub seed: u64,
}

/// Outcome of McNemar's exact test on the discordant pairs of a 2×2 table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemarResult {
    /// `min(b01, b10)`, the statistic statsmodels reports for `exact=True`.
    pub statistic: f64,
    /// Exact two-sided p-value, `min(1, 2·P(X ≤ statistic))` with
    /// `X ~ Binomial(b01 + b10, 1/2)`.
    pub p_value: f64,
    /// Mid-p value, `min(1, 2·P(X ≤ statistic) − P(X = statistic))`.
    pub p_value_mid: f64,
}

/// Outcome of DeLong's test comparing two correlated ROC AUCs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeLongResult {
    /// AUC of the first score vector (the champion).
    pub auc_a: f64,
    /// AUC of the second score vector (the candidate).
    pub auc_b: f64,
    /// `auc_b − auc_a`, signed like [`BootstrapResult::delta`].
    pub delta: f64,
    /// DeLong standard error of `delta`.
    pub se: f64,
    /// `delta / se`.
    pub z: f64,
    /// Two-sided p-value `2·(1 − Φ(|z|))`.
    pub p_value: f64,
    /// Lower bound of the normal confidence interval for `delta`.
    pub ci_low: f64,
    /// Upper bound of the normal confidence interval for `delta`.
    pub ci_high: f64,
    /// Two-sided confidence level of the interval.
    pub confidence: f64,
}

/// Paired bootstrap confidence interval for `candidate − champion`, using up
/// to [`std::thread::available_parallelism`] threads.
///
/// `metric_fn` receives row indices (with repeats) and returns the metric of
/// `(champion, candidate)` on those rows, or `None` when it is undefined
/// there (for example ROC AUC on a resample with a single class). It is first
/// called on all rows `0..n_rows` for the point estimate, then on `resamples`
/// bootstrap samples of `n_rows` indices drawn uniformly with replacement.
/// Both models always see the same indices, which is what makes the
/// bootstrap paired: the interval reflects the variability of the
/// *difference*, not of each metric separately.
///
/// The interval is the percentile interval (Efron & Tibshirani 1993, §13.3):
/// the `(1 − confidence) / 2` and `(1 + confidence) / 2` quantiles of the
/// bootstrap deltas, using linear interpolation between order statistics
/// (NumPy's default `percentile` method). Resamples where `metric_fn`
/// returns `None` or a non-finite delta are skipped and counted in
/// [`BootstrapResult::skipped`].
///
/// Resample `r` is drawn from the xoshiro256** stream of chunk
/// `r / BOOTSTRAP_CHUNK`, seeded from `(seed, chunk)`, each index by
/// Lemire's unbiased method; the result is therefore a pure function of the
/// inputs, identical across runs, platforms and thread counts.
///
/// Returns `None` when `n_rows` or `resamples` is 0, `confidence` is not
/// strictly between 0 and 1, the point estimate is undefined or non-finite,
/// or fewer than two resamples are usable.
///
/// For a [`Metric`] of two [`EvalData`] prefer [`paired_bootstrap`], which
/// gives the same result without gathering the rows of every resample.
pub fn bootstrap_delta_ci<F>(
    n_rows: usize,
    metric_fn: F,
    resamples: usize,
    seed: u64,
    confidence: f64,
) -> Option<BootstrapResult>
where
    F: Fn(&[usize]) -> Option<(f64, f64)> + Sync,
{
    bootstrap_delta_ci_with_threads(
        n_rows,
        metric_fn,
        resamples,
        seed,
        confidence,
        crate::threads::budget(),
    )
}

/// [`bootstrap_delta_ci`] with an explicit upper bound on the number of
/// threads (0 is treated as 1); the result does not depend on it.
pub fn bootstrap_delta_ci_with_threads<F>(
    n_rows: usize,
    metric_fn: F,
    resamples: usize,
    seed: u64,
    confidence: f64,
    threads: usize,
) -> Option<BootstrapResult>
where
    F: Fn(&[usize]) -> Option<(f64, f64)> + Sync,
{
    let statistic = GatheredRows { n_rows, metric_fn };
    run_bootstrap(&statistic, resamples, seed, confidence, threads)
}

/// Paired bootstrap confidence interval for `metric(candidate) −
/// metric(champion)`, both models scored on the same rows.
///
/// Each resample is a vector of row multiplicities (how often each row was
/// drawn, a multinomial of n draws over n rows), drawn once per resample in
/// two levels from `(seed, resample)` and shared by both models and every
/// metric of the same data (`evaluate::counts`): first the totals of the
/// cells of rows with the same label, champion prediction and candidate
/// prediction, then, for metrics that need them, the rows within each cell.
/// Count-based metrics are computed from the cell totals alone, ranking
/// metrics by one weighted pass over rows sorted once, per-row means as
/// weighted sums (`evaluate::resample`); anything else gathers the drawn
/// rows and calls [`compute_on_rows`](super::metrics::compute_on_rows).
///
/// The interval is the percentile interval of the deltas, as for
/// [`bootstrap_delta_ci`], which has the same distribution (both resample
/// rows uniformly with replacement) but other draws. The result is a pure
/// function of the inputs, identical across runs, platforms and thread
/// counts.
///
/// `None` as for [`bootstrap_delta_ci`], and when the two datasets have
/// different numbers of rows.
pub fn paired_bootstrap(
    metric: Metric,
    champion: &EvalData<'_>,
    candidate: &EvalData<'_>,
    resamples: usize,
    seed: u64,
    confidence: f64,
) -> Option<BootstrapResult> {
    paired_bootstrap_with_threads(
        metric,
        champion,
        candidate,
        resamples,
        seed,
        confidence,
        crate::threads::budget(),
    )
}

/// [`paired_bootstrap`] with an explicit upper bound on the number of
/// threads (0 is treated as 1); the result does not depend on it.
pub fn paired_bootstrap_with_threads(
    metric: Metric,
    champion: &EvalData<'_>,
    candidate: &EvalData<'_>,
    resamples: usize,
    seed: u64,
    confidence: f64,
    threads: usize,
) -> Option<BootstrapResult> {
    let n_rows = eval_rows(champion);
    if n_rows != eval_rows(candidate) || !valid_request(n_rows, resamples, confidence) {
        return None;
    }
    resample::statistic(metric, champion, candidate, threads)?
        .run(resamples, seed, confidence, threads)
}

/// Rows of a dataset: the labels of a classification, the targets of a
/// regression (what [`compute`](super::metrics::compute) measures `n` by).
fn eval_rows(data: &EvalData<'_>) -> usize {
    match data {
        EvalData::Classification { labels, .. } => labels.len(),
        EvalData::Regression { y_true, .. } => y_true.len(),
    }
}

/// Whether a bootstrap request can produce an interval at all; checked
/// before any work so a bad request costs nothing.
pub(super) fn valid_request(n_rows: usize, resamples: usize, confidence: f64) -> bool {
    n_rows > 0 && resamples > 0 && confidence > 0.0 && confidence < 1.0
}

/// The indices of one resample: `n_rows` draws from the chunk's generator,
/// handed to a [`PairedStatistic`] as an iterator so that it can consume
/// them one at a time instead of from a gathered buffer.
///
/// Every resample consumes exactly `n_rows` draws whatever the statistic
/// does — [`run_bootstrap`] drains what a statistic leaves — so resample `r`
/// sees the same indices on every path.
struct Draws<'a> {
    /// The chunk's generator.
    rng: &'a mut Xoshiro256StarStar,
    /// Exclusive upper bound of an index (the number of rows).
    bound: u64,
    /// Draws left in this resample.
    left: usize,
}

impl Iterator for Draws<'_> {
    type Item = usize;

    /// Next row index of the resample.
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.rng.below(self.bound) as usize)
    }

    /// Exact: the remaining draws.
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Draws<'_> {}

/// A paired metric that the bootstrap can evaluate on all rows and on a
/// stream of resampled row indices.
///
/// Implementations differ only in speed: each must return what the metric
/// of `(champion, candidate)` is on the rows the draws name, in order.
trait PairedStatistic: Sync {
    /// Per-thread buffers reused from one resample to the next, so that a
    /// resample allocates nothing.
    type Scratch;

    /// Number of rows the indices are drawn from.
    fn n_rows(&self) -> usize;

    /// Fresh buffers for one worker thread.
    fn scratch(&self) -> Self::Scratch;

    /// `(champion, candidate)` on all rows, the point estimate.
    fn point(&self) -> Option<(f64, f64)>;

    /// `(champion, candidate)` on the resample whose indices `draws` yields.
    fn resample(&self, draws: &mut Draws<'_>, scratch: &mut Self::Scratch) -> Option<(f64, f64)>;
}

/// The generic statistic behind [`bootstrap_delta_ci`]: gathers each
/// resample's indices into a buffer and calls the caller's function on it.
struct GatheredRows<F> {
    /// Number of rows.
    n_rows: usize,
    /// The caller's `(champion, candidate)` function of row indices.
    metric_fn: F,
}

impl<F> PairedStatistic for GatheredRows<F>
where
    F: Fn(&[usize]) -> Option<(f64, f64)> + Sync,
{
    type Scratch = Vec<usize>;

    fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn scratch(&self) -> Vec<usize> {
        Vec::with_capacity(self.n_rows)
    }

    fn point(&self) -> Option<(f64, f64)> {
        let all_rows: Vec<usize> = (0..self.n_rows).collect();
        (self.metric_fn)(&all_rows)
    }

    fn resample(&self, draws: &mut Draws<'_>, rows: &mut Vec<usize>) -> Option<(f64, f64)> {
        rows.clear();
        rows.extend(draws);
        (self.metric_fn)(rows)
    }
}

/// The bootstrap engine shared by every statistic: point estimate, chunked
/// resamples spread over up to `threads` threads, percentile interval.
fn run_bootstrap<S: PairedStatistic>(
    statistic: &S,
    resamples: usize,
    seed: u64,
    confidence: f64,
    threads: usize,
) -> Option<BootstrapResult> {
    let n_rows = statistic.n_rows();
    if !valid_request(n_rows, resamples, confidence) {
        return None;
    }
    let delta = finite_delta(statistic.point())?;

    let n_chunks = resamples.div_ceil(BOOTSTRAP_CHUNK);
    let per_chunk = in_parallel(
        n_chunks,
        threads,
        || statistic.scratch(),
        |chunk, scratch| {
            let first = chunk * BOOTSTRAP_CHUNK;
            let count = BOOTSTRAP_CHUNK.min(resamples - first);
            let mut rng = Xoshiro256StarStar::for_stream(seed, chunk as u64);
            (0..count)
                .map(|_| {
                    let mut draws = Draws {
                        rng: &mut rng,
                        bound: n_rows as u64,
                        left: n_rows,
                    };
                    let value = statistic.resample(&mut draws, scratch);
                    // Keep the stream aligned for the next resample.
                    draws.for_each(drop);
                    finite_delta(value)
                })
                .collect::<Vec<_>>()
        },
    );
    let deltas: Vec<f64> = per_chunk.into_iter().flatten().flatten().collect();
    summarise(deltas, delta, resamples, seed, confidence)
}

pub(super) use crate::threads::in_parallel;

/// The percentile interval and standard error of the usable bootstrap
/// deltas (in resample order, which fixes the summation order of the mean).
pub(super) fn summarise(
    mut deltas: Vec<f64>,
    delta: f64,
    resamples: usize,
    seed: u64,
    confidence: f64,
) -> Option<BootstrapResult> {
    let skipped = resamples - deltas.len();
    if deltas.len() < 2 {
        return None;
    }
    let m = deltas.len() as f64;
    let mean = deltas.iter().sum::<f64>() / m;
    let variance = deltas.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (m - 1.0);
    deltas.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(BootstrapResult {
        delta,
        ci_low: sorted_quantile(&deltas, tail),
        ci_high: sorted_quantile(&deltas, 1.0 - tail),
        confidence,
        std_error: variance.sqrt(),
        resamples,
        skipped,
        seed,
    })
}

/// `candidate − champion`, or `None` when undefined or non-finite.
pub(super) fn finite_delta(pair: Option<(f64, f64)>) -> Option<f64> {
    let (champion, candidate) = pair?;
    let delta = candidate - champion;
    delta.is_finite().then_some(delta)
}

/// Quantile `q` of non-empty sorted data with linear interpolation between
/// the order statistics at `(len − 1)·q` (NumPy's default, Hyndman & Fan
/// type 7).
fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    match (sorted.get(lo), sorted.get(hi)) {
        (Some(&a), Some(&b)) => a + (h - lo as f64) * (b - a),
        _ => f64::NAN,
    }
}

/// McNemar's exact test on the discordant counts of a paired 2×2 table, with
/// the mid-p variant recommended by Fagerland, Lydersen & Laake (2013).
///
/// `b01` counts rows the champion got wrong and the candidate right, `b10`
/// the reverse (the test is symmetric, so the orientation only matters for
/// reading the table). Under the null hypothesis of equal error rates each
/// discordant row is equally likely to fall either way, so with
/// `n = b01 + b10`, `m = min(b01, b10)` and `X ~ Binomial(n, 1/2)`:
///
/// * `p_value = min(1, 2·P(X ≤ m))`, exactly statsmodels'
///   `mcnemar(table, exact=True).pvalue`;
/// * `p_value_mid = min(1, 2·[P(X ≤ m) − P(X = m)/2])`, Fagerland et al.'s
///   mid-p, which removes half the probability of the observed table and is
///   less conservative while keeping close to nominal size.
///
/// With no discordant pairs, or equal counts, both p-values are exactly 1
/// (statsmodels can report 0.9999999999999998 there). The binomial probabilities
/// use Loader's saddle-point form of the point mass, so the p-values keep
/// about 13 significant digits for any `n` (checked up to n ≈ 250 000), and
/// cost `O(√n)` operations. Counts whose sum
/// exceeds 2^53 (where they are no longer exact in `f64`) give NaN p-values.
pub fn mcnemar_exact_midp(b01: u64, b10: u64) -> McNemarResult {
    let m = b01.min(b10);
    let statistic = m as f64;
    let n = match b01.checked_add(b10) {
        Some(n) if n <= 1 << 53 => n,
        _ => {
            return McNemarResult {
                statistic,
                p_value: f64::NAN,
                p_value_mid: f64::NAN,
            }
        }
    };
    if b01 == b10 {
        // The observed table is the centre of a symmetric distribution, so
        // both p-values are exactly 1; summing would only add rounding.
        return McNemarResult {
            statistic,
            p_value: 1.0,
            p_value_mid: 1.0,
        };
    }
    let (cdf, pmf) = binomial_half_lower_tail(m, n);
    McNemarResult {
        statistic,
        p_value: (2.0 * cdf).min(1.0),
        p_value_mid: (2.0 * cdf - pmf).clamp(0.0, 1.0),
    }
}

/// `(P(X ≤ m), P(X = m))` for `X ~ Binomial(n, 1/2)` and `m ≤ n / 2`.
///
/// The tail is summed downwards from the point mass at `m` with the exact
/// ratio `P(X = x − 1) / P(X = x) = x / (n − x + 1)`; below the mode the
/// terms shrink, so summation stops once they no longer change the sum.
fn binomial_half_lower_tail(m: u64, n: u64) -> (f64, f64) {
    let pmf = binomial_half_pmf(m, n);
    let nf = n as f64;
    let mut sum = pmf;
    let mut term = pmf;
    let mut x = m;
    while x > 0 && term > sum * 1e-17 {
        let xf = x as f64;
        term *= xf / (nf - xf + 1.0);
        sum += term;
        x -= 1;
    }
    (sum, pmf)
}

/// `P(X = x)` for `X ~ Binomial(n, 1/2)` by Loader's (2000) saddle-point
/// decomposition, which avoids the cancellation of `ln C(n, x) − n ln 2` for
/// large `n`.
fn binomial_half_pmf(x: u64, n: u64) -> f64 {
    if x > n {
        return 0.0;
    }
    if x == 0 || x == n {
        // 2^-n is exact down to the smallest subnormal (n = 1074).
        return if n > 1074 { 0.0 } else { 0.5f64.powi(n as i32) };
    }
    let (xf, nf) = (x as f64, n as f64);
    let half = nf / 2.0;
    let lc = stirling_error(nf)
        - stirling_error(xf)
        - stirling_error(nf - xf)
        - deviance_term(xf, half)
        - deviance_term(nf - xf, half);
    let lf = LN_2PI + xf.ln() + (-xf / nf).ln_1p();
    (lc - 0.5 * lf).exp()
}

/// `ln(2π)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Stirling's-formula error `ln(k!) − [(k + ½) ln k − k + ½ ln 2π]` for an
/// integer `k ≥ 1`.
///
/// Up to 15 it is evaluated from the exact factorial (at most 15! < 2^53) so
/// the only error is the final cancellation, about 1e-14 absolute; above, the
/// asymptotic series to the `k⁻⁹` term is accurate to machine precision.
fn stirling_error(k: f64) -> f64 {
    /// Coefficients `B_{2j} / (2j (2j − 1))` of the Stirling series, the
    /// first of them `1/12`.
    const S0: f64 = 1.0 / 12.0;
    /// Second Stirling-series coefficient.
    const S1: f64 = 1.0 / 360.0;
    /// Third Stirling-series coefficient.
    const S2: f64 = 1.0 / 1260.0;
    /// Fourth Stirling-series coefficient.
    const S3: f64 = 1.0 / 1680.0;
    /// Fifth Stirling-series coefficient.
    const S4: f64 = 1.0 / 1188.0;
    if k <= 15.0 {
        let mut factorial = 1.0;
        let mut i = 2.0;
        while i <= k {
            factorial *= i;
            i += 1.0;
        }
        return factorial.ln() - (k + 0.5) * k.ln() + k - 0.5 * LN_2PI;
    }
    let k2 = k * k;
    (S0 - (S1 - (S2 - (S3 - S4 / k2) / k2) / k2) / k2) / k
}

/// Loader's deviance term `x ln(x / μ) + μ − x`, via a series in
/// `(x − μ) / (x + μ)` when `x` is near `μ` to avoid cancellation.
fn deviance_term(x: f64, mu: f64) -> f64 {
    if (x - mu).abs() < 0.1 * (x + mu) {
        let v = (x - mu) / (x + mu);
        let v2 = v * v;
        let mut sum = (x - mu) * v;
        let mut ej = 2.0 * x * v;
        let mut j = 1.0;
        // Terms fall by a factor v² < 1/100 each time; the bound only guards
        // against a non-terminating loop on pathological input.
        for _ in 0..1000 {
            ej *= v2;
            let next = sum + ej / (2.0 * j + 1.0);
            if next == sum {
                break;
            }
            sum = next;
            j += 1.0;
        }
        return sum;
    }
    x * (x / mu).ln() + mu - x
}

/// DeLong's test of two correlated ROC AUCs with a 95% interval
/// ([`DELONG_CONFIDENCE`]); see [`delong_test_with_confidence`].
pub fn delong_test(labels: &[bool], scores_a: &[f64], scores_b: &[f64]) -> Option<DeLongResult> {
    delong_test_with_confidence(labels, scores_a, scores_b, DELONG_CONFIDENCE)
}

/// DeLong, DeLong & Clarke-Pearson (1988) test of `AUC_b − AUC_a` for two
/// score vectors on the same rows, computed with the midrank algorithm of
/// Sun & Xu (2014) in `O(n log n)`.
///
/// `labels[i]` is true for a positive row. With `m` positives and `n`
/// negatives, each model's AUC is the Mann-Whitney statistic (ties count
/// one half, so it equals scikit-learn's `roc_auc_score`), and its
/// structural components are `V10_i = (T_i − T^pos_i) / n` for positive `i`
/// and `V01_j = 1 − (T_j − T^neg_j) / m` for negative `j`, where `T` are
/// midranks among all rows and `T^pos`, `T^neg` midranks within the class.
/// The covariance of the two AUCs is `S10 / m + S01 / n` with `S` the
/// sample covariance matrices (n − 1 denominator) of the components, and
///
/// * `se = √(Var a + Var b − 2 Cov(a, b))`, `z = delta / se`;
/// * `p_value = 2·(1 − Φ(|z|))`;
/// * `ci = delta ± Φ⁻¹((1 + confidence) / 2) · se`.
///
/// When `se` is 0 (for example identical score vectors) the test is
/// degenerate: `z` is 0 and `p_value` 1 if `delta` is 0, otherwise `z` is
/// ±∞ and `p_value` 0.
///
/// Returns `None` when the slices differ in length or hold 2^32 rows or more, a score is not finite,
/// `confidence` is not strictly between 0 and 1, or there are fewer than two
/// positive or two negative rows (the sample covariances need two).
pub fn delong_test_with_confidence(
    labels: &[bool],
    scores_a: &[f64],
    scores_b: &[f64],
    confidence: f64,
) -> Option<DeLongResult> {
    if scores_a.len() != labels.len()
        || scores_b.len() != labels.len()
        || labels.len() > u32::MAX as usize
        || !(confidence > 0.0 && confidence < 1.0)
        || !scores_a.iter().chain(scores_b).all(|s| s.is_finite())
    {
        return None;
    }
    let order: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i])
        .chain((0..labels.len()).filter(|&i| !labels[i]))
        .collect();
    let m = labels.iter().filter(|&&l| l).count();
    let n = labels.len() - m;
    if m < 2 || n < 2 {
        return None;
    }
    let models = [scores_a, scores_b];
    let mut components = in_parallel(
        2,
        crate::threads::budget(),
        || (),
        |i, _| DeLongComponents::new(models[i], &order, m),
    )
    .into_iter();
    let (a, b) = (components.next()?, components.next()?);
    let (mf, nf) = (m as f64, n as f64);
    let var_a = covariance(&a.v10, &a.v10) / mf + covariance(&a.v01, &a.v01) / nf;
    let var_b = covariance(&b.v10, &b.v10) / mf + covariance(&b.v01, &b.v01) / nf;
    let cov_ab = covariance(&a.v10, &b.v10) / mf + covariance(&a.v01, &b.v01) / nf;
    // Rounding can push a zero variance slightly negative.
    let se = (var_a + var_b - 2.0 * cov_ab).max(0.0).sqrt();
    let delta = b.auc - a.auc;
    let (z, p_value) = if se > 0.0 {
        let z = delta / se;
        (z, (2.0 * normal_sf(z.abs())).min(1.0))
    } else if delta == 0.0 {
        (0.0, 1.0)
    } else {
        (delta.signum() * f64::INFINITY, 0.0)
    };
    let half_width = normal_quantile(0.5 + confidence / 2.0) * se;
    Some(DeLongResult {
        auc_a: a.auc,
        auc_b: b.auc,
        delta,
        se,
        z,
        p_value,
        ci_low: delta - half_width,
        ci_high: delta + half_width,
        confidence,
    })
}

/// One model's AUC and DeLong structural components.
struct DeLongComponents {
    /// Mann-Whitney AUC.
    auc: f64,
    /// Per positive row: fraction of negatives scored below it (ties ½).
    v10: Vec<f64>,
    /// Per negative row: fraction of positives scored above it (ties ½).
    v01: Vec<f64>,
}

impl DeLongComponents {
    /// Components of `scores` with rows taken in `order`, whose first `m`
    /// entries are the positives; the arithmetic follows the reference
    /// `fastDeLong` implementation step for step.
    fn new(scores: &[f64], order: &[usize], m: usize) -> Self {
        let ordered: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
        let (mf, nf) = (m as f64, (ordered.len() - m) as f64);
        let ranks = ClassMidranks::new(&ordered, m);
        let rank_sum: f64 = ranks.all[..m].iter().sum();
        // The rank formula can overshoot [0, 1] by an ulp (a perfect separation of 7 positives
        // from 3 negatives gives 1.0000000000000002); an AUC is a probability.
        let auc = (rank_sum / mf / nf - (mf + 1.0) / 2.0 / nf).clamp(0.0, 1.0);
        let v10 = ranks.all[..m]
            .iter()
            .zip(&ranks.within[..m])
            .map(|(t, tx)| (t - tx) / nf)
            .collect();
        let v01 = ranks.all[m..]
            .iter()
            .zip(&ranks.within[m..])
            .map(|(t, ty)| 1.0 - (t - ty) / mf)
            .collect();
        DeLongComponents { auc, v10, v01 }
    }
}

/// The midranks DeLong's components are made of, all from one sort of the scores.
#[derive(Debug, PartialEq)]
struct ClassMidranks {
    /// 1-based midrank of each row among all rows: tied scores share the mean of the ranks
    /// they span.
    all: Vec<f64>,
    /// Midrank of each row among the rows of its own class.
    within: Vec<f64>,
}

impl ClassMidranks {
    /// Midranks of `scores`, whose first `m` rows are the positives. A class's rows, taken in
    /// the order of all rows, are already sorted, so each group of tied scores gives both its
    /// overall midrank and, from how many of each class came before it, the within-class
    /// ones; every midrank is a half-integer, held exactly.
    fn new(scores: &[f64], m: usize) -> Self {
        // `+ 0.0` turns -0.0 into 0.0 so that the sort ties them, as `==` does.
        let sorted = resample::sorted_by(scores.len(), |i| scores[i as usize] + 0.0);
        let mut all = vec![0.0; scores.len()];
        let mut within = vec![0.0; scores.len()];
        // Rows of each class (positives, negatives) ranked before the current group.
        let mut before = [0usize; 2];
        let mut start = 0;
        while start < sorted.len() {
            let value = scores[sorted[start] as usize];
            let mut end = start;
            let mut in_group = [0usize; 2];
            while end < sorted.len() && scores[sorted[end] as usize] == value {
                in_group[usize::from(sorted[end] as usize >= m)] += 1;
                end += 1;
            }
            let class_rank = [
                midrank(before[0], in_group[0]),
                midrank(before[1], in_group[1]),
            ];
            let overall = midrank(start, end - start);
            for &row in &sorted[start..end] {
                let row = row as usize;
                all[row] = overall;
                within[row] = class_rank[usize::from(row >= m)];
            }
            before[0] += in_group[0];
            before[1] += in_group[1];
            start = end;
        }
        ClassMidranks { all, within }
    }
}

/// 1-based midrank of a group of `len` tied values after `first` smaller ones.
fn midrank(first: usize, len: usize) -> f64 {
    0.5 * (2 * first + len).saturating_sub(1) as f64 + 1.0
}

/// Sample covariance (n − 1 denominator) of two equally long series with at
/// least two entries, as `numpy.cov`.
fn covariance(x: &[f64], y: &[f64]) -> f64 {
    let len = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / len;
    let mean_y = y.iter().sum::<f64>() / len;
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - mean_x) * (b - mean_y))
        .sum::<f64>()
        / (len - 1.0)
}

/// Smallest true effect a two-sided test at level `alpha` detects with
/// probability `power`, given the standard error of the estimate:
/// `(z_{1 − alpha/2} + z_{power}) · se`.
///
/// A gate that fails to find a significant difference uses this to say how
/// large a difference the data could have found. Returns NaN when `alpha`
/// or `power` is not strictly between 0 and 1 or `se` is negative or not
/// finite.
pub fn minimum_detectable_effect(se: f64, alpha: f64, power: f64) -> f64 {
    let valid = |p: f64| p > 0.0 && p < 1.0;
    if !(valid(alpha) && valid(power) && se >= 0.0 && se.is_finite()) {
        return f64::NAN;
    }
    (normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power)) * se
}

/// Standard normal quantile `Φ⁻¹(p)` by Wichura's algorithm AS241 (PPND16),
/// accurate to about 1e-16 relative over the whole range.
///
/// Returns −∞ for `p = 0`, +∞ for `p = 1`, and NaN outside `[0, 1]`.
#[allow(clippy::excessive_precision)] // coefficients exactly as published
pub fn normal_quantile(p: f64) -> f64 {
    /// Central-region numerator, `|p − ½| ≤ 0.425`, lowest degree first.
    const A: [f64; 8] = [
        3.3871328727963666080e0,
        1.3314166789178437745e+2,
        1.9715909503065514427e+3,
        1.3731693765509461125e+4,
        4.5921953931549871457e+4,
        6.7265770927008700853e+4,
        3.3430575583588128105e+4,
        2.5090809287301226727e+3,
    ];
    /// Central-region denominator.
    const B: [f64; 8] = [
        1.0,
        4.2313330701600911252e+1,
        6.8718700749205790830e+2,
        5.3941960214247511077e+3,
        2.1213794301586595867e+4,
        3.9307895800092710610e+4,
        2.8729085735721942674e+4,
        5.2264952788528545610e+3,
    ];
    /// Intermediate-tail numerator, `r ≤ 5` (`min(p, 1 − p) ≥ e^-25`).
    const C: [f64; 8] = [
        1.42343711074968357734e0,
        4.63033784615654529590e0,
        5.76949722146069140550e0,
        3.64784832476320460504e0,
        1.27045825245236838258e0,
        2.41780725177450611770e-1,
        2.27238449892691845833e-2,
        7.74545014278341407640e-4,
    ];
    /// Intermediate-tail denominator.
    const D: [f64; 8] = [
        1.0,
        2.05319162663775882187e0,
        1.67638483018380384940e0,
        6.89767334985100004550e-1,
        1.48103976427480074590e-1,
        1.51986665636164571966e-2,
        5.47593808499534494600e-4,
        1.05075007164441684324e-9,
    ];
    /// Far-tail numerator, `r > 5`.
    const E: [f64; 8] = [
        6.65790464350110377720e0,
        5.46378491116411436990e0,
        1.78482653991729133580e0,
        2.96560571828504891230e-1,
        2.65321895265761230930e-2,
        1.24266094738807843860e-3,
        2.71155556874348757815e-5,
        2.01033439929228813265e-7,
    ];
    /// Far-tail denominator.
    const F: [f64; 8] = [
        1.0,
        5.99832206555887937690e-1,
        1.36929880922735805310e-1,
        1.48753612908506148525e-2,
        7.86869131145613259100e-4,
        1.84631831751005468180e-5,
        1.42151175831644588870e-7,
        2.04426310338993978564e-15,
    ];
    /// Ratio of two degree-7 polynomials in `r`, coefficients lowest first.
    fn rational(num: &[f64; 8], den: &[f64; 8], r: f64) -> f64 {
        let horner = |c: &[f64; 8]| c.iter().rev().fold(0.0, |acc, &k| acc * r + k);
        horner(num) / horner(den)
    }

    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        return q * rational(&A, &B, 0.180625 - q * q);
    }
    // Tails: work with r = √(−ln min(p, 1 − p)), in which the quantile is
    // nearly linear.
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        rational(&C, &D, r - 1.6)
    } else {
        rational(&E, &F, r - 5.0)
    };
    if q < 0.0 {
        -value
    } else {
        value
    }
}

/// Standard normal upper tail `1 − Φ(x)`, by Cody's (1969, 1993) rational
/// Chebyshev approximations as used in R's `pnorm`. The tail is computed
/// directly rather than as `1 − Φ(x)`, so it keeps its relative accuracy
/// down to about 1e-300 at x ≈ 37.5 (beyond which it underflows to 0):
/// about 1e-15 for |x| ≤ 5, degrading to 1e-13 at x = 37 as the rounding of
/// the exponent `x²/2` grows.
///
/// Returns NaN for NaN input.
#[allow(clippy::excessive_precision)] // coefficients exactly as published
pub fn normal_sf(x: f64) -> f64 {
    /// Central-region numerator, `|x| ≤ 0.674`.
    const A: [f64; 5] = [
        2.2352520354606839287,
        161.02823106855587881,
        1067.6894854603709582,
        18154.981253343561249,
        0.065682337918207449113,
    ];
    /// Central-region denominator.
    const B: [f64; 4] = [
        47.20258190468824187,
        976.09855173777669322,
        10260.932208618978205,
        45507.789335026729956,
    ];
    /// Middle-region numerator, `0.674 < |x| ≤ √32`.
    const C: [f64; 9] = [
        0.39894151208813466764,
        8.8831497943883759412,
        93.506656132177855979,
        597.27027639480026226,
        2494.5375852903726711,
        6848.1904505362823326,
        11602.651437647350124,
        9842.7148383839780218,
        1.0765576773720192317e-8,
    ];
    /// Middle-region denominator.
    const D: [f64; 8] = [
        22.266688044328115691,
        235.38790178262499861,
        1519.377599407554805,
        6485.558298266760755,
        18615.571640885098091,
        34900.952721145977266,
        38912.003286093271411,
        19685.429676859990727,
    ];
    /// Asymptotic-region numerator in `1/x²`, `|x| > √32`.
    const P: [f64; 6] = [
        0.21589853405795699,
        0.1274011611602473639,
        0.022235277870649807,
        0.001421619193227893466,
        2.9112874951168792e-5,
        0.02307344176494017303,
    ];
    /// Asymptotic-region denominator.
    const Q: [f64; 5] = [
        1.28426009614491121,
        0.468238212480865118,
        0.0659881378689285515,
        0.00378239633202758244,
        7.29751555083966205e-5,
    ];
    /// `1 / √(2π)`.
    const FRAC_1_SQRT_2PI: f64 = 0.39894228040143267794;

    if x.is_nan() {
        return f64::NAN;
    }
    let y = x.abs();
    if y <= 0.67448975 {
        // Central region: Φ(x) − ½ is an odd rational function of x.
        let (mut num, mut den) = (0.0, 0.0);
        if y > f64::EPSILON * 0.5 {
            let xsq = x * x;
            num = A[4] * xsq;
            den = xsq;
            for (a, b) in A.iter().zip(&B).take(3) {
                num = (num + a) * xsq;
                den = (den + b) * xsq;
            }
        }
        return 0.5 - x * (num + A[3]) / (den + B[3]);
    }
    // Both outer regions compute the smaller tail Φ(−|x|) as
    // exp(−y²/2) · R(y); splitting y² through a 1/16-grid value keeps the
    // exponent exact enough for full relative accuracy.
    let ratio = if y <= 32f64.sqrt() {
        let mut num = C[8] * y;
        let mut den = y;
        for (c, d) in C.iter().zip(&D).take(7) {
            num = (num + c) * y;
            den = (den + d) * y;
        }
        (num + C[7]) / (den + D[7])
    } else if y < 37.5193 {
        let inv = 1.0 / (x * x);
        let mut num = P[5] * inv;
        let mut den = inv;
        for (p, q) in P.iter().zip(&Q).take(4) {
            num = (num + p) * inv;
            den = (den + q) * inv;
        }
        let r = inv * (num + P[4]) / (den + Q[4]);
        (FRAC_1_SQRT_2PI - r) / y
    } else {
        return if x > 0.0 { 0.0 } else { 1.0 };
    };
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    let small_tail = (-ysq * ysq * 0.5).exp() * (-del * 0.5).exp() * ratio;
    if x > 0.0 {
        small_tail
    } else {
        1.0 - small_tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::random::SplitMix64;
    use proptest::prelude::*;
    use serde_json::Value;

    /// The shared reference fixture.
    fn fixture() -> Value {
        crate::evaluate::reference_fixture()
    }

    /// Reads a JSON number.
    fn num(v: &Value) -> f64 {
        v.as_f64().expect("number")
    }

    /// Reads a JSON array of numbers.
    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    }

    /// Agreement to 1e-9: absolute for values of order one, relative beyond
    /// (and relative for tiny values when `relative_small` is set, as
    /// p-values need).
    fn close(actual: f64, expected: f64, relative_small: bool) -> bool {
        let scale = if relative_small {
            expected.abs()
        } else {
            expected.abs().max(1.0)
        };
        actual == expected || (actual - expected).abs() <= 1e-9 * scale
    }

    /// The exact p-value matches statsmodels and the mid-p matches the
    /// Fagerland formula evaluated with `scipy.stats.binom`, to 1e-9
    /// relative, from tiny tables to n ≈ 250 000 and p-values near 1e-60.
    #[test]
    fn mcnemar_matches_statsmodels_and_scipy() {
        let fx = fixture();
        let cases = fx["mcnemar"].as_array().expect("cases");
        assert!(cases.len() >= 10);
        for case in cases {
            let b01 = case["b01"].as_u64().expect("b01");
            let b10 = case["b10"].as_u64().expect("b10");
            let got = mcnemar_exact_midp(b01, b10);
            let want_stat = num(&case["statistic"]);
            let want_p = num(&case["p_value"]);
            let want_mid = num(&case["p_value_mid"]);
            assert_eq!(got.statistic, want_stat, "{b01}/{b10}");
            assert!(
                close(got.p_value, want_p, true),
                "{b01}/{b10}: p {} vs {want_p}",
                got.p_value
            );
            assert!(
                close(got.p_value_mid, want_mid, true),
                "{b01}/{b10}: mid-p {} vs {want_mid}",
                got.p_value_mid
            );
        }
    }

    /// Every DeLong output agrees with the numpy `fastDeLong` reference to
    /// 1e-9, and the AUCs agree with scikit-learn's `roc_auc_score`.
    #[test]
    fn delong_matches_fast_delong_reference() {
        let fx = fixture();
        let cases = fx["delong"].as_array().expect("cases");
        assert!(cases.len() >= 3);
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let labels: Vec<bool> = case["labels"]
                .as_array()
                .expect("labels")
                .iter()
                .map(|v| v.as_bool().expect("bool"))
                .collect();
            let a = floats(&case["scores_a"]);
            let b = floats(&case["scores_b"]);
            let got = delong_test(&labels, &a, &b).expect("defined");
            let pairs = [
                ("auc_a", got.auc_a, false),
                ("auc_b", got.auc_b, false),
                ("sklearn_auc_a", got.auc_a, false),
                ("sklearn_auc_b", got.auc_b, false),
                ("delta", got.delta, false),
                ("se", got.se, true),
                ("z", got.z, false),
                ("p_value", got.p_value, true),
                ("ci_low", got.ci_low, false),
                ("ci_high", got.ci_high, false),
            ];
            for (key, value, relative) in pairs {
                let want = num(&case[key]);
                assert!(
                    close(value, want, relative),
                    "{name}/{key}: {value} vs {want}"
                );
            }
            assert_eq!(got.confidence, DELONG_CONFIDENCE);
        }
    }

    /// AS241 agrees with `scipy.stats.norm.ppf` to 1e-9 relative from 1e-300
    /// to 1 − 1e-10, and Cody's tail with `norm.sf` from −8 to 37.
    #[test]
    fn normal_functions_match_scipy() {
        let fx = fixture();
        for pair in fx["normal"]["ppf"].as_array().expect("ppf") {
            let (p, want) = (num(&pair[0]), num(&pair[1]));
            let got = normal_quantile(p);
            assert!(close(got, want, true), "ppf({p}) = {got}, want {want}");
        }
        for pair in fx["normal"]["sf"].as_array().expect("sf") {
            let (x, want) = (num(&pair[0]), num(&pair[1]));
            let got = normal_sf(x);
            assert!(close(got, want, true), "sf({x}) = {got}, want {want}");
        }
    }

    /// The minimum detectable effect agrees with the SciPy formula.
    #[test]
    fn minimum_detectable_effect_matches_scipy() {
        let fx = fixture();
        for case in fx["normal"]["mde"].as_array().expect("mde") {
            let got = minimum_detectable_effect(
                num(&case["se"]),
                num(&case["alpha"]),
                num(&case["power"]),
            );
            let want = num(&case["mde"]);
            assert!(close(got, want, true), "{got} vs {want}");
        }
        assert!(minimum_detectable_effect(0.1, 0.0, 0.8).is_nan());
        assert!(minimum_detectable_effect(0.1, 0.05, 1.0).is_nan());
        assert!(minimum_detectable_effect(-0.1, 0.05, 0.8).is_nan());
        assert!(minimum_detectable_effect(f64::NAN, 0.05, 0.8).is_nan());
    }

    /// Per-row 0/1 correctness of both models from the fixture's bootstrap
    /// case, and the accuracy-difference closure the Python side mirrors.
    fn bootstrap_case(fx: &Value) -> (Vec<f64>, Vec<f64>) {
        let case = &fx["bootstrap"];
        (floats(&case["champion"]), floats(&case["candidate"]))
    }

    /// Mean of `values` over `rows`.
    fn mean_over(values: &[f64], rows: &[usize]) -> f64 {
        rows.iter().map(|&i| values[i]).sum::<f64>() / rows.len() as f64
    }

    /// An independent Python re-implementation of the documented resampling
    /// scheme (SplitMix64 seeding, xoshiro256**, Lemire draws, 64-resample
    /// chunks, NumPy percentiles) gives the same interval and standard error.
    #[test]
    fn bootstrap_matches_python_reimplementation() {
        let fx = fixture();
        let (champion, candidate) = bootstrap_case(&fx);
        let case = &fx["bootstrap"];
        let b = case["resamples"].as_u64().expect("b") as usize;
        let seed = case["seed"].as_u64().expect("seed");
        let confidence = num(&case["confidence"]);
        let metric =
            |rows: &[usize]| Some((mean_over(&champion, rows), mean_over(&candidate, rows)));
        let got = bootstrap_delta_ci(champion.len(), metric, b, seed, confidence).expect("defined");
        for (key, value) in [
            ("delta", got.delta),
            ("ci_low", got.ci_low),
            ("ci_high", got.ci_high),
            ("std_error", got.std_error),
        ] {
            let want = num(&case[key]);
            assert!((value - want).abs() <= 1e-12, "{key}: {value} vs {want}");
        }
        assert_eq!(got.skipped, 0);
        assert_eq!(got.resamples, b);
        // The first resample's indices, as drawn by Python.
        let first: Vec<usize> = case["first_resample"]
            .as_array()
            .expect("indices")
            .iter()
            .map(|v| v.as_u64().expect("index") as usize)
            .collect();
        let mut rng = Xoshiro256StarStar::for_stream(seed, 0);
        let drawn: Vec<usize> = (0..champion.len())
            .map(|_| rng.below(champion.len() as u64) as usize)
            .collect();
        assert_eq!(drawn, first);
    }

    /// The result is bit-identical for every thread count and every run.
    #[test]
    fn bootstrap_is_independent_of_thread_count() {
        let champion: Vec<f64> = (0..97).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let candidate: Vec<f64> = (0..97).map(|i| ((i * 53) % 13) as f64 / 12.0).collect();
        let metric =
            |rows: &[usize]| Some((mean_over(&champion, rows), mean_over(&candidate, rows)));
        let reference =
            bootstrap_delta_ci_with_threads(97, metric, 1000, 7, 0.9, 1).expect("defined");
        for threads in [0, 2, 3, 4, 8, 64] {
            let other = bootstrap_delta_ci_with_threads(97, metric, 1000, 7, 0.9, threads)
                .expect("defined");
            assert_eq!(
                serde_json::to_string(&other).expect("json"),
                serde_json::to_string(&reference).expect("json"),
                "threads = {threads}"
            );
        }
        let again = bootstrap_delta_ci(97, metric, 1000, 7, 0.9).expect("defined");
        assert_eq!(again, reference);
        let other_seed = bootstrap_delta_ci(97, metric, 1000, 8, 0.9).expect("defined");
        assert_ne!(other_seed.ci_low, reference.ci_low);
    }

    /// Identical models give a zero delta with a degenerate interval.
    #[test]
    fn bootstrap_of_identical_models_is_zero() {
        let values: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let metric = |rows: &[usize]| {
            let m = mean_over(&values, rows);
            Some((m, m))
        };
        let r = bootstrap_delta_ci(50, metric, 200, 1, 0.95).expect("defined");
        assert_eq!(
            (r.delta, r.ci_low, r.ci_high, r.std_error),
            (0.0, 0.0, 0.0, 0.0)
        );
    }

    /// Undefined resamples are skipped and counted, and degenerate requests
    /// give `None`.
    #[test]
    fn bootstrap_skips_undefined_resamples() {
        // Undefined whenever row 0 is drawn twice or more, which happens with
        // probability 1 − P(0) − P(1) ≈ 0.264 for Binomial(20, 1/20).
        let n = 20;
        let metric = |rows: &[usize]| {
            if rows.iter().filter(|&&i| i == 0).count() < 2 {
                Some((0.0, rows.iter().sum::<usize>() as f64 / rows.len() as f64))
            } else {
                None
            }
        };
        let r = bootstrap_delta_ci(n, metric, 2000, 3, 0.95).expect("defined");
        let rate = r.skipped as f64 / r.resamples as f64;
        assert!((0.22..0.31).contains(&rate), "skip rate {rate}");
        assert!(r.ci_low <= r.ci_high);

        let ok = |_: &[usize]| Some((0.5, 0.6));
        assert!(bootstrap_delta_ci(0, ok, 100, 0, 0.95).is_none());
        assert!(bootstrap_delta_ci(5, ok, 0, 0, 0.95).is_none());
        assert!(bootstrap_delta_ci(5, ok, 1, 0, 0.95).is_none());
        assert!(bootstrap_delta_ci(5, ok, 100, 0, 1.0).is_none());
        assert!(bootstrap_delta_ci(5, ok, 100, 0, f64::NAN).is_none());
        assert!(bootstrap_delta_ci(5, |_: &[usize]| None, 100, 0, 0.95).is_none());
        let nan = |_: &[usize]| Some((f64::NAN, 0.0));
        assert!(bootstrap_delta_ci(5, nan, 100, 0, 0.95).is_none());
    }

    /// The percentile interval of a mean difference is close to the normal
    /// interval, and the bootstrap SE close to the analytic one.
    #[test]
    fn bootstrap_interval_is_sensible_for_a_mean_difference() {
        let n = 400;
        let diff: Vec<f64> = (0..n)
            .map(|i| {
                let mut sm = SplitMix64::new(i as u64);
                (sm.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.4
            })
            .collect();
        let zeros = vec![0.0; n];
        let metric = |rows: &[usize]| Some((mean_over(&zeros, rows), mean_over(&diff, rows)));
        let r = bootstrap_delta_ci(n, metric, 4000, 11, 0.95).expect("defined");
        let mean = diff.iter().sum::<f64>() / n as f64;
        let sd = (diff.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let se = sd / (n as f64).sqrt();
        assert!(
            (r.std_error / se - 1.0).abs() < 0.1,
            "{} vs {se}",
            r.std_error
        );
        assert!(r.ci_low < r.delta && r.delta < r.ci_high);
        assert!(((r.ci_high - r.ci_low) / (2.0 * 1.96 * se) - 1.0).abs() < 0.1);
    }

    /// Hand-checked McNemar values and the symmetric / empty edge cases.
    #[test]
    fn mcnemar_edge_cases() {
        let none = mcnemar_exact_midp(0, 0);
        assert_eq!(
            (none.statistic, none.p_value, none.p_value_mid),
            (0.0, 1.0, 1.0)
        );
        let tie = mcnemar_exact_midp(40, 40);
        assert_eq!((tie.p_value, tie.p_value_mid), (1.0, 1.0));
        // n = 5, m = 0: p = 2/32, mid-p = 1/32.
        let r = mcnemar_exact_midp(5, 0);
        assert_eq!((r.p_value, r.p_value_mid), (0.0625, 0.03125));
        assert_eq!(mcnemar_exact_midp(3, 12), mcnemar_exact_midp(12, 3));
        let huge = mcnemar_exact_midp(u64::MAX, 1);
        assert!(huge.p_value.is_nan() && huge.p_value_mid.is_nan());
    }

    /// Degenerate DeLong inputs give `None`; identical models give p = 1.
    #[test]
    fn delong_degenerate_inputs() {
        let labels = [true, false, true, false, true];
        let a = [0.9, 0.2, 0.6, 0.4, 0.3];
        let same = delong_test(&labels, &a, &a).expect("defined");
        assert_eq!(
            (same.delta, same.se, same.z, same.p_value),
            (0.0, 0.0, 0.0, 1.0)
        );
        assert!(delong_test(&labels, &a, &a[..4]).is_none());
        assert!(delong_test(&[true, true, false], &[0.1, 0.2, 0.3], &[0.1, 0.2, 0.3]).is_none());
        let mut nan = a;
        nan[2] = f64::NAN;
        assert!(delong_test(&labels, &a, &nan).is_none());
        assert!(delong_test_with_confidence(&labels, &a, &a, 1.0).is_none());
        assert!(delong_test(&[], &[], &[]).is_none());
    }

    /// Regression: a perfect separation of 7 positives from 3 negatives gave an AUC of
    /// 1.0000000000000002 (found by the `delong_is_total` property).
    #[test]
    fn delong_auc_stays_a_probability() {
        let labels = [
            true, false, false, true, true, true, true, true, true, false,
        ];
        let a = [2.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0];
        let b = [0.0; 10];
        let r = delong_test(&labels, &a, &b).unwrap();
        assert_eq!(r.auc_a, 1.0);
        assert_eq!(r.auc_b, 0.5);
    }

    /// 1-based midranks the direct way, one sort per call, as the reference the one-sort
    /// [`ClassMidranks`] is checked against.
    fn midranks(values: &[f64]) -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        // `+ 0.0` turns -0.0 into 0.0 so that `total_cmp` ties them, as `==` does.
        order.sort_by(|&i, &j| (values[i] + 0.0).total_cmp(&(values[j] + 0.0)));
        let mut ranks = vec![0.0; values.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            while end < order.len() && values[order[end]] == values[order[start]] {
                end += 1;
            }
            let rank = 0.5 * (start + end - 1) as f64 + 1.0;
            for &i in &order[start..end] {
                ranks[i] = rank;
            }
            start = end;
        }
        ranks
    }

    /// One sort gives the midranks among all rows and within each class exactly as three
    /// separate sorts do, ties and signed zeros included.
    #[test]
    fn class_midranks_match_three_separate_sorts() {
        let mut rng = SplitMix64::new(7);
        for case in 0..200 {
            let len = 2 + case % 37;
            let m = 1 + case % (len - 1);
            let levels = 1 + (rng.next_u64() % 9) as usize;
            let scores: Vec<f64> = (0..len)
                .map(|_| match rng.next_u64() % levels as u64 {
                    0 => -0.0,
                    v => v as f64 - 3.0,
                })
                .collect();
            let (pos, neg) = scores.split_at(m);
            let mut within = midranks(pos);
            within.extend(midranks(neg));
            assert_eq!(
                ClassMidranks::new(&scores, m),
                ClassMidranks {
                    all: midranks(&scores),
                    within,
                },
                "{scores:?} with {m} positives"
            );
        }
    }

    /// Midranks average the ranks of tied values, treating -0.0 as 0.0.
    #[test]
    fn midranks_average_ties() {
        assert_eq!(
            midranks(&[3.0, 1.0, 3.0, 2.0, -0.0, 0.0]),
            [5.5, 3.0, 5.5, 4.0, 1.5, 1.5]
        );
        assert!(midranks(&[]).is_empty());
    }

    /// Quantile interpolation follows NumPy's default.
    #[test]
    fn sorted_quantile_interpolates_linearly() {
        let data = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(sorted_quantile(&data, 0.0), 1.0);
        assert_eq!(sorted_quantile(&data, 1.0), 8.0);
        assert_eq!(sorted_quantile(&data, 0.5), 3.0);
        assert_eq!(sorted_quantile(&data, 0.25), 1.75);
        assert_eq!(sorted_quantile(&[5.0], 0.3), 5.0);
    }

    /// Normal quantile edge values.
    #[test]
    fn normal_quantile_edges() {
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(-0.1).is_nan());
        assert!(normal_quantile(f64::NAN).is_nan());
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!(normal_sf(f64::NAN).is_nan());
        assert_eq!(normal_sf(40.0), 0.0);
        assert_eq!(normal_sf(-40.0), 1.0);
    }

    proptest! {
        /// McNemar p-values are probabilities with mid-p never above p.
        #[test]
        fn mcnemar_p_values_are_ordered(b01 in 0u64..5000, b10 in 0u64..5000) {
            let r = mcnemar_exact_midp(b01, b10);
            prop_assert!((0.0..=1.0).contains(&r.p_value));
            prop_assert!((0.0..=1.0).contains(&r.p_value_mid));
            prop_assert!(r.p_value_mid <= r.p_value);
        }

        /// The quantile inverts the tail function (on the upper half, where
        /// the tail probability carries full relative precision).
        #[test]
        fn quantile_inverts_sf(x in 0.0..30.0f64) {
            let back = -normal_quantile(normal_sf(x));
            prop_assert!((back - x).abs() <= 1e-9 * x.abs().max(1.0), "{} -> {}", x, back);
        }

        /// DeLong never panics and, when defined, returns finite AUCs and
        /// a p-value in [0, 1].
        #[test]
        fn delong_is_total(rows in proptest::collection::vec((any::<bool>(), 0u8..5, 0u8..5), 0..30)) {
            let labels: Vec<bool> = rows.iter().map(|r| r.0).collect();
            let a: Vec<f64> = rows.iter().map(|r| f64::from(r.1)).collect();
            let b: Vec<f64> = rows.iter().map(|r| f64::from(r.2)).collect();
            if let Some(r) = delong_test(&labels, &a, &b) {
                prop_assert!((0.0..=1.0).contains(&r.auc_a) && (0.0..=1.0).contains(&r.auc_b));
                prop_assert!((0.0..=1.0).contains(&r.p_value));
                prop_assert!(r.ci_low <= r.ci_high);
            }
        }
    }
}
