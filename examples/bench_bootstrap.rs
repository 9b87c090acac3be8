//! Times the paired bootstrap on synthetic data: 1M binary-classification
//! rows (labels, two models' hard predictions and probability scores), 1M
//! three-class rows and 1M regression rows, 1000 resamples per metric.
//!
//! ```text
//! cargo run --release --example bench_bootstrap -- [--rows N] [--resamples B]
//!     [--baseline] [--metrics accuracy,roc_auc,...] [--datasets binary,3-class,regression]
//!     [--decimals D]
//! ```
//!
//! Scores are rounded to `D` decimals (default 6, as `predictions.csv` files written with
//! `%.6f` have them): at 1M rows about half the rows then start a new group of tied scores,
//! the hard case for the tie-aware sweeps; `--decimals 4` gives long tie groups instead.
//!
//! `--baseline` times the generic path (`bootstrap_delta_ci` over
//! `compute_on_rows`, which gathers every resample), the path the gate used
//! before the count-based evaluators; the default times `paired_bootstrap`.
//! Seconds are wall-clock for one whole bootstrap (point estimate, set-up and
//! all resamples) using every available core; the last column scales the
//! time linearly to 1000 resamples, so the slow baseline can be run with
//! fewer resamples.

use mlgate::evaluate::metrics::{compute_on_rows, EvalData, Metric, ScoreMatrix};
use mlgate::evaluate::paired::{bootstrap_delta_ci, paired_bootstrap, BootstrapResult};
use std::time::Instant;

/// Command-line settings.
struct Args {
    /// Rows per dataset.
    rows: usize,
    /// Bootstrap resamples per metric.
    resamples: usize,
    /// Time the generic gather-and-recompute path instead of the fast one.
    baseline: bool,
    /// Metric names to time; every metric when empty.
    metrics: Vec<String>,
    /// Dataset labels to build and time (`binary`, `3-class`, `regression`); all when empty.
    datasets: Vec<String>,
    /// Decimals the probability scores are rounded to.
    decimals: i32,
}

/// Parses the flags; unknown flags abort with a usage line.
fn parse_args() -> Args {
    let mut args = Args {
        rows: 1_000_000,
        resamples: 1000,
        baseline: false,
        metrics: Vec::new(),
        datasets: Vec::new(),
        decimals: 6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--rows" => args.rows = value().parse().unwrap_or_else(|_| usage()),
            "--resamples" => args.resamples = value().parse().unwrap_or_else(|_| usage()),
            "--metrics" => args.metrics = value().split(',').map(str::to_owned).collect(),
            "--datasets" => args.datasets = value().split(',').map(str::to_owned).collect(),
            "--decimals" => args.decimals = value().parse().unwrap_or_else(|_| usage()),
            "--baseline" => args.baseline = true,
            _ => usage(),
        }
    }
    args
}

/// Prints the usage line and exits.
fn usage() -> ! {
    eprintln!("usage: bench_bootstrap [--rows N] [--resamples B] [--baseline] [--metrics a,b,...] [--datasets binary,3-class,regression] [--decimals D]");
    std::process::exit(2)
}

/// SplitMix64, so the synthetic data is the same on every run.
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
}

/// Owned rows of one model on one classification dataset.
struct ModelRows {
    /// Hard predictions (argmax of the scores).
    predicted: Vec<usize>,
    /// Row-major probabilities, rounded so there are ties.
    scores: Vec<f64>,
}

/// Synthetic `k`-class labels and two models whose scores lean towards the
/// true class with strength `skill`, scores rounded to `decimals`.
fn classification(n: usize, k: usize, seed: u64, decimals: i32) -> (Vec<usize>, [ModelRows; 2]) {
    let scale = 10f64.powi(decimals);
    let mut g = Gen(seed);
    let labels: Vec<usize> = (0..n)
        .map(|_| ((g.uniform() * k as f64) as usize).min(k - 1))
        .collect();
    let models = [1.2, 1.4].map(|skill| {
        let mut scores = Vec::with_capacity(n * k);
        let mut predicted = Vec::with_capacity(n);
        for &y in &labels {
            let raw: Vec<f64> = (0..k)
                .map(|j| (g.uniform() * 2.0 + if j == y { skill } else { 0.0 }).exp())
                .collect();
            let total: f64 = raw.iter().sum();
            let row: Vec<f64> = raw
                .iter()
                .map(|r| (r / total * scale).round() / scale)
                .collect();
            let top = (0..k).fold(0, |best, j| if row[j] > row[best] { j } else { best });
            predicted.push(top);
            scores.extend(row);
        }
        ModelRows { predicted, scores }
    });
    (labels, models)
}

/// Synthetic regression targets and two models' predictions.
fn regression(n: usize, seed: u64) -> (Vec<f64>, [Vec<f64>; 2]) {
    let mut g = Gen(seed);
    let y: Vec<f64> = (0..n).map(|_| 10.0 + 5.0 * g.uniform()).collect();
    let preds = [1.0, 0.8].map(|noise| y.iter().map(|t| t + noise * (g.uniform() - 0.5)).collect());
    (y, preds)
}

/// Times one bootstrap of `metric`, fast or baseline.
fn time_one(
    metric: Metric,
    champion: &EvalData<'_>,
    candidate: &EvalData<'_>,
    n: usize,
    args: &Args,
) -> (f64, Option<BootstrapResult>) {
    let start = Instant::now();
    let result = if args.baseline {
        let f = |rows: &[usize]| {
            Some((
                compute_on_rows(metric, champion, rows)?,
                compute_on_rows(metric, candidate, rows)?,
            ))
        };
        bootstrap_delta_ci(n, f, args.resamples, 42, 0.95)
    } else {
        paired_bootstrap(metric, champion, candidate, args.resamples, 42, 0.95)
    };
    (start.elapsed().as_secs_f64(), result)
}

/// Runs and prints every selected metric of one dataset.
fn bench_dataset(label: &str, data: [&EvalData<'_>; 2], n: usize, args: &Args) {
    for metric in Metric::ALL {
        if !args.metrics.is_empty() && !args.metrics.iter().any(|m| m == metric.name()) {
            continue;
        }
        let Some(task) = data[0].task() else { continue };
        if !metric.applies_to(task) {
            continue;
        }
        let (secs, result) = time_one(metric, data[0], data[1], n, args);
        let per_1000 = secs * 1000.0 / args.resamples as f64;
        match result {
            Some(r) => println!(
                "{label:<10} {:<20} {secs:>8.3} s  ({per_1000:>8.3} s per 1000)  delta {:+.6} [{:+.6}, {:+.6}] skipped {}",
                metric.name(),
                r.delta,
                r.ci_low,
                r.ci_high,
                r.skipped
            ),
            None => println!("{label:<10} {:<20} {secs:>8.3} s  undefined", metric.name()),
        }
    }
}

/// One model's rows as evaluation data.
fn model_data<'a>(k: usize, labels: &'a [usize], m: &'a ModelRows) -> EvalData<'a> {
    EvalData::Classification {
        n_classes: k,
        labels,
        predicted: &m.predicted,
        scores: ScoreMatrix::new(&m.scores, k),
    }
}

/// Builds the datasets and times every metric.
fn main() {
    let args = parse_args();
    let n = args.rows;
    println!(
        "{} rows, {} resamples, {} path, {} threads",
        n,
        args.resamples,
        if args.baseline { "baseline" } else { "fast" },
        std::thread::available_parallelism().map_or(1, |t| t.get())
    );
    let wanted = |label: &str| args.datasets.is_empty() || args.datasets.iter().any(|d| d == label);
    if wanted("binary") {
        let (labels, [a, b]) = classification(n, 2, 1, args.decimals);
        let (da, db) = (model_data(2, &labels, &a), model_data(2, &labels, &b));
        bench_dataset("binary", [&da, &db], n, &args);
    }
    if wanted("3-class") {
        let (labels3, [a3, b3]) = classification(n, 3, 2, args.decimals);
        let (ma, mb) = (model_data(3, &labels3, &a3), model_data(3, &labels3, &b3));
        bench_dataset("3-class", [&ma, &mb], n, &args);
    }
    if !wanted("regression") {
        return;
    }
    let (y, [pa, pb]) = regression(n, 3);
    let ra = EvalData::Regression {
        y_true: &y,
        y_pred: &pa,
    };
    let rb = EvalData::Regression {
        y_true: &y,
        y_pred: &pb,
    };
    bench_dataset("regression", [&ra, &rb], n, &args);
}
