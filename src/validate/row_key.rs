//! The key the duplicate-row check counts rows by: equal for rows with equal cells, however
//! each row was read (from a chunk of plain text, through the `csv` crate, from Parquet).
//!
//! Hashing every cell into its row's key was about a tenth of a validation pass. A row of a
//! CSV block without quotes is its cells joined by the delimiter, so its text is hashed whole
//! instead, sixteen bytes a multiply ([`text_hash`]). Any row whose cells are text gets that
//! key from the join of its cells, so a row read through the `csv` crate (quoted somewhere in
//! its block) keys as the same row written plainly. The join stands for the cells only when
//! splitting it at the delimiter gives them back, so rows are chained cell by cell instead
//! ([`chain_cell`]) when the file's rows are not whole (excluded columns), a cell holds the
//! delimiter, a missing cell would join as an empty text that is not missing, or a cell is
//! typed (Parquet). Missing cells join as empty text: a row that writes one as `NA` is joined
//! again from its cells rather than keyed by its own text.

use crate::data::hash::{chain_key, text_hash};
use crate::data::types::Cell;
use crate::data::{FieldChunk, RowText};

use super::scan::{cell_key, NULL_SEED};

/// The seed of keys hashed from a row's text.
const ROW_TEXT_SEED: u64 = 0x726f_775f_7465_7874;

/// Keys rows for the duplicate-row check.
#[derive(Debug, Clone, Default)]
pub struct RowKeys {
    /// How the file writes its rows, when they are whole CSV rows.
    layout: Option<RowText>,
    /// A row's cells joined, for rows not keyed by their own text.
    joined: String,
}

impl RowKeys {
    /// Keys for rows handed over whole, as `layout` writes them.
    pub fn set_layout(&mut self, layout: RowText) {
        self.layout = Some(layout);
    }

    /// The same keys, with an empty buffer, for another block.
    pub fn split(&self) -> RowKeys {
        RowKeys {
            layout: self.layout,
            joined: String::new(),
        }
    }

    /// The key of a row of cells.
    pub fn of_cells(&mut self, cells: &[Cell<'_>]) -> u64 {
        match self.layout {
            Some(layout) if join_cells(cells, layout, &mut self.joined) => {
                text_hash(self.joined.as_bytes(), ROW_TEXT_SEED)
            }
            _ => cells.iter().fold(0, |key, &cell| chain_cell(key, cell)),
        }
    }

    /// Fills `keys` with the keys of a chunk's rows. `missing[row]` says whether a row has a
    /// missing cell that is not empty text, so not what the join writes.
    pub fn of_chunk(&mut self, chunk: &FieldChunk<'_>, missing: &[bool], keys: &mut Vec<u64>) {
        keys.clear();
        let mut cells = Vec::with_capacity(chunk.width());
        for (row, &missing) in missing[..chunk.rows()].iter().enumerate() {
            // Where an empty field is text, every missing cell is marked.
            let text = chunk
                .row_text(row)
                .filter(|_| !missing && self.layout.is_some());
            let key = match text {
                Some(text) => text_hash(text.as_bytes(), ROW_TEXT_SEED),
                None => {
                    cells.clear();
                    cells.extend(chunk.row(row));
                    self.of_cells(&cells)
                }
            };
            keys.push(key);
        }
    }
}

/// Writes `cells` joined by the layout's delimiter into `joined` (missing ones as empty
/// text), when that join gives back the cells; returns whether it did.
fn join_cells(cells: &[Cell<'_>], layout: RowText, joined: &mut String) -> bool {
    // A byte past ASCII would be written as two: not the text of the row.
    if !layout.delimiter.is_ascii() {
        return false;
    }
    let delimiter = char::from(layout.delimiter);
    joined.clear();
    for (index, &cell) in cells.iter().enumerate() {
        if index > 0 {
            joined.push(delimiter);
        }
        match cell {
            Cell::Text(text) if !text.as_bytes().contains(&layout.delimiter) => {
                joined.push_str(text);
            }
            Cell::Null if layout.empty_is_null => {}
            _ => return false,
        }
    }
    !cells.is_empty()
}

/// Marks in `missing` a row whose cell in `column` is missing, when that cell is not written
/// empty (`NA`, say): the row's text is then not the join of its cells, so
/// [`RowKeys::of_chunk`] keys it from them.
#[inline(always)]
pub(super) fn mark_missing(
    missing: &mut [bool],
    chunk: &FieldChunk<'_>,
    row: usize,
    column: usize,
) {
    if !chunk.field_is_empty(row, column) {
        missing[row] = true;
    }
}

/// A row's key after one more cell, for rows not keyed by their text.
#[inline(always)]
fn chain_cell(key: u64, cell: Cell<'_>) -> u64 {
    let mut scratch = [0; 8];
    match cell_key(cell, &mut scratch) {
        Some((bytes, seed)) => chain_key(key, bytes, seed),
        None => chain_key(key, &[], NULL_SEED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::chunk::{comma_spans, NullTokens};

    const COMMA: RowText = RowText {
        delimiter: b',',
        empty_is_null: true,
    };

    /// Keys of each row of `text` (three fields a row) read as a chunk with `layout`.
    fn chunk_keys(text: &str, nulls: &[&str], layout: Option<RowText>, whole: bool) -> Vec<u64> {
        let nulls = NullTokens::new(&nulls.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let (spans, rows) = comma_spans(text, 3);
        let chunk = FieldChunk::new(text, 3, rows, &spans, &nulls, whole);
        // Marked as the validation pass marks them.
        let mut missing = vec![false; chunk.rows()];
        for row in 0..chunk.rows() {
            for (column, cell) in chunk.row(row).enumerate() {
                if cell == Cell::Null {
                    mark_missing(&mut missing, &chunk, row, column);
                }
            }
        }
        let mut keys = RowKeys::default();
        if let Some(layout) = layout {
            keys.set_layout(layout);
        }
        let mut out = Vec::new();
        keys.of_chunk(&chunk, &missing, &mut out);
        out
    }

    #[test]
    fn rows_read_as_text_or_as_cells_key_alike() {
        let text = "1,a,x\n1,,x\n1,NA,x\n1,a,x\n2,a,x\n";
        for layout in [None, Some(COMMA)] {
            for whole in [false, true] {
                let keys = chunk_keys(text, &["", "NA"], layout, whole);
                assert_eq!(keys[0], keys[3], "{layout:?} {whole}");
                assert_eq!(
                    keys[1], keys[2],
                    "a missing cell keys alike however it is written"
                );
                assert_ne!(keys[0], keys[1]);
                assert_ne!(keys[0], keys[4]);
                // The same rows as cells, one at a time, as the `csv` crate hands them.
                let mut by_cells = RowKeys::default();
                if let Some(layout) = layout {
                    by_cells.set_layout(layout);
                }
                let cells = [Cell::Text("1"), Cell::Null, Cell::Text("x")];
                assert_eq!(by_cells.of_cells(&cells), keys[1]);
                let cells = [Cell::Text("1"), Cell::Text("a"), Cell::Text("x")];
                assert_eq!(by_cells.of_cells(&cells), keys[0]);
            }
        }
    }

    #[test]
    fn where_empty_fields_are_text_rows_with_missing_cells_are_chained() {
        let text = "1,,x\n1,NA,x\n1,NA,x\n";
        let layout = RowText {
            delimiter: b',',
            empty_is_null: false,
        };
        let keys = chunk_keys(text, &["NA"], Some(layout), true);
        assert_ne!(keys[0], keys[1], "an empty text is not a missing cell");
        assert_eq!(keys[1], keys[2]);
        let mut by_cells = RowKeys::default();
        by_cells.set_layout(layout);
        let cells = [Cell::Text("1"), Cell::Null, Cell::Text("x")];
        assert_eq!(by_cells.of_cells(&cells), keys[1]);
        let cells = [Cell::Text("1"), Cell::Text(""), Cell::Text("x")];
        assert_eq!(by_cells.of_cells(&cells), keys[0]);
    }

    #[test]
    fn cells_the_join_cannot_give_back_are_chained() {
        let mut keys = RowKeys::default();
        keys.set_layout(COMMA);
        // Joined, both would read "a,b,c".
        let quoted_first = [Cell::Text("a,b"), Cell::Text("c")];
        let quoted_last = [Cell::Text("a"), Cell::Text("b,c")];
        assert_ne!(keys.of_cells(&quoted_first), keys.of_cells(&quoted_last));
        // Where an empty field is text, a missing cell is not one.
        keys.set_layout(RowText {
            delimiter: b',',
            empty_is_null: false,
        });
        let empty = [Cell::Text("1"), Cell::Text("")];
        let missing = [Cell::Text("1"), Cell::Null];
        assert_ne!(keys.of_cells(&empty), keys.of_cells(&missing));
        // A delimiter past ASCII is not joined: the key is the cells' chain.
        keys.set_layout(RowText {
            delimiter: 0xa7,
            empty_is_null: true,
        });
        let cells = [Cell::Text("a"), Cell::Text("b")];
        let chained = (cells.iter()).fold(0, |key, &cell| chain_cell(key, cell));
        assert_eq!(keys.of_cells(&cells), chained);
        // Typed cells (Parquet) keep their type: `1` is not `"1"`.
        assert_ne!(
            keys.of_cells(&[Cell::Int(1)]),
            keys.of_cells(&[Cell::Text("1")])
        );
    }

    #[test]
    fn text_keys_are_those_of_the_joined_cells() {
        let text = "10,abc,2024-01-01T00:00:00\n";
        let keys = chunk_keys(text, &[""], Some(COMMA), true);
        assert_eq!(keys, [text_hash(text.trim_end().as_bytes(), ROW_TEXT_SEED)]);
        let chained = chunk_keys(text, &[""], None, true);
        assert_ne!(keys, chained);
    }
}
