//! `profile.json`: a small, mergeable summary of a dataset that stands in for the raw data as a
//! drift reference.
//!
//! A profile holds per-column counts, moments, a quantile sketch and a frequency table, so the
//! profile of a 10 GB file is a few hundred kilobytes and a drift reference needs no raw data.

use serde::{Deserialize, Serialize};

use crate::data::sketch::{FrequentItems, QuantileSketch};
use crate::data::types::ColumnType;
use crate::data::ScanSummary;

use super::scan::Scanner;

/// The current `profile.json` format.
pub const PROFILE_SCHEMA_VERSION: u32 = 1;

/// The whole profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version.
    pub schema_version: u32,
    /// The mlgate version that wrote it.
    pub tool_version: String,
    /// The data it summarises.
    pub source: SourceInfo,
    /// Data rows.
    pub rows: u64,
    /// Columns in data order.
    pub columns: Vec<ColumnProfile>,
}

/// Where a profile's data came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// The file, as given (or `path@commit` for git).
    pub file: String,
    /// File size in bytes.
    pub bytes: u64,
    /// xxh3-128 of the file's bytes.
    pub fingerprint: String,
}

/// One column's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnProfile {
    /// The column name.
    pub name: String,
    /// The type values were read as.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Values that parsed.
    pub count: u64,
    /// Missing values.
    pub nulls: u64,
    /// Values that did not parse as `type`.
    pub invalid: u64,
    /// Numeric summary (numeric types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericProfile>,
    /// Frequencies (labels), absent for free text with too many distinct values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequencies: Option<FrequentItems>,
    /// Shortest and longest text in characters (string and categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengths: Option<(usize, usize)>,
}

/// Moments and the quantile sketch of a numeric column.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericProfile {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean of the finite values.
    pub mean: f64,
    /// Sample standard deviation of the finite values.
    pub std: f64,
    /// The sketch, for drift tests and quantiles.
    pub sketch: QuantileSketch,
}

impl ColumnProfile {
    /// The share of rows that are missing.
    pub fn null_fraction(&self) -> f64 {
        let rows = self.count + self.nulls + self.invalid;
        if rows == 0 {
            0.0
        } else {
            self.nulls as f64 / rows as f64
        }
    }
}

impl Profile {
    /// Builds the profile from a finished validation pass.
    pub fn from_scan(file: &str, summary: &ScanSummary, scanner: &Scanner) -> Profile {
        let columns = scanner
            .columns
            .iter()
            .map(|state| ColumnProfile {
                name: state.name.clone(),
                ty: state.ty,
                count: state.count,
                nulls: state.nulls.count,
                invalid: state.type_errors.count,
                numeric: match (&state.moments, &state.sketch) {
                    (Some(m), Some(sketch)) if m.n > 0 => Some(NumericProfile {
                        min: m.min,
                        max: m.max,
                        mean: m.mean(),
                        std: m.std(),
                        sketch: sketch.clone(),
                    }),
                    _ => None,
                },
                frequencies: state.items.clone(),
                lengths: state.lengths,
            })
            .collect();
        Profile {
            schema_version: PROFILE_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source: SourceInfo {
                file: file.to_string(),
                bytes: summary.bytes,
                fingerprint: summary.fingerprint.clone(),
            },
            rows: summary.rows,
            columns,
        }
    }

    /// Reads a stored profile, refusing other format versions and corrupt sketches clearly.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Profile> {
        let text = fs_err::read_to_string(path)?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|err| anyhow::anyhow!("`{}` is not JSON: {err}", path.display()))?;
        let version = value.get("schema_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(PROFILE_SCHEMA_VERSION)) {
            anyhow::bail!(
                "`{}` is a profile of format version {}, this mlgate reads version {PROFILE_SCHEMA_VERSION}",
                path.display(),
                version.map_or("unknown".to_string(), |v| v.to_string())
            );
        }
        let profile: Profile = serde_json::from_value(value)
            .map_err(|err| anyhow::anyhow!("`{}` is not a valid profile: {err}", path.display()))?;
        Ok(profile)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile of one float column holding `values`, as JSON.
    fn profile_json(values: &[f64]) -> serde_json::Value {
        let mut sketch = QuantileSketch::new();
        sketch.extend(values);
        let profile = Profile {
            schema_version: PROFILE_SCHEMA_VERSION,
            tool_version: "test".into(),
            source: SourceInfo {
                file: "t.csv".into(),
                bytes: 10,
                fingerprint: "f".into(),
            },
            rows: values.len() as u64,
            columns: vec![ColumnProfile {
                name: "x".into(),
                ty: ColumnType::Float,
                count: values.len() as u64,
                nulls: 0,
                invalid: 0,
                numeric: Some(NumericProfile {
                    min: 1.0,
                    max: 3.0,
                    mean: 2.0,
                    std: 1.0,
                    sketch,
                }),
                frequencies: None,
                lengths: None,
            }],
        };
        serde_json::to_value(&profile).unwrap()
    }

    /// [`Profile::load`] of `json` written to a file, as the error's text on failure.
    fn load(json: &str) -> Result<Profile, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        std::fs::write(&path, json).unwrap();
        Profile::load(&path).map_err(|err| format!("{err:#}"))
    }

    #[test]
    fn a_written_profile_loads_back() {
        let json = profile_json(&[1.0, 2.0, 3.0]);
        let profile = load(&json.to_string()).unwrap();
        assert_eq!(serde_json::to_value(&profile).unwrap(), json);
    }

    #[test]
    fn other_versions_and_broken_files_are_refused_by_name() {
        let mut json = profile_json(&[1.0, 2.0, 3.0]);
        json["schema_version"] = 2.into();
        let err = load(&json.to_string()).unwrap_err();
        assert!(
            err.contains(
                "profile.json` is a profile of format version 2, this mlgate reads version 1"
            ),
            "{err}"
        );
        json.as_object_mut().unwrap().remove("schema_version");
        assert!(load(&json.to_string())
            .unwrap_err()
            .contains("format version unknown"));
        assert!(load("{\"schema_version\": 1,")
            .unwrap_err()
            .contains("is not JSON"));
        let mut json = profile_json(&[1.0, 2.0, 3.0]);
        json["columns"][0]["extra"] = true.into();
        let err = load(&json.to_string()).unwrap_err();
        assert!(
            err.contains("is not a valid profile") && err.contains("extra"),
            "{err}"
        );
        let mut json = profile_json(&[1.0, 2.0, 3.0]);
        json["columns"][0]["numeric"]["sketch"]["count"] = 99.into();
        let err = load(&json.to_string()).unwrap_err();
        assert!(
            err.contains("is not a valid profile"),
            "a sketch that does not add up: {err}"
        );
    }
}
