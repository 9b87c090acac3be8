//! What a promotion reads from the run directory: the parts of `evaluation.json` it needs and
//! the candidate's manifest.
//!
//! Reading a summary type rather than the evaluation stage's own struct keeps promotion
//! working on any `evaluation.json` of a known schema version, including one written by an
//! earlier job or another machine.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// `evaluation.json` layout versions this mlgate reads.
const KNOWN_SCHEMA_VERSIONS: [u32; 1] = [1];

/// The fields of `evaluation.json` a promotion uses.
#[derive(Debug, Clone, Deserialize)]
pub struct EvaluationSummary {
    /// Layout version.
    pub schema_version: u32,
    /// Evaluation rows.
    pub rows: usize,
    /// The evaluation set's hash.
    pub eval_set_hash: String,
    /// The headline metric.
    pub primary: String,
    /// Every metric.
    pub metrics: Vec<MetricSummary>,
    /// Every rule.
    #[serde(default)]
    pub rules: Vec<RuleSummary>,
    /// Slices, when configured.
    #[serde(default)]
    pub slices: Option<SlicesSummary>,
    /// `pass`, `inconclusive` or `fail`.
    pub verdict: String,
    /// Whether the gate let the candidate through.
    pub passed: bool,
    /// Notes for the reader.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One metric of `evaluation.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricSummary {
    /// The metric.
    pub metric: String,
    /// The candidate's value.
    pub candidate: f64,
    /// The champion's value.
    #[serde(default)]
    pub champion: Option<f64>,
    /// Lower bound of the paired interval of the delta.
    #[serde(default)]
    pub ci_low: Option<f64>,
    /// Upper bound.
    #[serde(default)]
    pub ci_high: Option<f64>,
    /// `better`, `worse`, `unchanged`, or absent without a paired comparison.
    #[serde(default)]
    pub change: Option<String>,
}

/// One rule of `evaluation.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleSummary {
    /// The rule as written.
    pub rule: String,
    /// Its verdict.
    pub verdict: String,
    /// The sentence.
    pub message: String,
}

/// The slices of `evaluation.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SlicesSummary {
    /// The metric per slice.
    pub metric: String,
    /// Evaluated slices.
    #[serde(default)]
    pub evaluated: Vec<SliceSummary>,
    /// Slices too small to judge.
    #[serde(default)]
    pub skipped: Vec<SkippedSummary>,
}

/// One evaluated slice.
#[derive(Debug, Clone, Deserialize)]
pub struct SliceSummary {
    /// Column.
    pub column: String,
    /// Value.
    pub value: String,
    /// Rows.
    pub rows: usize,
    /// The candidate's value.
    #[serde(default)]
    pub candidate: Option<f64>,
    /// Whether it regressed significantly.
    #[serde(default)]
    pub regressed: bool,
}

/// One skipped slice.
#[derive(Debug, Clone, Deserialize)]
pub struct SkippedSummary {
    /// Column.
    pub column: String,
    /// Value.
    pub value: String,
    /// Rows.
    pub rows: usize,
}

impl EvaluationSummary {
    /// Reads and checks `evaluation.json`.
    pub fn read(path: &Path) -> anyhow::Result<EvaluationSummary> {
        let text = fs_err::read_to_string(path).with_context(|| {
            format!(
                "no evaluation at `{}`; run `mlgate evaluate` first",
                path.display()
            )
        })?;
        let summary: EvaluationSummary = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a valid evaluation.json", path.display()))?;
        if !KNOWN_SCHEMA_VERSIONS.contains(&summary.schema_version) {
            anyhow::bail!(
                "`{}` has schema_version {}; this mlgate reads {KNOWN_SCHEMA_VERSIONS:?}",
                path.display(),
                summary.schema_version
            );
        }
        Ok(summary)
    }

    /// The primary metric's row.
    pub fn primary_metric(&self) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.metric == self.primary)
    }

    /// Whether the primary metric's paired interval shows a significant improvement (recorded
    /// champion metrics have no interval, so they never count as significant).
    pub fn significant_improvement(&self) -> bool {
        self.primary_metric()
            .is_some_and(|m| m.change.as_deref() == Some("better"))
    }

    /// Whether the gate passed outright (an inconclusive verdict let through by
    /// `on_inconclusive` counts: the gate's policy decides, not promotion).
    pub fn gate_passed(&self) -> bool {
        self.passed && self.verdict != "fail"
    }
}
