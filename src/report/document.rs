//! `report.md`: the whole run in one markdown document, the PR comment and the job summary.
//!
//! It reads only the stage files ([`RunFiles`]), so it can be re-rendered from a downloaded
//! artifact. The order is what a reviewer needs first: the verdict, the metric diff, data
//! validation and drift, slices; then collapsed details and the hashes that identify the run.
//! The document is fitted into a size budget by [`fit`], which re-renders it with fewer optional
//! sections and shorter tables rather than cutting text, so it is always well-formed markdown.

use serde::Serialize;

use crate::evaluate::evaluation::{Evaluation, OperationalMetric, SliceResult};
use crate::validate::report::{Outcome, ValidationReport};

use super::evaluation::{
    confusion_rows, headline, metric_view, or_dash, percent_label, rule_views, slice_view,
    tests_text, verdict_word, ConfusionRow, MetricView, RuleView, SliceView,
};
use super::fit::{fit, Budget, Limits};
use super::markdown::{cap, code, escape_capped, link_target};
use super::run_dir::RunFiles;
use super::{check_view, drift_view, CheckView, DriftColumnView, DriftView};

/// The first line of `report.md`: finds the report in a comment or a summary.
pub const MARKER: &str = "<!-- mlgate:report -->";

/// The template of `report.md`.
const TEMPLATE: &str = include_str!("../../templates/report.md.j2");

/// The most characters of one untrusted value (a column name, a slice value) shown.
const VALUE_CHARS: usize = 200;

/// The most classes a markdown confusion matrix shows (a row per class, a column per class).
const MAX_CONFUSION_CLASSES: usize = 30;

/// Optional sections, highest priority first; the fitter leaves out the last ones first.
const SECTIONS: [&str; 6] = [
    "all_metrics",
    "confusion",
    "operational",
    "skipped_slices",
    "drift_columns",
    "checks",
];

/// What the command line adds to the stage files.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// A title (a PR title, a branch): untrusted, escaped.
    pub title: Option<String>,
    /// A link to the workflow run.
    pub run_url: Option<String>,
}

/// A table cut to a number of rows, with how many were left out.
#[derive(Serialize)]
struct Cut<'a, T> {
    /// The rows shown.
    rows: &'a [T],
    /// Rows left out.
    more: usize,
}

/// Cuts `rows` to at most `cap`.
fn cut<T>(rows: &[T], cap: usize) -> Cut<'_, T> {
    let shown = rows.len().min(cap);
    Cut {
        rows: &rows[..shown],
        more: rows.len() - shown,
    }
}

/// A hash in the footer.
#[derive(Serialize)]
struct HashView {
    /// What it identifies.
    label: &'static str,
    /// The hash as written in the stage file (untrusted: shown through `code`).
    value: String,
}

/// An operational metric, formatted.
#[derive(Serialize)]
struct OperationalView {
    /// The metric.
    metric: String,
    /// Champion value or a dash.
    champion: String,
    /// Candidate value or a dash.
    candidate: String,
}

/// A skipped slice.
#[derive(Serialize)]
struct SkippedSliceView {
    /// Column.
    column: String,
    /// Value, `(missing)` when empty.
    value: String,
    /// Rows.
    rows: usize,
}

/// Everything in the report, built once, as raw text: the markdown and HTML templates escape
/// it their own way, and markdown renders cut its tables.
pub(super) struct Views {
    /// The heading's icon.
    icon: &'static str,
    /// The heading's words.
    verdict: String,
    /// The title, escaped later.
    title: Option<String>,
    /// The evaluation's one-line headline.
    headline: Option<String>,
    /// Shown prominently under the headline.
    warnings: Vec<String>,
    /// Evaluation tables.
    evaluation: Option<EvaluationViews>,
    /// Validation tables.
    validation: Option<ValidationViews>,
    /// Footer hashes.
    hashes: Vec<HashView>,
    /// The run link, safe for a markdown link.
    run_url: Option<String>,
}

/// The evaluation's parts.
struct EvaluationViews {
    /// `95%`.
    confidence: String,
    /// Primary, gated and significantly changed metrics.
    key_metrics: Vec<MetricView>,
    /// Every metric.
    all_metrics: Vec<MetricView>,
    /// The rules.
    rules: Vec<RuleView>,
    /// Notes.
    notes: Vec<String>,
    /// Slices, worst first.
    slices: Option<SlicesViews>,
    /// Classes of the confusion matrices.
    classes: Vec<String>,
    /// Candidate confusion matrix (when few enough classes).
    confusion: Option<Vec<ConfusionRow>>,
    /// Champion confusion matrix.
    champion_confusion: Option<Vec<ConfusionRow>>,
    /// Classes beyond [`MAX_CONFUSION_CLASSES`].
    confusion_too_wide: bool,
    /// Operational metrics.
    operational: Vec<OperationalView>,
    /// Evaluation rows.
    rows: usize,
    /// The eval-set hash.
    eval_set_hash: String,
    /// Bootstrap resamples.
    resamples: usize,
    /// Bootstrap seed.
    seed: u64,
    /// The significance tests in one line.
    tests: String,
}

/// The slices' parts.
struct SlicesViews {
    /// The metric compared per slice.
    metric: String,
    /// Smallest slice judged.
    min_rows: usize,
    /// Regressed after correction.
    regressed: usize,
    /// Evaluated slices, regressed first, then by delta (worst first).
    rows: Vec<SliceView>,
    /// Slices too small to judge.
    skipped: Vec<SkippedSliceView>,
}

/// The validation's parts.
struct ValidationViews {
    /// Whether it failed.
    failed: bool,
    /// The summary line's numbers.
    data_file: String,
    /// Data rows.
    rows: u64,
    /// Columns.
    columns: usize,
    /// Failed error checks.
    errors: usize,
    /// Failed warn checks.
    warnings: usize,
    /// Checks passed.
    passed: usize,
    /// Failed checks.
    failures: Vec<CheckView>,
    /// Every check.
    checks: Vec<CheckView>,
    /// Drift summary and tables.
    drift: Option<DriftViews>,
}

/// Drift's parts.
struct DriftViews {
    /// The summary, every compared column and the skipped ones.
    all: DriftView,
    /// Drifted columns only.
    drifted_columns: Vec<DriftColumnView>,
}

/// Renders `report.md` within `budget`.
pub fn render(files: &RunFiles, options: &ReportOptions, budget: Budget) -> anyhow::Result<String> {
    let views = Views::build(files, options);
    let env = environment()?;
    let template = env.get_template("report.md")?;
    let all = views.everything();
    let fitted = fit(all, budget, |limits| {
        template.render(views.context(limits, limits.shortened(all)))
    })?;
    if fitted.limits.is_some() {
        return Ok(fitted.text);
    }
    let minimal = format!(
        "{MARKER}\n### {} {}\n\nThe report is too large for this place; `report.html` and `report.md` are in the run's artifacts.\n",
        views.icon, views.verdict
    );
    Ok(if budget.fits(&minimal) {
        minimal
    } else {
        String::new()
    })
}

/// The template environment: `md` escapes (and caps) untrusted text.
fn environment() -> anyhow::Result<minijinja::Environment<'static>> {
    let mut env = minijinja::Environment::new();
    env.add_filter("md", |value: String| escape_capped(&value, VALUE_CHARS));
    env.add_filter("code", |value: String| code(&cap(&value, VALUE_CHARS)));
    env.add_template("report.md", TEMPLATE)?;
    Ok(env)
}

impl Views {
    /// Builds every part from the files.
    pub(super) fn build(files: &RunFiles, options: &ReportOptions) -> Views {
        let evaluation = files.evaluation.as_ref();
        let validation = files.validation.as_ref();
        let (icon, verdict) = heading(validation, evaluation);
        Views {
            icon,
            verdict,
            title: options.title.clone().filter(|t| !t.trim().is_empty()),
            headline: evaluation.map(headline),
            warnings: warnings(files),
            evaluation: evaluation.map(EvaluationViews::build),
            validation: validation.map(ValidationViews::build),
            hashes: hashes(files),
            run_url: options.run_url.as_deref().and_then(link_target),
        }
    }

    /// The most rows of any table: the row cap that leaves every table whole.
    fn longest_table(&self) -> usize {
        let e = self.evaluation.as_ref();
        let v = self.validation.as_ref();
        let d = v.and_then(|v| v.drift.as_ref());
        let s = e.and_then(|e| e.slices.as_ref());
        [
            e.map_or(0, |e| e.all_metrics.len()),
            e.map_or(0, |e| e.rules.len()),
            e.map_or(0, |e| e.notes.len()),
            s.map_or(0, |s| s.rows.len()),
            s.map_or(0, |s| s.skipped.len()),
            v.map_or(0, |v| v.checks.len()),
            d.map_or(0, |d| d.all.columns.len()),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Everything, uncut.
    pub(super) fn everything(&self) -> Limits {
        Limits {
            sections: SECTIONS.len(),
            rows: self.longest_table(),
        }
    }

    /// The template's context under `limits`.
    pub(super) fn context(&self, limits: Limits, shortened: bool) -> minijinja::Value {
        let rows = limits.rows;
        let show: std::collections::BTreeMap<&str, bool> = SECTIONS
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, i < limits.sections))
            .collect();
        let evaluation = self.evaluation.as_ref().map(|e| {
            minijinja::context! {
                confidence => e.confidence,
                key_metrics => cut(&e.key_metrics, rows),
                all_metrics => cut(&e.all_metrics, rows),
                rules => cut(&e.rules, rows),
                notes => cut(&e.notes, rows),
                slices => e.slices.as_ref().map(|s| minijinja::context! {
                    metric => s.metric,
                    min_rows => s.min_rows,
                    regressed => s.regressed,
                    evaluated => s.rows.len(),
                    rows => cut(&s.rows, rows),
                    skipped => cut(&s.skipped, rows),
                }),
                classes => e.classes,
                confusion => e.confusion,
                champion_confusion => e.champion_confusion,
                confusion_too_wide => e.confusion_too_wide,
                operational => e.operational,
                rows => e.rows,
                eval_set_hash => e.eval_set_hash,
                resamples => e.resamples,
                seed => e.seed,
                tests => e.tests,
            }
        });
        let validation = self.validation.as_ref().map(|v| {
            minijinja::context! {
                failed => v.failed,
                data_file => v.data_file,
                rows => v.rows,
                columns => v.columns,
                errors => v.errors,
                warnings => v.warnings,
                passed => v.passed,
                failures => cut(&v.failures, rows),
                checks => cut(&v.checks, rows),
                drift => v.drift.as_ref().map(|d| minijinja::context! {
                    reference => d.all.reference,
                    dataset_drift => d.all.dataset_drift,
                    severity => d.all.severity,
                    drifted => d.all.drifted,
                    compared => d.all.compared,
                    share => d.all.share,
                    threshold => d.all.threshold,
                    drifted_columns => cut(&d.drifted_columns, rows),
                    columns => cut(&d.all.columns, rows),
                    skipped => d.all.skipped,
                }),
            }
        });
        minijinja::context! {
            marker => MARKER,
            icon => self.icon,
            verdict => self.verdict,
            title => self.title,
            headline => self.headline,
            warnings => self.warnings,
            evaluation => evaluation,
            validation => validation,
            show => show,
            shortened => shortened,
            hashes => self.hashes,
            run_url => self.run_url,
            version => env!("CARGO_PKG_VERSION"),
        }
    }
}

impl EvaluationViews {
    /// Builds the evaluation's parts.
    fn build(e: &Evaluation) -> EvaluationViews {
        let all_metrics: Vec<MetricView> = e.metrics.iter().map(|m| metric_view(e, m)).collect();
        let key_metrics = e
            .metrics
            .iter()
            .filter(|m| {
                m.metric == e.primary
                    || e.rules.iter().any(|r| r.metric == m.metric)
                    || matches!(m.change.as_deref(), Some("better" | "worse"))
            })
            .map(|m| metric_view(e, m))
            .collect();
        let wide = e.classes.len() > MAX_CONFUSION_CLASSES;
        let matrix = |m: Option<&crate::evaluate::evaluation::ConfusionMatrix>| {
            m.filter(|_| !wide).map(|m| confusion_rows(m, &e.classes))
        };
        EvaluationViews {
            confidence: percent_label(e.bootstrap.confidence),
            key_metrics,
            all_metrics,
            rules: rule_views(e),
            notes: e.notes.clone(),
            slices: e.slices.as_ref().map(|s| SlicesViews {
                metric: s.metric.clone(),
                min_rows: s.min_rows,
                regressed: s.evaluated.iter().filter(|r| r.regressed).count(),
                rows: worst_first(&s.evaluated)
                    .into_iter()
                    .map(slice_view)
                    .collect(),
                skipped: s
                    .skipped
                    .iter()
                    .map(|k| SkippedSliceView {
                        column: k.column.clone(),
                        value: if k.value.is_empty() {
                            "(missing)".into()
                        } else {
                            k.value.clone()
                        },
                        rows: k.rows,
                    })
                    .collect(),
            }),
            classes: if wide { Vec::new() } else { e.classes.clone() },
            confusion: matrix(e.confusion_matrix.as_ref()),
            champion_confusion: matrix(e.champion_confusion_matrix.as_ref()),
            confusion_too_wide: wide && e.confusion_matrix.is_some(),
            operational: e.operational.iter().map(operational_view).collect(),
            rows: e.rows,
            eval_set_hash: e.eval_set_hash.clone(),
            resamples: e.bootstrap.resamples,
            seed: e.bootstrap.seed,
            tests: tests_text(e),
        }
    }
}

/// Slices in the order a reviewer reads them, so a shortened table keeps the worst: regressed
/// first, then by delta (largest drop first; no delta last), then as evaluated.
fn worst_first(slices: &[SliceResult]) -> Vec<&SliceResult> {
    let mut sorted: Vec<&SliceResult> = slices.iter().collect();
    sorted.sort_by(|a, b| {
        b.regressed.cmp(&a.regressed).then_with(|| {
            let key = |s: &SliceResult| s.delta.filter(|d| d.is_finite()).unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        })
    });
    sorted
}

/// An operational metric, formatted (bytes as whole numbers).
fn operational_view(m: &OperationalMetric) -> OperationalView {
    let value = |v: Option<f64>| match v {
        Some(v) if m.metric == "artifact_bytes" => format!("{v:.0}"),
        other => or_dash(other),
    };
    OperationalView {
        metric: format!(
            "{} {}",
            m.metric,
            if m.higher_is_better { "↑" } else { "↓" }
        ),
        champion: value(m.champion),
        candidate: value(m.candidate),
    }
}

impl ValidationViews {
    /// Builds the validation's parts.
    fn build(report: &ValidationReport) -> ValidationViews {
        ValidationViews {
            failed: report.status == Outcome::Failed,
            data_file: report.data.file.clone(),
            rows: report.data.rows,
            columns: report.data.columns.len(),
            errors: report.errors,
            warnings: report.warnings,
            passed: report.checks.iter().filter(|c| c.passed).count(),
            failures: report.failures().into_iter().map(check_view).collect(),
            checks: report.checks.iter().map(check_view).collect(),
            drift: report.drift.as_ref().map(|d| {
                let all = drift_view(d);
                DriftViews {
                    drifted_columns: all.columns.iter().filter(|c| c.drifted).cloned().collect(),
                    all,
                }
            }),
        }
    }
}

/// The heading: one icon and the overall verdict.
fn heading(
    validation: Option<&ValidationReport>,
    evaluation: Option<&Evaluation>,
) -> (&'static str, String) {
    let data_failed = validation.is_some_and(|v| v.status == Outcome::Failed);
    match (data_failed, evaluation.map(verdict_word)) {
        (true, Some("fail")) => ("❌", "Data validation and model gate failed".into()),
        (true, _) => ("❌", "Data validation failed".into()),
        (false, Some("fail")) => ("❌", "Model gate failed".into()),
        (false, Some("inconclusive")) => ("⚠️", "Model gate inconclusive".into()),
        (false, Some(_)) => ("✅", "Model gate passed".into()),
        (false, None) => ("✅", "Data validation passed".into()),
    }
}

/// What a reader must see before the numbers: a champion measured elsewhere, or stage files
/// from different runs.
fn warnings(files: &RunFiles) -> Vec<String> {
    let mut out = Vec::new();
    if files.evaluation.is_some() && !files.champion_rescored {
        out.push(
            "The champion was not re-scored on this evaluation set: its numbers are the metrics recorded when it was promoted, on other rows, so the deltas are not a paired comparison and are not comparable."
                .to_string(),
        );
    }
    if let (Some(v), Some(m)) = (&files.validation, &files.manifest) {
        if v.data.fingerprint != m.data.xxh3 {
            out.push(format!(
                "validation.json and model/manifest.json describe different data (xxh3 {} and {}): one of them is left over from another run.",
                v.data.fingerprint, m.data.xxh3
            ));
        }
    }
    if let (Some(e), Some(m)) = (&files.evaluation, &files.manifest) {
        if e.eval_set_hash != m.split.eval_set_hash {
            out.push(format!(
                "evaluation.json and model/manifest.json name different evaluation sets ({} and {}): one of them is left over from another run.",
                e.eval_set_hash, m.split.eval_set_hash
            ));
        }
    }
    out
}

/// The hashes that identify the run's inputs and model.
fn hashes(files: &RunFiles) -> Vec<HashView> {
    let manifest = files.manifest.as_ref();
    let data = files
        .validation
        .as_ref()
        .map(|v| v.data.fingerprint.clone())
        .or_else(|| manifest.map(|m| m.data.xxh3.clone()));
    let eval_set = files
        .evaluation
        .as_ref()
        .map(|e| e.eval_set_hash.clone())
        .or_else(|| manifest.map(|m| m.split.eval_set_hash.clone()));
    let model = manifest.and_then(|m| {
        m.files
            .iter()
            .find(|f| f.name == crate::train::artifact::MODEL_FILE)
            .or(m.files.first())
            .map(|f| f.sha256.clone())
    });
    [
        ("champion", files.champion_tag.clone()),
        ("data xxh3", data),
        ("eval set", eval_set),
        ("config sha256", manifest.map(|m| m.config_sha256.clone())),
        ("model sha256", model),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|value| HashView { label, value }))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(value: &str, delta: Option<f64>, regressed: bool) -> SliceResult {
        SliceResult {
            column: "c".into(),
            value: value.into(),
            rows: 10,
            candidate: None,
            champion: None,
            delta,
            ci_low: None,
            ci_high: None,
            p_value: None,
            p_holm: None,
            regressed,
        }
    }

    #[test]
    fn slices_are_ordered_worst_first() {
        let slices = [
            slice("a", Some(0.1), false),
            slice("b", None, false),
            slice("c", Some(-0.2), false),
            slice("d", Some(-0.01), true),
        ];
        let order: Vec<&str> = worst_first(&slices)
            .iter()
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(order, ["d", "c", "a", "b"]);
    }

    #[test]
    fn cut_counts_what_it_leaves_out() {
        let rows = [1, 2, 3];
        let c = cut(&rows, 2);
        assert_eq!((c.rows, c.more), (&rows[..2], 1));
        assert_eq!(cut(&rows, 9).more, 0);
    }
}
