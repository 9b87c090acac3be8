//! `validation.json`: the outcome of every check and the drift comparison, as a stable file.
//!
//! Later stages (the PR report, the gate) read this file, never the validator's memory, so its
//! shape is versioned by `schema_version` and documented in `docs/outputs.md`.

use serde::{Deserialize, Serialize};

use crate::config::Severity;

use super::drift::DriftReport;
use super::scan::{ColumnState, Scanner};
use super::schema::{CheckKind, ColumnPolicy};
use super::tracker::{Example, RepeatSummary, RepeatTracker, Violations};

/// The current `validation.json` format.
pub const VALIDATION_SCHEMA_VERSION: u32 = 1;

/// Whether the data passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// No error-severity check failed (warnings allowed).
    Passed,
    /// At least one error-severity check failed, or the dataset drifted with `severity: error`.
    Failed,
}

/// The whole `validation.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Format version.
    pub schema_version: u32,
    /// The mlgate version that wrote it.
    pub tool_version: String,
    /// Passed or failed.
    pub status: Outcome,
    /// The dataset.
    pub data: DataInfo,
    /// The schema file used.
    pub schema_file: String,
    /// Failed error-severity checks.
    pub errors: usize,
    /// Failed warn-severity checks (plus dataset drift at `warn`).
    pub warnings: usize,
    /// Every check, passed or not, in a stable order.
    pub checks: Vec<CheckResult>,
    /// The drift comparison, when a reference was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
}

/// The dataset a report is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataInfo {
    /// The file, relative to the config's directory.
    pub file: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// Data rows.
    pub rows: u64,
    /// Column names in data order.
    pub columns: Vec<String>,
    /// File size.
    pub bytes: u64,
    /// xxh3-128 of the file's bytes.
    pub fingerprint: String,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Which check.
    pub check: CheckKind,
    /// The column, for column checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Its severity.
    pub severity: Severity,
    /// Whether it passed.
    pub passed: bool,
    /// Offending rows (0 when passed, or for checks about the whole file).
    pub failing_rows: u64,
    /// `failing_rows` as a share of the rows the check looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// A sentence for people.
    pub message: String,
    /// The first offending rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
    /// Set when the count is estimated from a hash sample (very large files), with the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<f64>,
}

impl CheckResult {
    /// A check about the whole file or a column, without examples.
    fn new(
        check: CheckKind,
        column: Option<&str>,
        severity: Severity,
        passed: bool,
        message: String,
    ) -> CheckResult {
        CheckResult {
            check,
            column: column.map(str::to_string),
            severity,
            passed,
            failing_rows: 0,
            fraction: None,
            message,
            examples: Vec::new(),
            sampling_rate: None,
        }
    }

    /// A per-row check from its violations.
    fn from_violations(
        check: CheckKind,
        state: &ColumnState,
        severity: Severity,
        v: &Violations,
        of: u64,
        what: &str,
    ) -> CheckResult {
        let fraction = if of == 0 {
            0.0
        } else {
            v.count as f64 / of as f64
        };
        let message = if v.count == 0 {
            format!("no rows {what}")
        } else {
            format!("{} of {of} rows ({}) {what}", v.count, percent(fraction))
        };
        CheckResult {
            failing_rows: v.count,
            fraction: Some(fraction),
            examples: v.examples.clone(),
            ..CheckResult::new(check, Some(&state.name), severity, v.count == 0, message)
        }
    }
}

/// A share as a percentage with sensible precision.
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 0.1 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// Turns a finished pass into check results, in a stable order: file checks, then columns in
/// data order, then missing columns.
pub fn build_checks(scanner: &Scanner) -> Vec<CheckResult> {
    let schema = scanner.schema();
    let rows = scanner.rows;
    let mut checks = Vec::new();
    let mut repeats = RepeatSummaries::of(scanner);
    if let Some(bounds) = &schema.rows {
        let low = bounds.min.is_some_and(|min| rows < min);
        let high = bounds.max.is_some_and(|max| rows > max);
        let range = format!(
            "{}..{}",
            bounds.min.map_or(String::new(), |v| v.to_string()),
            bounds.max.map_or(String::new(), |v| v.to_string())
        );
        let message = if low || high {
            format!("{rows} rows, outside the expected {range}")
        } else {
            format!("{rows} rows, within {range}")
        };
        checks.push(CheckResult::new(
            CheckKind::RowCount,
            None,
            bounds.severity,
            !(low || high),
            message,
        ));
    }
    if let (Some(rule), Some(s)) = (&schema.duplicates, repeats.duplicates.take()) {
        let passed = s.fraction <= rule.max_fraction;
        let estimated = if s.exact { "" } else { "about " };
        let message = format!(
            "{estimated}{} duplicate rows ({}), limit {}",
            s.repeats,
            percent(s.fraction),
            percent(rule.max_fraction)
        );
        checks.push(CheckResult {
            failing_rows: s.repeats,
            fraction: Some(s.fraction),
            examples: if passed {
                Vec::new()
            } else {
                s.examples.clone()
            },
            sampling_rate: (!s.exact).then_some(s.sampling_rate),
            ..CheckResult::new(CheckKind::Duplicates, None, rule.severity, passed, message)
        });
    }
    for (state, unique) in scanner.columns.iter().zip(repeats.unique) {
        match &state.schema {
            Some(_) => column_checks(state, unique, rows, &mut checks),
            None => {
                let severity = match schema.unexpected_columns {
                    ColumnPolicy::Error => Severity::Error,
                    ColumnPolicy::Warn => Severity::Warn,
                    ColumnPolicy::Allow => continue,
                };
                let message = "the column is not in the schema".to_string();
                checks.push(CheckResult::new(
                    CheckKind::Unexpected,
                    Some(&state.name),
                    severity,
                    false,
                    message,
                ));
            }
        }
    }
    for name in &scanner.missing {
        let Some(column) = schema.column(name) else {
            continue;
        };
        if column.required {
            let severity = column.severity_of(CheckKind::Required);
            let message = "the schema requires this column but the data has none".to_string();
            checks.push(CheckResult::new(
                CheckKind::Required,
                Some(name),
                severity,
                false,
                message,
            ));
        }
    }
    checks
}

/// The repeats every tracker of a pass found: each is a sort of up to millions of rows, so
/// they are summarised side by side.
struct RepeatSummaries {
    /// Duplicate rows.
    duplicates: Option<RepeatSummary>,
    /// Repeated values of each column, in data order.
    unique: Vec<Option<RepeatSummary>>,
}

impl RepeatSummaries {
    /// Summarises every tracker of `scanner` on up to the thread budget.
    fn of(scanner: &Scanner) -> RepeatSummaries {
        let trackers: Vec<Option<&RepeatTracker>> = std::iter::once(scanner.duplicates.as_ref())
            .chain(scanner.columns.iter().map(|c| c.unique.as_ref()))
            .collect();
        let busy = trackers.iter().flatten().count();
        let mut summaries = crate::threads::in_parallel(
            trackers.len(),
            busy.min(crate::threads::budget()),
            || (),
            |i, _| trackers[i].map(RepeatTracker::summary),
        )
        .into_iter();
        RepeatSummaries {
            duplicates: summaries.next().flatten(),
            unique: summaries.collect(),
        }
    }
}

/// Checks for one column that the schema lists, with the repeats of its values if it must be
/// unique.
fn column_checks(
    state: &ColumnState,
    unique: Option<RepeatSummary>,
    rows: u64,
    checks: &mut Vec<CheckResult>,
) {
    let Some(column) = &state.schema else { return };
    let sev = |kind| column.severity_of(kind);
    let type_name = column.ty.name();
    checks.push(CheckResult::from_violations(
        CheckKind::Type,
        state,
        sev(CheckKind::Type),
        &state.type_errors,
        rows,
        &format!("are not {type_name}"),
    ));
    let null_fraction = if rows == 0 {
        0.0
    } else {
        state.nulls.count as f64 / rows as f64
    };
    let nulls_broken = (!column.nullable && state.nulls.count > 0)
        || column
            .max_null_fraction
            .is_some_and(|max| null_fraction > max);
    let mut nulls = CheckResult::from_violations(
        CheckKind::Nulls,
        state,
        sev(CheckKind::Nulls),
        &state.nulls,
        rows,
        "are missing",
    );
    nulls.passed = !nulls_broken;
    if let (Some(max), true) = (column.max_null_fraction, column.nullable) {
        nulls.message.push_str(&format!(", limit {}", percent(max)));
    }
    checks.push(nulls);
    let parsed = state.count;
    if column.min.is_some() || column.max.is_some() {
        let shown = |b: &Option<super::schema::Bound>| match b {
            Some(super::schema::Bound::Integer(v)) => v.to_string(),
            Some(super::schema::Bound::Number(v)) => v.to_string(),
            Some(super::schema::Bound::Text(t)) => t.clone(),
            None => String::new(),
        };
        let what = format!("are outside {}..{}", shown(&column.min), shown(&column.max));
        checks.push(CheckResult::from_violations(
            CheckKind::Range,
            state,
            sev(CheckKind::Range),
            &state.range_violations,
            parsed,
            &what,
        ));
    }
    if column.allowed.is_some() {
        checks.push(CheckResult::from_violations(
            CheckKind::Allowed,
            state,
            sev(CheckKind::Allowed),
            &state.allowed_violations,
            parsed,
            "are not in the allowed set",
        ));
    }
    if let Some(pattern) = &column.pattern {
        let what = format!("do not match `{pattern}`");
        checks.push(CheckResult::from_violations(
            CheckKind::Pattern,
            state,
            sev(CheckKind::Pattern),
            &state.pattern_violations,
            parsed,
            &what,
        ));
    }
    if let Some(s) = unique {
        let violations = Violations {
            count: s.repeats,
            examples: s.examples.clone(),
        };
        let mut result = CheckResult::from_violations(
            CheckKind::Unique,
            state,
            sev(CheckKind::Unique),
            &violations,
            parsed,
            "repeat an earlier value",
        );
        if !s.exact {
            result.fraction = Some(s.fraction);
            result.sampling_rate = Some(s.sampling_rate);
            if s.repeats > 0 {
                result.message.insert_str(0, "about ");
            } else {
                result.message.push_str(" among the sampled rows");
            }
        }
        checks.push(result);
    }
    if column.require_all {
        checks.push(classes_check(state));
    }
}

/// Every allowed value (target class) must occur, and at least two must.
fn classes_check(state: &ColumnState) -> CheckResult {
    let column = state
        .schema
        .as_ref()
        .expect("only called for schema columns");
    let allowed = column.allowed.clone().unwrap_or_default();
    let present = |value: &str| {
        state
            .items
            .as_ref()
            .is_some_and(|items| items.count_of(value) > 0)
    };
    let absent: Vec<&str> = allowed
        .iter()
        .map(String::as_str)
        .filter(|v| !present(v))
        .collect();
    let found = allowed.len() - absent.len();
    let passed = absent.is_empty() && found >= 2;
    let message = if !absent.is_empty() {
        format!(
            "classes never seen: {}",
            absent
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if found < 2 {
        "fewer than two classes: nothing to learn".to_string()
    } else {
        format!("all {found} classes present")
    };
    CheckResult::new(
        CheckKind::Classes,
        Some(&state.name),
        column.severity_of(CheckKind::Classes),
        passed,
        message,
    )
}

impl ValidationReport {
    /// Assembles the report and decides the outcome.
    pub fn new(
        data: DataInfo,
        schema_file: String,
        checks: Vec<CheckResult>,
        drift: Option<DriftReport>,
    ) -> ValidationReport {
        let failed = |severity| {
            checks
                .iter()
                .filter(|c| !c.passed && c.severity == severity)
                .count()
        };
        let drift_failed = |severity| {
            drift
                .as_ref()
                .is_some_and(|d| d.dataset_drift && d.severity == severity)
        };
        let errors = failed(Severity::Error) + usize::from(drift_failed(Severity::Error));
        let warnings = failed(Severity::Warn) + usize::from(drift_failed(Severity::Warn));
        ValidationReport {
            schema_version: VALIDATION_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            status: if errors == 0 {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            data,
            schema_file,
            errors,
            warnings,
            checks,
            drift,
        }
    }

    /// The failed checks, errors first.
    pub fn failures(&self) -> Vec<&CheckResult> {
        let mut failed: Vec<&CheckResult> = self.checks.iter().filter(|c| !c.passed).collect();
        failed.sort_by_key(|c| std::cmp::Reverse(c.severity));
        failed
    }
}
