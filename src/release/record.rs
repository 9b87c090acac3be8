//! The annotated tag's message: a human summary, then a machine-readable record.
//!
//! The record is a block of `key: value` lines after a `mlgate-tag-format: N` line, in the
//! style of git trailers, so `git show NAME@vX.Y.Z` reads well and mlgate (or a script) can
//! recover the metrics and hashes of any promoted version without downloading anything. This
//! is what lets a champion whose model cannot be had still be compared on its recorded
//! metrics. Keys a reader does not know are ignored; a newer format is refused.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::version::Version;

/// The record layout this mlgate writes and reads.
pub const FORMAT: u32 = 1;

/// The line that opens the record.
const FORMAT_KEY: &str = "mlgate-tag-format";

/// The prefix of metric keys (`metric.f1_macro: 0.91`).
const METRIC_PREFIX: &str = "metric.";

/// What a promoted version records about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TagRecord {
    /// The registry name.
    pub name: String,
    /// The version.
    pub version: Option<Version>,
    /// `model.kind`.
    pub model_kind: Option<String>,
    /// The gate's primary metric.
    pub primary: Option<String>,
    /// The candidate's metrics on its evaluation set, by name.
    pub metrics: BTreeMap<String, f64>,
    /// The evaluation set's hash (ids and labels).
    pub eval_set_hash: Option<String>,
    /// xxh3-128 of the training data file.
    pub data_xxh3: Option<String>,
    /// sha256 of the config file.
    pub config_sha256: Option<String>,
    /// The feature schema's hash: a change means a major version.
    pub feature_schema_hash: Option<String>,
    /// sha256 of `manifest.json`, which in turn lists the sha256 of every model file.
    pub manifest_sha256: Option<String>,
    /// The mlgate that promoted it.
    pub tool_version: Option<String>,
    /// The CI run that promoted it.
    pub run_url: Option<String>,
}

/// Why a tag message's record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The message has no record (a tag made by hand or by another tool).
    #[error("the tag message holds no mlgate record (`{FORMAT_KEY}:` line)")]
    Missing,
    /// A newer mlgate wrote it.
    #[error("the tag record has format {0}; this mlgate reads format {FORMAT} (upgrade mlgate)")]
    Newer(u32),
    /// A line of the record is malformed.
    #[error("line {line} of the tag record is not `key: value`: `{text}`")]
    Line {
        /// 1-based line in the message.
        line: usize,
        /// The line.
        text: String,
    },
}

impl TagRecord {
    /// The whole tag message: summary line, a blank line, the human lines, the record.
    pub fn message(&self, summary: &str, body: &[String]) -> String {
        let mut out = one_line(summary);
        out.push_str("\n\n");
        for line in body {
            out.push_str(&one_line(line));
            out.push('\n');
        }
        if !body.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.block());
        out
    }

    /// The record block alone.
    fn block(&self) -> String {
        let mut out = format!("{FORMAT_KEY}: {FORMAT}\n");
        let mut line = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                let _ = writeln!(out, "{key}: {}", one_line(value));
            }
        };
        line("name", Some(&self.name));
        line("version", self.version.map(|v| v.to_string()).as_deref());
        line("model-kind", self.model_kind.as_deref());
        line("primary-metric", self.primary.as_deref());
        for (metric, value) in self.metrics.iter().filter(|(_, v)| v.is_finite()) {
            line(
                &format!("{METRIC_PREFIX}{metric}"),
                Some(&value.to_string()),
            );
        }
        line("eval-set-hash", self.eval_set_hash.as_deref());
        line("data-xxh3", self.data_xxh3.as_deref());
        line("config-sha256", self.config_sha256.as_deref());
        line("feature-schema-hash", self.feature_schema_hash.as_deref());
        line("manifest-sha256", self.manifest_sha256.as_deref());
        line("tool-version", self.tool_version.as_deref());
        line("run-url", self.run_url.as_deref());
        out
    }

    /// Reads the record out of a tag message (the last `mlgate-tag-format:` block).
    pub fn parse(message: &str) -> Result<TagRecord, RecordError> {
        let lines: Vec<&str> = message.lines().collect();
        let start = lines
            .iter()
            .rposition(|l| l.starts_with(&format!("{FORMAT_KEY}:")))
            .ok_or(RecordError::Missing)?;
        let format_text = lines[start][FORMAT_KEY.len() + 1..].trim();
        let format: u32 = format_text.parse().map_err(|_| RecordError::Line {
            line: start + 1,
            text: lines[start].to_string(),
        })?;
        if format > FORMAT {
            return Err(RecordError::Newer(format));
        }
        let mut record = TagRecord::default();
        for (index, text) in lines.iter().enumerate().skip(start + 1) {
            if text.trim().is_empty() {
                continue;
            }
            let bad = || RecordError::Line {
                line: index + 1,
                text: text.to_string(),
            };
            let (key, value) = text.split_once(": ").ok_or_else(bad)?;
            let value = value.trim().to_string();
            if let Some(metric) = key.strip_prefix(METRIC_PREFIX) {
                let number: f64 = value.parse().map_err(|_| bad())?;
                record.metrics.insert(metric.to_string(), number);
                continue;
            }
            let slot = match key {
                "name" => {
                    record.name = value;
                    continue;
                }
                "version" => {
                    record.version = Some(value.parse().map_err(|_| bad())?);
                    continue;
                }
                "model-kind" => &mut record.model_kind,
                "primary-metric" => &mut record.primary,
                "eval-set-hash" => &mut record.eval_set_hash,
                "data-xxh3" => &mut record.data_xxh3,
                "config-sha256" => &mut record.config_sha256,
                "feature-schema-hash" => &mut record.feature_schema_hash,
                "manifest-sha256" => &mut record.manifest_sha256,
                "tool-version" => &mut record.tool_version,
                "run-url" => &mut record.run_url,
                // A later format may add keys; reading what we know keeps old tags and new
                // tags both usable.
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(record)
    }
}

/// Collapses line breaks so untrusted text (a run URL from the environment) cannot forge
/// record lines.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full record.
    fn sample() -> TagRecord {
        TagRecord {
            name: "churn".into(),
            version: Some(Version::new(1, 2, 0)),
            model_kind: Some("logistic_regression".into()),
            primary: Some("f1_macro".into()),
            metrics: [
                ("f1_macro".to_string(), 0.9123456789),
                ("log_loss".to_string(), 0.1),
            ]
            .into_iter()
            .collect(),
            eval_set_hash: Some("e1".into()),
            data_xxh3: Some("d1".into()),
            config_sha256: Some("c1".into()),
            feature_schema_hash: Some("f1".into()),
            manifest_sha256: Some("m1".into()),
            tool_version: Some("0.1.0".into()),
            run_url: Some("https://github.com/o/r/actions/runs/1".into()),
        }
    }

    #[test]
    fn message_roundtrips_exactly() {
        let record = sample();
        let message = record.message(
            "churn v1.2.0: f1_macro 0.9123",
            &["Promoted by mlgate.".into()],
        );
        assert!(
            message.starts_with(
                "churn v1.2.0: f1_macro 0.9123\n\nPromoted by mlgate.\n\nmlgate-tag-format: 1\n"
            ),
            "{message}"
        );
        assert!(
            message.contains("\nmetric.f1_macro: 0.9123456789\n"),
            "{message}"
        );
        assert_eq!(TagRecord::parse(&message), Ok(record));
    }

    #[test]
    fn forged_lines_are_flattened() {
        let mut record = sample();
        record.run_url = Some("x\nmetric.f1_macro: 1".into());
        let parsed = TagRecord::parse(&record.message("s", &[])).unwrap();
        assert_eq!(parsed.metrics["f1_macro"], 0.9123456789);
        assert_eq!(parsed.run_url.as_deref(), Some("x metric.f1_macro: 1"));
    }

    proptest::proptest! {
        /// Any finite metric values come back bit for bit, whatever the summary and body say.
        #[test]
        fn metrics_roundtrip_exactly(
            values in proptest::collection::btree_map("[a-z_]{1,12}", proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL, 0..8),
            summary in "\\PC{0,40}",
            body in proptest::collection::vec("\\PC{0,40}", 0..3),
        ) {
            let record = TagRecord { metrics: values, ..sample() };
            let parsed = TagRecord::parse(&record.message(&summary, &body));
            proptest::prop_assert_eq!(parsed, Ok(record));
        }
    }

    #[test]
    fn missing_newer_and_malformed_records_are_errors() {
        assert_eq!(
            TagRecord::parse("hand-made tag\n"),
            Err(RecordError::Missing)
        );
        assert_eq!(
            TagRecord::parse("s\n\nmlgate-tag-format: 2\nname: a\n"),
            Err(RecordError::Newer(2))
        );
        assert!(matches!(
            TagRecord::parse("s\n\nmlgate-tag-format: 1\nmetric.f1: high\n"),
            Err(RecordError::Line { line: 4, .. })
        ));
        let later = TagRecord::parse("s\n\nmlgate-tag-format: 1\nname: a\nnew-key: v\n").unwrap();
        assert_eq!(later.name, "a");
    }
}
