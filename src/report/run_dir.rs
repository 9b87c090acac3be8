//! The stage files a report is made from, read from one run directory.
//!
//! `mlgate report` renders whatever the earlier stages left behind (validation only, evaluation
//! only, or both), so every file here is optional; one that exists but cannot be read, or has a
//! `schema_version` this build does not know, is an error naming the file rather than a silently
//! thinner report.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::de::DeserializeOwned;

use crate::evaluate::evaluation::{self, Evaluation};
use crate::evaluate::predictions::CHAMPION_PREDICTIONS_FILE;
use crate::train::manifest::{self, Manifest, MANIFEST_FILE};
use crate::train::{MODEL_DIR, PREDICTIONS_FILE};
use crate::validate::report::{ValidationReport, VALIDATION_SCHEMA_VERSION};

use super::history::{History, HISTORY_FILE};

/// `validation.json`.
pub const VALIDATION_FILE: &str = "validation.json";
/// `evaluation.json`.
pub const EVALUATION_FILE: &str = "evaluation.json";

/// What one run directory holds.
#[derive(Debug, Clone, Default)]
pub struct RunFiles {
    /// `validation.json`.
    pub validation: Option<ValidationReport>,
    /// `evaluation.json`.
    pub evaluation: Option<Evaluation>,
    /// Whether the champion's numbers were measured on this evaluation set; `false` when the
    /// evaluation fell back to metrics recorded with the champion's tag.
    pub champion_rescored: bool,
    /// The champion's version tag (`NAME@vX.Y.Z`), when the evaluation names one.
    pub champion_tag: Option<String>,
    /// `model/manifest.json` of the candidate.
    pub manifest: Option<Manifest>,
    /// `history.json`: the primary metric across promoted versions.
    pub history: Option<History>,
    /// The candidate's `predictions.csv`, when present (read only by the HTML charts).
    pub predictions: Option<PathBuf>,
    /// The champion's predictions, when `mlgate evaluate` kept them.
    pub champion_predictions: Option<PathBuf>,
}

impl RunFiles {
    /// Reads every stage file that exists in `dir`; at least one of `validation.json` and
    /// `evaluation.json` must.
    pub fn load(dir: &Path) -> anyhow::Result<RunFiles> {
        let existing = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let evaluation = existing(EVALUATION_FILE)
            .map(|p| {
                let value = read_versioned(&p, evaluation::SCHEMA_VERSION)?;
                let rescored = champion_rescored(&value);
                let tag = value
                    .pointer("/champion/tag")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string);
                typed::<Evaluation>(&p, value).map(|e| (e, rescored, tag))
            })
            .transpose()?;
        let files = RunFiles {
            validation: existing(VALIDATION_FILE)
                .map(|p| typed(&p, read_versioned(&p, VALIDATION_SCHEMA_VERSION)?))
                .transpose()?,
            champion_rescored: evaluation.as_ref().is_none_or(|(_, r, _)| *r),
            champion_tag: evaluation.as_ref().and_then(|(_, _, t)| t.clone()),
            evaluation: evaluation.map(|(e, _, _)| e),
            manifest: Some(dir.join(MODEL_DIR).join(MANIFEST_FILE))
                .filter(|p| p.is_file())
                .map(|p| typed(&p, read_versioned(&p, manifest::SCHEMA_VERSION)?))
                .transpose()?,
            history: existing(HISTORY_FILE)
                .map(|p| History::read(&p))
                .transpose()?,
            predictions: existing(PREDICTIONS_FILE),
            champion_predictions: existing(CHAMPION_PREDICTIONS_FILE),
        };
        if files.validation.is_none() && files.evaluation.is_none() {
            anyhow::bail!(
                "`{}` holds neither `{VALIDATION_FILE}` nor `{EVALUATION_FILE}`; run `mlgate validate` or `mlgate evaluate` with `--out {}` first",
                dir.display(),
                dir.display()
            );
        }
        Ok(files)
    }

    /// Only `validation.json`: what `mlgate run` reports when it stopped before training, so
    /// that an older run's model files in the same directory are neither read nor mistaken
    /// for this run's.
    pub fn load_validation(dir: &Path) -> anyhow::Result<RunFiles> {
        let path = dir.join(VALIDATION_FILE);
        Ok(RunFiles {
            validation: Some(typed(
                &path,
                read_versioned(&path, VALIDATION_SCHEMA_VERSION)?,
            )?),
            champion_rescored: true,
            ..RunFiles::default()
        })
    }
}

/// Whether `evaluation.json` says the champion was re-scored on this evaluation set. This is
/// the one place that reads it, from the raw JSON so that either spelling of the flag
/// (`champion.rescored` or `champion_rescored`) counts; absent means re-scored, which every
/// evaluation without a recorded-metrics fallback is.
fn champion_rescored(evaluation: &serde_json::Value) -> bool {
    let flag = evaluation
        .pointer("/champion/rescored")
        .or_else(|| evaluation.get("champion_rescored"));
    flag != Some(&serde_json::Value::Bool(false))
}

/// Reads a JSON stage file whose `schema_version` must be `supported`.
fn read_versioned(path: &Path, supported: u32) -> anyhow::Result<serde_json::Value> {
    let text = fs_err::read_to_string(path)?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(supported)) {
        anyhow::bail!(
            "`{}` has schema_version {}, this mlgate reads {supported}; re-run the stage that wrote it with this mlgate",
            path.display(),
            version.map_or("(none)".to_string(), |v| v.to_string())
        );
    }
    Ok(value)
}

/// The typed view of a stage file.
fn typed<T: DeserializeOwned>(path: &Path, value: serde_json::Value) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .with_context(|| format!("`{}` does not have the documented fields", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_champion_flag_is_read_in_either_spelling() {
        let flag = |text: &str| champion_rescored(&serde_json::from_str(text).unwrap());
        assert!(flag(r#"{"champion_source": "x"}"#));
        assert!(!flag(r#"{"champion": {"rescored": false}}"#));
        assert!(!flag(r#"{"champion_rescored": false}"#));
        assert!(flag(r#"{"champion": {"rescored": true}}"#));
    }

    #[test]
    fn an_empty_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunFiles::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("validation.json"), "{err}");
    }

    #[test]
    fn an_unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(EVALUATION_FILE),
            r#"{"schema_version": 99}"#,
        )
        .unwrap();
        let err = RunFiles::load(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("schema_version 99"), "{err:#}");
    }

    #[test]
    fn a_file_missing_fields_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(EVALUATION_FILE), r#"{"schema_version": 1}"#).unwrap();
        let err = RunFiles::load(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains(EVALUATION_FILE), "{err:#}");
    }
}
