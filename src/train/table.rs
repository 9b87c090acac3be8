//! The dataset in memory, column by column, for fitting and scoring models.
//!
//! Validation streams and forgets; training needs every row at once. Only the columns a model
//! uses are kept: numbers as `f64` (missing as NaN) and text as dictionary codes, so a million
//! rows of ten columns take about 80 MB. Blocks read in parallel keep their own dictionaries and
//! are folded back in file order, so codes (first appearance in the file) do not depend on the
//! number of threads.

use std::collections::HashMap;
use std::path::Path;

use crate::data::hash::FastHash;
use crate::data::types::{self, ColumnType, Value};
use crate::data::{self, Cell, DataError, ReadOptions, RowSink, ScanSummary};

/// Marks a missing text cell.
pub const NULL_CODE: u32 = u32::MAX;

/// How one column is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// As a number: ints, floats, dates (days), datetimes (seconds), bools (0 / 1).
    Number(ColumnType),
    /// As text, whatever its type (labels, ids, categories).
    Text,
}

/// One loaded column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Numbers; NaN where the cell was missing.
    Numbers(Vec<f64>),
    /// Dictionary-coded text; [`NULL_CODE`] where missing.
    Text {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct values, in order of first appearance.
        values: Vec<String>,
    },
}

impl ColumnData {
    /// The text of row `i` of a text column, `None` when missing or numeric.
    pub fn text(&self, i: usize) -> Option<&str> {
        match self {
            ColumnData::Text { codes, values } => {
                values.get(*codes.get(i)? as usize).map(String::as_str)
            }
            ColumnData::Numbers(_) => None,
        }
    }
}

/// A column and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The header name.
    pub name: String,
    /// How it was loaded.
    pub load: Load,
    /// The values.
    pub data: ColumnData,
}

/// The loaded columns plus what identifies each row.
#[derive(Debug, Clone)]
pub struct Table {
    /// The columns, in the order they were asked for.
    pub columns: Vec<Column>,
    /// Data rows.
    pub rows: usize,
    /// A hash of each row's cells, for splitting data without an id column.
    pub row_hashes: Vec<u64>,
    /// Size and fingerprint of the file.
    pub summary: ScanSummary,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads the named columns of a data file; a missing column or a cell that does not parse as
/// its type is an error naming the file, row and column.
pub fn load(
    path: &Path,
    label: &str,
    options: &ReadOptions,
    wanted: &[(String, Load)],
) -> anyhow::Result<Table> {
    let mut sink = Loader::new(label, wanted.to_vec());
    let summary = data::scan_file(path, options, &mut sink)?;
    sink.finish(summary)
}

/// The sink that fills the columns.
#[derive(Debug)]
struct Loader {
    /// Names errors.
    label: String,
    /// What to keep, in output order.
    wanted: Vec<(String, Load)>,
    /// For each wanted column, its position in the file.
    positions: Vec<usize>,
    /// The columns being filled.
    columns: Vec<Builder>,
    /// Row hashes.
    row_hashes: Vec<u64>,
    /// Rows seen.
    rows: u64,
    /// The first cell that did not parse.
    first_error: Option<DataError>,
}

/// One column being filled.
#[derive(Debug)]
enum Builder {
    /// Numbers of a type.
    Numbers(ColumnType, Vec<f64>),
    /// Text with a block-local dictionary.
    Text {
        /// Codes per row.
        codes: Vec<u32>,
        /// Distinct values in order of first appearance.
        values: Vec<String>,
        /// Value to code.
        index: HashMap<String, u32, FastHash>,
    },
}

impl Builder {
    /// An empty builder for a plan.
    fn new(load: Load) -> Builder {
        match load {
            Load::Number(ty) => Builder::Numbers(ty, Vec::new()),
            Load::Text => Builder::Text {
                codes: Vec::new(),
                values: Vec::new(),
                index: HashMap::default(),
            },
        }
    }

    /// Appends one cell; `Err` with the offending text when it does not parse.
    fn push(&mut self, cell: Cell<'_>) -> Result<(), String> {
        match self {
            Builder::Numbers(ty, out) => {
                let value = match types::convert(cell, *ty) {
                    Ok(None) => f64::NAN,
                    Ok(Some(Value::Number(v))) => v,
                    Ok(Some(Value::Bool(b))) => f64::from(u8::from(b)),
                    Ok(Some(Value::Text(_))) | Err(()) => {
                        return Err(cell_text(cell).into_owned());
                    }
                };
                out.push(value);
            }
            Builder::Text {
                codes,
                values,
                index,
            } => {
                let code = match cell {
                    Cell::Null => NULL_CODE,
                    other => {
                        let text = cell_text(other);
                        match index.get(text.as_ref()) {
                            Some(&code) => code,
                            None => {
                                let code = values.len() as u32;
                                values.push(text.clone().into_owned());
                                index.insert(text.into_owned(), code);
                                code
                            }
                        }
                    }
                };
                codes.push(code);
            }
        }
        Ok(())
    }

    /// Appends a later block, re-coding its text into this dictionary.
    fn absorb(&mut self, later: Builder) {
        match (self, later) {
            (Builder::Numbers(_, mine), Builder::Numbers(_, theirs)) => mine.extend(theirs),
            (
                Builder::Text {
                    codes,
                    values,
                    index,
                },
                Builder::Text {
                    codes: later_codes,
                    values: later_values,
                    ..
                },
            ) => {
                let remap: Vec<u32> = later_values
                    .into_iter()
                    .map(|value| match index.get(&value) {
                        Some(&code) => code,
                        None => {
                            let code = values.len() as u32;
                            values.push(value.clone());
                            index.insert(value, code);
                            code
                        }
                    })
                    .collect();
                codes.extend(later_codes.into_iter().map(|c| {
                    if c == NULL_CODE {
                        NULL_CODE
                    } else {
                        remap[c as usize]
                    }
                }));
            }
            // Both sides come from the same plan, so the variants always agree.
            _ => {}
        }
    }

    /// The finished column data.
    fn finish(self) -> ColumnData {
        match self {
            Builder::Numbers(_, values) => ColumnData::Numbers(values),
            Builder::Text { codes, values, .. } => ColumnData::Text { codes, values },
        }
    }
}

/// A cell's text as written (typed Parquet cells in their canonical form).
pub fn cell_text<'a>(cell: Cell<'a>) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    match cell {
        Cell::Null => Cow::Borrowed(""),
        Cell::Text(t) => Cow::Borrowed(t),
        Cell::Int(v) => Cow::Owned(v.to_string()),
        Cell::Float(v) => Cow::Owned(v.to_string()),
        Cell::Bool(v) => Cow::Borrowed(if v { "true" } else { "false" }),
        Cell::Date(d) => Cow::Owned(types::format_date(i64::from(d))),
        Cell::Datetime(us) => Cow::Owned(types::format_datetime(us as f64 / 1e6)),
    }
}

impl Loader {
    /// A loader for the wanted columns.
    fn new(label: &str, wanted: Vec<(String, Load)>) -> Loader {
        Loader {
            label: label.to_string(),
            columns: wanted.iter().map(|(_, load)| Builder::new(*load)).collect(),
            wanted,
            positions: Vec::new(),
            row_hashes: Vec::new(),
            rows: 0,
            first_error: None,
        }
    }

    /// The table, or the first problem met.
    fn finish(self, summary: ScanSummary) -> anyhow::Result<Table> {
        if let Some(error) = self.first_error {
            return Err(error.into());
        }
        let columns = self
            .wanted
            .into_iter()
            .zip(self.columns)
            .map(|((name, load), builder)| Column {
                name,
                load,
                data: builder.finish(),
            })
            .collect();
        Ok(Table {
            columns,
            rows: self.rows as usize,
            row_hashes: self.row_hashes,
            summary,
        })
    }
}

impl RowSink for Loader {
    fn begin(&mut self, columns: &[String]) -> anyhow::Result<()> {
        let mut positions = Vec::with_capacity(self.wanted.len());
        for (name, _) in &self.wanted {
            match columns.iter().position(|c| c == name) {
                Some(p) => positions.push(p),
                None => {
                    let hint = crate::config::closest(name, columns.iter().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"));
                    return Err(DataError {
                        file: self.label.clone(),
                        row: None,
                        line: None,
                        column: Some(name.clone()),
                        message: "the column is not in the data".into(),
                        hint,
                    }
                    .into());
                }
            }
        }
        self.positions = positions;
        Ok(())
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
        self.rows = row;
        let mut hash = 0u64;
        for &cell in cells {
            hash = (hash ^ crate::validate::scan::hash_cell(cell))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
        self.row_hashes.push(hash);
        for (k, builder) in self.columns.iter_mut().enumerate() {
            let cell = cells.get(self.positions[k]).copied().unwrap_or(Cell::Null);
            if let Err(text) = builder.push(cell) {
                // Keep the row aligned; the error stops the run after the scan.
                if let Builder::Numbers(_, out) = builder {
                    out.push(f64::NAN);
                }
                if self.first_error.is_none() {
                    let ty = match self.wanted[k].1 {
                        Load::Number(ty) => ty.name(),
                        Load::Text => "text",
                    };
                    self.first_error = Some(DataError {
                        file: self.label.clone(),
                        row: Some(row),
                        line: None,
                        column: Some(self.wanted[k].0.clone()),
                        message: format!("`{text}` is not a valid {ty}"),
                        hint: Some(
                            "`mlgate validate` lists every such cell; fix the data or the schema"
                                .into(),
                        ),
                    });
                }
            }
        }
    }

    fn split(&self) -> Self {
        Loader {
            label: self.label.clone(),
            wanted: self.wanted.clone(),
            positions: self.positions.clone(),
            columns: self.wanted.iter().map(|(_, l)| Builder::new(*l)).collect(),
            row_hashes: Vec::new(),
            rows: 0,
            first_error: None,
        }
    }

    fn absorb(&mut self, later: Self, rows_before: u64) {
        if self.first_error.is_none() {
            self.first_error = later.first_error.map(|mut e| {
                e.row = e.row.map(|r| r + rows_before);
                e
            });
        }
        self.rows = rows_before + later.rows;
        self.row_hashes.extend(later.row_hashes);
        for (mine, theirs) in self.columns.iter_mut().zip(later.columns) {
            mine.absorb(theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataFormat;

    /// Options for a comma-separated test file.
    fn options() -> ReadOptions {
        ReadOptions {
            format: DataFormat::Csv,
            delimiter: b',',
            null_values: crate::config::default_null_values(),
            exclude: Vec::new(),
            max_record_bytes: 1 << 20,
        }
    }

    /// Writes `text` to a temporary CSV file.
    fn csv(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn loads_numbers_and_text_with_missing_values() {
        let file = csv("a,b,c\n1,x,true\n,y,false\n3.5,x,\n");
        let wanted = vec![
            ("b".to_string(), Load::Text),
            ("a".to_string(), Load::Number(ColumnType::Float)),
            ("c".to_string(), Load::Number(ColumnType::Bool)),
        ];
        let table = load(file.path(), "t.csv", &options(), &wanted).expect("loads");
        assert_eq!(table.rows, 3);
        assert_eq!(
            table.columns[0].data,
            ColumnData::Text {
                codes: vec![0, 1, 0],
                values: vec!["x".into(), "y".into()]
            }
        );
        let ColumnData::Numbers(a) = &table.columns[1].data else {
            panic!("numbers")
        };
        assert_eq!(a[0], 1.0);
        assert!(a[1].is_nan());
        assert_eq!(a[2], 3.5);
        let ColumnData::Numbers(c) = &table.columns[2].data else {
            panic!("numbers")
        };
        assert_eq!(c[..2], [1.0, 0.0]);
        assert!(c[2].is_nan());
        assert_eq!(table.row_hashes.len(), 3);
    }

    #[test]
    fn a_bad_cell_names_its_row_and_column() {
        let file = csv("a\n1\nzebra\n");
        let wanted = vec![("a".to_string(), Load::Number(ColumnType::Int))];
        let err = load(file.path(), "t.csv", &options(), &wanted).expect_err("bad cell");
        let text = err.to_string();
        assert!(text.contains("row 2"), "{text}");
        assert!(text.contains("column `a`"), "{text}");
        assert!(text.contains("`zebra` is not a valid int"), "{text}");
    }

    #[test]
    fn a_missing_column_suggests_the_closest() {
        let file = csv("species,island\nA,B\n");
        let wanted = vec![("specie".to_string(), Load::Text)];
        let err = load(file.path(), "t.csv", &options(), &wanted).expect_err("missing");
        let text = err.to_string();
        assert!(text.contains("not in the data"), "{text}");
        assert!(text.contains("did you mean `species`"), "{text}");
    }

    #[test]
    fn codes_do_not_depend_on_block_boundaries() {
        let mut whole = Loader::new("t", vec![("a".to_string(), Load::Text)]);
        whole.begin(&["a".to_string()]).expect("begin");
        let mut first = whole.split();
        let mut second = whole.split();
        for (row, v) in ["p", "q"].iter().enumerate() {
            first.row(row as u64 + 1, &[Cell::Text(v)]);
        }
        for (row, v) in ["r", "p", "r"].iter().enumerate() {
            second.row(row as u64 + 1, &[Cell::Text(v)]);
        }
        whole.absorb(first, 0);
        whole.absorb(second, 2);
        let summary = ScanSummary {
            rows: 5,
            bytes: 0,
            fingerprint: String::new(),
            one_line_per_row: false,
        };
        let table = whole.finish(summary).expect("table");
        assert_eq!(
            table.columns[0].data,
            ColumnData::Text {
                codes: vec![0, 1, 2, 0, 2],
                values: vec!["p".into(), "q".into(), "r".into()]
            }
        );
        assert_eq!(table.rows, 5);
    }
}
