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
use std::fmt::Write as _;
use std::path::Path;

use crate::data::hash::FastHash;
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
        let columns = Columns::find(source, &header)?;
        // A row is about as long as the header's line; reserving from that spares the copies
        // of growing ten vectors a million rows long.
        let rows_hint = bytes.len() / header.as_byte_record().as_slice().len().max(16);
        let mut out = Predictions {
            source: source.to_string(),
            ids: Vec::with_capacity(rows_hint),
            labels: Vec::with_capacity(rows_hint),
            predicted: Vec::with_capacity(rows_hint),
            score_classes: columns.scores.iter().map(|s| s.class.clone()).collect(),
            scores: Vec::with_capacity(rows_hint * columns.scores.len()),
        };
        let read = out.read_rows(&mut reader, &columns);
        // Duplicates are found once every id is in; an earlier repeat still wins over a later
        // broken row, so the message is always about the first problem in the file.
        let duplicate = first_repeated_id(source, &out.ids);
        match (read, duplicate) {
            (_, Err(repeat)) => Err(repeat),
            (Err(broken), Ok(())) => Err(broken),
            (Ok(()), Ok(())) if out.ids.is_empty() => {
                Err(error(source, None, None, "there are no rows".into()))
            }
            (Ok(()), Ok(())) => Ok(out),
        }
    }

    /// Appends every record after the header, stopping at the first broken one.
    fn read_rows(
        &mut self,
        reader: &mut csv::Reader<&[u8]>,
        columns: &Columns,
    ) -> Result<(), DataError> {
        let source = self.source.clone();
        let mut record = csv::ByteRecord::new();
        for row in 1u64.. {
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| error(&source, Some(row), None, format!("unreadable: {e}")))?;
            if !more {
                break;
            }
            let text = |at: usize, name: &str| -> Result<&str, DataError> {
                std::str::from_utf8(record.get(at).unwrap_or_default())
                    .map_err(|_| error(&source, Some(row), Some(name), "not valid UTF-8".into()))
            };
            let required = |at: usize, name: &str| -> Result<String, DataError> {
                let value = text(at, name)?;
                if value.is_empty() {
                    return Err(error(
                        &source,
                        Some(row),
                        Some(name),
                        format!("the {name} is empty"),
                    ));
                }
                Ok(value.to_string())
            };
            self.ids.push(required(columns.id, "id")?);
            self.labels.push(required(columns.label, "label")?);
            self.predicted
                .push(required(columns.predicted, "prediction")?);
            for score in &columns.scores {
                let text = text(score.at, &score.column)?;
                let value = crate::data::types::parse_decimal(text.trim())
                    .filter(|v| v.is_finite() && (0.0..=1.0).contains(v));
                let Some(value) = value else {
                    return Err(error(
                        &source,
                        Some(row),
                        Some(&score.column),
                        format!("`{text}` is not a probability between 0 and 1"),
                    ));
                };
                self.scores.push(value);
            }
        }
        Ok(())
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
        let mut number = String::new();
        for i in 0..self.ids.len() {
            writer.write_field(&self.ids[i])?;
            writer.write_field(&self.labels[i])?;
            writer.write_field(&self.predicted[i])?;
            for value in self.scores.get(i * k..(i + 1) * k).unwrap_or_default() {
                number.clear();
                write!(number, "{value}")?;
                writer.write_field(&number)?;
            }
            writer.write_record(None::<&[u8]>)?;
        }
        let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::fsx::write_atomic(path, &bytes)
    }
}

/// Where the columns of a predictions file are.
struct Columns {
    /// The `id` column.
    id: usize,
    /// The `label` column.
    label: usize,
    /// The `prediction` column.
    predicted: usize,
    /// The `score_<class>` columns, in file order.
    scores: Vec<ScoreColumn>,
}

/// One `score_<class>` column.
struct ScoreColumn {
    /// Its position.
    at: usize,
    /// Its name, for messages.
    column: String,
    /// The class it scores.
    class: String,
}

impl Columns {
    /// Finds the columns by name; `id`, `label` and `prediction` are required.
    fn find(source: &str, header: &csv::StringRecord) -> Result<Columns, DataError> {
        let find = |name: &str| header.iter().position(|h| h == name);
        let [id, label, predicted] = ["id", "label", "prediction"].map(find);
        let (Some(id), Some(label), Some(predicted)) = (id, label, predicted) else {
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
        let scores = header
            .iter()
            .enumerate()
            .filter_map(|(at, h)| {
                h.strip_prefix(SCORE_PREFIX).map(|class| ScoreColumn {
                    at,
                    column: h.to_string(),
                    class: class.to_string(),
                })
            })
            .collect();
        Ok(Columns {
            id,
            label,
            predicted,
            scores,
        })
    }
}

/// The first id that repeats an earlier one, as an error naming both rows.
fn first_repeated_id(source: &str, ids: &[String]) -> Result<(), DataError> {
    let mut seen: HashMap<&str, u64, FastHash> =
        HashMap::with_capacity_and_hasher(ids.len(), FastHash::default());
    for (index, id) in ids.iter().enumerate() {
        let row = index as u64 + 1;
        if let Some(first) = seen.insert(id, row) {
            return Err(error(
                source,
                Some(row),
                Some("id"),
                format!("id `{id}` repeats row {first}; every evaluation row must appear once"),
            ));
        }
    }
    Ok(())
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
