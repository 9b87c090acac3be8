//! `predictions.csv`: the contract between any trainer and the evaluation.
//!
//! One row per evaluation row: `id`, `label` (the true value), `prediction`, and for classifiers
//! optional `score_<class>` columns holding each class's probability. mlgate's own trainer
//! writes it, an external trainer (Python, R, anything) writes the same file, and `mlgate
//! evaluate` reads both sides from it, so nothing else about a model needs to be known to
//! compare it. The file is checked hard: a duplicated or empty id, a missing column or a score
//! that is not a probability is an error naming the file, row and column.

// A `DataError` is built once per failed run; boxing it would cost clarity, not speed.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::Path;

use crate::data::DataError;

/// The champion's predictions on the candidate's evaluation rows, kept in the run directory
/// by `mlgate evaluate` for the report's charts.
pub const CHAMPION_PREDICTIONS_FILE: &str = "champion_predictions.csv";

/// Prefix of the per-class score columns.
pub const SCORE_PREFIX: &str = "score_";

/// A predictions file in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Names the file in messages.
    pub source: String,
    /// Row ids, unique.
    pub ids: Vec<String>,
    /// True values as written.
    pub labels: Vec<String>,
    /// Predicted values as written.
    pub predicted: Vec<String>,
    /// The classes of the score columns, in file order.
    pub score_classes: Vec<String>,
    /// Row-major scores, `ids.len() × score_classes.len()`.
    pub scores: Vec<f64>,
}

/// Builds a located error about a predictions file.
fn error(source: &str, row: Option<u64>, column: Option<&str>, message: String) -> DataError {
    DataError {
        file: source.to_string(),
        row,
        line: None,
        column: column.map(str::to_string),
        message,
        hint: Some("the format is described in docs/external-trainers.md".into()),
    }
}

impl Predictions {
    /// Reads and checks a predictions file.
    pub fn read(path: &Path) -> anyhow::Result<Predictions> {
        let source = path.display().to_string();
        let bytes = fs_err::read(path)?;
        Ok(Predictions::parse(&source, &bytes)?)
    }

    /// Parses predictions from CSV bytes; `source` names them in errors.
    pub fn parse(source: &str, bytes: &[u8]) -> Result<Predictions, DataError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes);
        let header = reader
            .headers()
            .map_err(|e| error(source, None, None, format!("unreadable header: {e}")))?
            .clone();
        let find = |name: &str| header.iter().position(|h| h == name);
        let [id_at, label_at, predicted_at] = ["id", "label", "prediction"].map(find);
        let (Some(id_at), Some(label_at), Some(predicted_at)) = (id_at, label_at, predicted_at)
        else {
            return Err(error(
                source,
                None,
                None,
                format!(
                    "the header must have `id`, `label` and `prediction` columns, found `{}`",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ));
        };
        let score_columns: Vec<(usize, String)> = header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.strip_prefix(SCORE_PREFIX).map(|c| (i, c.to_string())))
            .collect();
        let mut out = Predictions {
            source: source.to_string(),
            ids: Vec::new(),
            labels: Vec::new(),
            predicted: Vec::new(),
            score_classes: score_columns.iter().map(|(_, c)| c.clone()).collect(),
            scores: Vec::new(),
        };
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (index, record) in reader.records().enumerate() {
            let row = index as u64 + 1;
            let record =
                record.map_err(|e| error(source, Some(row), None, format!("unreadable: {e}")))?;
            let field = |at: usize| record.get(at).unwrap_or("");
            let id = field(id_at);
            if id.is_empty() {
                return Err(error(
                    source,
                    Some(row),
                    Some("id"),
                    "the id is empty".into(),
                ));
            }
            if let Some(first) = seen.insert(id.to_string(), row) {
                return Err(error(
                    source,
                    Some(row),
                    Some("id"),
                    format!("id `{id}` repeats row {first}; every evaluation row must appear once"),
                ));
            }
            for (at, name) in [(label_at, "label"), (predicted_at, "prediction")] {
                if field(at).is_empty() {
                    return Err(error(
                        source,
                        Some(row),
                        Some(name),
                        format!("the {name} is empty"),
                    ));
                }
            }
            out.ids.push(id.to_string());
            out.labels.push(field(label_at).to_string());
            out.predicted.push(field(predicted_at).to_string());
            for (at, class) in &score_columns {
                let text = field(*at);
                let column = format!("{SCORE_PREFIX}{class}");
                let value = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (0.0..=1.0).contains(v));
                let Some(value) = value else {
                    return Err(error(
                        source,
                        Some(row),
                        Some(&column),
                        format!("`{text}` is not a probability between 0 and 1"),
                    ));
                };
                out.scores.push(value);
            }
        }
        if out.ids.is_empty() {
            return Err(error(source, None, None, "there are no rows".into()));
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows (never true for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Writes the file through a temporary sibling and a rename, so a crash never leaves half
    /// a file behind. Floats are written in their shortest exact form, so the bytes are
    /// reproducible.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header = vec!["id".to_string(), "label".into(), "prediction".into()];
        header.extend(
            self.score_classes
                .iter()
                .map(|c| format!("{SCORE_PREFIX}{c}")),
        );
        writer.write_record(&header)?;
        let k = self.score_classes.len();
        let mut record: Vec<String> = Vec::with_capacity(3 + k);
        for i in 0..self.ids.len() {
            record.clear();
            record.push(self.ids[i].clone());
            record.push(self.labels[i].clone());
            record.push(self.predicted[i].clone());
            record.extend(
                self.scores[i * k..(i + 1) * k]
                    .iter()
                    .map(|v| v.to_string()),
            );
            writer.write_record(&record)?;
        }
        let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::fsx::write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses text, expecting success.
    fn ok(text: &str) -> Predictions {
        Predictions::parse("p.csv", text.as_bytes()).expect("parses")
    }

    /// Parses text, expecting an error, and returns its message.
    fn bad(text: &str) -> String {
        Predictions::parse("p.csv", text.as_bytes())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn reads_ids_labels_predictions_and_scores() {
        let p =
            ok("id,label,prediction,score_no,score_yes\na,yes,yes,0.25,0.75\nb,no,yes,0.4,0.6\n");
        assert_eq!(p.ids, ["a", "b"]);
        assert_eq!(p.labels, ["yes", "no"]);
        assert_eq!(p.predicted, ["yes", "yes"]);
        assert_eq!(p.score_classes, ["no", "yes"]);
        assert_eq!(p.scores, [0.25, 0.75, 0.4, 0.6]);
    }

    #[test]
    fn columns_may_come_in_any_order_and_extra_ones_are_ignored() {
        let p = ok("prediction,note,label,id\n1.5,x,2.0,7\n");
        assert_eq!(p.ids, ["7"]);
        assert_eq!(p.labels, ["2.0"]);
        assert_eq!(p.predicted, ["1.5"]);
        assert!(p.score_classes.is_empty());
    }

    #[test]
    fn a_duplicated_id_names_both_rows() {
        let message = bad("id,label,prediction\na,1,1\nb,1,0\na,0,0\n");
        assert!(message.contains("row 3"), "{message}");
        assert!(message.contains("repeats row 1"), "{message}");
    }

    #[test]
    fn missing_columns_and_empty_values_are_named() {
        assert!(bad("id,label\na,1\n").contains("`prediction`"));
        let message = bad("id,label,prediction\n,1,1\n");
        assert!(
            message.contains("row 1") && message.contains("column `id`"),
            "{message}"
        );
        let message = bad("id,label,prediction\na,1,\n");
        assert!(message.contains("column `prediction`"), "{message}");
    }

    #[test]
    fn scores_must_be_probabilities() {
        let message = bad("id,label,prediction,score_a\nx,a,a,1.5\n");
        assert!(message.contains("column `score_a`"), "{message}");
        assert!(bad("id,label,prediction,score_a\nx,a,a,nan\n").contains("probability"));
    }

    #[test]
    fn ragged_rows_empty_files_and_garbage_are_errors_not_panics() {
        assert!(bad("id,label,prediction\na,1\n").contains("row 1"));
        assert!(bad("id,label,prediction\n").contains("no rows"));
        assert!(bad("").contains("`id`"));
        let _ = Predictions::parse("p.csv", b"\xff\xfe\x00garbage\n\x00,,\n");
    }

    #[test]
    fn write_then_read_round_trips_exactly() {
        let p = Predictions {
            source: "x".into(),
            ids: vec!["a,1".into(), "b\"2".into()],
            labels: vec!["yes".into(), "no".into()],
            predicted: vec!["no".into(), "no".into()],
            score_classes: vec!["no".into(), "yes".into()],
            scores: vec![0.1 + 0.2, 1.0 - (0.1 + 0.2), 1.0, 0.0],
        };
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("predictions.csv");
        p.write(&path).expect("write");
        let back = Predictions::read(&path).expect("read");
        assert_eq!(back.ids, p.ids);
        assert_eq!(back.scores, p.scores);
        assert_eq!(back.labels, p.labels);
    }
}
