//! The CSV reader: header checks, UTF-8 checks, null tokens, and errors located by row and line.
//!
//! Built on the `csv` crate's byte records, reused across rows so a pass allocates once. The
//! reader is wrapped in a [`Tally`] that fingerprints the bytes and counts quote characters as
//! they stream by: the `csv` crate silently ends a quoted field at end of file, and an odd
//! number of quotes is how we tell an unterminated quote from a long last field.

use std::collections::HashMap;
use std::io::Read;

use super::{Cell, DataError, ReadOptions, RowSink, ScanSummary};

/// Counts bytes and quote characters and hashes everything read through it.
struct Tally<R> {
    /// The underlying reader.
    inner: R,
    /// Bytes read so far.
    bytes: u64,
    /// `"` characters read so far.
    quotes: u64,
    /// Running xxh3-128 of the bytes.
    hasher: xxhash_rust::xxh3::Xxh3,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.bytes += n as u64;
        self.quotes += chunk.iter().filter(|&&b| b == b'"').count() as u64;
        self.hasher.update(chunk);
        Ok(n)
    }
}

/// Decides quickly whether a field is one of the configured null tokens.
struct NullTokens {
    /// The tokens, as bytes.
    tokens: Vec<Vec<u8>>,
    /// Which first bytes any token starts with, so most fields are decided by one lookup.
    first_bytes: [bool; 256],
    /// Whether the empty field is a null.
    empty_is_null: bool,
}

impl NullTokens {
    /// Builds the lookup from the configured list.
    fn new(tokens: &[String]) -> NullTokens {
        let mut first_bytes = [false; 256];
        let mut kept = Vec::new();
        let mut empty_is_null = false;
        for token in tokens {
            match token.as_bytes().first() {
                None => empty_is_null = true,
                Some(&b) => {
                    first_bytes[usize::from(b)] = true;
                    kept.push(token.as_bytes().to_vec());
                }
            }
        }
        NullTokens {
            tokens: kept,
            first_bytes,
            empty_is_null,
        }
    }

    /// Whether `field` reads as missing.
    fn is_null(&self, field: &[u8]) -> bool {
        match field.first() {
            None => self.empty_is_null,
            Some(&b) => self.first_bytes[usize::from(b)] && self.tokens.iter().any(|t| t == field),
        }
    }
}

/// Streams CSV from `input` into `sink`.
pub(super) fn scan<R: Read>(
    label: &str,
    input: R,
    options: &ReadOptions,
    sink: &mut dyn RowSink,
) -> anyhow::Result<ScanSummary> {
    let tally = Tally {
        inner: input,
        bytes: 0,
        quotes: 0,
        hasher: xxhash_rust::xxh3::Xxh3::new(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(tally);
    let header = read_header(label, &mut reader)?;
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !options.exclude.contains(&header[i]))
        .collect();
    let names: Vec<String> = keep.iter().map(|&i| header[i].clone()).collect();
    sink.begin(&names)?;

    let nulls = NullTokens::new(&options.null_values);
    let mut record = csv::ByteRecord::new();
    let mut spare: Vec<Cell<'static>> = Vec::with_capacity(keep.len());
    let mut row = 0u64;
    let mut last_start_line = 1u64;
    loop {
        let start_line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(record_error(label, row + 1, &reader, err, start_line).into()),
        }
        row += 1;
        last_start_line = record.position().map(|p| p.line()).unwrap_or(start_line);
        if record.as_slice().len() > options.max_record_bytes {
            return Err(DataError {
                file: label.into(),
                row: Some(row),
                line: Some(last_start_line),
                column: None,
                message: format!(
                    "the record is {} bytes, over the {} byte limit",
                    record.as_slice().len(),
                    options.max_record_bytes
                ),
                hint: Some(
                    "a quote that never closes makes one field swallow the rest of the file".into(),
                ),
            }
            .into());
        }
        let mut cells = super::recycle(std::mem::take(&mut spare));
        for &index in &keep {
            let field = &record[index];
            if nulls.is_null(field) {
                cells.push(Cell::Null);
                continue;
            }
            match std::str::from_utf8(field) {
                Ok(text) => cells.push(Cell::Text(text)),
                Err(err) => {
                    return Err(DataError {
                        file: label.into(),
                        row: Some(row),
                        line: Some(last_start_line),
                        column: Some(header[index].clone()),
                        message: format!(
                            "invalid UTF-8 at byte {} of the field",
                            err.valid_up_to()
                        ),
                        hint: Some(
                            "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)".into(),
                        ),
                    }
                    .into())
                }
            }
        }
        sink.row(row, &cells);
        spare = super::recycle(cells);
    }
    let tally = reader.into_inner();
    if tally.quotes % 2 == 1 {
        return Err(DataError {
            file: label.into(),
            row: Some(row),
            line: Some(last_start_line),
            column: None,
            message: "a quoted field is never closed before the end of the file".into(),
            hint: Some("look for a `\"` without its closing partner at or before this line".into()),
        }
        .into());
    }
    Ok(ScanSummary {
        rows: row,
        bytes: tally.bytes,
        fingerprint: format!("{:032x}", tally.hasher.digest128()),
    })
}

/// Reads and checks the header: present, UTF-8, no empty or repeated names.
fn read_header<R: Read>(label: &str, reader: &mut csv::Reader<R>) -> anyhow::Result<Vec<String>> {
    let raw = match reader.byte_headers() {
        Ok(raw) => raw.clone(),
        Err(err) => {
            return Err(DataError::file(label, format!("cannot read the header: {err}")).into())
        }
    };
    if raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
        return Err(DataError::file(label, "the file is empty: no header line")
            .with_hint("a CSV file starts with a line of column names")
            .into());
    }
    let mut names = Vec::with_capacity(raw.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, field) in raw.iter().enumerate() {
        let position = format!("column {}", index + 1);
        let name = std::str::from_utf8(field).map_err(|_| DataError {
            file: label.into(),
            row: None,
            line: Some(1),
            column: Some(position.clone()),
            message: "the header name is not valid UTF-8".into(),
            hint: None,
        })?;
        let name = name.trim_start_matches('\u{feff}').to_string();
        if name.trim().is_empty() {
            return Err(DataError {
                file: label.into(),
                row: None,
                line: Some(1),
                column: Some(position),
                message: "the header name is empty".into(),
                hint: Some("every column needs a name".into()),
            }
            .into());
        }
        if let Some(first) = seen.insert(name.clone(), index + 1) {
            return Err(DataError {
                file: label.into(),
                row: None,
                line: Some(1),
                column: Some(name),
                message: format!(
                    "the header name is repeated in columns {first} and {}",
                    index + 1
                ),
                hint: Some("rename one of them; mlgate addresses columns by name".into()),
            }
            .into());
        }
        names.push(name);
    }
    Ok(names)
}

/// Locates a `csv` crate error.
fn record_error<R: Read>(
    label: &str,
    row: u64,
    reader: &csv::Reader<R>,
    err: csv::Error,
    start_line: u64,
) -> DataError {
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map(|p| p.line()).unwrap_or(start_line);
            let spanned = reader.position().line().saturating_sub(line);
            let hint = if spanned > 1 {
                format!("the row spans {spanned} lines: a quoted field opened on line {line} may never close")
            } else {
                "every row needs as many fields as the header; quote fields that contain the delimiter".into()
            };
            DataError {
                file: label.into(),
                row: Some(row),
                line: Some(line),
                column: None,
                message: format!("the row has {len} fields but the header has {expected_len}"),
                hint: Some(hint),
            }
        }
        _ => DataError {
            file: label.into(),
            row: Some(row),
            line: Some(start_line),
            column: None,
            message: err.to_string(),
            hint: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataFormat;

    /// Collects everything a scan produces, as text.
    #[derive(Debug, Default)]
    struct Collect {
        columns: Vec<String>,
        rows: Vec<(u64, Vec<String>)>,
    }

    impl RowSink for Collect {
        fn begin(&mut self, columns: &[String]) -> anyhow::Result<()> {
            self.columns = columns.to_vec();
            Ok(())
        }
        fn row(&mut self, row: u64, cells: &[Cell<'_>]) {
            let cells = cells
                .iter()
                .map(|c| match c {
                    Cell::Null => "<null>".to_string(),
                    Cell::Text(t) => t.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            self.rows.push((row, cells));
        }
    }

    /// Options for plain comma-separated test input.
    fn options() -> ReadOptions {
        ReadOptions {
            format: DataFormat::Csv,
            delimiter: b',',
            null_values: crate::config::default_null_values(),
            exclude: vec![],
            max_record_bytes: 1 << 20,
        }
    }

    /// Scans bytes, returning the sink or the data error.
    #[allow(clippy::result_large_err)]
    fn scan_text(bytes: &[u8]) -> Result<Collect, DataError> {
        let mut sink = Collect::default();
        scan("t.csv", bytes, &options(), &mut sink)
            .map(|_| sink)
            .map_err(|e| e.downcast::<DataError>().expect("a DataError"))
    }

    #[test]
    fn reads_nulls_bom_and_crlf() {
        let sink = scan_text(b"\xef\xbb\xbfa,b\r\n1,NA\r\n,x\r\n").unwrap();
        assert_eq!(sink.columns, ["a", "b"]);
        assert_eq!(sink.rows[0], (1, vec!["1".into(), "<null>".into()]));
        assert_eq!(sink.rows[1], (2, vec!["<null>".into(), "x".into()]));
    }

    #[test]
    fn ragged_row_names_row_and_line() {
        let err = scan_text(b"a,b\n1,2\n3\n").unwrap_err();
        assert_eq!((err.row, err.line), (Some(2), Some(3)));
        assert!(
            err.message.contains("1 fields but the header has 2"),
            "{err}"
        );
    }

    #[test]
    fn bad_utf8_names_column() {
        let err = scan_text(b"a,b\n1,caf\xe9\n").unwrap_err();
        assert_eq!(err.column.as_deref(), Some("b"));
        assert_eq!(err.row, Some(1));
    }

    #[test]
    fn unterminated_quote_is_caught() {
        let err = scan_text(b"a,b\n1,\"open\n2,3\n").unwrap_err();
        assert!(err.to_string().contains("never close"), "{err}");
    }

    #[test]
    fn empty_header_only_and_duplicates() {
        assert!(scan_text(b"").unwrap_err().message.contains("empty"));
        assert_eq!(scan_text(b"a,b\n").unwrap().rows.len(), 0);
        let err = scan_text(b"a,b,a\n1,2,3\n").unwrap_err();
        assert!(err.message.contains("columns 1 and 3"), "{err}");
        assert!(scan_text(b"a,,c\n1,2,3\n")
            .unwrap_err()
            .message
            .contains("empty"));
    }

    #[test]
    fn huge_record_is_refused() {
        let mut data = b"a\n\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 2 << 20));
        data.extend(b"\"\n");
        let err = scan_text(&data).unwrap_err();
        assert!(err.message.contains("byte limit"), "{err}");
    }

    #[test]
    fn excluded_columns_are_skipped() {
        let mut sink = Collect::default();
        let mut opts = options();
        opts.exclude = vec!["b".into()];
        scan("t.csv", &b"a,b,c\n1,2,3\n"[..], &opts, &mut sink).unwrap();
        assert_eq!(sink.columns, ["a", "c"]);
        assert_eq!(sink.rows[0].1, ["1", "3"]);
    }

    proptest::proptest! {
        /// Any bytes give rows or a located error, never a panic.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = scan_text(&bytes);
        }
    }
}
