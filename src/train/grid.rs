//! Hyperparameter search: every combination of `model.grid.params`, scored by k-fold
//! cross-validation on the training rows, on all cores.
//!
//! The evaluation rows are never seen: folds split the training rows only, and each fold fits
//! its own preprocessing on its own training part, so the scaling and medians of the held-out
//! fold do not leak into the fit. Folds come from a permutation seeded by `model.seed`; jobs
//! (combination × fold) run on a pool of threads but their results are collected by index, so
//! the chosen parameters do not depend on the number of threads. Ties go to the earlier
//! combination (keys in sorted order, values in the order written).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{GridConfig, TaskKind};
use crate::evaluate::metrics::{self, EvalData, Metric, ScoreMatrix};

use super::features::Preprocessor;
use super::models::{self, Features, Params, Prediction, Target};
use super::table::Table;
use super::Plan;

/// One combination's cross-validated score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridResult {
    /// The parameters of this combination (the grid's keys only).
    pub params: Map<String, Value>,
    /// Mean of the metric over the folds.
    pub mean: f64,
    /// Standard deviation over the folds (n − 1).
    pub std: f64,
}

/// The search, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridSearch {
    /// The metric maximised (or minimised, by its direction).
    pub metric: String,
    /// Folds.
    pub folds: usize,
    /// Every combination, in search order.
    pub results: Vec<GridResult>,
    /// Index of the chosen combination.
    pub best: usize,
}

/// Everything the folds share.
pub struct Inputs<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The training table.
    pub table: &'a Table,
    /// The training rows.
    pub rows: &'a [usize],
    /// Classes (empty for regression).
    pub classes: &'a [String],
    /// The user's fixed params, which the grid overrides.
    pub base: &'a Map<String, Value>,
    /// Threads to use.
    pub threads: usize,
}

/// Runs the search; returns the record and the winning full parameter set.
pub fn search(
    grid: &GridConfig,
    metric: Metric,
    inputs: &Inputs<'_>,
) -> anyhow::Result<(GridSearch, Params)> {
    let combinations = combinations(&grid.params);
    let kind = inputs.plan.model_kind()?;
    let params: Vec<Params> = combinations
        .iter()
        .map(|combo| {
            let mut map = inputs.base.clone();
            map.extend(combo.clone());
            models::params_from_map(kind, &map)
                .map_err(|e| anyhow::anyhow!("invalid `model.grid.params`: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    if inputs.rows.len() < grid.folds * 2 {
        anyhow::bail!(
            "{} training rows are too few for {}-fold cross-validation",
            inputs.rows.len(),
            grid.folds
        );
    }
    let folds = assign_folds(inputs.rows.len(), grid.folds, inputs.plan.seed);
    let jobs = params.len() * grid.folds;
    let scores: Vec<Mutex<Option<anyhow::Result<f64>>>> =
        (0..jobs).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = inputs.threads.clamp(1, jobs.max(1));
    // Each worker's fits get their share of the threads (tree models only), so
    // workers x tree threads stays near `threads`; models do not depend on it.
    let model_threads = (inputs.threads / workers).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= jobs {
                    break;
                }
                let (combo, fold) = (job / grid.folds, job % grid.folds);
                let score = score_fold(&params[combo], metric, inputs, &folds, fold, model_threads);
                if let Ok(mut slot) = scores[job].lock() {
                    *slot = Some(score);
                }
            });
        }
    });
    let mut results = Vec::with_capacity(params.len());
    for (c, combo) in combinations.into_iter().enumerate() {
        let mut values = Vec::with_capacity(grid.folds);
        for f in 0..grid.folds {
            let slot = scores[c * grid.folds + f]
                .lock()
                .map_err(|_| anyhow::anyhow!("a cross-validation worker failed"))?
                .take()
                .ok_or_else(|| anyhow::anyhow!("a cross-validation job did not run"))?;
            values.push(slot?);
        }
        results.push(GridResult {
            params: combo,
            mean: mean(&values),
            std: std_dev(&values),
        });
    }
    let best = best_index(&results, metric.higher_is_better());
    let chosen = params[best].clone();
    Ok((
        GridSearch {
            metric: metric.name().to_string(),
            folds: grid.folds,
            results,
            best,
        },
        chosen,
    ))
}

/// The cartesian product of the grid, keys in sorted order, values in the order written.
fn combinations(grid: &BTreeMap<String, Vec<Value>>) -> Vec<Map<String, Value>> {
    let mut out = vec![Map::new()];
    for (key, values) in grid {
        out = out
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |v| {
                    let mut next = partial.clone();
                    next.insert(key.clone(), v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// Fold of each training row (by position): a seeded permutation dealt round-robin, so folds
/// differ in size by at most one.
fn assign_folds(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = (0..n)
        .map(|i| {
            (
                splitmix(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                i,
            )
        })
        .collect();
    order.sort_unstable();
    let mut folds = vec![0; n];
    for (position, (_, i)) in order.into_iter().enumerate() {
        folds[i] = position % k;
    }
    folds
}

/// splitmix64's output function.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fits on every fold but `fold` and scores `fold`.
fn score_fold(
    params: &Params,
    metric: Metric,
    inputs: &Inputs<'_>,
    folds: &[usize],
    fold: usize,
    threads: usize,
) -> anyhow::Result<f64> {
    let (fit_rows, held_rows): (Vec<usize>, Vec<usize>) = {
        let mut fit = Vec::new();
        let mut held = Vec::new();
        for (i, &row) in inputs.rows.iter().enumerate() {
            if folds[i] == fold {
                held.push(row);
            } else {
                fit.push(row);
            }
        }
        (fit, held)
    };
    let plan = inputs.plan;
    let pre = Preprocessor::fit(inputs.table, &plan.features, &fit_rows, plan.max_categories)?;
    let x_fit = pre.transform(inputs.table, &fit_rows)?;
    let x_held = pre.transform(inputs.table, &held_rows)?;
    let fit_x = Features {
        rows: fit_rows.len(),
        cols: pre.width(),
        values: &x_fit,
    };
    let held_x = Features {
        rows: held_rows.len(),
        cols: pre.width(),
        values: &x_held,
    };
    let value = match plan.task {
        TaskKind::Classification => {
            let k = inputs.classes.len();
            let labels = plan.encode_labels(inputs.table, &fit_rows, inputs.classes);
            let target = Target::Classes {
                labels: &labels,
                n_classes: k as u32,
            };
            let model = models::fit_with_threads(params, &fit_x, &target, plan.seed, threads)?;
            let Prediction::Classes { predicted, scores } = model.predict(&held_x)? else {
                anyhow::bail!("a classifier returned numbers");
            };
            let truth: Vec<usize> = plan
                .encode_labels(inputs.table, &held_rows, inputs.classes)
                .iter()
                .map(|&c| c as usize)
                .collect();
            let predicted: Vec<usize> = predicted.iter().map(|&c| c as usize).collect();
            metrics::compute(
                metric,
                &EvalData::Classification {
                    n_classes: k,
                    labels: &truth,
                    predicted: &predicted,
                    scores: scores.as_deref().and_then(|s| ScoreMatrix::new(s, k)),
                },
            )
        }
        TaskKind::Regression => {
            let y = plan.numeric_target(inputs.table, &fit_rows);
            let model =
                models::fit_with_threads(params, &fit_x, &Target::Values(&y), plan.seed, threads)?;
            let Prediction::Values(predicted) = model.predict(&held_x)? else {
                anyhow::bail!("a regressor returned classes");
            };
            let truth = plan.numeric_target(inputs.table, &held_rows);
            metrics::compute(
                metric,
                &EvalData::Regression {
                    y_true: &truth,
                    y_pred: &predicted,
                },
            )
        }
    };
    value.ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` is undefined on cross-validation fold {} (wrong task, or a class missing from the fold); choose another `model.grid.metric`",
            metric.name(),
            fold + 1
        )
    })
}

/// Mean.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Sample standard deviation (0 for one value).
fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

/// The best mean by the metric's direction; the first wins ties.
fn best_index(results: &[GridResult], higher_is_better: bool) -> usize {
    let mut best = 0;
    for (i, r) in results.iter().enumerate().skip(1) {
        let better = if higher_is_better {
            r.mean > results[best].mean
        } else {
            r.mean < results[best].mean
        };
        if better {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_the_sorted_cartesian_product() {
        let mut grid = BTreeMap::new();
        grid.insert("b".to_string(), vec![Value::from(1), Value::from(2)]);
        grid.insert(
            "a".to_string(),
            vec![Value::from("x"), Value::from("y"), Value::from("z")],
        );
        let combos = combinations(&grid);
        assert_eq!(combos.len(), 6);
        assert_eq!(combos[0]["a"], "x");
        assert_eq!(combos[0]["b"], 1);
        assert_eq!(combos[1]["a"], "x");
        assert_eq!(combos[1]["b"], 2);
        assert_eq!(combos[5]["a"], "z");
    }

    #[test]
    fn folds_are_balanced_and_seeded() {
        let folds = assign_folds(103, 5, 7);
        let mut sizes = [0; 5];
        for f in &folds {
            sizes[*f] += 1;
        }
        assert!(sizes.iter().all(|&s| s == 20 || s == 21), "{sizes:?}");
        assert_eq!(folds, assign_folds(103, 5, 7));
        assert_ne!(folds, assign_folds(103, 5, 8));
    }

    #[test]
    fn the_best_follows_the_metric_direction_and_ties_keep_the_first() {
        let result = |mean| GridResult {
            params: Map::new(),
            mean,
            std: 0.0,
        };
        let results = [result(0.5), result(0.9), result(0.9), result(0.1)];
        assert_eq!(best_index(&results, true), 1);
        assert_eq!(best_index(&results, false), 3);
    }
}
