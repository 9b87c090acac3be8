//! `history.json`: a metric across the promoted versions of a model, oldest first.
//!
//! The champion finder writes it beside the other stage files; the report only draws it, so a
//! missing file means no chart, while a malformed one is an error naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file name in the run directory.
pub const HISTORY_FILE: &str = "history.json";

/// The format this build reads.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Format version.
    pub schema_version: u32,
    /// The model's release name (`churn` in `churn@v1.2.0`).
    pub name: String,
    /// The metric the chart shows; `null` when the champion finder knew none, and the report
    /// then shows the evaluation's primary metric.
    #[serde(default)]
    pub metric: Option<String>,
    /// Promoted versions, oldest first.
    pub versions: Vec<PromotedVersion>,
}

/// One promoted version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotedVersion {
    /// The tag, `NAME@vX.Y.Z`.
    pub tag: String,
    /// `X.Y.Z`.
    pub version: String,
    /// The tagged commit.
    #[serde(default)]
    pub commit: String,
    /// When it was promoted (RFC 3339).
    #[serde(default)]
    pub date: String,
    /// Metrics recorded with the tag.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl History {
    /// Reads and checks the file.
    pub fn read(path: &Path) -> anyhow::Result<History> {
        let text = fs_err::read_to_string(path)?;
        let history: History = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a valid history file (docs/outputs.md)",
                path.display()
            )
        })?;
        if history.schema_version != HISTORY_SCHEMA_VERSION {
            anyhow::bail!(
                "`{}` has schema_version {}, this mlgate reads {HISTORY_SCHEMA_VERSION}",
                path.display(),
                history.schema_version
            );
        }
        Ok(history)
    }

    /// `(version, value)` of `metric`, skipping versions that did not record it.
    pub fn series(&self, metric: &str) -> Vec<(&str, f64)> {
        self.versions
            .iter()
            .filter_map(|v| {
                v.metrics
                    .get(metric)
                    .filter(|x| x.is_finite())
                    .map(|x| (v.version.as_str(), *x))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example_and_skips_versions_without_the_metric() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        std::fs::write(
            &path,
            r#"{"schema_version":1,"name":"churn","metric":"f1_macro","versions":[
                {"tag":"churn@v1.2.0","version":"1.2.0","commit":"abc","date":"2026-11-20T10:00:00Z","metrics":{"f1_macro":0.91}},
                {"tag":"churn@v1.3.0","version":"1.3.0","commit":"def","date":"2026-11-21T10:00:00Z","metrics":{"accuracy":0.9}}]}"#,
        )
        .unwrap();
        let history = History::read(&path).unwrap();
        assert_eq!(history.series("f1_macro"), vec![("1.2.0", 0.91)]);
    }

    #[test]
    fn the_metric_may_be_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        std::fs::write(
            &path,
            r#"{"schema_version":1,"name":"churn","metric":null,"versions":[]}"#,
        )
        .unwrap();
        assert_eq!(History::read(&path).unwrap().metric, None);
    }

    #[test]
    fn a_malformed_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        std::fs::write(&path, r#"{"schema_version":1}"#).unwrap();
        let err = History::read(&path).unwrap_err();
        assert!(err.to_string().contains(HISTORY_FILE), "{err}");
    }
}
