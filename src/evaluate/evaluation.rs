//! One evaluation: the candidate's predictions, the champion's on the same rows, the paired
//! comparison of every metric, the gate rules and the slices -> `evaluation.json`.
//!
//! Both sides are aligned by id before anything is computed: the candidate's rows are the
//! evaluation set, and the champion must have scored every one of them (with the same label),
//! otherwise the comparison would not be paired and the statistics would be wrong. Classes are
//! the sorted union of every label, prediction and score column, so index 1 is the positive
//! class of a binary task (scikit-learn's `pos_label=1` on sorted labels).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::{GateConfig, Severity, TaskKind};
use crate::data::hash::FastHash;

use super::gate::{self, Comparison, Margin, OnInconclusive, RuleResult, Verdict};
use super::metrics::{self, EvalData, Metric, ScoreMatrix};
use super::paired;
use super::predictions::Predictions;

/// Rows: true class; columns: predicted class.
pub type ConfusionMatrix = Vec<Vec<u64>>;

/// Layout version of `evaluation.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// Up to this many evaluation rows every metric gets a bootstrap interval; above it only the
/// primary and the gated metrics do, so a million-row evaluation stays within seconds per
/// metric rather than minutes for all twenty.
pub const ALL_INTERVALS_MAX_ROWS: usize = 100_000;

/// Power at which the minimum detectable effect is reported.
pub const MDE_POWER: f64 = 0.8;

/// Rows whose predictions are compared, both sides aligned to the candidate's row order.
#[derive(Debug, Clone)]
pub enum Aligned {
    /// Class labels as indices into `classes`.
    Classification {
        /// Sorted class names.
        classes: Vec<String>,
        /// True class per row.
        labels: Vec<usize>,
        /// The candidate.
        candidate: ClassSide,
        /// The champion, when there is one.
        champion: Option<ClassSide>,
    },
    /// Numeric targets.
    Regression {
        /// True values.
        y: Vec<f64>,
        /// The candidate's predictions.
        candidate: Vec<f64>,
        /// The champion's, when there is one.
        champion: Option<Vec<f64>>,
    },
}

/// One classifier's predictions.
#[derive(Debug, Clone)]
pub struct ClassSide {
    /// Predicted class per row.
    pub predicted: Vec<usize>,
    /// Row-major probabilities over `classes`, when the file had a score for every class.
    pub scores: Option<Vec<f64>>,
}

/// A predictions file that cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlignError {
    /// The champion lacks rows the candidate has.
    #[error(
        "the champion's predictions `{source_name}` lack {missing} of the {total} evaluation rows (ids {examples}); both models must be scored on the same rows"
    )]
    MissingRows {
        /// The champion's file.
        source_name: String,
        /// How many.
        missing: usize,
        /// Rows in the evaluation set.
        total: usize,
        /// The first few ids.
        examples: String,
    },
    /// The two files disagree on a label.
    #[error(
        "id `{id}` has label `{candidate}` in the candidate's predictions but `{champion}` in the champion's; they were scored on different data"
    )]
    LabelMismatch {
        /// The row.
        id: String,
        /// Candidate's label.
        candidate: String,
        /// Champion's label.
        champion: String,
    },
    /// A regression label or prediction is not a number.
    #[error("`{source_name}`, row {row}, column `{column}`: `{value}` is not a number")]
    NotANumber {
        /// The file.
        source_name: String,
        /// 1-based row.
        row: usize,
        /// `label` or `prediction`.
        column: &'static str,
        /// The text.
        value: String,
    },
    /// Classification needs two classes.
    #[error(
        "the evaluation rows hold only the class `{0}`; a classifier cannot be judged on one class"
    )]
    OneClass(String),
}

/// Aligns the champion's rows to the candidate's and encodes labels.
pub fn align(
    task: TaskKind,
    candidate: &Predictions,
    champion: Option<&Predictions>,
) -> Result<Aligned, AlignError> {
    let order = match champion {
        Some(champion) => Some(champion_order(candidate, champion)?),
        None => None,
    };
    match task {
        TaskKind::Regression => {
            let y = numbers(candidate, "label", &candidate.labels)?;
            let cand = numbers(candidate, "prediction", &candidate.predicted)?;
            let champ = match (champion, &order) {
                (Some(champion), Some(order)) => {
                    let values = numbers(champion, "prediction", &champion.predicted)?;
                    Some(order.iter().map(|&i| values[i]).collect())
                }
                _ => None,
            };
            Ok(Aligned::Regression {
                y,
                candidate: cand,
                champion: champ,
            })
        }
        TaskKind::Classification => {
            let classes = class_names(candidate, champion);
            let index: ClassIndex<'_> = classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            let labels: Vec<usize> = candidate.labels.iter().map(|l| index[l.as_str()]).collect();
            let mut present = vec![false; classes.len()];
            for &label in &labels {
                present[label] = true;
            }
            if present.iter().filter(|&&p| p).count() < 2 {
                return Err(AlignError::OneClass(
                    candidate.labels.first().cloned().unwrap_or_default(),
                ));
            }
            let identity: Vec<usize> = (0..candidate.len()).collect();
            let cand = class_side(candidate, &identity, &classes, &index);
            let champ = match (champion, &order) {
                (Some(champion), Some(order)) => {
                    Some(class_side(champion, order, &classes, &index))
                }
                _ => None,
            };
            Ok(Aligned::Classification {
                classes,
                labels,
                candidate: cand,
                champion: champ,
            })
        }
    }
}

/// Class name to class code.
type ClassIndex<'a> = HashMap<&'a str, usize, FastHash>;

/// Every class named by a label, a prediction or a score column on either side, sorted.
fn class_names(candidate: &Predictions, champion: Option<&Predictions>) -> Vec<String> {
    let mut names: HashSet<&str, FastHash> = HashSet::default();
    for p in std::iter::once(candidate).chain(champion) {
        let mut previous = None;
        for name in p.labels.iter().chain(&p.predicted).chain(&p.score_classes) {
            // Neighbouring rows often share a class; skipping those spares most hash lookups.
            if previous != Some(name) {
                names.insert(name.as_str());
                previous = Some(name);
            }
        }
    }
    let mut classes: Vec<String> = names.into_iter().map(str::to_string).collect();
    classes.sort_unstable();
    classes
}

/// The identity order when both files list the same ids in the same order, as two models
/// scored on one evaluation split do: no table of a million ids is then needed. Ids are unique
/// within a file (reading refuses repeats), so this is the order the table would give.
fn same_order(
    candidate: &Predictions,
    champion: &Predictions,
) -> Result<Option<Vec<usize>>, AlignError> {
    if candidate.ids != champion.ids {
        return Ok(None);
    }
    let mismatch = candidate
        .labels
        .iter()
        .zip(&champion.labels)
        .position(|(a, b)| a != b);
    if let Some(i) = mismatch {
        return Err(AlignError::LabelMismatch {
            id: candidate.ids[i].clone(),
            candidate: candidate.labels[i].clone(),
            champion: champion.labels[i].clone(),
        });
    }
    Ok(Some((0..candidate.len()).collect()))
}

/// For each candidate row, the champion's row with the same id.
fn champion_order(
    candidate: &Predictions,
    champion: &Predictions,
) -> Result<Vec<usize>, AlignError> {
    if let Some(order) = same_order(candidate, champion)? {
        return Ok(order);
    }
    let mut by_id: HashMap<&str, usize, FastHash> =
        HashMap::with_capacity_and_hasher(champion.len(), FastHash::default());
    by_id.extend(
        champion
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i)),
    );
    let mut order = Vec::with_capacity(candidate.len());
    let mut missing = Vec::new();
    for (i, id) in candidate.ids.iter().enumerate() {
        match by_id.get(id.as_str()) {
            Some(&j) => {
                if champion.labels[j] != candidate.labels[i] {
                    return Err(AlignError::LabelMismatch {
                        id: id.clone(),
                        candidate: candidate.labels[i].clone(),
                        champion: champion.labels[j].clone(),
                    });
                }
                order.push(j);
            }
            None => missing.push(id.as_str()),
        }
    }
    if !missing.is_empty() {
        let mut examples: Vec<String> =
            missing.iter().take(3).map(|id| format!("`{id}`")).collect();
        if missing.len() > 3 {
            examples.push("...".into());
        }
        return Err(AlignError::MissingRows {
            source_name: champion.source.clone(),
            missing: missing.len(),
            total: candidate.len(),
            examples: examples.join(", "),
        });
    }
    Ok(order)
}

/// Parses a column of numbers.
fn numbers(
    p: &Predictions,
    column: &'static str,
    values: &[String],
) -> Result<Vec<f64>, AlignError> {
    values
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| AlignError::NotANumber {
                    source_name: p.source.clone(),
                    row: i + 1,
                    column,
                    value: text.clone(),
                })
        })
        .collect()
}

/// One classifier's predictions in candidate row order.
fn class_side(
    p: &Predictions,
    order: &[usize],
    classes: &[String],
    index: &ClassIndex<'_>,
) -> ClassSide {
    let predicted = order
        .iter()
        .map(|&i| index[p.predicted[i].as_str()])
        .collect();
    let k = p.score_classes.len();
    // Scores count only when every class has a column; otherwise score metrics are undefined.
    let columns: Option<Vec<usize>> = classes
        .iter()
        .map(|c| p.score_classes.iter().position(|s| s == c))
        .collect();
    let scores = columns.filter(|_| k > 0).map(|columns| {
        let mut out = Vec::with_capacity(order.len() * classes.len());
        for &i in order {
            out.extend(columns.iter().map(|&c| p.scores[i * k + c]));
        }
        out
    });
    ClassSide { predicted, scores }
}

impl Aligned {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Aligned::Classification { labels, .. } => labels.len(),
            Aligned::Regression { y, .. } => y.len(),
        }
    }

    /// Whether a champion is present.
    pub fn has_champion(&self) -> bool {
        match self {
            Aligned::Classification { champion, .. } => champion.is_some(),
            Aligned::Regression { champion, .. } => champion.is_some(),
        }
    }

    /// The metric input of the candidate (`champion == false`) or the champion.
    pub fn data(&self, champion: bool) -> Option<EvalData<'_>> {
        match self {
            Aligned::Classification {
                classes,
                labels,
                candidate,
                champion: champ,
            } => {
                let side = if champion { champ.as_ref()? } else { candidate };
                Some(EvalData::Classification {
                    n_classes: classes.len(),
                    labels,
                    predicted: &side.predicted,
                    scores: side
                        .scores
                        .as_deref()
                        .and_then(|s| ScoreMatrix::new(s, classes.len())),
                })
            }
            Aligned::Regression {
                y,
                candidate,
                champion: champ,
            } => Some(EvalData::Regression {
                y_true: y,
                y_pred: if champion { champ.as_ref()? } else { candidate },
            }),
        }
    }

    /// The same alignment restricted to `rows` (for slices).
    pub fn subset(&self, rows: &[usize]) -> Aligned {
        let pick_usize = |v: &[usize]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let pick_f64 = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        match self {
            Aligned::Classification {
                classes,
                labels,
                candidate,
                champion,
            } => {
                let k = classes.len();
                let side = |s: &ClassSide| ClassSide {
                    predicted: pick_usize(&s.predicted),
                    scores: s.scores.as_ref().map(|scores| {
                        rows.iter()
                            .flat_map(|&i| scores[i * k..(i + 1) * k].iter().copied())
                            .collect()
                    }),
                };
                Aligned::Classification {
                    classes: classes.clone(),
                    labels: pick_usize(labels),
                    candidate: side(candidate),
                    champion: champion.as_ref().map(side),
                }
            }
            Aligned::Regression {
                y,
                candidate,
                champion,
            } => Aligned::Regression {
                y: pick_f64(y),
                candidate: pick_f64(candidate),
                champion: champion.as_deref().map(pick_f64),
            },
        }
    }
}

/// The bootstrap settings, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSettings {
    /// Resamples (B).
    pub resamples: usize,
    /// Seed.
    pub seed: u64,
    /// Two-sided confidence level.
    pub confidence: f64,
}

/// A significance test beside the bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// `mcnemar_exact_midp` or `delong`.
    pub name: String,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Test detail (discordant counts, standard error).
    pub detail: String,
}

/// One metric on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// The metric.
    pub metric: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
    /// The candidate's value.
    pub candidate: f64,
    /// The champion's value.
    pub champion: Option<f64>,
    /// `candidate − champion`.
    pub delta: Option<f64>,
    /// Paired bootstrap interval of the delta.
    pub ci_low: Option<f64>,
    /// Upper bound of that interval.
    pub ci_high: Option<f64>,
    /// Bootstrap standard error of the delta.
    pub std_error: Option<f64>,
    /// Minimum detectable effect at 80% power.
    pub mde: Option<f64>,
    /// McNemar for accuracy, DeLong for binary ROC AUC.
    pub test: Option<TestResult>,
    /// Better, worse or no significant change: `better`, `worse`, `unchanged`.
    pub change: Option<String>,
}

/// A property of the model rather than of its predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationalMetric {
    /// `artifact_bytes`, `training_seconds` or `prediction_rows_per_second`.
    pub metric: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// The champion's value.
    pub champion: Option<f64>,
}

/// One slice's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceResult {
    /// The column.
    pub column: String,
    /// The value (empty for missing).
    pub value: String,
    /// Evaluation rows in the slice.
    pub rows: usize,
    /// The primary metric's candidate value.
    pub candidate: Option<f64>,
    /// The champion's value.
    pub champion: Option<f64>,
    /// `candidate − champion`.
    pub delta: Option<f64>,
    /// Paired interval of the delta.
    pub ci_low: Option<f64>,
    /// Upper bound.
    pub ci_high: Option<f64>,
    /// One-sided p-value of a regression beyond the margin, before correction.
    pub p_value: Option<f64>,
    /// Holm-adjusted p-value.
    pub p_holm: Option<f64>,
    /// Whether the slice regressed significantly after correction.
    pub regressed: bool,
}

/// All slices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slices {
    /// The metric compared per slice.
    pub metric: String,
    /// Smallest slice evaluated.
    pub min_rows: usize,
    /// Evaluated slices.
    pub evaluated: Vec<SliceResult>,
    /// Slices below `min_rows`: column, value, rows.
    pub skipped: Vec<SkippedSlice>,
    /// Severity of a regressed slice.
    pub severity: Severity,
}

/// A slice too small to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSlice {
    /// The column.
    pub column: String,
    /// The value.
    pub value: String,
    /// Its rows.
    pub rows: usize,
}

/// Values of the slice columns for each evaluation row (candidate order).
#[derive(Debug, Clone, Default)]
pub struct SliceColumns {
    /// Column name and per-row value (`None` when missing).
    pub columns: Vec<(String, Vec<Option<String>>)>,
}

/// `evaluation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Layout version.
    pub schema_version: u32,
    /// Classification or regression.
    pub task: TaskKind,
    /// Evaluation rows.
    pub rows: usize,
    /// Classes (classification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// xxh3-128 of the sorted `(id, label)` pairs: identifies the evaluation set.
    pub eval_set_hash: String,
    /// Where the candidate's predictions came from.
    pub candidate_source: String,
    /// Where the champion's came from, if any.
    pub champion_source: Option<String>,
    /// Which champion, and whether it was scored on this evaluation set (`rescored`) or only
    /// its recorded metrics were compared (`null`: no champion).
    pub champion: Option<ChampionInfo>,
    /// The gate's headline metric.
    pub primary: String,
    /// Every metric defined for the task.
    pub metrics: Vec<MetricComparison>,
    /// Artifact size, training time and prediction speed, from the model manifests.
    pub operational: Vec<OperationalMetric>,
    /// Candidate confusion matrix (rows: true class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<ConfusionMatrix>,
    /// Champion confusion matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion_confusion_matrix: Option<ConfusionMatrix>,
    /// How the intervals were made.
    pub bootstrap: BootstrapSettings,
    /// Each rule's verdict.
    pub rules: Vec<RuleResult>,
    /// Slices, when configured.
    pub slices: Option<Slices>,
    /// What inconclusive means for this gate.
    pub on_inconclusive: OnInconclusive,
    /// The gate's verdict before the inconclusive policy.
    pub verdict: Verdict,
    /// Whether the gate lets the candidate through.
    pub passed: bool,
    /// Things the reader must know (no champion, rules skipped, metrics undefined).
    pub notes: Vec<String>,
}

/// Everything [`evaluate`] needs besides the predictions.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Classification or regression.
    pub task: TaskKind,
    /// The gate.
    pub gate: GateConfig,
    /// Bootstrap threads (results do not depend on it).
    pub threads: usize,
}

/// Which champion an evaluation compared against, for the report to label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChampionInfo {
    /// `path` (given with `--baseline`), `cache`, `release`, or `recorded` (metrics only).
    pub source: String,
    /// The champion's version tag, when it came from the registry.
    pub tag: Option<String>,
    /// Whether its values were measured on this evaluation set.
    pub rescored: bool,
    /// What the reader must know about the comparison.
    pub note: Option<String>,
}

/// A champion known only by the metrics its tag recorded, measured on its own evaluation set.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedChampion {
    /// Its version tag.
    pub tag: String,
    /// Its metrics by name.
    pub metrics: BTreeMap<String, f64>,
}

/// The note every comparison against recorded metrics carries.
fn recorded_note(tag: &str) -> String {
    format!(
        "the champion {tag} was not re-scored on this evaluation set: its values are the metrics recorded when it was promoted, on its own evaluation set, so there are no paired intervals and regression rules compare point values only"
    )
}

/// The other side of a comparison.
#[derive(Debug, Clone, Copy)]
pub enum ChampionInput<'a> {
    /// No champion: absolute bounds only.
    None,
    /// The champion's predictions on this evaluation set.
    Predictions(&'a Predictions),
    /// Only the champion's recorded metrics.
    Recorded(&'a RecordedChampion),
}

/// Runs the evaluation against a champion's predictions, or none.
pub fn evaluate(
    settings: &Settings,
    candidate: &Predictions,
    champion: Option<&Predictions>,
    slices: &SliceColumns,
) -> Result<Evaluation, AlignError> {
    let input = champion.map_or(ChampionInput::None, ChampionInput::Predictions);
    evaluate_with(settings, candidate, input, slices)
}

/// Runs the evaluation against any kind of champion.
pub fn evaluate_with(
    settings: &Settings,
    candidate: &Predictions,
    champion_input: ChampionInput<'_>,
    slices: &SliceColumns,
) -> Result<Evaluation, AlignError> {
    let (champion, recorded) = match champion_input {
        ChampionInput::None => (None, None),
        ChampionInput::Predictions(p) => (Some(p), None),
        ChampionInput::Recorded(r) => (None, Some(r)),
    };
    let aligned = align(settings.task, candidate, champion)?;
    let gate = &settings.gate;
    let bootstrap = BootstrapSettings {
        resamples: gate.bootstrap.resamples,
        seed: gate.bootstrap.seed,
        confidence: gate.bootstrap.confidence,
    };
    let primary = primary_metric(settings.task, gate, &aligned);
    let mut notes = Vec::new();
    let gated: Vec<Metric> = std::iter::once(primary)
        .chain(gate.rules.iter().map(|r| r.metric))
        .collect();
    let all_intervals = aligned.rows() <= ALL_INTERVALS_MAX_ROWS;
    if !all_intervals && aligned.has_champion() {
        notes.push(format!(
            "{} evaluation rows: confidence intervals are computed for the primary metric and the gated ones only",
            aligned.rows()
        ));
    }
    let mut metrics = compare_all(&aligned, &bootstrap, settings.threads, |m| {
        all_intervals || gated.contains(&m)
    });
    if let Some(recorded) = recorded {
        fill_recorded(&mut metrics, recorded);
    }
    let rules = judge_rules(gate, &aligned, recorded, &metrics, &mut notes);
    let slices = gate.slices.as_ref().map(|s| {
        judge_slices(
            s,
            slices,
            &aligned,
            primary,
            gate,
            &bootstrap,
            settings.threads,
        )
    });
    let mut verdict = rules
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    if let Some(s) = &slices {
        let regressed = s.evaluated.iter().filter(|r| r.regressed).count();
        if regressed > 0 {
            notes.push(format!(
                "{regressed} slice(s) regressed significantly on {} after Holm correction",
                s.metric
            ));
            if s.severity == Severity::Error {
                verdict = Verdict::Fail;
            }
        }
    }
    if let Some(recorded) = recorded {
        notes.insert(0, recorded_note(&recorded.tag));
    } else if !aligned.has_champion() {
        notes.insert(
            0,
            "no champion: this first model is judged by absolute bounds only".into(),
        );
    }
    let resolved = gate::resolve(verdict, gate.on_inconclusive);
    let (confusion_matrix, champion_confusion_matrix) = confusion(&aligned);
    Ok(Evaluation {
        schema_version: SCHEMA_VERSION,
        task: settings.task,
        rows: aligned.rows(),
        classes: match &aligned {
            Aligned::Classification { classes, .. } => classes.clone(),
            Aligned::Regression { .. } => Vec::new(),
        },
        eval_set_hash: eval_set_hash(candidate),
        candidate_source: candidate.source.clone(),
        champion_source: champion
            .map(|c| c.source.clone())
            .or_else(|| recorded.map(|r| format!("metrics recorded in {}", r.tag))),
        champion: match champion_input {
            ChampionInput::None => None,
            ChampionInput::Predictions(_) => Some(ChampionInfo {
                source: "path".into(),
                tag: None,
                rescored: true,
                note: None,
            }),
            ChampionInput::Recorded(r) => Some(ChampionInfo {
                source: "recorded".into(),
                tag: Some(r.tag.clone()),
                rescored: false,
                note: Some(recorded_note(&r.tag)),
            }),
        },
        primary: primary.name().to_string(),
        metrics,
        operational: Vec::new(),
        confusion_matrix,
        champion_confusion_matrix,
        bootstrap,
        rules,
        slices,
        on_inconclusive: gate.on_inconclusive,
        verdict,
        passed: resolved != Verdict::Fail,
        notes,
    })
}

/// The configured primary metric, else the first rule's, else a sensible default that is
/// defined for the data.
fn primary_metric(task: TaskKind, gate: &GateConfig, aligned: &Aligned) -> Metric {
    if let Some(metric) = gate
        .primary
        .or_else(|| gate.rules.first().map(|r| r.metric))
    {
        return metric;
    }
    match (task, aligned) {
        (TaskKind::Regression, _) => Metric::Rmse,
        (TaskKind::Classification, Aligned::Classification { classes, .. })
            if classes.len() == 2 =>
        {
            Metric::F1
        }
        _ => Metric::F1Macro,
    }
}

/// Every metric defined for the candidate, with the paired comparison when there is a champion.
fn compare_all(
    aligned: &Aligned,
    bootstrap: &BootstrapSettings,
    threads: usize,
    wants_interval: impl Fn(Metric) -> bool,
) -> Vec<MetricComparison> {
    let Some(candidate) = aligned.data(false) else {
        return Vec::new();
    };
    let champion = aligned.data(true);
    let points = point_values(&candidate, champion.as_ref(), threads);
    Metric::ALL
        .iter()
        .zip(points)
        .filter_map(|(&metric, (value, champion_value))| {
            let mut comparison = compare_one(
                metric,
                (value?, champion_value),
                &candidate,
                champion.as_ref(),
                (wants_interval(metric)).then_some(bootstrap),
                threads,
            );
            comparison.test = comparison.test.take().filter(|_| wants_interval(metric));
            Some(comparison)
        })
        .collect()
}

/// Each of [`Metric::ALL`] on the candidate and on the champion, computed on up to `threads`
/// threads: a dozen metrics over two sides of a million rows each add up to a second alone.
fn point_values(
    candidate: &EvalData<'_>,
    champion: Option<&EvalData<'_>>,
    threads: usize,
) -> Vec<(Option<f64>, Option<f64>)> {
    let sides: Vec<&EvalData<'_>> = std::iter::once(candidate).chain(champion).collect();
    let values = paired::in_parallel(
        Metric::ALL.len() * sides.len(),
        threads,
        || (),
        |i, _| metrics::compute(Metric::ALL[i / sides.len()], sides[i % sides.len()]),
    );
    values
        .chunks(sides.len())
        .map(|pair| (pair[0], pair.get(1).copied().flatten()))
        .collect()
}

/// Puts a recorded champion's values beside the candidate's: point values and deltas only.
fn fill_recorded(metrics: &mut [MetricComparison], recorded: &RecordedChampion) {
    for m in metrics.iter_mut() {
        if let Some(&value) = recorded.metrics.get(&m.metric) {
            m.champion = Some(value);
            m.delta = Some(m.candidate - value);
        }
    }
}

/// One metric's comparison, from its point values on the candidate and, where defined, the
/// champion.
fn compare_one(
    metric: Metric,
    (value, champion_value): (f64, Option<f64>),
    candidate: &EvalData<'_>,
    champion: Option<&EvalData<'_>>,
    bootstrap: Option<&BootstrapSettings>,
    threads: usize,
) -> MetricComparison {
    let mut out = MetricComparison {
        metric: metric.name().to_string(),
        higher_is_better: metric.higher_is_better(),
        candidate: value,
        champion: None,
        delta: None,
        ci_low: None,
        ci_high: None,
        std_error: None,
        mde: None,
        test: None,
        change: None,
    };
    let (Some(champion), Some(champion_value)) = (champion, champion_value) else {
        return out;
    };
    out.champion = Some(champion_value);
    out.delta = Some(value - champion_value);
    let Some(bootstrap) = bootstrap else {
        return out;
    };
    let result = paired::paired_bootstrap_with_threads(
        metric,
        champion,
        candidate,
        bootstrap.resamples,
        bootstrap.seed,
        bootstrap.confidence,
        threads,
    );
    if let Some(b) = result {
        out.ci_low = Some(b.ci_low);
        out.ci_high = Some(b.ci_high);
        out.std_error = Some(b.std_error);
        out.mde = Some(paired::minimum_detectable_effect(
            b.std_error,
            1.0 - bootstrap.confidence,
            MDE_POWER,
        ))
        .filter(|m| m.is_finite());
        let better = if metric.higher_is_better() {
            b.ci_low > 0.0
        } else {
            b.ci_high < 0.0
        };
        let worse = if metric.higher_is_better() {
            b.ci_high < 0.0
        } else {
            b.ci_low > 0.0
        };
        out.change = Some(
            match (better, worse) {
                (true, _) => "better",
                (_, true) => "worse",
                _ => "unchanged",
            }
            .to_string(),
        );
    }
    out.test = significance_test(metric, candidate, champion);
    out
}

/// McNemar's exact mid-p test for accuracy, DeLong's for binary ROC AUC.
fn significance_test(
    metric: Metric,
    candidate: &EvalData<'_>,
    champion: &EvalData<'_>,
) -> Option<TestResult> {
    let (
        EvalData::Classification {
            n_classes,
            labels,
            predicted: cand,
            scores: cand_scores,
        },
        EvalData::Classification {
            predicted: champ,
            scores: champ_scores,
            ..
        },
    ) = (candidate, champion)
    else {
        return None;
    };
    match metric {
        Metric::Accuracy => {
            // b01: champion wrong, candidate right; b10: champion right, candidate wrong.
            let (mut b01, mut b10) = (0u64, 0u64);
            for ((l, c), h) in labels.iter().zip(*cand).zip(*champ) {
                match (h == l, c == l) {
                    (false, true) => b01 += 1,
                    (true, false) => b10 += 1,
                    _ => {}
                }
            }
            let r = paired::mcnemar_exact_midp(b01, b10);
            Some(TestResult {
                name: "mcnemar_exact_midp".into(),
                p_value: r.p_value_mid,
                detail: format!(
                    "{b01} rows only the candidate gets right, {b10} only the champion"
                ),
            })
        }
        Metric::RocAuc if *n_classes == 2 => {
            let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
            let column = |s: &ScoreMatrix<'_>| -> Vec<f64> {
                (0..s.n_rows())
                    .filter_map(|i| s.row(i).map(|r| r[1]))
                    .collect()
            };
            let r = paired::delong_test(
                &positive,
                &column(champ_scores.as_ref()?),
                &column(cand_scores.as_ref()?),
            )?;
            Some(TestResult {
                name: "delong".into(),
                p_value: r.p_value,
                detail: format!("standard error {:.4}", r.se),
            })
        }
        _ => None,
    }
}

/// Judges every rule.
fn judge_rules(
    gate: &GateConfig,
    aligned: &Aligned,
    recorded: Option<&RecordedChampion>,
    metrics: &[MetricComparison],
    notes: &mut Vec<String>,
) -> Vec<RuleResult> {
    let mut out = Vec::new();
    for rule in &gate.rules {
        let found = metrics.iter().find(|m| m.metric == rule.metric.name());
        if rule.min.is_some() || rule.max.is_some() {
            out.push(match found {
                Some(m) => gate::judge_bound(rule.metric, rule.min, rule.max, m.candidate),
                None => undefined_rule(rule.metric),
            });
        }
        let margin = match (rule.max_regression, rule.max_relative_regression) {
            (Some(m), _) => Margin::Absolute(m),
            (None, Some(share)) => Margin::Relative(share),
            (None, None) => continue,
        };
        if let Some(recorded) = recorded {
            out.push(judge_recorded_rule(
                rule.metric,
                margin,
                recorded,
                found,
                notes,
            ));
            continue;
        }
        if !aligned.has_champion() {
            notes.push(format!(
                "the regression rule on {} was skipped: there is no champion yet",
                rule.metric.name()
            ));
            continue;
        }
        let comparison = found.and_then(|m| {
            Some(Comparison {
                champion: m.champion?,
                candidate: m.candidate,
                ci_low: m.ci_low?,
                ci_high: m.ci_high?,
                mde: m.mde,
            })
        });
        out.push(match comparison {
            Some(c) => gate::judge_regression(rule.metric, margin, &c),
            None => undefined_rule(rule.metric),
        });
    }
    out
}

/// A regression rule against recorded metrics: point values only; a metric the champion did not
/// record cannot be compared, which fails the rule like any rule that cannot be checked.
fn judge_recorded_rule(
    metric: Metric,
    margin: Margin,
    recorded: &RecordedChampion,
    found: Option<&MetricComparison>,
    notes: &mut Vec<String>,
) -> RuleResult {
    let Some(candidate) = found.map(|m| m.candidate) else {
        return undefined_rule(metric);
    };
    match recorded.metrics.get(metric.name()) {
        Some(&champion) => gate::judge_regression_point(metric, margin, champion, candidate),
        None => {
            notes.push(format!(
                "the champion {} recorded no {}, so its regression rule cannot be checked",
                recorded.tag,
                metric.name()
            ));
            undefined_rule(metric)
        }
    }
}

/// A rule whose metric cannot be computed on this data fails: a gate that cannot be checked
/// must not let a model through (a trainer that forgot its score columns, say).
fn undefined_rule(metric: Metric) -> RuleResult {
    let name = metric.name();
    RuleResult {
        metric: name.to_string(),
        rule: format!("{name} (undefined)"),
        verdict: Verdict::Fail,
        message: format!(
            "{name} cannot be computed for these predictions (wrong task, no `score_<class>` column for every class, or a class missing), so the rule cannot pass"
        ),
    }
}

/// The margin of the primary metric's regression rule, in its units, if there is one.
fn primary_margin(gate: &GateConfig, primary: Metric, champion_value: f64) -> f64 {
    gate.rules
        .iter()
        .filter(|r| r.metric == primary)
        .find_map(|r| match (r.max_regression, r.max_relative_regression) {
            (Some(m), _) => Some(Margin::Absolute(m)),
            (None, Some(s)) => Some(Margin::Relative(s)),
            _ => None,
        })
        .map_or(0.0, |m| m.allowed(champion_value))
}

/// Per-slice metrics, with Holm-corrected regression tests when there is a champion.
fn judge_slices(
    config: &crate::config::SliceConfig,
    columns: &SliceColumns,
    aligned: &Aligned,
    primary: Metric,
    gate: &GateConfig,
    bootstrap: &BootstrapSettings,
    threads: usize,
) -> Slices {
    let mut evaluated = Vec::new();
    let mut skipped = Vec::new();
    for (column, values) in &columns.columns {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (row, value) in values.iter().enumerate() {
            groups
                .entry(value.clone().unwrap_or_default())
                .or_default()
                .push(row);
        }
        for (value, rows) in groups {
            if rows.len() < config.min_rows {
                skipped.push(SkippedSlice {
                    column: column.clone(),
                    value,
                    rows: rows.len(),
                });
                continue;
            }
            let sub = aligned.subset(&rows);
            evaluated.push(slice_result(
                column, value, &sub, primary, gate, bootstrap, threads,
            ));
        }
    }
    holm(&mut evaluated, 1.0 - bootstrap.confidence);
    Slices {
        metric: primary.name().to_string(),
        min_rows: config.min_rows,
        evaluated,
        skipped,
        severity: config.severity,
    }
}

/// One slice: values, the paired interval, and the one-sided p-value of a regression beyond
/// the primary rule's margin (normal approximation with the bootstrap standard error).
fn slice_result(
    column: &str,
    value: String,
    sub: &Aligned,
    primary: Metric,
    gate: &GateConfig,
    bootstrap: &BootstrapSettings,
    threads: usize,
) -> SliceResult {
    let mut out = SliceResult {
        column: column.to_string(),
        value,
        rows: sub.rows(),
        candidate: None,
        champion: None,
        delta: None,
        ci_low: None,
        ci_high: None,
        p_value: None,
        p_holm: None,
        regressed: false,
    };
    let Some(candidate) = sub.data(false) else {
        return out;
    };
    out.candidate = metrics::compute(primary, &candidate);
    let Some(value) = out.candidate else {
        return out;
    };
    let champion = sub.data(true);
    let champion_value = champion.as_ref().and_then(|c| metrics::compute(primary, c));
    let c = compare_one(
        primary,
        (value, champion_value),
        &candidate,
        champion.as_ref(),
        Some(bootstrap),
        threads,
    );
    out.champion = c.champion;
    out.delta = c.delta;
    out.ci_low = c.ci_low;
    out.ci_high = c.ci_high;
    if let (Some(champion_value), Some(delta), Some(se)) = (c.champion, c.delta, c.std_error) {
        let allowed = primary_margin(gate, primary, champion_value);
        let improvement = if primary.higher_is_better() {
            delta
        } else {
            -delta
        };
        out.p_value = Some(if se > 0.0 {
            paired::normal_sf(-(improvement + allowed) / se)
        } else if improvement + allowed < 0.0 {
            0.0
        } else {
            1.0
        });
    }
    out
}

/// Holm's step-down correction over the slices that have a p-value; marks the regressed ones.
fn holm(slices: &mut [SliceResult], alpha: f64) {
    let mut order: Vec<usize> = (0..slices.len())
        .filter(|&i| slices[i].p_value.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        slices[a]
            .p_value
            .unwrap_or(1.0)
            .total_cmp(&slices[b].p_value.unwrap_or(1.0))
            .then(a.cmp(&b))
    });
    let m = order.len();
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let p = slices[i].p_value.unwrap_or(1.0);
        running = running.max(((m - rank) as f64 * p).min(1.0));
        slices[i].p_holm = Some(running);
        slices[i].regressed = running < alpha;
    }
}

/// Confusion matrices of both sides.
fn confusion(aligned: &Aligned) -> (Option<ConfusionMatrix>, Option<ConfusionMatrix>) {
    match aligned {
        Aligned::Classification {
            classes,
            labels,
            candidate,
            champion,
        } => (
            metrics::confusion_matrix(labels, &candidate.predicted, classes.len()),
            champion
                .as_ref()
                .and_then(|c| metrics::confusion_matrix(labels, &c.predicted, classes.len())),
        ),
        Aligned::Regression { .. } => (None, None),
    }
}

/// Hex xxh3-128 of the `(id, label)` pairs sorted by id.
pub fn eval_set_hash(p: &Predictions) -> String {
    // The first eight bytes of the id as a big-endian integer (zero-padded: zero is the
    // smallest byte) order pairs as the strings do and decide most comparisons without
    // `memcmp`; the strings break ties.
    let prefix = |id: &str| {
        let mut head = [0u8; 8];
        let len = id.len().min(8);
        head[..len].copy_from_slice(&id.as_bytes()[..len]);
        u64::from_be_bytes(head)
    };
    let mut pairs: Vec<(u64, &str, &str)> = p
        .ids
        .iter()
        .zip(&p.labels)
        .map(|(i, l)| (prefix(i), i.as_str(), l.as_str()))
        .collect();
    pairs.sort_unstable();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (_, id, label) in pairs {
        hasher.update(id.as_bytes());
        hasher.update(b"\x1f");
        hasher.update(label.as_bytes());
        hasher.update(b"\x1e");
    }
    format!("{:032x}", hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash is that of the pairs in plain string order, whatever the ids' lengths, shared
    /// prefixes or non-ASCII bytes, and whatever order the rows come in.
    #[test]
    fn eval_set_hash_orders_ids_as_strings_do() {
        let ids = [
            "b",
            "a",
            "ab",
            "abcdefgh",
            "abcdefgh1",
            "abcdefgh\u{0}",
            "abcdefgi",
            "é",
            "e",
            "",
            "a\u{1}",
            "10",
            "9",
            "100000000",
            "99999999",
        ];
        let predictions = |order: &[usize]| Predictions {
            source: "p".into(),
            ids: order.iter().map(|&i| ids[i].to_string()).collect(),
            labels: order.iter().map(|&i| format!("l{}", i % 3)).collect(),
            predicted: order.iter().map(|_| "x".to_string()).collect(),
            score_classes: Vec::new(),
            scores: Vec::new(),
        };
        let forward: Vec<usize> = (0..ids.len()).collect();
        let backward: Vec<usize> = forward.iter().rev().copied().collect();
        let p = predictions(&forward);
        let mut pairs: Vec<(&str, &str)> = p
            .ids
            .iter()
            .zip(&p.labels)
            .map(|(i, l)| (i.as_str(), l.as_str()))
            .collect();
        pairs.sort_unstable();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (id, label) in pairs {
            hasher.update(id.as_bytes());
            hasher.update(b"\x1f");
            hasher.update(label.as_bytes());
            hasher.update(b"\x1e");
        }
        let plain = format!("{:032x}", hasher.digest128());
        assert_eq!(eval_set_hash(&p), plain);
        assert_eq!(eval_set_hash(&predictions(&backward)), plain);
    }

    /// A gate from YAML.
    fn gate(yaml: &str) -> GateConfig {
        serde_norway::from_str(yaml).expect("gate parses")
    }

    /// Settings for a classification gate.
    fn settings(yaml: &str) -> Settings {
        Settings {
            task: TaskKind::Classification,
            gate: gate(yaml),
            threads: 2,
        }
    }

    /// Binary predictions: `labels[i]` true, `correct[i]` whether the model got row i right.
    fn binary(source: &str, labels: &[bool], correct: &[bool]) -> Predictions {
        let name = |b: bool| if b { "yes" } else { "no" }.to_string();
        let predicted = labels
            .iter()
            .zip(correct)
            .map(|(&l, &c)| name(if c { l } else { !l }))
            .collect();
        // Confident when the model says yes and varied, so ROC AUC is defined and not trivial.
        let scores = labels
            .iter()
            .zip(correct)
            .enumerate()
            .flat_map(|(i, (&l, &c))| {
                let says_yes = if c { l } else { !l };
                let confidence = 0.6 + 0.3 * ((i % 5) as f64 / 5.0);
                let yes = if says_yes {
                    confidence
                } else {
                    1.0 - confidence
                };
                [1.0 - yes, yes]
            })
            .collect();
        Predictions {
            source: source.into(),
            ids: (0..labels.len()).map(|i| format!("r{i}")).collect(),
            labels: labels.iter().map(|&l| name(l)).collect(),
            predicted,
            score_classes: vec!["no".into(), "yes".into()],
            scores,
        }
    }

    /// `n` labels alternating in a fixed pattern, and which rows a model with the given error
    /// period gets wrong (every `period`-th row, shifted).
    fn rows(n: usize, wrong_every: usize, shift: usize) -> (Vec<bool>, Vec<bool>) {
        let labels = (0..n).map(|i| (i * 7 + 3) % 5 < 2).collect();
        let correct = (0..n)
            .map(|i| !(i + shift).is_multiple_of(wrong_every))
            .collect();
        (labels, correct)
    }

    const GATE: &str = "rules:\n  - { metric: accuracy, min: 0.6 }\n  - { metric: accuracy, max_regression: 0.02 }\nbootstrap: { resamples: 500, seed: 7 }\n";

    #[test]
    fn an_identical_model_passes_as_non_inferior() {
        let (labels, correct) = rows(400, 8, 0);
        let champion = binary("champion.csv", &labels, &correct);
        let candidate = binary("candidate.csv", &labels, &correct);
        let e = evaluate(
            &settings(GATE),
            &candidate,
            Some(&champion),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        assert_eq!(e.verdict, Verdict::Pass, "{:#?}", e.rules);
        assert!(e.passed);
        let accuracy = e
            .metrics
            .iter()
            .find(|m| m.metric == "accuracy")
            .expect("accuracy");
        assert_eq!(accuracy.delta, Some(0.0));
        assert_eq!(accuracy.change.as_deref(), Some("unchanged"));
        assert_eq!(accuracy.test.as_ref().map(|t| t.p_value), Some(1.0));
    }

    #[test]
    fn a_known_worse_model_fails_and_says_by_how_much() {
        let (labels, good) = rows(2000, 10, 0);
        let (_, bad) = rows(2000, 4, 1);
        let champion = binary("champion.csv", &labels, &good);
        let candidate = binary("candidate.csv", &labels, &bad);
        let e = evaluate(
            &settings(GATE),
            &candidate,
            Some(&champion),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        assert_eq!(e.verdict, Verdict::Fail);
        assert!(!e.passed);
        let rule = e
            .rules
            .iter()
            .find(|r| r.rule.contains("regression"))
            .expect("rule");
        assert_eq!(rule.verdict, Verdict::Fail);
        assert!(
            rule.message.contains("worse, beyond the allowed 0.0200"),
            "{}",
            rule.message
        );
        let accuracy = e
            .metrics
            .iter()
            .find(|m| m.metric == "accuracy")
            .expect("accuracy");
        assert_eq!(accuracy.change.as_deref(), Some("worse"));
        assert!(accuracy.test.as_ref().expect("mcnemar").p_value < 1e-6);
    }

    #[test]
    fn a_tiny_eval_set_is_inconclusive_and_the_policy_decides() {
        let (labels, good) = rows(24, 6, 0);
        let (_, other) = rows(24, 5, 2);
        let champion = binary("champion.csv", &labels, &good);
        let candidate = binary("candidate.csv", &labels, &other);
        let e = evaluate(
            &settings(GATE),
            &candidate,
            Some(&champion),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        assert_eq!(e.verdict, Verdict::Inconclusive, "{:#?}", e.rules);
        assert!(e.passed, "on_inconclusive defaults to warn");
        let rule = e
            .rules
            .iter()
            .find(|r| r.verdict == Verdict::Inconclusive)
            .expect("rule");
        assert!(rule.message.contains("smallest effect"), "{}", rule.message);
        let strict = format!("{GATE}on_inconclusive: fail\n");
        let e = evaluate(
            &settings(&strict),
            &candidate,
            Some(&champion),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        assert!(!e.passed);
    }

    #[test]
    fn without_a_champion_only_bounds_count_and_the_report_says_so() {
        let (labels, correct) = rows(200, 3, 0);
        let candidate = binary("candidate.csv", &labels, &correct);
        let e = evaluate(&settings(GATE), &candidate, None, &SliceColumns::default())
            .expect("evaluates");
        assert_eq!(e.rules.len(), 1);
        assert!(e.notes[0].contains("no champion"), "{:?}", e.notes);
        assert!(
            e.notes.iter().any(|n| n.contains("skipped")),
            "{:?}",
            e.notes
        );
        assert!(e.champion_source.is_none() && e.champion.is_none());
        assert!(e.metrics.iter().all(|m| m.delta.is_none()));
    }

    #[test]
    fn recorded_champion_metrics_are_compared_on_point_values_and_labelled() {
        let (labels, correct) = rows(200, 3, 0);
        let candidate = binary("candidate.csv", &labels, &correct);
        let accuracy = evaluate(&settings(GATE), &candidate, None, &SliceColumns::default())
            .expect("evaluates")
            .metrics
            .iter()
            .find(|m| m.metric == "accuracy")
            .expect("accuracy")
            .candidate;
        let judge = |champion: f64| {
            let recorded = RecordedChampion {
                tag: "churn@v1.2.0".into(),
                metrics: [("accuracy".to_string(), champion)].into_iter().collect(),
            };
            evaluate_with(
                &settings(GATE),
                &candidate,
                ChampionInput::Recorded(&recorded),
                &SliceColumns::default(),
            )
            .expect("evaluates")
        };
        // Within the 0.02 margin: passes, on point values, with no interval.
        let e = judge(accuracy + 0.01);
        assert!(e.passed, "{:?}", e.rules);
        assert_eq!(e.rules.len(), 2);
        assert!(e.rules[1].rule.contains("point values"), "{:?}", e.rules[1]);
        let m = e.metrics.iter().find(|m| m.metric == "accuracy").unwrap();
        assert_eq!(m.champion, Some(accuracy + 0.01));
        assert!(m.ci_low.is_none() && m.change.is_none());
        assert!(e.notes[0].contains("not re-scored"), "{:?}", e.notes);
        let info = e.champion.as_ref().expect("champion info");
        assert_eq!((info.source.as_str(), info.rescored), ("recorded", false));
        assert_eq!(info.tag.as_deref(), Some("churn@v1.2.0"));
        // Beyond it: fails.
        let e = judge(accuracy + 0.05);
        assert!(!e.passed);
        assert_eq!(e.rules[1].verdict, Verdict::Fail);
        // A metric the champion never recorded fails its regression rule.
        let recorded = RecordedChampion {
            tag: "churn@v1.2.0".into(),
            metrics: BTreeMap::new(),
        };
        let e = evaluate_with(
            &settings(GATE),
            &candidate,
            ChampionInput::Recorded(&recorded),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        assert_eq!(e.rules[1].verdict, Verdict::Fail);
        assert!(
            e.notes.iter().any(|n| n.contains("recorded no accuracy")),
            "{:?}",
            e.notes
        );
    }

    #[test]
    fn a_champion_missing_rows_or_disagreeing_on_labels_is_refused() {
        let (labels, correct) = rows(50, 5, 0);
        let candidate = binary("candidate.csv", &labels, &correct);
        let mut short = candidate.clone();
        short.ids.truncate(45);
        short.labels.truncate(45);
        short.predicted.truncate(45);
        short.scores.truncate(90);
        let err = align(TaskKind::Classification, &candidate, Some(&short)).expect_err("missing");
        let text = err.to_string();
        assert!(text.contains("lack 5 of the 50"), "{text}");
        assert!(text.contains("`r45`"), "{text}");
        let mut relabelled = candidate.clone();
        relabelled.labels[3] = "maybe".into();
        let err =
            align(TaskKind::Classification, &candidate, Some(&relabelled)).expect_err("label");
        assert!(err.to_string().contains("id `r3`"), "{err}");
    }

    #[test]
    fn the_champion_is_matched_by_id_whatever_its_row_order() {
        let (labels, correct) = rows(60, 4, 1);
        let candidate = binary("candidate.csv", &labels, &correct);
        let mut reversed = candidate.clone();
        reversed.ids.reverse();
        reversed.labels.reverse();
        reversed.predicted.reverse();
        let k = 2;
        reversed.scores = (0..60)
            .rev()
            .flat_map(|i| candidate.scores[i * k..(i + 1) * k].to_vec())
            .collect();
        let e = evaluate(
            &settings(GATE),
            &candidate,
            Some(&reversed),
            &SliceColumns::default(),
        )
        .expect("evaluates");
        for m in &e.metrics {
            assert_eq!(m.delta, Some(0.0), "{}", m.metric);
        }
    }

    #[test]
    fn holm_adjusts_step_down_and_keeps_monotone() {
        let mut slices: Vec<SliceResult> = [0.01, 0.04, 0.03, 0.5]
            .iter()
            .map(|&p| SliceResult {
                column: "c".into(),
                value: String::new(),
                rows: 10,
                candidate: None,
                champion: None,
                delta: None,
                ci_low: None,
                ci_high: None,
                p_value: Some(p),
                p_holm: None,
                regressed: false,
            })
            .collect();
        holm(&mut slices, 0.05);
        let adjusted: Vec<f64> = slices.iter().map(|s| s.p_holm.expect("adjusted")).collect();
        // statsmodels multipletests([.01, .04, .03, .5], method="holm"): .04, .09, .09, .5
        let expected = [0.04, 0.09, 0.09, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(
            slices.iter().map(|s| s.regressed).collect::<Vec<_>>(),
            [true, false, false, false]
        );
    }

    #[test]
    fn slices_below_the_minimum_are_listed_as_skipped() {
        let (labels, good) = rows(300, 10, 0);
        let champion = binary("champion.csv", &labels, &good);
        // The candidate is much worse only where `region` is `north`.
        let region: Vec<Option<String>> = (0..300)
            .map(|i| {
                Some(
                    if i % 3 == 0 {
                        "north"
                    } else if i % 50 == 1 {
                        "tiny"
                    } else {
                        "south"
                    }
                    .to_string(),
                )
            })
            .collect();
        let bad: Vec<bool> = (0..300)
            .map(|i| if i % 3 == 0 { i % 2 == 0 } else { good[i] })
            .collect();
        let candidate = binary("candidate.csv", &labels, &bad);
        let slices = SliceColumns {
            columns: vec![("region".into(), region)],
        };
        let yaml = format!("{GATE}slices: {{ columns: [region], min_rows: 20 }}\n");
        let e =
            evaluate(&settings(&yaml), &candidate, Some(&champion), &slices).expect("evaluates");
        let s = e.slices.expect("slices");
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.skipped[0].value, "tiny");
        let north = s
            .evaluated
            .iter()
            .find(|r| r.value == "north")
            .expect("north");
        assert!(north.regressed, "{north:?}");
        let south = s
            .evaluated
            .iter()
            .find(|r| r.value == "south")
            .expect("south");
        assert!(!south.regressed, "{south:?}");
        assert!(e.notes.iter().any(|n| n.contains("slice")), "{:?}", e.notes);
    }

    #[test]
    fn regression_predictions_must_be_numbers() {
        let p = Predictions {
            source: "p.csv".into(),
            ids: vec!["a".into(), "b".into()],
            labels: vec!["1.5".into(), "2".into()],
            predicted: vec!["1.0".into(), "two".into()],
            score_classes: Vec::new(),
            scores: Vec::new(),
        };
        let err = align(TaskKind::Regression, &p, None).expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "`p.csv`, row 2, column `prediction`: `two` is not a number"
        );
    }
}
