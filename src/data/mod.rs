//! Reading datasets: one streaming pass over CSV or Parquet that hands typed cells to a sink.
//!
//! Formats differ only here. Every consumer (profiles, checks) implements [`RowSink`] and sees
//! column names once, then one row at a time, with 1-based row numbers (row 1 is the first data
//! row, which in a CSV with one header line sits on line 2).

// `DataError` carries its whole location by value; it is built once per failed run, so boxing
// it to shrink `Result` would cost clarity for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod chunk;
mod csv_source;
pub mod fingerprint;
pub mod hash;
mod key_sort;
mod parquet_source;
mod plain_csv;
pub mod sketch;
pub mod strata;
pub mod types;
pub mod wide_numbers;

use std::fmt;
use std::path::{Path, PathBuf};

pub use chunk::FieldChunk;
pub use types::{Cell, ColumnType};

use crate::config::{DataConfig, DataFormat};

/// Receives a dataset one row at a time, possibly in blocks on several threads.
///
/// A CSV file is cut into blocks that are read in parallel: each block gets its own sink from
/// [`RowSink::split`], numbering its rows from 1, and the blocks are folded back together in
/// file order by [`RowSink::absorb`]. Blocks are cut at fixed byte sizes, not per thread, so the
/// result is the same on any number of cores.
pub trait RowSink: Send + Sync + Sized {
    /// Called once with the column names, in file order, before any row.
    fn begin(&mut self, columns: &[String]) -> anyhow::Result<()>;
    /// Called after [`RowSink::begin`] when the sink is handed every column of a CSV file, so
    /// that a row's text is its cells joined by the delimiter: a sink that keys whole rows may
    /// hash that text instead of each cell.
    fn whole_text_rows(&mut self, layout: RowText) {
        let _ = layout;
    }
    /// Called for every data row; `row` is 1-based.
    fn row(&mut self, row: u64, cells: &[Cell<'_>]);
    /// Called instead of [`RowSink::row`] for consecutive rows read from text, the first of
    /// them numbered `first_row`; a sink that checks column by column overrides it.
    fn chunk(&mut self, first_row: u64, chunk: &FieldChunk<'_>) {
        let mut cells = Vec::with_capacity(chunk.width());
        for row in 0..chunk.rows() {
            cells.clear();
            cells.extend(chunk.row(row));
            self.row(first_row + row as u64, &cells);
        }
    }
    /// An empty sink with the same plan (called after `begin`), for one block of rows.
    fn split(&self) -> Self;
    /// [`RowSink::split`] for block `index` of a file (0 for the first block), for a sink that
    /// treats blocks by their place in the file.
    fn split_for_block(&self, index: usize) -> Self {
        let _ = index;
        self.split()
    }
    /// Folds in a block that follows this sink's rows; its row numbers shift by `rows_before`.
    fn absorb(&mut self, later: Self, rows_before: u64);
    /// Called once after the last row and block, for state a sink keeps back while it runs.
    fn finish(&mut self) {}
}

/// How a CSV file writes its rows, for [`RowSink::whole_text_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowText {
    /// The byte between fields.
    pub delimiter: u8,
    /// Whether an empty field reads as missing.
    pub empty_is_null: bool,
}

/// How to read a dataset.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The format, already resolved from `auto`.
    pub format: DataFormat,
    /// CSV delimiter.
    pub delimiter: u8,
    /// CSV text read as missing.
    pub null_values: Vec<String>,
    /// Columns to skip.
    pub exclude: Vec<String>,
    /// Refuse CSV records longer than this many bytes: a huge field is far more often an
    /// unterminated quote swallowing the file than real data.
    pub max_record_bytes: usize,
}

impl ReadOptions {
    /// Options from the `data:` section, resolving `auto` by the file's extension.
    pub fn from_config(data: &DataConfig, path: &Path) -> ReadOptions {
        ReadOptions {
            format: resolve_format(data.format, path),
            delimiter: data.delimiter_byte().unwrap_or(b','),
            null_values: data.null_values.clone(),
            exclude: data.exclude.clone(),
            max_record_bytes: 64 << 20,
        }
    }
}

/// Picks CSV or Parquet for `auto` by extension.
pub fn resolve_format(format: DataFormat, path: &Path) -> DataFormat {
    match format {
        DataFormat::Auto => {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext.eq_ignore_ascii_case("parquet") || ext.eq_ignore_ascii_case("pq") {
                DataFormat::Parquet
            } else {
                DataFormat::Csv
            }
        }
        other => other,
    }
}

/// What a completed scan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// Data rows read.
    pub rows: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// xxh3-128 of the file's bytes, hex: identifies the exact data a result was computed on.
    pub fingerprint: String,
    /// Data row `n` is on line `n + 1`: a CSV file with a one-line header and no record that
    /// spans lines, nor a blank line (never for Parquet).
    pub one_line_per_row: bool,
}

/// A problem with the data file itself, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The file (or `path@commit` for a git blob).
    pub file: String,
    /// 1-based data row, when the problem is in a row.
    pub row: Option<u64>,
    /// 1-based line in a CSV file.
    pub line: Option<u64>,
    /// The column name (or `column N` when the header is the problem).
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl DataError {
    /// An error about the file as a whole.
    fn file(file: &str, message: impl Into<String>) -> DataError {
        DataError {
            file: file.to_string(),
            row: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    fn with_hint(mut self, hint: impl Into<String>) -> DataError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.file)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}

/// Streams a data file into `sink`.
pub fn scan_file<S: RowSink>(
    path: &Path,
    options: &ReadOptions,
    sink: &mut S,
) -> anyhow::Result<ScanSummary> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|err| {
        let error = DataError::file(&label, format!("cannot open: {err}"));
        match err.kind() {
            std::io::ErrorKind::NotFound => {
                error.with_hint("`data.path` is resolved against the directory of the config file")
            }
            _ => error,
        }
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(DataError::file(&label, "is a directory, not a data file").into());
    }
    let summary = match options.format {
        DataFormat::Parquet => {
            let summary =
                parquet_source::scan(&label, parquet_source::Input::File(file), options, sink)?;
            let (bytes, fingerprint) = fingerprint::of_file(path)?;
            ScanSummary {
                rows: summary,
                bytes,
                fingerprint,
                one_line_per_row: false,
            }
        }
        _ => csv_source::scan(&label, file, options, sink)?,
    };
    sink.finish();
    Ok(summary)
}

/// Streams an in-memory data file (a git blob) into `sink`; `label` names it in errors. CSV is
/// read in place; Parquet's reader needs bytes of its own, so a Parquet file is copied.
pub fn scan_bytes<S: RowSink>(
    label: &str,
    bytes: &[u8],
    options: &ReadOptions,
    sink: &mut S,
) -> anyhow::Result<ScanSummary> {
    let summary = match options.format {
        DataFormat::Parquet => {
            let fingerprint = fingerprint::of_bytes(bytes);
            let size = bytes.len() as u64;
            let rows = parquet_source::scan(
                label,
                parquet_source::Input::Bytes(bytes::Bytes::copy_from_slice(bytes)),
                options,
                sink,
            )?;
            ScanSummary {
                rows,
                bytes: size,
                fingerprint,
                one_line_per_row: false,
            }
        }
        _ => csv_source::scan(label, bytes, options, sink)?,
    };
    sink.finish();
    Ok(summary)
}

/// Empties a cell buffer and lets it be reused with a new lifetime: cells borrow the reader's
/// current record, so the buffer cannot outlive one row, but its allocation can. The in-place
/// `collect` of an empty iterator keeps the capacity.
pub(crate) fn recycle<'b>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Null).collect()
}

/// A path relative to a base directory, for labels; falls back to the path as given.
pub fn display_relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
