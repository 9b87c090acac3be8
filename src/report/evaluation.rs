//! Renderers of `evaluation.json`: the terminal table and the markdown section.
//!
//! Both read only [`Evaluation`], so a report can be re-rendered from the file alone. Class
//! names, slice values and messages come from data and pass through the `md` filter.

use comfy_table::{presets, Cell, CellAlignment, Table};
use serde::Serialize;

use crate::evaluate::evaluation::{ConfusionMatrix, Evaluation, MetricComparison, SliceResult};
use crate::evaluate::gate::Verdict;

use super::{markdown, number};

/// The markdown template for the evaluation section.
const EVALUATION_TEMPLATE: &str = include_str!("../../templates/evaluation.md.j2");

/// One metric row, formatted.
#[derive(Serialize)]
pub(super) struct MetricView {
    /// The metric.
    metric: String,
    /// `↑` when higher is better, `↓` otherwise.
    arrow: &'static str,
    /// Whether it is the gate's primary metric.
    primary: bool,
    /// Champion value or a dash.
    champion: String,
    /// Candidate value.
    candidate: String,
    /// Signed delta or a dash.
    delta: String,
    /// The interval or a dash.
    ci: String,
    /// `better`, `worse`, `no significant change`, or empty.
    change: &'static str,
    /// The worst verdict of the rules on this metric, with the change: the report's verdict
    /// column.
    verdict: String,
    /// Whether a rule names it.
    gated: bool,
    /// Bootstrap standard error of the delta, or a dash.
    std_error: String,
    /// Minimum detectable effect, or a dash.
    mde: String,
    /// The significance test as `name p = x`, or empty.
    test: String,
}

/// One rule, formatted.
#[derive(Serialize)]
pub(super) struct RuleView {
    /// Verdict icon.
    icon: &'static str,
    /// The rule.
    rule: String,
    /// The sentence.
    message: String,
}

/// One slice row.
#[derive(Serialize)]
pub(super) struct SliceView {
    /// Column.
    column: String,
    /// Value.
    value: String,
    /// Rows.
    rows: usize,
    /// Champion value.
    champion: String,
    /// Candidate value.
    candidate: String,
    /// Delta.
    delta: String,
    /// The interval of the delta, or a dash.
    ci: String,
    /// Holm p-value.
    p: String,
    /// Regressed.
    regressed: bool,
}

/// A confusion-matrix row.
#[derive(Serialize)]
pub(super) struct ConfusionRow {
    /// True class.
    class: String,
    /// Counts per predicted class.
    counts: Vec<u64>,
}

/// A value or a dash.
pub(super) fn or_dash(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), number)
}

/// A signed value or a dash.
pub(super) fn signed(value: Option<f64>) -> String {
    value.map_or_else(
        || "–".to_string(),
        |v| {
            if v > 0.0 {
                format!("+{}", number(v))
            } else {
                number(v)
            }
        },
    )
}

/// The interval as `[low, high]` or a dash.
fn interval(m: &MetricComparison) -> String {
    bounds(m.ci_low, m.ci_high)
}

/// `[low, high]` or a dash.
fn bounds(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(lo), Some(hi)) => format!("[{}, {}]", signed(Some(lo)), signed(Some(hi))),
        _ => "–".into(),
    }
}

/// The change column.
fn change(m: &MetricComparison) -> &'static str {
    match m.change.as_deref() {
        Some("better") => "✅ better",
        Some("worse") => "🔻 worse",
        Some(_) => "no significant change",
        None => "",
    }
}

/// The icon of a verdict.
pub(super) fn icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅",
        Verdict::Inconclusive => "⚠️",
        Verdict::Fail => "❌",
    }
}

/// The one-line headline: verdict, primary metric and its change.
pub fn headline(e: &Evaluation) -> String {
    let primary = e.metrics.iter().find(|m| m.metric == e.primary);
    let verdict = match (e.verdict, e.passed) {
        (Verdict::Fail, _) | (_, false) => "fails the gate",
        (Verdict::Inconclusive, true) => "passes, but the evidence is inconclusive",
        (Verdict::Pass, true) => "passes the gate",
    };
    match primary {
        Some(m) => match (m.champion, m.delta) {
            (Some(champion), Some(delta)) => format!(
                "The candidate {verdict}: {} {} vs champion {} ({}, {} CI {}).",
                e.primary,
                number(m.candidate),
                number(champion),
                signed(Some(delta)),
                percent_label(e.bootstrap.confidence),
                interval(m)
            ),
            _ => format!(
                "The candidate {verdict}: {} {} (no champion to compare with).",
                e.primary,
                number(m.candidate)
            ),
        },
        None => format!("The candidate {verdict}."),
    }
}

/// `95%` for 0.95.
pub(super) fn percent_label(confidence: f64) -> String {
    format!("{}%", number(confidence * 100.0))
}

/// `pass`, `inconclusive` or `fail`: the gate's outcome after the inconclusive policy.
pub(super) fn verdict_word(e: &Evaluation) -> &'static str {
    match (e.verdict, e.passed) {
        (_, false) => "fail",
        (Verdict::Inconclusive, true) => "inconclusive",
        _ => "pass",
    }
}

/// One metric, formatted; the verdict column joins the worst rule on it and its change.
pub(super) fn metric_view(e: &Evaluation, m: &MetricComparison) -> MetricView {
    let worst_rule = e
        .rules
        .iter()
        .filter(|r| r.metric == m.metric)
        .map(|r| r.verdict)
        .max();
    let rule = worst_rule.map(|v| match v {
        Verdict::Pass => "✅ rules pass",
        Verdict::Inconclusive => "⚠️ inconclusive",
        Verdict::Fail => "❌ rule failed",
    });
    let verdict = rule
        .into_iter()
        .chain(Some(change(m)).filter(|c| !c.is_empty()))
        .collect::<Vec<_>>()
        .join(" · ");
    MetricView {
        metric: m.metric.clone(),
        arrow: if m.higher_is_better { "↑" } else { "↓" },
        primary: m.metric == e.primary,
        champion: or_dash(m.champion),
        candidate: number(m.candidate),
        delta: signed(m.delta),
        ci: interval(m),
        change: change(m),
        verdict,
        gated: worst_rule.is_some(),
        std_error: or_dash(m.std_error),
        mde: or_dash(m.mde),
        test: m
            .test
            .as_ref()
            .map(|t| format!("{} p = {}", t.name, number(t.p_value)))
            .unwrap_or_default(),
    }
}

/// The rules, formatted.
pub(super) fn rule_views(e: &Evaluation) -> Vec<RuleView> {
    e.rules
        .iter()
        .map(|r| RuleView {
            icon: icon(r.verdict),
            rule: r.rule.clone(),
            message: r.message.clone(),
        })
        .collect()
}

/// One slice, formatted.
pub(super) fn slice_view(r: &SliceResult) -> SliceView {
    SliceView {
        column: r.column.clone(),
        value: r.value.clone(),
        rows: r.rows,
        champion: or_dash(r.champion),
        candidate: or_dash(r.candidate),
        delta: signed(r.delta),
        ci: bounds(r.ci_low, r.ci_high),
        p: or_dash(r.p_holm),
        regressed: r.regressed,
    }
}

/// The significance tests in one line.
pub(super) fn tests_text(e: &Evaluation) -> String {
    e.metrics
        .iter()
        .filter_map(|m| {
            m.test.as_ref().map(|t| {
                format!(
                    "{} on {}: p = {} ({})",
                    t.name,
                    m.metric,
                    number(t.p_value),
                    t.detail
                )
            })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A confusion matrix's rows, labelled by class.
pub(super) fn confusion_rows(matrix: &ConfusionMatrix, classes: &[String]) -> Vec<ConfusionRow> {
    matrix
        .iter()
        .zip(classes)
        .map(|(counts, class)| ConfusionRow {
            class: class.clone(),
            counts: counts.clone(),
        })
        .collect()
}

/// The markdown section for the PR report and the job summary.
pub fn evaluation_markdown(e: &Evaluation) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_filter("md", |value: String| markdown::escape(&value));
    env.add_template("evaluation.md", EVALUATION_TEMPLATE)?;
    let metrics: Vec<MetricView> = e.metrics.iter().map(|m| metric_view(e, m)).collect();
    let rules = rule_views(e);
    let slices = e.slices.as_ref().map(|s| {
        let rows: Vec<SliceView> = s.evaluated.iter().map(slice_view).collect();
        let skipped = s
            .skipped
            .iter()
            .map(|k| {
                let value = if k.value.is_empty() {
                    "(missing)"
                } else {
                    &k.value
                };
                format!("{}={value} ({} rows)", k.column, k.rows)
            })
            .collect::<Vec<_>>()
            .join(", ");
        minijinja::context! {
            metric => s.metric.clone(),
            regressed => s.evaluated.iter().filter(|r| r.regressed).count(),
            rows => rows,
            skipped => skipped,
            min_rows => s.min_rows,
        }
    });
    let tests = tests_text(e);
    let confusion = e
        .confusion_matrix
        .as_ref()
        .map(|m| confusion_rows(m, &e.classes));
    let context = minijinja::context! {
        verdict => verdict_word(e),
        headline => headline(e),
        confidence => percent_label(e.bootstrap.confidence),
        metrics => metrics,
        rules => rules,
        notes => e.notes.clone(),
        slices => slices,
        rows => e.rows,
        eval_set_hash => e.eval_set_hash.clone(),
        resamples => e.bootstrap.resamples,
        seed => e.bootstrap.seed,
        tests => tests,
        classes => e.classes.clone(),
        confusion => confusion,
    };
    Ok(env.get_template("evaluation.md")?.render(context)?)
}

/// The terminal view: metrics, rules, and the headline.
pub fn evaluation_table(e: &Evaluation) -> String {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "metric",
        "champion",
        "candidate",
        "delta",
        "interval",
        "change",
    ]);
    for m in &e.metrics {
        let name = if m.metric == e.primary {
            format!("{} (primary)", m.metric)
        } else {
            m.metric.clone()
        };
        table.add_row(vec![
            Cell::new(name),
            Cell::new(or_dash(m.champion)).set_alignment(CellAlignment::Right),
            Cell::new(number(m.candidate)).set_alignment(CellAlignment::Right),
            Cell::new(signed(m.delta)).set_alignment(CellAlignment::Right),
            Cell::new(interval(m)),
            Cell::new(m.change.as_deref().unwrap_or("")),
        ]);
    }
    let mut out = format!("{table}\n");
    for r in &e.rules {
        let word = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "FAIL",
        };
        out.push_str(&format!("{word:>12}  {}: {}\n", r.rule, r.message));
    }
    if let Some(s) = &e.slices {
        for r in s.evaluated.iter().filter(|r| r.regressed) {
            out.push_str(&format!(
                "   regressed  slice {}={} ({} rows): {} {} vs {} (Holm p = {})\n",
                r.column,
                r.value,
                r.rows,
                s.metric,
                or_dash(r.candidate),
                or_dash(r.champion),
                or_dash(r.p_holm)
            ));
        }
    }
    for note in &e.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(&headline(e));
    out.push('\n');
    out
}
