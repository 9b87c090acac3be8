//! Rows of a CSV block handed to a sink a chunk at a time, so that it can read them column by
//! column: text fields by byte range, and the rule that decides which text is missing.
//!
//! A sink that checks one column at a time keeps that column's state in registers and its
//! loop free of per-cell dispatch; a row at a time, every cell switched between a dozen column
//! states. Chunks are small enough (tens of kilobytes of text and ranges) to stay in the core's
//! first-level cache while every column is read from them in turn.

use super::plain_csv::Known;
use super::wide_numbers::NumberKind;
use super::Cell;

/// Ranges per chunk, 24 KiB of them: with the rows' text, about a core's 48 KiB L1 data cache.
/// Chunks of 1,024 rows of a dozen columns (96 KiB of ranges) took 1.5% more CPU.
const CHUNK_SPANS: usize = 3 << 10;

/// The rows of a chunk of `width` fields a row: [`CHUNK_SPANS`] ranges, within 64 to 1,024
/// rows, so a wide file's chunks still spread each column's fixed costs over many cells.
pub fn chunk_rows(width: usize) -> usize {
    (CHUNK_SPANS / width.max(1)).clamp(64, 1024)
}

/// A field: its byte range in the chunk's text.
pub(crate) type Span = (u32, u32);

/// Decides quickly whether a field is one of the configured null tokens.
#[derive(Debug, Clone)]
pub(crate) struct NullTokens {
    /// The tokens, as bytes.
    tokens: Vec<Vec<u8>>,
    /// Which first bytes any token starts with, so most fields are decided by one lookup.
    first_bytes: [bool; 256],
    /// Whether the empty field is a null.
    empty_is_null: bool,
    /// The kinds of value some token reads as (`-999` a number, `1900-01-01` a date), so
    /// that a field that reads as one may still be missing: the wide number path stays off
    /// for those kinds (see `data::wide_numbers`).
    read_as: Vec<NumberKind>,
}

impl NullTokens {
    /// Builds the lookup from the configured list.
    pub(crate) fn new(tokens: &[String]) -> NullTokens {
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
        let read_as = NumberKind::ALL
            .into_iter()
            .filter(|kind| kept.iter().any(|token| kind.read_scalar(token).is_some()))
            .collect();
        NullTokens {
            tokens: kept,
            first_bytes,
            empty_is_null,
            read_as,
        }
    }

    /// Whether an empty field reads as missing.
    pub(crate) fn empty_is_null(&self) -> bool {
        self.empty_is_null
    }

    /// Whether `field` reads as missing.
    #[inline]
    pub(super) fn is_null(&self, field: &[u8]) -> bool {
        match field.first() {
            None => self.empty_is_null,
            Some(&b) => self.first_bytes[usize::from(b)] && self.tokens.iter().any(|t| t == field),
        }
    }
}

/// Up to [`chunk_rows`] consecutive rows of text fields, readable by column or by row.
///
/// The ranges are held column after column, each column in `stride` slots of which the first
/// `rows` are used: the splitting writes each field straight to its column, and a column is
/// then read as one contiguous run instead of every `width`-th range.
pub struct FieldChunk<'a> {
    /// The text the ranges point into.
    text: &'a str,
    /// Fields per row.
    width: usize,
    /// Rows in the chunk.
    rows: usize,
    /// Slots per column.
    stride: usize,
    /// The fields, column after column.
    spans: &'a [Span],
    /// Which text is missing.
    nulls: &'a NullTokens,
    /// Whether each row's ranges are all of its fields, so the row's text runs from the first
    /// range's start to the last one's end.
    whole_rows: bool,
    /// Whether the block's reader vouched for every byte of the text being ASCII, so that any
    /// range of it is text without checking character boundaries.
    ascii: bool,
}

impl<'a> FieldChunk<'a> {
    /// A chunk of `rows` rows of `width` fields, whose ranges are `spans`: `width` columns of
    /// `spans.len() / width` slots each; `whole_rows` when they hold every field of their
    /// records.
    pub(crate) fn new(
        text: &'a str,
        width: usize,
        rows: usize,
        spans: &'a [Span],
        nulls: &'a NullTokens,
        whole_rows: bool,
    ) -> FieldChunk<'a> {
        let stride = spans.len() / width.max(1);
        debug_assert!(width > 0 && spans.len().is_multiple_of(width) && rows <= stride);
        FieldChunk {
            text,
            width,
            rows: rows.min(stride),
            stride,
            spans,
            nulls,
            whole_rows,
            ascii: false,
        }
    }

    /// The same chunk, with what its block's reader vouched for: text cells of ASCII text are
    /// cut without the two character-boundary tests that `str::get` makes, a tenth of the
    /// cost of a text cell.
    pub(super) fn known(mut self, known: Known) -> FieldChunk<'a> {
        self.ascii = known.ascii();
        self
    }

    /// Whether the block's reader vouched for every byte of the text being ASCII, so that a
    /// cell's length in bytes is its length in characters.
    pub fn ascii(&self) -> bool {
        self.ascii
    }

    /// Rows in the chunk.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Fields per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// One column's cells, top to bottom: [`Cell::Null`] or [`Cell::Text`].
    pub fn column(&self, column: usize) -> impl Iterator<Item = Cell<'a>> + '_ {
        self.column_spans(column).map(|&span| self.cell(span))
    }

    /// One column's fields as bytes, top to bottom, `None` for a missing one: what a number
    /// parser reads, without the character-boundary checks that making `&str`s costs.
    pub fn column_bytes(&self, column: usize) -> impl Iterator<Item = Option<&'a [u8]>> + '_ {
        self.column_spans(column)
            .map(|&span| self.field_bytes(span))
    }

    /// One column's ranges, top to bottom.
    fn column_spans(&self, column: usize) -> impl Iterator<Item = &'a Span> {
        self.column_span_slice(column).iter()
    }

    /// One column's ranges, top to bottom, as a slice.
    pub(crate) fn column_span_slice(&self, column: usize) -> &'a [Span] {
        let spans: &'a [Span] = self.spans;
        let start = column * self.stride;
        spans.get(start..start + self.rows).unwrap_or_default()
    }

    /// The text the ranges point into.
    pub(crate) fn text_bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Whether a field that reads as a value of `kind` may still be one of the null tokens.
    pub(crate) fn nulls_may_read_as(&self, kind: NumberKind) -> bool {
        self.nulls.read_as.contains(&kind)
    }

    /// The range of the field at `row` and `column`.
    #[inline]
    fn span(&self, row: usize, column: usize) -> Option<Span> {
        (row < self.rows && column < self.width)
            .then(|| self.spans.get(column * self.stride + row).copied())
            .flatten()
    }

    /// One row's text, delimiters included, when the chunk holds whole rows (text without
    /// quotes, so the text of its cells joined by the delimiter).
    #[inline]
    pub fn row_text(&self, row: usize) -> Option<&'a str> {
        if !self.whole_rows {
            return None;
        }
        let first = self.span(row, 0)?.0;
        let last = self.span(row, self.width - 1)?.1;
        let text: &'a str = self.text;
        text.get(first as usize..last as usize)
    }

    /// Whether the field at `row` and `column` is empty text.
    #[inline]
    pub fn field_is_empty(&self, row: usize, column: usize) -> bool {
        self.span(row, column)
            .is_some_and(|(start, end)| start == end)
    }

    /// One row's cells, left to right.
    pub fn row(&self, row: usize) -> impl Iterator<Item = Cell<'a>> + '_ {
        (0..self.width).map(move |column| self.cell(self.span(row, column).unwrap_or((0, 0))))
    }

    /// The field at a range as bytes, `None` when it reads as missing.
    #[inline]
    pub(crate) fn field_bytes(&self, span: Span) -> Option<&'a [u8]> {
        let field = self.span_bytes(span);
        (!self.nulls.is_null(field)).then_some(field)
    }

    /// The bytes at a range, missing or not.
    #[inline]
    pub(crate) fn span_bytes(&self, (start, end): Span) -> &'a [u8] {
        let text: &'a str = self.text;
        text.as_bytes()
            .get(start as usize..end as usize)
            .unwrap_or(b"")
    }

    /// The cell at a range.
    #[inline]
    fn cell(&self, (start, end): Span) -> Cell<'a> {
        let text: &'a str = self.text;
        let range = start as usize..end as usize;
        // Ranges were cut at ASCII delimiters and line ends of this UTF-8 text, so they fall
        // on character boundaries; `get` still keeps a wrong range from reading anything else.
        let field = match text.as_bytes().get(range.clone()) {
            // SAFETY: `ascii` is set only from a block whose reader vouched for every byte
            // being ASCII (`Known::vouched`), and any run of ASCII bytes is UTF-8.
            Some(bytes) if self.ascii => unsafe { std::str::from_utf8_unchecked(bytes) },
            _ => text.get(range).unwrap_or(""),
        };
        if self.nulls.is_null(field.as_bytes()) {
            Cell::Null
        } else {
            Cell::Text(field)
        }
    }
}

/// The ranges of the comma-separated fields of `text`, `width` to a line, column after
/// column as [`FieldChunk`] holds them (for tests that build chunks by hand), with the rows.
#[cfg(test)]
pub(crate) fn comma_spans(text: &str, width: usize) -> (Vec<Span>, usize) {
    let mut by_rows = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        for field in line.trim_end_matches('\n').split(',') {
            by_rows.push((start as u32, (start + field.len()) as u32));
            start += field.len() + 1;
        }
    }
    assert_eq!(by_rows.len() % width, 0, "every line has {width} fields");
    let rows = by_rows.len() / width;
    let by_columns = (0..width)
        .flat_map(|column| (0..rows).map(move |row| (row, column)))
        .map(|(row, column)| by_rows[row * width + column])
        .collect();
    (by_columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_a_cache_of_ranges_within_their_row_bounds() {
        assert_eq!(chunk_rows(12), 256);
        assert_eq!(
            (chunk_rows(0), chunk_rows(1), chunk_rows(3)),
            (1024, 1024, 1024)
        );
        assert_eq!((chunk_rows(48), chunk_rows(500)), (64, 64));
        for width in 3..=48 {
            assert!(chunk_rows(width) * width <= CHUNK_SPANS, "{width}");
        }
    }

    #[test]
    fn columns_and_rows_read_the_same_cells() {
        let text = "1,a,\n2,,NA\n";
        let (spans, rows) = comma_spans(text, 3);
        assert_eq!(spans, [(0, 1), (5, 6), (2, 3), (7, 7), (4, 4), (8, 10)]);
        let nulls = NullTokens::new(&["".to_string(), "NA".to_string()]);
        let chunk = FieldChunk::new(text, 3, rows, &spans, &nulls, true);
        assert_eq!((chunk.rows(), chunk.width()), (2, 3));
        let column: Vec<Cell<'_>> = chunk.column(1).collect();
        assert_eq!(column, [Cell::Text("a"), Cell::Null]);
        let bytes: Vec<Option<&[u8]>> = chunk.column_bytes(0).collect();
        assert_eq!(bytes, [Some(&b"1"[..]), Some(&b"2"[..])]);
        assert_eq!(chunk.column_bytes(2).collect::<Vec<_>>(), [None, None]);
        let row: Vec<Cell<'_>> = chunk.row(1).collect();
        assert_eq!(row, [Cell::Text("2"), Cell::Null, Cell::Null]);
        assert_eq!(chunk.row_text(0), Some("1,a,"));
        assert_eq!(chunk.row_text(1), Some("2,,NA"));
        assert_eq!(chunk.row_text(2), None);
        assert!(chunk.field_is_empty(0, 2) && !chunk.field_is_empty(1, 2));
        let narrowed = FieldChunk::new(text, 3, rows, &spans, &nulls, false);
        assert_eq!(narrowed.row_text(0), None);
        // Fewer rows than slots: the slots past them are not read.
        let spare = [
            (0, 1),
            (5, 6),
            (9, 9),
            (2, 3),
            (7, 7),
            (9, 9),
            (4, 4),
            (8, 10),
            (9, 9),
        ];
        let partial = FieldChunk::new(text, 3, 2, &spare, &nulls, true);
        assert_eq!(
            partial.column_bytes(0).collect::<Vec<_>>(),
            [Some(&b"1"[..]), Some(&b"2"[..])]
        );
        assert_eq!(partial.row_text(1), Some("2,,NA"));
        assert_eq!(partial.row_text(2), None);
    }
}
