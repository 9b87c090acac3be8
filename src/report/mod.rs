//! Renderers: the terminal table and the markdown section of a validation report.
//!
//! Reports are built from `validation.json`'s types only, so a report can be re-rendered from
//! the file alone. Markdown comes from a minijinja template built into the binary; every piece
//! of untrusted text passes through the `md` filter ([`markdown::escape`]).

pub mod curves;
pub mod document;
pub mod evaluation;
pub mod fit;
pub mod history;
pub mod html;
pub mod markdown;
pub mod run_dir;
pub mod svg;

use comfy_table::{presets, Cell, CellAlignment, Table};
use serde::Serialize;

use crate::config::Severity;
use crate::validate::drift::DriftReport;
use crate::validate::report::{percent, CheckResult, Outcome, ValidationReport};

/// The markdown template for the validation section.
const VALIDATION_TEMPLATE: &str = include_str!("../../templates/validation.md.j2");

/// A check, flattened for the templates.
#[derive(Serialize)]
struct CheckView {
    /// Whether it passed.
    passed: bool,
    /// `error` or `warn`.
    severity: &'static str,
    /// The check name.
    check: &'static str,
    /// The column, or empty.
    column: String,
    /// Offending rows, as text (empty for file-level checks).
    rows: String,
    /// The sentence.
    message: String,
    /// Example rows, as text.
    examples: String,
}

/// The drift block, flattened for the template.
#[derive(Serialize)]
struct DriftView {
    /// The reference label.
    reference: String,
    /// Whether the dataset drifted.
    dataset_drift: bool,
    /// `error` or `warn`.
    severity: &'static str,
    /// Drifted columns.
    drifted: usize,
    /// Compared columns.
    compared: usize,
    /// The drifted share.
    share: String,
    /// The threshold share.
    threshold: String,
    /// Per column.
    columns: Vec<DriftColumnView>,
    /// Skipped columns.
    skipped: Vec<SkippedView>,
}

/// One drift row.
#[derive(Clone, Serialize)]
struct DriftColumnView {
    /// The column.
    column: String,
    /// The method.
    method: &'static str,
    /// Formatted statistic.
    statistic: String,
    /// Formatted p-value, or a dash.
    p_value: String,
    /// Formatted threshold.
    threshold: String,
    /// Whether it drifted.
    drifted: bool,
}

/// A skipped column.
#[derive(Serialize)]
struct SkippedView {
    /// The column.
    column: String,
    /// Why.
    reason: String,
}

/// The severity's name.
fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warn => "warn",
    }
}

/// Example rows as `row 3: "x", row 9: "y"`.
fn examples_text(check: &CheckResult) -> String {
    check
        .examples
        .iter()
        .map(|e| match (&e.value, e.repeats_row) {
            (Some(v), _) => format!("row {}: \"{v}\"", e.row),
            (None, Some(first)) => format!("row {} repeats row {first}", e.row),
            (None, None) => format!("row {}", e.row),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A number with about four significant digits, without trailing noise.
pub fn number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{value:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// One check, flattened for a template.
fn check_view(c: &CheckResult) -> CheckView {
    CheckView {
        passed: c.passed,
        severity: severity_name(c.severity),
        check: c.check.name(),
        column: c.column.clone().unwrap_or_default(),
        rows: if c.failing_rows > 0 {
            c.failing_rows.to_string()
        } else {
            String::new()
        },
        message: c.message.clone(),
        examples: examples_text(c),
    }
}

/// Flattens the drift report.
fn drift_view(drift: &DriftReport) -> DriftView {
    DriftView {
        reference: drift.reference.label.clone(),
        dataset_drift: drift.dataset_drift,
        severity: severity_name(drift.severity),
        drifted: drift.drifted,
        compared: drift.columns.len(),
        share: percent(drift.drift_share),
        threshold: percent(drift.share_threshold),
        columns: drift
            .columns
            .iter()
            .map(|c| DriftColumnView {
                column: c.column.clone(),
                method: c.method.label(),
                statistic: number(c.statistic),
                p_value: c.p_value.map_or("–".to_string(), number),
                threshold: number(c.threshold),
                drifted: c.drifted,
            })
            .collect(),
        skipped: drift
            .skipped
            .iter()
            .map(|s| SkippedView {
                column: s.column.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
    }
}

/// The markdown section for the PR report and the job summary.
pub fn validation_markdown(report: &ValidationReport) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_filter("md", |value: String| markdown::escape(&value));
    env.add_template("validation.md", VALIDATION_TEMPLATE)?;
    let failures: Vec<CheckView> = report.failures().into_iter().map(check_view).collect();
    let context = minijinja::context! {
        failed => report.status == Outcome::Failed,
        data_file => report.data.file.clone(),
        rows => report.data.rows,
        columns => report.data.columns.len(),
        errors => report.errors,
        warnings => report.warnings,
        passed => report.checks.iter().filter(|c| c.passed).count(),
        failures => failures,
        drift => report.drift.as_ref().map(drift_view),
    };
    Ok(env.get_template("validation.md")?.render(context)?)
}

/// The terminal view: failed checks, the drift table, and a one-line verdict.
pub fn validation_table(report: &ValidationReport) -> String {
    let mut out = String::new();
    let failures = report.failures();
    if !failures.is_empty() {
        let mut table = Table::new();
        table.load_preset(presets::UTF8_FULL_CONDENSED);
        table.set_header(["", "check", "column", "rows", "detail"]);
        for c in failures {
            let mark = if c.severity == Severity::Error {
                "error"
            } else {
                "warn"
            };
            let mut detail = c.message.clone();
            let examples = examples_text(c);
            if !examples.is_empty() {
                detail.push_str(&format!("\ne.g. {examples}"));
            }
            let rows = if c.failing_rows > 0 {
                c.failing_rows.to_string()
            } else {
                String::new()
            };
            table.add_row(vec![
                Cell::new(mark),
                Cell::new(c.check.name()),
                Cell::new(c.column.as_deref().unwrap_or("")),
                Cell::new(rows).set_alignment(CellAlignment::Right),
                Cell::new(detail),
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if let Some(drift) = &report.drift {
        let mut table = Table::new();
        table.load_preset(presets::UTF8_FULL_CONDENSED);
        table.set_header([
            "column",
            "method",
            "statistic",
            "p-value",
            "threshold",
            "drift",
        ]);
        for c in &drift.columns {
            table.add_row(vec![
                c.column.clone(),
                c.method.label().to_string(),
                number(c.statistic),
                c.p_value.map_or("-".to_string(), number),
                number(c.threshold),
                if c.drifted {
                    "DRIFT".to_string()
                } else {
                    "-".to_string()
                },
            ]);
        }
        out.push_str(&format!(
            "drift against {}\n{table}\n",
            drift.reference.label
        ));
        out.push_str(&format!(
            "{} of {} columns drifted ({}); dataset drift: {}\n",
            drift.drifted,
            drift.columns.len(),
            percent(drift.drift_share),
            if drift.dataset_drift { "yes" } else { "no" }
        ));
    }
    let passed = report.checks.iter().filter(|c| c.passed).count();
    let verdict = match report.status {
        Outcome::Passed => "passed",
        Outcome::Failed => "FAILED",
    };
    out.push_str(&format!(
        "validation {verdict}: {} rows, {} errors, {} warnings, {passed} checks passed\n",
        report.data.rows, report.errors, report.warnings
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(1234.0), "1234");
        assert_eq!(number(1e-9), "1.000e-9");
        assert_eq!(number(0.0), "0");
    }
}
