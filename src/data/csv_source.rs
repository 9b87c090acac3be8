//! The CSV reader: blocks read in parallel, header and UTF-8 checks, null tokens, and errors
//! located by row and line.
//!
//! The file is read sequentially, one block at a time, in pieces whose quotes are counted and
//! fingerprinted while they are in cache, and cut into blocks of about [`BLOCK_BYTES`] at a line
//! end outside quotes (in RFC 4180 CSV a position is inside a quoted field exactly when an odd
//! number of `"` precede it, doubled quotes included). Worker threads take turns at the reader:
//! each reads its next block itself and parses it into its own sink, while the block is still
//! in its core's cache; the sinks are folded back in file order. A block counts its own rows
//! and lines as it parses, and its errors name them from its start; folding makes them the
//! file's (counting lines in the reader was a pass of its own). Cutting by bytes, never by
//! thread count, keeps results identical on any machine; bounding the blocks in flight keeps
//! memory flat however large the file. Counting quotes also tells an unterminated quote (an odd
//! total) from a long last field, which the `csv` crate alone silently accepts at end of file.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::{mpsc, Mutex};

use super::chunk::{chunk_rows, FieldChunk, NullTokens, Span};
use super::fingerprint::Fingerprint;
use super::{plain_csv, Cell, DataError, ReadOptions, RowSink, RowText, ScanSummary};

/// The usual cause of an over-long record or an odd number of quotes.
const UNCLOSED_QUOTE_HINT: &str =
    "a quote that never closes makes one field swallow the rest of the file";

/// Nominal block size: large enough that per-block costs (a fresh sink, a merge) vanish, small
/// enough that a few blocks in flight stay a few tens of megabytes.
pub const BLOCK_BYTES: usize = 4 << 20;

/// Bytes read at a time: a piece fits a core's L2 cache, a block does not.
const READ_PIECE_BYTES: usize = 256 << 10;

/// Room a block's buffer keeps beyond a block for the start of a record cut off at the end
/// of the block before: longer ones grow the buffer.
const TAIL_ROOM: usize = 64 << 10;

/// One block of whole CSV records.
struct Block {
    /// Position in the file, from 0.
    index: usize,
    /// The bytes, ending at a line end (or the end of the file).
    bytes: Vec<u8>,
    /// Where the records start in `bytes` (after the header, in the first block).
    data_start: usize,
    /// What the reader found of the bytes.
    known: plain_csv::Known,
}

/// A parsed block.
struct Parsed<S> {
    /// What the sink made of its rows.
    sink: S,
    /// Its rows.
    rows: u64,
    /// Its line ends (`\n`), from where its records start.
    lines: u64,
}

/// A parsed block, or an error whose row and line count from the block's first.
type BlockResult<S> = Result<Parsed<S>, DataError>;

/// Reads the input and cuts it into blocks of whole records.
struct BlockReader<R> {
    /// The input.
    input: R,
    /// Bytes read but not yet handed out.
    pending: Vec<u8>,
    /// The input is exhausted.
    eof: bool,
    /// Blocks handed out.
    blocks: usize,
    /// Refuse a record longer than this.
    max_record_bytes: usize,
    /// The field delimiter, to name the field of a quote that never closes.
    delimiter: u8,
    /// Where the quote that never closes opens, when the file has one, and the records from
    /// its record to the end of the file ([`OpenQuote::records_to_end`]).
    open_quote: Option<(OpenQuote, u64)>,
    /// Bytes read.
    bytes: u64,
    /// `"` characters read.
    quotes: u64,
    /// The last byte read is a `\n` (or nothing has been read).
    ends_with_newline: bool,
    /// Whether the pending bytes may hold a `"`: when not, the cut needs no scan for quotes.
    pending_quotes: bool,
    /// Whether the pending bytes are all ASCII: when so, a block cut from them needs no UTF-8
    /// check.
    pending_ascii: bool,
    /// Running fingerprint of the bytes.
    hasher: Fingerprint,
    /// Buffers of parsed blocks, for the next blocks: a fresh buffer for each block cost page
    /// faults, zeroed pages and copies as it grew.
    spare: Vec<Vec<u8>>,
}

impl<R: Read> BlockReader<R> {
    /// A reader over `input`.
    fn new(input: R, max_record_bytes: usize, delimiter: u8) -> BlockReader<R> {
        BlockReader {
            input,
            pending: Vec::new(),
            eof: false,
            blocks: 0,
            max_record_bytes,
            delimiter,
            open_quote: None,
            bytes: 0,
            quotes: 0,
            ends_with_newline: true,
            pending_quotes: false,
            pending_ascii: true,
            hasher: Fingerprint::new(),
            spare: Vec::new(),
        }
    }

    /// The next block of whole records, or `None` at the end. An error's line counts from the
    /// first byte not yet handed out: only the blocks before it know how many came earlier.
    fn next_block(&mut self, label: &str) -> Result<Option<Block>, DataError> {
        loop {
            if self.pending.len() >= BLOCK_BYTES || self.eof {
                let cut = if self.eof {
                    Some(self.pending.len())
                } else {
                    last_record_end(&self.pending, self.pending_quotes).map(|end| end + 1)
                };
                if let Some(cut) = cut {
                    if cut == 0 {
                        return Ok(None);
                    }
                    if self.eof && self.quotes % 2 == 1 {
                        // Every block before this one ended outside quotes, so the quote that
                        // never closes is in this one.
                        let (bytes, delimiter) = (&self.pending, self.delimiter);
                        self.open_quote = OpenQuote::find(bytes, delimiter)
                            .map(|quote| (quote, quote.records_to_end(bytes, delimiter)));
                    }
                    // SAFETY: `pending_ascii` holds only while every piece read into
                    // `pending` (`fill`) and the record carried over into it were ASCII.
                    let known = unsafe {
                        plain_csv::Known::vouched(!self.pending_quotes, self.pending_ascii)
                    };
                    let mut rest = self.spare.pop().unwrap_or_default();
                    rest.extend_from_slice(&self.pending[cut..]);
                    self.pending_quotes = memchr::memchr(b'"', &rest).is_some();
                    self.pending_ascii = rest.is_ascii();
                    self.pending.truncate(cut);
                    let bytes = std::mem::replace(&mut self.pending, rest);
                    let index = self.blocks;
                    self.blocks += 1;
                    return Ok(Some(Block {
                        index,
                        bytes,
                        data_start: 0,
                        known,
                    }));
                }
                if self.pending.len() > self.max_record_bytes {
                    return Err(self.over_the_limit(label));
                }
            }
            self.fill(label)?;
        }
    }

    /// The error for pending bytes with no line end outside quotes within the record limit:
    /// one record that starts where they start (the first block's starts with the header).
    /// Its line and row count from there; folding places them in the file, and names the
    /// column of a quote that opens in it ([`Self::open_quote`]) from the header.
    fn over_the_limit(&mut self, label: &str) -> DataError {
        let limit = self.max_record_bytes;
        let header = self.blocks == 0;
        let mut err = DataError {
            file: label.into(),
            row: (!header).then_some(1),
            line: Some(1),
            column: None,
            message: format!(
                "{} has no line end in its first {limit} bytes, the record size limit",
                if header { "the header" } else { "the row" }
            ),
            hint: Some(UNCLOSED_QUOTE_HINT.into()),
        };
        let quote = OpenQuote::find(&self.pending, self.delimiter);
        // The record runs to the end of the bytes read: the quote's is the one.
        self.open_quote = quote.map(|quote| (quote, 1));
        if let Some(quote) = quote {
            err.line = Some(1 + quote.lines_before);
            err.column = header.then(|| format!("column {}", quote.field + 1));
            err.message = format!(
                "a quoted field opens here and does not close in the next {limit} bytes, the \
                 record size limit"
            );
            err.hint = Some(format!(
                "if it closes further on, the record is too long: {limit} bytes at most; \
                 otherwise {OPEN_QUOTE_HINT}"
            ));
        }
        err
    }

    /// Reads about one block more, in pieces that the quote count, the ASCII check and the
    /// fingerprint go over while the copy has them in the core's cache: over a whole block,
    /// each pass read it again from further out. The room is reserved up front (reserving
    /// touches no page, so a small file or git blob costs no more), and `read_to_end` on a
    /// `take` fills each piece.
    ///
    /// The room has [`TAIL_ROOM`] to spare, so a recycled buffer holds the next block even
    /// when the record cut off at its end is longer than the last one was. Growing it instead
    /// moved the buffer: jemalloc copies the whole old allocation, 5 MiB into fresh pages,
    /// which at a million rows was 29% of the pass's page faults.
    fn fill(&mut self, label: &str) -> Result<(), DataError> {
        if self.pending.capacity() - self.pending.len() < BLOCK_BYTES {
            self.pending.reserve_exact(BLOCK_BYTES + TAIL_ROOM);
            ask_for_huge_pages(&mut self.pending);
        }
        for _ in 0..BLOCK_BYTES / READ_PIECE_BYTES {
            let start = self.pending.len();
            let read = (&mut self.input)
                .take(READ_PIECE_BYTES as u64)
                .read_to_end(&mut self.pending)
                .map_err(|err| DataError::file(label, format!("cannot read: {err}")))?;
            let fresh = &self.pending[start..];
            self.bytes += fresh.len() as u64;
            if let Some(&last) = fresh.last() {
                self.ends_with_newline = last == b'\n';
            }
            let quotes = memchr::memchr_iter(b'"', fresh).count() as u64;
            self.quotes += quotes;
            self.pending_quotes |= quotes > 0;
            self.pending_ascii &= fresh.is_ascii();
            self.hasher.update(fresh);
            if read < READ_PIECE_BYTES {
                self.eof = true;
                break;
            }
        }
        Ok(())
    }

    /// Keeps a parsed block's buffer for a later block; a few cover the blocks in flight.
    fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < 4 {
            buffer.clear();
            self.spare.push(buffer);
        }
    }
}

/// Asks the kernel to back the spare room of `buffer` with 2 MiB pages where it can: a 4 KiB
/// page costs a fault of its own when first written, and at a million rows the faults of the
/// block buffers were most of the time before the workers started.
fn ask_for_huge_pages(buffer: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let spare = buffer.spare_capacity_mut();
        let start = spare.as_mut_ptr();
        let skip = (start as usize).next_multiple_of(HUGE) - start as usize;
        let len = spare.len().saturating_sub(skip) / HUGE * HUGE;
        if len > 0 {
            // SAFETY: the range lies inside the buffer's spare capacity, and the advice changes
            // only how its pages are backed, never what the buffer holds.
            unsafe {
                libc::madvise(start.add(skip).cast(), len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// What to do about a quote that opens a field and never closes.
const OPEN_QUOTE_HINT: &str = "close the field with a `\"`; a `\"` inside an unquoted field \
     must be doubled and the whole field quoted, as in `\"5\"\" screen\"`";

/// The quote that opens a field and never closes, in bytes that start outside quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenQuote {
    /// Line ends (`\n`) before it.
    lines_before: u64,
    /// Line ends from it to the end of the bytes.
    lines_after: u64,
    /// The field it is in, from 0, in its record.
    field: usize,
    /// Where its record starts.
    record_start: usize,
}

impl OpenQuote {
    /// The last quote that opens a field in `bytes`, when the bytes end inside it. In RFC
    /// 4180 a stray `"` in an unquoted field opens one too: what follows reads as quoted.
    fn find(bytes: &[u8], delimiter: u8) -> Option<OpenQuote> {
        let mut inside = false;
        let (mut field, mut record_start, mut opened) = (0, 0, None);
        for i in memchr::memchr3_iter(b'"', b'\n', delimiter, bytes) {
            match bytes[i] {
                b'"' => {
                    inside = !inside;
                    if inside {
                        opened = Some((i, field, record_start));
                    }
                }
                _ if inside => {}
                b'\n' => (field, record_start) = (0, i + 1),
                _ => field += 1,
            }
        }
        let (at, field, record_start) = opened.filter(|_| inside)?;
        let lines_before = memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64;
        let lines_after = memchr::memchr_iter(b'\n', &bytes[at..]).count() as u64;
        Some(OpenQuote {
            lines_before,
            lines_after,
            field,
            record_start,
        })
    }

    /// Records from this quote's to the end of `bytes` (those it was found in), as the parser
    /// reads them. That is one when the quote opens a field, as the parser reads it too; a
    /// stray quote inside an unquoted field the parser takes literally, and reads on.
    fn records_to_end(&self, bytes: &[u8], delimiter: u8) -> u64 {
        let mut reader = records_of(&bytes[self.record_start..], delimiter);
        let mut record = csv::ByteRecord::new();
        let mut records = 0;
        while let Ok(true) = reader.read_byte_record(&mut record) {
            records += 1;
        }
        records
    }
}

/// The `csv` crate's reader of `bytes` as raw records of any width, the header among them:
/// widths and headers are checked by our own code, which names rows and columns.
fn records_of(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// The index of the last `\n` outside quotes in `bytes`, which starts outside quotes and holds
/// none when `may_quote` is false.
fn last_record_end(bytes: &[u8], may_quote: bool) -> Option<usize> {
    if !may_quote || memchr::memchr(b'"', bytes).is_none() {
        return memchr::memrchr(b'\n', bytes);
    }
    let mut inside = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
        if bytes[i] == b'"' {
            inside = !inside;
        } else if !inside {
            last = Some(i);
        }
    }
    last
}

/// What every worker needs to parse a block.
struct Plan {
    /// The file's label for errors.
    label: String,
    /// The header names.
    header: Vec<String>,
    /// Indices of the columns handed to the sink.
    keep: Vec<usize>,
    /// Null tokens.
    nulls: NullTokens,
    /// The delimiter.
    delimiter: u8,
    /// Refuse a record longer than this.
    max_record_bytes: usize,
}

/// Streams CSV from `input` into `sink`, parsing blocks on up to eight threads.
pub(super) fn scan<R: Read + Send, S: RowSink>(
    label: &str,
    input: R,
    options: &ReadOptions,
    sink: &mut S,
) -> anyhow::Result<ScanSummary> {
    let mut reader = BlockReader::new(input, options.max_record_bytes, options.delimiter);
    let Some(mut first) = reader.next_block(label)? else {
        return Err(DataError::file(label, "the file is empty: no header line")
            .with_hint("a CSV file starts with a line of column names")
            .into());
    };
    let (header, data_start, header_lines) = read_header(label, &first.bytes, options.delimiter)?;
    first.data_start = data_start;
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !options.exclude.contains(&header[i]))
        .collect();
    let names: Vec<String> = keep.iter().map(|&i| header[i].clone()).collect();
    sink.begin(&names)?;
    let plan = Plan {
        label: label.to_string(),
        header,
        keep,
        nulls: NullTokens::new(&options.null_values),
        delimiter: options.delimiter,
        max_record_bytes: options.max_record_bytes,
    };
    if plan.keep.len() == plan.header.len() {
        sink.whole_text_rows(RowText {
            delimiter: plan.delimiter,
            empty_is_null: plan.nulls.empty_is_null(),
        });
    }
    let (rows, lines) = run_blocks(&plan, &mut reader, first, header_lines, sink)?;
    if reader.quotes % 2 == 1 {
        return Err(never_closed(&plan, reader.open_quote, rows, lines).into());
    }
    // Every record but an unended last one ends one line; anything else took more.
    let record_lines = rows - u64::from(rows > 0 && !reader.ends_with_newline);
    Ok(ScanSummary {
        rows,
        bytes: reader.bytes,
        fingerprint: reader.hasher.hex(),
        // `header_lines` may leave out the `\n` of a header ending `\r\n`; `lines` has it.
        one_line_per_row: lines == 1 + record_lines,
    })
}

/// The error for a quote that opens a field and never closes, in a file whose `rows` records
/// and `lines` line ends have been read; `quote` holds the records from its record to the
/// end of the file, so its row counts back from the last.
fn never_closed(plan: &Plan, quote: Option<(OpenQuote, u64)>, rows: u64, lines: u64) -> DataError {
    let mut err = DataError {
        file: plan.label.clone(),
        row: None,
        line: None,
        column: None,
        message: "a quoted field is never closed before the end of the file".into(),
        hint: Some(OPEN_QUOTE_HINT.into()),
    };
    if let Some((quote, records_to_end)) = quote {
        err.line = Some(1 + lines.saturating_sub(quote.lines_after));
        err.message =
            "a quoted field opens here and is never closed before the end of the file".into();
        match (rows + 1)
            .checked_sub(records_to_end)
            .filter(|&row| row > 0)
        {
            Some(row) => {
                err.row = Some(row);
                err.column = Some(field_name(&plan.header, quote.field));
            }
            None => {
                err.column = Some(format!("column {}", quote.field + 1));
                err.message = "a quoted header name opens here and is never closed".into();
            }
        }
    }
    err
}

/// The column of field `field` (from 0) of a record, or its number past the header's end.
fn field_name(header: &[String], field: usize) -> String {
    match header.get(field) {
        Some(name) => name.clone(),
        None => format!("field {}", field + 1),
    }
}

/// Worker threads: the thread budget, at most eight (beyond that the reading, one block at a
/// time, is the bottleneck).
fn worker_count() -> usize {
    crate::threads::budget().min(8)
}

/// Has worker threads read and parse the blocks, and folds their sinks into `sink` in file
/// order; the first block's records start after `header_lines` lines. Returns the rows
/// and the line ends (`\n`) of the file, the header's included.
///
/// A worker reads its block itself, under the reader's lock, rather than being sent one read
/// by this thread: the block is then in the cache of the core that parses it. Read on another
/// core, its bytes were fetched across cores, and the pass took 7% longer (0.458 s against
/// 0.428 s at 5M rows).
///
/// An error of the reader waits for the blocks before it: they tell its line, and any error
/// among them comes first in the file.
fn run_blocks<R: Read + Send, S: RowSink>(
    plan: &Plan,
    reader: &mut BlockReader<R>,
    first: Block,
    header_lines: u64,
    sink: &mut S,
) -> Result<(u64, u64), DataError> {
    let workers = worker_count();
    let template = sink.split();
    let shared = Mutex::new(Feed {
        reader,
        first: Some(first),
        error: None,
        finished: false,
    });
    let mut folder = Folder {
        done: BTreeMap::new(),
        next: 0,
        rows: 0,
        lines: header_lines,
    };
    let folded = std::thread::scope(|scope| {
        let (result_tx, result_rx) = mpsc::channel::<(usize, BlockResult<S>)>();
        for _ in 0..workers {
            let result_tx = result_tx.clone();
            let (template, shared) = (&template, &shared);
            scope.spawn(move || {
                let mut spare = None;
                loop {
                    let block = match shared.lock() {
                        Ok(mut feed) => feed.next(&plan.label, spare.take()),
                        Err(_) => None,
                    };
                    let Some(block) = block else { break };
                    let result = parse_block(plan, template, &block);
                    spare = Some(block.bytes);
                    if result_tx.send((block.index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);
        for (index, result) in result_rx {
            folder.done.insert(index, result);
            if let Err(err) = folder.fold_ready(sink) {
                if let Ok(mut feed) = shared.lock() {
                    feed.finished = true;
                }
                return Err(err);
            }
        }
        Ok(())
    });
    folded?;
    let unread = shared.into_inner().ok().and_then(|feed| feed.error);
    match unread {
        Some(err) => {
            let mut err = folder.place(err);
            if let (None, Some((quote, _))) = (&err.column, reader.open_quote) {
                err.column = Some(field_name(&plan.header, quote.field));
            }
            Err(err)
        }
        None => Ok((folder.rows, folder.lines)),
    }
}

/// The reader as the workers share it (see [`run_blocks`]), with the first block and how
/// the reading ended.
struct Feed<'r, R> {
    /// The file's reader.
    reader: &'r mut BlockReader<R>,
    /// The block the header was read from, not yet handed out.
    first: Option<Block>,
    /// The reader's error, which ends the feed.
    error: Option<DataError>,
    /// No more blocks: the end of the file, or the folding stopped.
    finished: bool,
}

impl<R: Read> Feed<'_, R> {
    /// The next block, after taking back a parsed block's buffer.
    fn next(&mut self, label: &str, spare: Option<Vec<u8>>) -> Option<Block> {
        if let Some(buffer) = spare {
            self.reader.recycle(buffer);
        }
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.finished {
            return None;
        }
        match self.reader.next_block(label) {
            Ok(Some(block)) => Some(block),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(err) => {
                self.error = Some(err);
                self.finished = true;
                None
            }
        }
    }
}

/// Folds finished blocks into the sink in file order.
struct Folder<S> {
    /// Finished blocks not yet folded.
    done: BTreeMap<usize, BlockResult<S>>,
    /// The next block to fold.
    next: usize,
    /// Rows folded so far.
    rows: u64,
    /// Lines before the next block's records.
    lines: u64,
}

impl<S: RowSink> Folder<S> {
    /// An error whose row and line count from the next block's start, placed in the file.
    fn place(&self, mut err: DataError) -> DataError {
        err.row = err.row.map(|local| local + self.rows);
        err.line = err.line.map(|local| local + self.lines);
        err
    }

    /// Folds every block whose predecessors are folded; the first error in file order wins.
    fn fold_ready(&mut self, sink: &mut S) -> Result<(), DataError> {
        while let Some(result) = self.done.remove(&self.next) {
            match result {
                Ok(parsed) => {
                    sink.absorb(parsed.sink, self.rows);
                    self.rows += parsed.rows;
                    self.lines += parsed.lines;
                }
                Err(err) => return Err(self.place(err)),
            }
            self.next += 1;
        }
        Ok(())
    }
}

/// Parses one block into a fresh sink split from `template`; rows are numbered from 1 within
/// the block. A block without quotes goes through [`plain_csv`], several times faster; any
/// block it refuses is read again by the `csv` crate, whose errors locate the problem.
fn parse_block<S: RowSink>(plan: &Plan, template: &S, block: &Block) -> BlockResult<S> {
    parse_plain_block(plan, template.split_for_block(block.index), block)
        .or_else(|_| parse_block_with_csv(plan, template.split_for_block(block.index), block))
}

/// [`parse_block`] through [`plain_csv::split_records`], handing the sink chunks of rows.
fn parse_plain_block<S: RowSink>(
    plan: &Plan,
    mut sink: S,
    block: &Block,
) -> Result<Parsed<S>, plain_csv::NotPlain> {
    let bytes = &block.bytes[block.data_start..];
    let width = plan.keep.len();
    let every_column = width == plan.header.len();
    let cut = plain_csv::Cut {
        delimiter: plan.delimiter,
        width: plan.header.len(),
        max_record_bytes: plan.max_record_bytes,
        batch: chunk_rows(width),
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut first_row = 1u64;
    let (rows, lines) =
        plain_csv::split_records(bytes, block.known, &cut, &mut spans, |text, spans, rows| {
            let spans = if every_column {
                spans
            } else {
                keep_columns(spans, cut.batch, rows, &plan.keep)
            };
            if width > 0 {
                let chunk = FieldChunk::new(text, width, rows, spans, &plan.nulls, every_column)
                    .known(block.known);
                sink.chunk(first_row, &chunk);
            }
            first_row += rows as u64;
        })?;
    if width == 0 {
        // A sink with every column excluded still counts its rows.
        let cells: [Cell<'_>; 0] = [];
        (1..=rows).for_each(|row| sink.row(row, &cells));
    }
    Ok(Parsed { sink, rows, lines })
}

/// What is wrong with a record of `fields` fields under `header`: a short one ends before
/// the column the error names, a long one has fields past the last.
fn ragged_message(header: &[String], fields: usize) -> String {
    let width = header.len();
    match header.last() {
        Some(last) if fields > width => format!(
            "the row has {fields} fields but the header has {width}: {} past the last column, \
             `{last}`",
            fields - width
        ),
        _ => format!(
            "the row ends before this column: it has {fields} fields but the header has {width}"
        ),
    }
}

/// Narrows ranges held column after column (`stride` slots each, the first `rows` used) to
/// the columns at `keep`, in order, and returns them.
fn keep_columns<'s>(
    spans: &'s mut [Span],
    stride: usize,
    rows: usize,
    keep: &[usize],
) -> &'s mut [Span] {
    for (to, &from) in keep.iter().enumerate() {
        // `keep` rises, so each column moves down onto one already read.
        spans.copy_within(from * stride..from * stride + rows, to * stride);
    }
    &mut spans[..keep.len() * stride]
}

/// [`parse_block`] through the `csv` crate, which handles quotes and reports every error.
fn parse_block_with_csv<S: RowSink>(plan: &Plan, mut sink: S, block: &Block) -> BlockResult<S> {
    let mut reader = records_of(&block.bytes[block.data_start..], plan.delimiter);
    let mut record = csv::ByteRecord::new();
    let mut spare: Vec<Cell<'static>> = Vec::with_capacity(plan.keep.len());
    let mut row = 0u64;
    // An error at a block-local row and line; rows are made global when blocks are folded.
    let error_at = |row: u64, local_line: u64, message: String| DataError {
        file: plan.label.clone(),
        row: Some(row),
        line: Some(local_line),
        column: None,
        message,
        hint: None,
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(error_at(row + 1, reader.position().line(), err.to_string())),
        }
        row += 1;
        let local_line = record.position().map_or(1, |p| p.line());
        let size = record.as_slice().len();
        if size > plan.max_record_bytes {
            let limit = plan.max_record_bytes;
            let message = format!("the record is {size} bytes, over the {limit} byte limit");
            let mut err = error_at(row, local_line, message).with_hint(UNCLOSED_QUOTE_HINT);
            let longest = record
                .iter()
                .enumerate()
                .max_by_key(|(_, field)| field.len());
            err.column = longest.map(|(field, _)| field_name(&plan.header, field));
            return Err(err);
        }
        if record.len() != plan.header.len() {
            let spanned = reader.position().line().saturating_sub(local_line);
            let mut err = error_at(row, local_line, ragged_message(&plan.header, record.len()));
            err.column = plan.header.get(record.len()).cloned();
            let over_lines = record.iter().position(|field| field.contains(&b'\n'));
            let hint = if let (true, Some(field)) = (spanned > 1, over_lines) {
                let name = field_name(&plan.header, field);
                format!(
                    "the row spans {spanned} lines, in its field for `{name}`: a quote there may \
                     never close"
                )
            } else if spanned > 1 {
                format!("the row spans {spanned} lines: a quoted field in it may never close")
            } else {
                "every row needs as many fields as the header; quote fields that contain the delimiter".into()
            };
            return Err(err.with_hint(hint));
        }
        let mut cells = super::recycle(std::mem::take(&mut spare));
        // Fields split only at ASCII delimiters and quotes, so when the whole record is UTF-8
        // every field is too: one check per record instead of one per field.
        let record_is_utf8 = std::str::from_utf8(record.as_slice()).is_ok();
        for &index in &plan.keep {
            let field = &record[index];
            if plan.nulls.is_null(field) {
                cells.push(Cell::Null);
                continue;
            }
            let text = if record_is_utf8 {
                // SAFETY: the record's bytes are UTF-8 (checked above), and a field is a
                // sub-slice that starts and ends at ASCII bytes or at the record's ends.
                unsafe { std::str::from_utf8_unchecked(field) }
            } else {
                match std::str::from_utf8(field) {
                    Ok(text) => text,
                    Err(err) => {
                        let message =
                            format!("invalid UTF-8 at byte {} of the field", err.valid_up_to());
                        let mut err = error_at(row, local_line, message).with_hint(
                            "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
                        );
                        err.column = Some(plan.header[index].clone());
                        return Err(err);
                    }
                }
            };
            cells.push(Cell::Text(text));
        }
        sink.row(row, &cells);
        spare = super::recycle(cells);
    }
    let lines = memchr::memchr_iter(b'\n', &block.bytes[block.data_start..]).count() as u64;
    Ok(Parsed {
        sink,
        rows: row,
        lines,
    })
}

/// Reads and checks the header at the start of the first block: present, UTF-8, no empty or
/// repeated names. Returns the names, where the data starts, and the header's line count.
fn read_header(
    label: &str,
    bytes: &[u8],
    delimiter: u8,
) -> Result<(Vec<String>, usize, u64), DataError> {
    let bom = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let mut reader = records_of(&bytes[bom..], delimiter);
    let mut raw = csv::ByteRecord::new();
    let found = reader
        .read_byte_record(&mut raw)
        .map_err(|err| DataError::file(label, format!("cannot read the header: {err}")))?;
    if !found || raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
        return Err(DataError::file(label, "the file is empty: no header line")
            .with_hint("a CSV file starts with a line of column names"));
    }
    let data_start = bom + reader.position().byte() as usize;
    let header_lines = reader.position().line() - 1;
    let mut names = Vec::with_capacity(raw.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, field) in raw.iter().enumerate() {
        let position = format!("column {}", index + 1);
        let header_error = |column: String, message: &str, hint: Option<&str>| DataError {
            file: label.into(),
            row: None,
            line: Some(1),
            column: Some(column),
            message: message.to_string(),
            hint: hint.map(str::to_string),
        };
        let name = std::str::from_utf8(field)
            .map_err(|_| {
                header_error(position.clone(), "the header name is not valid UTF-8", None)
            })?
            .to_string();
        if name.trim().is_empty() {
            return Err(header_error(
                position,
                "the header name is empty",
                Some("every column needs a name"),
            ));
        }
        if let Some(first) = seen.insert(name.clone(), index + 1) {
            let message = format!(
                "the header name is repeated in columns {first} and {}",
                index + 1
            );
            return Err(header_error(
                name,
                &message,
                Some("rename one of them; mlgate addresses columns by name"),
            ));
        }
        names.push(name);
    }
    Ok((names, data_start, header_lines))
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
        /// The blocks this sink was split for, in the order folded.
        blocks: Vec<usize>,
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
        fn split(&self) -> Self {
            Collect {
                columns: self.columns.clone(),
                rows: Vec::new(),
                blocks: Vec::new(),
            }
        }
        fn split_for_block(&self, index: usize) -> Self {
            Collect {
                blocks: vec![index],
                ..self.split()
            }
        }
        fn absorb(&mut self, later: Self, rows_before: u64) {
            self.rows
                .extend(later.rows.into_iter().map(|(r, c)| (r + rows_before, c)));
            self.blocks.extend(later.blocks);
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
    fn ragged_row_names_row_line_and_column() {
        let err = scan_text(b"a,b,c\n1,2,3\n4\n").unwrap_err();
        assert_eq!((err.row, err.line), (Some(2), Some(3)));
        assert_eq!(
            err.column.as_deref(),
            Some("b"),
            "the first column without a field"
        );
        assert!(
            err.message.contains("it has 1 fields but the header has 3"),
            "{err}"
        );
        let err = scan_text(b"a,b\n1,2\n3,4\n5,6,7,8\n").unwrap_err();
        assert_eq!(
            (err.row, err.line, err.column.as_deref()),
            (Some(3), Some(4), None)
        );
        assert!(
            err.message
                .ends_with("4 fields but the header has 2: 2 past the last column, `b`"),
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
    fn unterminated_quote_is_caught_where_it_opens() {
        let err = scan_text(b"a,b\n1,\"open\n2,3\n").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
        assert_eq!((err.row, err.line), (Some(1), Some(2)), "{err}");
        assert_eq!(err.column.as_deref(), Some("b"));
        // After quoted fields that close, one spanning lines among them, and a doubled quote.
        let text = b"a,b,c\n\"x\ny\",2,3\n4,\"5 \"\"q\"\"\",6\n7,8,\"9\n10,11\n";
        let err = scan_text(text).unwrap_err();
        assert_eq!((err.row, err.line), (Some(3), Some(5)), "{err}");
        assert_eq!(err.column.as_deref(), Some("c"));
        // A stray quote in an unquoted field opens one too, in RFC 4180.
        let err = scan_text(b"size,n\n5\" screen,1\n7,2\n").unwrap_err();
        assert_eq!(
            (err.row, err.line, err.column.as_deref()),
            (Some(1), Some(2), Some("size")),
            "{err}"
        );
        assert!(err.hint.unwrap().contains("doubled"));
        // In the header, before any row.
        let err = scan_text(b"a,\"b\n1,2\n").unwrap_err();
        assert_eq!((err.row, err.line), (None, Some(1)), "{err}");
        assert_eq!(err.column.as_deref(), Some("column 2"));
    }

    #[test]
    fn rows_are_on_their_own_lines_only_when_no_record_spans_lines() {
        let one_line_per_row = |bytes: &[u8]| {
            let mut sink = Collect::default();
            scan("t.csv", bytes, &options(), &mut sink)
                .unwrap()
                .one_line_per_row
        };
        assert!(one_line_per_row(b"a,b\n1,2\n3,4\n"));
        assert!(
            one_line_per_row(b"a,b\r\n1,2\r\n3,4"),
            "CRLF, no final line end"
        );
        assert!(one_line_per_row(b"a,b\n1,\"x,y\"\n"), "quoted, on one line");
        assert!(one_line_per_row(b"a,b\n"));
        assert!(!one_line_per_row(b"a,b\n1,\"x\ny\"\n3,4\n"));
        // The same count of line ends as two one-line rows and a final line end.
        assert!(!one_line_per_row(b"a,b\n1,\"x\ny\"\n3,4"));
        assert!(
            !one_line_per_row(b"\"a\nb\",c\n1,2\n"),
            "a header over two lines"
        );
        let big = big_csv(170_000, None);
        assert!(
            !one_line_per_row(&big),
            "a record over two lines in every 997"
        );
        let big: Vec<u8> = big
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty() && !line.contains(&b'"'))
            .flat_map(|line| [line, b"\n"].concat())
            .collect();
        assert!(one_line_per_row(&big));
    }

    #[test]
    fn a_quote_that_swallows_later_rows_is_named_in_the_hint() {
        let err = scan_text(b"a,b,c\n1,\"2,3\n4,5,6\n7,8,9\n").unwrap_err();
        assert_eq!((err.row, err.line), (Some(1), Some(2)), "{err}");
        assert_eq!(
            err.hint.as_deref(),
            Some("the row spans 3 lines, in its field for `b`: a quote there may never close")
        );
    }

    #[test]
    fn open_quote_is_found_by_field_and_line() {
        let find = |bytes: &[u8]| OpenQuote::find(bytes, b',');
        assert_eq!(find(b"a,\"b\"\nc,d\n"), None, "every quote closes");
        assert_eq!(find(b""), None);
        let quote = find(b"a,\"b\"\nc,d,\"e\nf\ng").unwrap();
        assert_eq!(
            quote,
            OpenQuote {
                lines_before: 1,
                lines_after: 2,
                field: 2,
                record_start: 6
            }
        );
        let quote = OpenQuote::find(b"x;y\n1;2;\"\"\"", b';').unwrap();
        assert_eq!((quote.lines_before, quote.field), (1, 2));
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
        assert_eq!((err.row, err.line), (Some(1), Some(2)), "{err}");
        assert_eq!(err.column.as_deref(), Some("a"), "the longest field's");
    }

    #[test]
    fn a_header_or_field_with_no_line_end_is_refused_by_the_reader() {
        let mut opts = options();
        opts.max_record_bytes = BLOCK_BYTES + 10;
        let refuse = |data: &[u8]| {
            let mut sink = Collect::default();
            let err = scan("t.csv", data, &opts, &mut sink).unwrap_err();
            err.downcast::<DataError>().expect("a DataError")
        };
        let mut header = b"a,b".to_vec();
        header.extend(std::iter::repeat_n(b'x', 2 * BLOCK_BYTES));
        let err = refuse(&header);
        assert_eq!(
            (err.row, err.line, err.column.as_deref()),
            (None, Some(1), None)
        );
        assert!(
            err.message.starts_with("the header has no line end"),
            "{err}"
        );
        let mut field = b"a,b\n1,2\n3,".to_vec();
        field.extend(std::iter::repeat_n(b'x', 2 * BLOCK_BYTES));
        let err = refuse(&field);
        assert_eq!(
            (err.row, err.line, err.column.as_deref()),
            (Some(2), Some(3), None)
        );
        assert!(err.message.starts_with("the row has no line end"), "{err}");
    }

    #[test]
    fn excluded_columns_are_skipped() {
        let mut sink = Collect::default();
        let mut opts = options();
        opts.exclude = vec!["b".into()];
        scan("t.csv", &b"a,b,c\n1,2,3\n"[..], &opts, &mut sink).unwrap();
        assert_eq!(sink.columns, ["a", "c"]);
        assert_eq!(sink.rows[0].1, ["1", "3"]);
        // Over several chunks of rows, with the first and a middle column left out.
        let mut text = String::from("a,b,c,d\n");
        for i in 0..3_000 {
            text.push_str(&format!("a{i},b{i},c{i},d{i}\n"));
        }
        let mut sink = Collect::default();
        opts.exclude = vec!["a".into(), "c".into()];
        scan("t.csv", text.as_bytes(), &opts, &mut sink).unwrap();
        assert_eq!(sink.columns, ["b", "d"]);
        assert_eq!(sink.rows.len(), 3_000);
        for (i, (_, cells)) in sink.rows.iter().enumerate() {
            assert_eq!(cells, &[format!("b{i}"), format!("d{i}")]);
        }
    }

    /// A CSV of about 10 MB (three blocks) whose quoted fields span lines and hold doubled
    /// quotes, with a row of `fields` fields at `bad_row` if given.
    fn big_csv(rows: usize, bad_row: Option<usize>) -> Vec<u8> {
        let mut out = b"id,text\n".to_vec();
        for i in 1..=rows {
            if Some(i) == bad_row {
                out.extend_from_slice(b"oops\n");
            } else if i % 997 == 0 {
                out.extend_from_slice(
                    format!("{i},\"multi\nline \"\"quoted\"\", {i}\"\n").as_bytes(),
                );
            } else {
                out.extend_from_slice(
                    format!("{i},plain text for row {i} padded to a decent length\n").as_bytes(),
                );
            }
        }
        out
    }

    #[test]
    fn blocks_split_outside_quotes_and_number_rows_globally() {
        let rows = 170_000;
        let data = big_csv(rows, None);
        assert!(data.len() > 2 * BLOCK_BYTES);
        let sink = scan_text(&data).unwrap();
        assert_eq!(sink.rows.len(), rows);
        for (i, (row, cells)) in sink.rows.iter().enumerate() {
            assert_eq!(*row, i as u64 + 1);
            assert_eq!(cells[0], (i + 1).to_string());
        }
        assert_eq!(sink.rows[996].1[1], "multi\nline \"quoted\", 997");
        // Each block's sink knows its place in the file, which sets how its numbers are sampled.
        let blocks = data.len().div_ceil(BLOCK_BYTES);
        assert!(sink.blocks.len() >= blocks - 1, "{:?}", sink.blocks);
        assert_eq!(sink.blocks, (0..sink.blocks.len()).collect::<Vec<_>>());
    }

    #[test]
    fn huge_page_advice_leaves_buffers_whole() {
        for (held, room) in [(0, 0), (10, 100), (3, BLOCK_BYTES + TAIL_ROOM)] {
            let mut buffer: Vec<u8> = (0..held).map(|i| i as u8).collect();
            buffer.reserve_exact(room);
            let capacity = buffer.capacity();
            ask_for_huge_pages(&mut buffer);
            assert_eq!(buffer, (0..held).map(|i| i as u8).collect::<Vec<_>>());
            assert_eq!(buffer.capacity(), capacity);
            buffer.resize(capacity, 7);
            assert!(buffer[held..].iter().all(|&b| b == 7));
        }
    }

    #[test]
    fn recycled_block_buffers_never_grow() {
        // Records of uneven lengths, so that each block ends in a cut-off record of another
        // length than the block before.
        let data: String = (0..600_000)
            .map(|i| format!("{i},{}\n", "x".repeat(i % 97)))
            .collect();
        let mut reader = BlockReader::new(data.as_bytes(), 1 << 20, b',');
        let mut capacities = Vec::new();
        while let Some(block) = reader.next_block("t.csv").unwrap() {
            capacities.push(block.bytes.capacity());
            reader.recycle(block.bytes);
        }
        assert!(capacities.len() > 4, "{capacities:?}");
        // Two buffers take turns, the one being filled and the one handed out; a buffer that
        // grew would show a third capacity.
        capacities.sort_unstable();
        capacities.dedup();
        assert_eq!(capacities.len(), 2, "{capacities:?}");
    }

    #[test]
    fn what_a_block_is_known_to_hold_is_true_and_not_carried_over() {
        // Four blocks or so; a quote and an `é` in the record cut off at the end of the first
        // block (so in the second's bytes) and in the third block's middle.
        let record = |i: usize| format!("{i},{}\n", "x".repeat(i % 97));
        let mut text: String = (0..250_000).map(record).collect();
        let first_cut = text[..BLOCK_BYTES].rfind('\n').unwrap() + 1;
        text.insert_str(first_cut + 2, "\"é\"");
        let middle_of_third = 2 * BLOCK_BYTES + BLOCK_BYTES / 2;
        let at = text[..middle_of_third].rfind('\n').unwrap() + 2;
        text.insert_str(at, "\"é\"");
        text.extend((0..40_000).map(record));
        let mut reader = BlockReader::new(text.as_bytes(), 1 << 20, b',');
        let mut known = Vec::new();
        while let Some(block) = reader.next_block("t.csv").unwrap() {
            let (quote_free, ascii) = (block.known.quote_free(), block.known.ascii());
            assert!(
                !quote_free || !block.bytes.contains(&b'"'),
                "{}",
                block.index
            );
            assert!(!ascii || block.bytes.is_ascii(), "{}", block.index);
            known.push((quote_free, ascii));
        }
        assert!(known.len() >= 4, "{known:?}");
        // The first block read the record it cut off, so it vouches for nothing (its bytes
        // are scanned again); the blocks after those holding a quote and an `é` vouch again.
        assert_eq!(known[1..3], [(false, false), (false, false)]);
        assert!(known[3..].iter().all(|&k| k == (true, true)), "{known:?}");
    }

    #[test]
    fn errors_in_later_blocks_have_global_rows_and_lines() {
        let rows = 170_000;
        let bad = 150_001;
        let err = scan_text(&big_csv(rows, Some(bad))).unwrap_err();
        // Every 997th row before it spans two lines, plus the header line.
        let line = bad as u64 + 1 + (bad as u64 - 1) / 997;
        assert_eq!((err.row, err.line), (Some(bad as u64), Some(line)), "{err}");
    }

    /// [`big_csv`] followed by a quote that never closes, then more bytes than a block holds.
    fn csv_with_unclosed_quote_after(rows: usize, bad_row: Option<usize>) -> Vec<u8> {
        let mut data = big_csv(rows, bad_row);
        data.extend_from_slice(b"1,\"never closed\n");
        data.extend(std::iter::repeat_n(b'x', 2 * BLOCK_BYTES));
        data
    }

    #[test]
    fn a_record_over_the_limit_after_several_blocks_names_its_line() {
        let rows = 80_000;
        let data = csv_with_unclosed_quote_after(rows, None);
        assert!(data.len() > 3 * BLOCK_BYTES);
        let err = scan_text(&data).unwrap_err();
        assert!(err.message.contains("does not close in the next"), "{err}");
        // The header, the rows, and the second line of every 997th row come before it.
        let line = 1 + rows as u64 + rows as u64 / 997 + 1;
        let row = rows as u64 + 1;
        assert_eq!((err.row, err.line), (Some(row), Some(line)), "{err}");
        assert_eq!(err.column.as_deref(), Some("text"));
    }

    #[test]
    fn an_error_in_an_earlier_block_comes_before_the_reader_s() {
        let err = scan_text(&csv_with_unclosed_quote_after(80_000, Some(5))).unwrap_err();
        assert!(err.message.contains("fields but the header"), "{err}");
        assert_eq!((err.row, err.line), (Some(5), Some(6)), "{err}");
    }

    proptest::proptest! {
        /// Any bytes give rows or a located error, never a panic.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = scan_text(&bytes);
        }
    }
}
