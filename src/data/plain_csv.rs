//! Records and fields of a block without quotes, found by bitmask instead of the `csv` crate.
//!
//! Most data files quote nothing, and for them the `csv` crate's byte-at-a-time state machine
//! was the largest single cost of a validation pass. Without quotes a field ends at the
//! delimiter and a record at `\n` or `\r`, so one pass that marks those three bytes in 64-byte
//! chunks (SSE2 compares, or AVX-512 ones where the CPU has them) finds every boundary. The
//! records are the `csv` crate's, as its reader sees them with the settings `csv_source` uses:
//! `\r`, `\n` and `\r\n` end a record, and an empty line is no record. Anything this pass
//! does not handle alone (a quote, bytes that are not UTF-8, a row of the wrong width, an
//! over-long record) makes it give the block back to the `csv` crate, whose errors name the
//! row and line.

/// Bytes marked at once: one bit each in a `u64`.
const CHUNK: usize = 64;

use super::chunk::Span;

/// What the reader found of a block's bytes while they were in its cache, so the
/// splitting need not scan them again: a quote search and a UTF-8 check, each a pass over a
/// block read from further out, were 5% of a pass over a large file. The default vouches
/// for nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Known {
    /// No byte is `"`.
    quote_free: bool,
    /// Every byte is ASCII.
    ascii: bool,
}

impl Known {
    /// What a block's reader vouches for.
    ///
    /// # Safety
    ///
    /// With `ascii`, every byte of the block must be ASCII: [`split_records`] then takes
    /// it as UTF-8 unchecked.
    pub(super) unsafe fn vouched(quote_free: bool, ascii: bool) -> Known {
        Known { quote_free, ascii }
    }

    /// No byte is `"`.
    #[cfg(test)]
    pub(super) fn quote_free(&self) -> bool {
        self.quote_free
    }

    /// Every byte is ASCII.
    pub(super) fn ascii(&self) -> bool {
        self.ascii
    }
}

/// Why a block needs the general reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotPlain;

/// How [`split_records`] cuts a block and hands its records out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    /// The field delimiter.
    pub delimiter: u8,
    /// Fields every record must have.
    pub width: usize,
    /// Refuse a record longer than this.
    pub max_record_bytes: usize,
    /// Records handed out at a time (the last batch may hold fewer); at least 1.
    pub batch: usize,
}

/// Splits `bytes` (whole records) into records of exactly `cut.width` fields, writes their
/// fields as byte ranges into `fields`, column after column in `cut.batch` slots each (the
/// layout of [`FieldChunk`](super::FieldChunk)), and calls `batch` with the text, the slots and
/// the number of records in them for every `cut.batch` records (and for those left at the
/// end); returns the number of records and of `\n` bytes (lines, for locating errors).
///
/// The ranges go straight where the caller reads them: a vector of ranges per record, copied
/// on, was a tenth of the splitting; a call per record, a twentieth; a push per field, with
/// its capacity test and its length kept in memory, as much again.
///
/// Refuses, before handing out any record, a block that holds a quote, is not UTF-8 or is too
/// long for `u32` ranges, and a delimiter that is not a plain ASCII byte; refuses, at the first
/// such record, one whose width is not `cut.width` or that is longer than
/// `cut.max_record_bytes`, so the caller must discard what it was handed and read the block
/// again with the general reader. What `known` vouches for is not scanned again.
pub(super) fn split_records<'a>(
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
    mut batch: impl FnMut(&'a str, &mut [Span], usize),
) -> Result<(u64, u64), NotPlain> {
    #[cfg(target_arch = "x86_64")]
    if let Some(support) = wide::support() {
        // SAFETY: `support` found what each way needs on this CPU.
        return unsafe { wide::split_records(support, bytes, known, cut, fields, &mut batch) };
    }
    split_records_marked_by::<SseMarks>(bytes, known, cut, fields, batch)
}

/// What every way of splitting checks and sets up first: refuses a block that
/// [`split_records`] refuses before handing out any record, sizes `fields` for a batch, and
/// returns the block's text and the records a batch holds.
#[inline(always)]
fn open_block<'a>(
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
) -> Result<(&'a str, usize), NotPlain> {
    let per_batch = cut.batch.max(1);
    let delimiter = cut.delimiter;
    let plain_delimiter = delimiter.is_ascii() && !matches!(delimiter, b'"' | b'\n' | b'\r');
    let slots = cut.width.checked_mul(per_batch).ok_or(NotPlain)?;
    if !plain_delimiter
        || u32::try_from(bytes.len()).is_err()
        || (!known.quote_free && memchr::memchr(b'"', bytes).is_some())
    {
        return Err(NotPlain);
    }
    debug_assert!(!known.quote_free || memchr::memchr(b'"', bytes).is_none());
    let text = if known.ascii {
        debug_assert!(bytes.is_ascii());
        // SAFETY: ASCII text is UTF-8, and `Known::vouched`'s caller vouched for every byte.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    } else {
        std::str::from_utf8(bytes).map_err(|_| NotPlain)?
    };
    fields.clear();
    fields.resize(slots, (0, 0));
    Ok((text, per_batch))
}

/// [`split_records`] with the delimiters and line ends marked by `M`, and the fields taken
/// from the masks bit by bit. Inlined into each caller, so the AVX-512 one compiles the whole
/// loop with its instructions.
#[inline(always)]
fn split_records_marked_by<'a, M: Marks>(
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
    mut batch: impl FnMut(&'a str, &mut [Span], usize),
) -> Result<(u64, u64), NotPlain> {
    let (text, per_batch) = open_block(bytes, known, cut, fields)?;
    let Cut {
        delimiter,
        width,
        max_record_bytes,
        ..
    } = *cut;
    let cells: &mut [Span] = fields;
    let mut batch_of = Batch {
        width,
        per_batch,
        max_record_bytes,
        records: 0,
        column: 0,
        slot: 0,
    };
    let mut newlines = 0u64;
    let mut record_start = 0;
    let mut field_start = 0;
    // Positions fit `u32`: the block's length was checked above.
    let mut tail = [0; CHUNK];
    for (index, chunk) in chunks(bytes, delimiter, &mut tail).enumerate() {
        let base = index * CHUNK;
        let (mut delimiters, mut line_ends) = M::mark(chunk, delimiter);
        loop {
            // The delimiters before the next line end (all that are left after the last), in
            // a loop that tests nothing else.
            let before_end = match line_ends {
                0 => delimiters,
                _ => delimiters & ((line_ends & line_ends.wrapping_neg()) - 1),
            };
            delimiters ^= before_end;
            let mut marked = before_end;
            while marked != 0 {
                let at = base + marked.trailing_zeros() as usize;
                marked &= marked - 1;
                batch_of.field(cells, field_start, at)?;
                field_start = at + 1;
            }
            if line_ends == 0 {
                break;
            }
            let at = base + line_ends.trailing_zeros() as usize;
            line_ends &= line_ends - 1;
            newlines += u64::from(bytes[at] == b'\n');
            if (at > record_start || batch_of.column > 0)
                && batch_of.end_record(cells, record_start, field_start, at)?
            {
                batch(text, cells, per_batch);
                batch_of.start_batch();
            }
            record_start = at + 1;
            field_start = at + 1;
        }
    }
    if record_start < bytes.len() || batch_of.column > 0 {
        batch_of.end_record(cells, record_start, field_start, bytes.len())?;
    }
    // No record is open: the slot counts the records not yet handed out.
    if batch_of.slot > 0 {
        batch(text, cells, batch_of.slot);
    }
    Ok((batch_of.records, newlines))
}

/// Where [`split_records`] writes the next field of a batch of records.
struct Batch {
    /// Fields a record must have.
    width: usize,
    /// Records a batch holds.
    per_batch: usize,
    /// Refuse a record longer than this.
    max_record_bytes: usize,
    /// Records ended so far, in every batch.
    records: u64,
    /// Fields of the open record so far.
    column: usize,
    /// The slot of the open record's next field: `column * per_batch` + the records before it
    /// in the batch (between records, just those). A slot past the end is a record too wide.
    slot: usize,
}

impl Batch {
    /// Writes the open record's next field, `start..end`.
    #[inline(always)]
    fn field(&mut self, cells: &mut [Span], start: usize, end: usize) -> Result<(), NotPlain> {
        *cells.get_mut(self.slot).ok_or(NotPlain)? = (start as u32, end as u32);
        self.slot += self.per_batch;
        self.column += 1;
        Ok(())
    }

    /// Ends the open record, which started at `record_start`, with its last field,
    /// `start..end`; returns whether the batch is then full. Refuses a record of the wrong
    /// width or over the size limit.
    #[inline(always)]
    fn end_record(
        &mut self,
        cells: &mut [Span],
        record_start: usize,
        start: usize,
        end: usize,
    ) -> Result<bool, NotPlain> {
        self.field(cells, start, end)?;
        if self.column != self.width || end - record_start > self.max_record_bytes {
            return Err(NotPlain);
        }
        self.records += 1;
        // The next record's first slot: one past this record's.
        self.slot -= self.width * self.per_batch - 1;
        self.column = 0;
        Ok(self.slot == self.per_batch)
    }

    /// Starts the next batch, the one before handed out.
    #[inline(always)]
    fn start_batch(&mut self) {
        self.slot = 0;
    }
}

/// `bytes`, [`CHUNK`] bytes at a time, the last chunk copied into `tail` and padded with a
/// byte that is neither a delimiter nor a line end, so it takes the same path. The caller
/// marks each chunk in its own loop: a mark inside a closure here would not be compiled
/// with the AVX-512 caller's instructions, and left as a call per chunk.
#[inline(always)]
fn chunks<'a>(
    bytes: &'a [u8],
    delimiter: u8,
    tail: &'a mut [u8; CHUNK],
) -> impl Iterator<Item = &'a [u8; CHUNK]> + 'a {
    let whole = bytes.chunks_exact(CHUNK);
    let rest = whole.remainder();
    let filler = (0..=u8::MAX)
        .find(|b| ![delimiter, b'\n', b'\r'].contains(b))
        .unwrap_or(0);
    tail.fill(filler);
    tail[..rest.len()].copy_from_slice(rest);
    let tail = (!rest.is_empty()).then_some(&*tail);
    whole
        .map(|chunk| <&[u8; CHUNK]>::try_from(chunk).expect("chunks_exact gives CHUNK bytes"))
        .chain(tail)
}

/// How far ahead of the chunk being marked its bytes are asked for. A block is larger than a
/// core's L2 cache, so its start has left it by the time it is split, and the splitting stops
/// every batch of records while the columns are read: the loads of the next chunk waited on
/// memory. (Measured again once the worker read its own block: without the prefetch, 0.455 s
/// against 0.448 s at 5M rows.)
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 2048;

/// How a chunk's delimiters and line ends are found.
trait Marks {
    /// The delimiters and the line ends of `chunk` as masks, bit `i` for byte `i`.
    fn mark(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64);
}

/// Marks found by the instructions every CPU of the target has.
struct SseMarks;

/// Sixteen bytes per compare and one `pmovmskb` per sixteen for each mask (SSE2 is part of
/// every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
impl Marks for SseMarks {
    #[inline(always)]
    fn mark(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64) {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_prefetch, _mm_set1_epi8, _MM_HINT_T0,
        };
        // SAFETY: SSE2 is part of the x86-64 baseline, so these instructions exist on every
        // CPU this code runs on; each load reads 16 bytes of `chunk` (chunks_exact),
        // unaligned. A prefetch reads nothing and never faults, wherever its address points.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(chunk.as_ptr().wrapping_add(PREFETCH_AHEAD).cast::<i8>());
            let [d, n, r] = [delimiter, b'\n', b'\r'].map(|t| _mm_set1_epi8(t as i8));
            let (mut delimiters, mut line_ends) = (0u64, 0u64);
            for (lane, bytes) in chunk.chunks_exact(16).enumerate() {
                let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
                let ends = _mm_or_si128(_mm_cmpeq_epi8(v, n), _mm_cmpeq_epi8(v, r));
                let bits = |hits| u64::from(_mm_movemask_epi8(hits) as u16) << (16 * lane);
                delimiters |= bits(_mm_cmpeq_epi8(v, d));
                line_ends |= bits(ends);
            }
            (delimiters, line_ends)
        }
    }
}

/// Plain loops over fixed-size arrays, which the compiler turns into vector compares.
#[cfg(not(target_arch = "x86_64"))]
impl Marks for SseMarks {
    #[inline(always)]
    fn mark(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64) {
        let bits = |hit: &dyn Fn(u8) -> bool| {
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |mask, (i, &byte)| mask | (u64::from(hit(byte)) << i))
        };
        (
            bits(&|byte| byte == delimiter),
            bits(&|byte| byte == b'\n' || byte == b'\r'),
        )
    }
}

#[cfg(target_arch = "x86_64")]
mod wide;

#[cfg(test)]
mod tests {
    use super::*;

    /// The records the `csv` crate reads from `bytes` with `csv_source`'s settings.
    fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        reader
            .byte_records()
            .map(|r| {
                r.unwrap()
                    .iter()
                    .map(|f| String::from_utf8(f.to_vec()).unwrap())
                    .collect()
            })
            .collect()
    }

    /// The records [`split_records`] hands out, or its refusal.
    fn plain_records(bytes: &[u8], width: usize) -> Result<Vec<Vec<String>>, NotPlain> {
        let whole = batched_records(bytes, width, bytes.len() + 1)?;
        for batch in [1, 2, 7] {
            assert_eq!(
                batched_records(bytes, width, batch)?,
                whole,
                "batches of {batch}"
            );
        }
        Ok(whole)
    }

    /// [`split_records`] in every way this CPU has, each required to hand out the same
    /// batches and return the same as the SSE2 way; returns that.
    fn split_each_way<'a>(
        bytes: &'a [u8],
        known: Known,
        cut: &Cut,
        fields: &mut Vec<Span>,
        batch: &mut dyn FnMut(&'a str, &mut [Span], usize),
    ) -> Result<(u64, u64), NotPlain> {
        let mut batches = Vec::new();
        let mut keep = |text: &str, cells: &mut [Span], rows| {
            batches.push((text.len(), cells.to_vec(), rows));
        };
        let result = split_records_marked_by::<SseMarks>(bytes, known, cut, fields, &mut keep);
        #[cfg(target_arch = "x86_64")]
        for &support in match wide::support() {
            None => &[][..],
            Some(wide::Support::Masks) => &[wide::Support::Masks],
            Some(wide::Support::Positions) => &[wide::Support::Masks, wide::Support::Positions],
        } {
            let mut wide_batches = Vec::new();
            let mut keep = |text: &str, cells: &mut [Span], rows| {
                wide_batches.push((text.len(), cells.to_vec(), rows));
            };
            // SAFETY: `support` found what this way needs on this CPU.
            let wide_result =
                unsafe { wide::split_records(support, bytes, known, cut, fields, &mut keep) };
            assert_eq!(wide_result, result, "{support:?}");
            if result.is_ok() {
                assert_eq!(wide_batches, batches, "{support:?}");
            }
        }
        if result.is_ok() {
            let text = std::str::from_utf8(bytes).expect("handed out, so UTF-8");
            for (_, mut cells, rows) in batches {
                batch(text, &mut cells, rows);
            }
        }
        result
    }

    /// [`plain_records`], handed out `batch` records at a time.
    fn batched_records(
        bytes: &[u8],
        width: usize,
        batch: usize,
    ) -> Result<Vec<Vec<String>>, NotPlain> {
        let mut out = Vec::new();
        let mut fields = Vec::new();
        let cut = Cut {
            delimiter: b',',
            width,
            max_record_bytes: usize::MAX,
            batch,
        };
        let (count, newlines) = split_each_way(
            bytes,
            Known::default(),
            &cut,
            &mut fields,
            &mut |text, cells, rows| {
                assert_eq!(
                    cells.len(),
                    width * batch,
                    "a slot per field of `batch` records"
                );
                assert!((1..=batch).contains(&rows));
                for row in 0..rows {
                    out.push(
                        (0..width)
                            .map(|column| {
                                let (a, b) = cells[column * batch + row];
                                text[a as usize..b as usize].to_string()
                            })
                            .collect(),
                    );
                }
            },
        )?;
        assert_eq!(count as usize, out.len());
        assert_eq!(newlines as usize, memchr::memchr_iter(b'\n', bytes).count());
        Ok(out)
    }

    #[test]
    fn line_ends_and_empty_lines_as_the_csv_crate_reads_them() {
        for input in [
            &b"1,2\n3,4\n"[..],
            b"1,2\r\n3,4\r\n",
            b"1,2\r3,4",
            b"\n\n1,2\n\r\n3,4\n\n",
            b",\n,\n",
            b"a,\xc3\xa9\n,b",
        ] {
            assert_eq!(
                plain_records(input, 2).unwrap(),
                csv_records(input),
                "{input:?}"
            );
        }
    }

    #[test]
    fn refuses_what_the_general_reader_must_handle() {
        assert_eq!(plain_records(b"1,\"2\"\n", 2), Err(NotPlain));
        assert_eq!(plain_records(b"1,\xe9\n", 2), Err(NotPlain));
        assert_eq!(plain_records(b"1,2\n3\n", 2), Err(NotPlain));
        assert_eq!(plain_records(b"1,2\n3,4,5\n", 2), Err(NotPlain));
        // A record too wide by far, across many windows of positions.
        let wide = format!("1,2\n{}\n", ",".repeat(20_000));
        assert_eq!(plain_records(wide.as_bytes(), 2), Err(NotPlain));
        let cut = |delimiter, max_record_bytes| Cut {
            delimiter,
            width: 2,
            max_record_bytes,
            batch: 1,
        };
        let split = |bytes: &[u8], cut: Cut| {
            split_each_way(
                bytes,
                Known::default(),
                &cut,
                &mut Vec::new(),
                &mut |_, _, _| {},
            )
        };
        assert_eq!(split(b"1,2\n333,4\n", cut(b',', 5)), Ok((2, 2)));
        assert_eq!(split(b"1,2\n333,4\n", cut(b',', 4)), Err(NotPlain));
        assert_eq!(split(b"1\"2\n", cut(b'"', 9)), Err(NotPlain));
    }

    #[test]
    fn records_cross_chunk_boundaries() {
        let mut input = Vec::new();
        for i in 0..500 {
            input.extend(format!("{i},{},x{}\n", i * 7, "y".repeat(i % 70)).as_bytes());
        }
        assert_eq!(plain_records(&input, 3).unwrap(), csv_records(&input));
    }

    /// The masks a chunk should get, byte by byte.
    fn marked_one_by_one(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64) {
        let bits = |hit: &dyn Fn(u8) -> bool| {
            (0..CHUNK).fold(0u64, |mask, i| mask | (u64::from(hit(chunk[i])) << i))
        };
        (
            bits(&|byte| byte == delimiter),
            bits(&|byte| matches!(byte, b'\n' | b'\r')),
        )
    }

    proptest::proptest! {
        /// Every way of marking a chunk finds the same delimiters and line ends, whatever the
        /// delimiter and wherever in the chunk they fall.
        #[test]
        fn every_way_of_marking_agrees(
            chunk in proptest::array::uniform32(proptest::sample::select(
                &b",;\t|\n\r a\x7f\x80\xff"[..])),
            rest in proptest::array::uniform32(proptest::sample::select(
                &b",;\t|\n\r a\x7f\x80\xff"[..])),
            delimiter in proptest::sample::select(&b",;\t|\x7f"[..]),
        ) {
            let mut whole = [0u8; CHUNK];
            whole[..32].copy_from_slice(&chunk);
            whole[32..].copy_from_slice(&rest);
            let expected = marked_one_by_one(&whole, delimiter);
            proptest::prop_assert_eq!(SseMarks::mark(&whole, delimiter), expected);
            #[cfg(target_arch = "x86_64")]
            if wide::support().is_some() {
                // SAFETY: `support` checked for AVX-512 F and BW.
                let wide = unsafe { wide::mark(&whole, delimiter) };
                proptest::prop_assert_eq!(wide, expected);
            }
        }

        /// Packing a chunk's marks gives every set bit's position, in order, from the base.
        #[test]
        #[cfg(target_arch = "x86_64")]
        fn packed_positions_are_the_set_bits(bits: u64, base in 0u32..1 << 30) {
            if wide::support() == Some(wide::Support::Positions) {
                let expected: Vec<u32> =
                    (0..64).filter(|i| bits >> i & 1 == 1).map(|i| base + i).collect();
                // SAFETY: `support` checked for AVX-512 F, BW and VBMI2.
                proptest::prop_assert_eq!(unsafe { wide::pack(bits, base) }, expected);
            }
        }

        /// On any quote-free text of commas, line ends and letters, either the same records as
        /// the `csv` crate or a refusal because some record is not `width` fields wide.
        #[test]
        fn agrees_with_the_csv_crate(
            bytes in proptest::collection::vec(
                proptest::sample::select(&b"ab1,\n\r "[..]), 0..200),
            width in 1usize..4,
        ) {
            let expected = csv_records(&bytes);
            match plain_records(&bytes, width) {
                Ok(records) => proptest::prop_assert_eq!(records, expected),
                Err(NotPlain) => proptest::prop_assert!(
                    expected.iter().any(|r| r.len() != width)
                ),
            }
        }

        /// Blocks long enough to cross many windows of positions and batches, of records
        /// `width` fields wide with every kind of line end and empty lines, now and then one
        /// a field short or long, and maybe no final line end: the same records as the `csv`
        /// crate, or a refusal exactly when some record is not `width` wide.
        #[test]
        fn long_blocks_agree_with_the_csv_crate(
            width in 1usize..6,
            rows in proptest::collection::vec(
                (proptest::collection::vec("[a-z0-9 ]{0,9}", 7), 0u8..60, 0usize..4),
                1..700,
            ),
            final_line_end: bool,
        ) {
            let mut bytes = Vec::new();
            for (texts, wrong, end) in &rows {
                let fields = match wrong {
                    0 => width + 1,
                    1 => width - 1,
                    _ => width,
                };
                bytes.extend(texts[..fields].join(",").as_bytes());
                bytes.extend(["\n", "\r\n", "\r", "\n\n"][*end].as_bytes());
            }
            if !final_line_end {
                while bytes.last().is_some_and(|b| b"\r\n".contains(b)) {
                    bytes.pop();
                }
            }
            let expected = csv_records(&bytes);
            match plain_records(&bytes, width) {
                Ok(records) => proptest::prop_assert_eq!(records, expected),
                Err(NotPlain) => proptest::prop_assert!(
                    expected.iter().any(|r| r.len() != width)
                ),
            }
        }
    }
}
