//! The splitting with AVX-512: all 64 bytes of a chunk compared at once straight into a mask
//! (three compares where SSE2 takes twelve), and, where the CPU has VBMI2, every field found
//! by position rather than bit by bit.
//!
//! Taking the fields from the masks bit by bit ends a loop at every line end and at every
//! chunk's end, after a number of fields the data decides: a branch the CPU mispredicts in
//! most chunks. With VBMI2, `vpcompressb` packs a chunk's delimiter positions at once, and the
//! records are ended from the positions found, a fixed number of fields each.

use super::{open_block, Cut, Known, Marks, NotPlain, Span, CHUNK, PREFETCH_AHEAD};
use std::arch::x86_64::{
    __m128i, _mm512_add_epi32, _mm512_castsi512_si128, _mm512_cmpeq_epi8_mask,
    _mm512_cvtepu8_epi32, _mm512_extracti32x4_epi32, _mm512_loadu_si512,
    _mm512_maskz_compress_epi8, _mm512_set1_epi32, _mm512_set1_epi8, _mm512_set_epi8,
    _mm512_storeu_si512, _mm_prefetch, _MM_HINT_T0,
};
use std::sync::OnceLock;

/// What of AVX-512 the splitting uses on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Support {
    /// F and BW: chunks marked 64 bytes at a time, fields taken from the masks.
    Masks,
    /// VBMI2 too: fields found by position.
    Positions,
}

/// What of AVX-512 this CPU gives the splitting, if anything; nothing when the wide path is
/// turned off (`MLGATE_NO_AVX512`).
pub(super) fn support() -> Option<Support> {
    static SUPPORT: OnceLock<Option<Support>> = OnceLock::new();
    *SUPPORT.get_or_init(|| {
        if !crate::data::wide_numbers::available() {
            None
        } else if std::arch::is_x86_feature_detected!("avx512vbmi2") {
            Some(Support::Positions)
        } else {
            Some(Support::Masks)
        }
    })
}

/// [`super::split_records`] the way `support` says. The batches go out through a `dyn` call
/// (one per batch of records), so the column checks behind it are not compiled for AVX-512.
///
/// # Safety
///
/// The CPU must have what `support` names (as [`support`] finds).
pub(super) unsafe fn split_records<'a>(
    support: Support,
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
    batch: &mut dyn FnMut(&'a str, &mut [Span], usize),
) -> Result<(u64, u64), NotPlain> {
    // SAFETY: the caller vouched for what each needs.
    unsafe {
        match support {
            Support::Masks => split_by_masks(bytes, known, cut, fields, batch),
            Support::Positions => split_by_positions(bytes, known, cut, fields, batch),
        }
    }
}

/// [`super::split_records_marked_by`] with [`WideMarks`].
///
/// # Safety
///
/// The CPU must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn split_by_masks<'a>(
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
    batch: &mut dyn FnMut(&'a str, &mut [Span], usize),
) -> Result<(u64, u64), NotPlain> {
    super::split_records_marked_by::<WideMarks>(bytes, known, cut, fields, batch)
}

/// [`super::split_records`] by position: each window of chunks is marked and its positions
/// packed, then the records whose line ends it holds are ended.
///
/// # Safety
///
/// The CPU must have AVX-512 F, BW and VBMI2.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
unsafe fn split_by_positions<'a>(
    bytes: &'a [u8],
    known: Known,
    cut: &Cut,
    fields: &mut Vec<Span>,
    batch: &mut dyn FnMut(&'a str, &mut [Span], usize),
) -> Result<(u64, u64), NotPlain> {
    if cut.width == 0 {
        return Err(NotPlain);
    }
    let (text, per_batch) = open_block(bytes, known, cut, fields)?;
    let mut records = Records {
        bytes,
        width: cut.width,
        per_batch,
        max_record_bytes: cut.max_record_bytes,
        cells: fields,
        found: Found::new(cut.width),
        count: 0,
        in_batch: 0,
        newlines: 0,
        record_start: 0,
    };
    let mut hand_out = |cells: &mut [Span], rows| batch(text, cells, rows);
    // Positions fit `u32`: `open_block` checked the block's length.
    let mut tail = [0; CHUNK];
    for (index, chunk) in super::chunks(bytes, cut.delimiter, &mut tail).enumerate() {
        let (delimiters, line_ends) = WideMarks::mark(chunk, cut.delimiter);
        records
            .found
            .note((index * CHUNK) as u32, delimiters, line_ends);
        if (index + 1) % WINDOW_CHUNKS == 0 {
            records.end_those_found(&mut hand_out)?;
        }
    }
    records.end_those_found(&mut hand_out)?;
    records.end_the_last(&mut hand_out)?;
    Ok((records.count, records.newlines))
}

/// [`WideMarks::mark`] alone, for tests.
///
/// # Safety
///
/// The CPU must have AVX-512 F and BW.
#[cfg(test)]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn mark(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64) {
    WideMarks::mark(chunk, delimiter)
}

/// [`WideMarks::pack`] alone, for tests: the positions of `bits`' set bits from `base`.
///
/// # Safety
///
/// The CPU must have AVX-512 F, BW and VBMI2.
#[cfg(test)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
pub(super) unsafe fn pack(bits: u64, base: u32) -> Vec<u32> {
    let mut out = vec![u32::MAX; 2 * CHUNK];
    let mut count = 1;
    WideMarks::pack(bits, base, &mut out, &mut count);
    assert_eq!(out[0], u32::MAX, "nothing written before `count`");
    out[1..count].to_vec()
}

/// Marks found 64 bytes at a time.
struct WideMarks;

impl Marks for WideMarks {
    #[inline(always)]
    fn mark(chunk: &[u8; CHUNK], delimiter: u8) -> (u64, u64) {
        // SAFETY: only inlined into the functions above, whose callers vouched for AVX-512 F
        // and BW; the load reads the 64 bytes of `chunk`, unaligned. A prefetch reads nothing
        // and never faults.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(chunk.as_ptr().wrapping_add(PREFETCH_AHEAD).cast::<i8>());
            let v = _mm512_loadu_si512(chunk.as_ptr().cast());
            let hits = |byte: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(byte as i8));
            (hits(delimiter), hits(b'\n') | hits(b'\r'))
        }
    }
}

impl WideMarks {
    /// Writes the positions of `bits`' set bits, `base` onwards, at `out[*count..]`, and
    /// adds how many to `count`; may write up to [`CHUNK`] positions past them. All are
    /// packed at once by `vpcompressb`, then widened and stored sixteen at a time.
    #[inline(always)]
    fn pack(bits: u64, base: u32, out: &mut [u32], count: &mut usize) {
        let found = bits.count_ones() as usize;
        let out = &mut out[*count..*count + CHUNK];
        // SAFETY: only inlined into the functions above, whose callers vouched for AVX-512 F,
        // BW and VBMI2; each store writes 16 of the 64 `u32`s of `out`.
        unsafe {
            #[rustfmt::skip]
            let offsets = _mm512_set_epi8(
                63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48,
                47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
                31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
            );
            let packed = _mm512_maskz_compress_epi8(bits, offsets);
            let base = _mm512_set1_epi32(base as i32);
            let mut store = |sixteen: __m128i, at: usize| {
                let positions = _mm512_add_epi32(_mm512_cvtepu8_epi32(sixteen), base);
                _mm512_storeu_si512(out[at..at + 16].as_mut_ptr().cast(), positions);
            };
            store(_mm512_castsi512_si128(packed), 0);
            // Rare in a chunk (a field every four bytes), so the branch is well predicted.
            if found > 16 {
                store(_mm512_extracti32x4_epi32::<1>(packed), 16);
                store(_mm512_extracti32x4_epi32::<2>(packed), 32);
                store(_mm512_extracti32x4_epi32::<3>(packed), 48);
            }
        }
        *count += found;
    }
}

/// Chunks whose delimiters and line ends are found before the records among them are ended:
/// 4 KiB of text, so the positions found stay in the core's L1 cache.
const WINDOW_CHUNKS: usize = 64;

/// The positions of the delimiters and line ends found but not yet ended into records, in
/// order, each list with room past its end for the writes past the last position.
struct Found {
    /// Delimiter positions: those of the open record first.
    delimiters: Vec<u32>,
    /// How many of `delimiters` are found.
    delimiter_count: usize,
    /// Line end positions.
    line_ends: Vec<u32>,
    /// How many of `line_ends` are found.
    line_end_count: usize,
}

impl Found {
    /// Room for a window's positions after those a record of `width` fields carries over
    /// (fewer than `width`: more is a record too wide).
    fn new(width: usize) -> Found {
        let window = WINDOW_CHUNKS * CHUNK + 2 * CHUNK;
        Found {
            delimiters: vec![0; width + window],
            delimiter_count: 0,
            line_ends: vec![0; window],
            line_end_count: 0,
        }
    }

    /// Notes the positions that a chunk at `base` marks.
    #[inline(always)]
    fn note(&mut self, base: u32, delimiters: u64, line_ends: u64) {
        WideMarks::pack(
            delimiters,
            base,
            &mut self.delimiters,
            &mut self.delimiter_count,
        );
        flatten_few(
            line_ends,
            base,
            &mut self.line_ends,
            &mut self.line_end_count,
        );
    }
}

/// Writes the positions of `bits`' set bits, `base` onwards, at `out[*count..]`, and adds
/// how many to `count`. Line ends are few in a chunk: the first two are written whether or
/// not they are there (`out` has room), so a chunk with none or one takes no branch that the
/// data decides. A position that is not there may wrap; it is never read.
#[inline(always)]
fn flatten_few(mut bits: u64, base: u32, out: &mut [u32], count: &mut usize) {
    let found = bits.count_ones() as usize;
    let mut at = *count;
    for _ in 0..2 {
        out[at] = base.wrapping_add(bits.trailing_zeros());
        bits &= bits.wrapping_sub(1);
        at += 1;
    }
    while bits != 0 {
        out[at] = base.wrapping_add(bits.trailing_zeros());
        bits &= bits.wrapping_sub(1);
        at += 1;
    }
    *count += found;
}

/// The records of a block being split by position: where their fields go, and how far they
/// got.
struct Records<'b, 'c> {
    /// The block's bytes.
    bytes: &'b [u8],
    /// Fields a record must have; at least 1.
    width: usize,
    /// Records a batch holds.
    per_batch: usize,
    /// Refuse a record longer than this.
    max_record_bytes: usize,
    /// The batch's field slots, column after column.
    cells: &'c mut [Span],
    /// Positions found and not yet ended into records.
    found: Found,
    /// Records ended so far, in every batch.
    count: u64,
    /// Records in the batch being filled.
    in_batch: usize,
    /// `\n` bytes among the line ends so far.
    newlines: u64,
    /// Where the open record starts.
    record_start: usize,
}

impl Records<'_, '_> {
    /// Ends the records whose line ends were found, handing out each full batch, and keeps
    /// the open record's delimiters for the next window.
    #[inline(always)]
    fn end_those_found(
        &mut self,
        hand_out: &mut impl FnMut(&mut [Span], usize),
    ) -> Result<(), NotPlain> {
        let mut taken = 0;
        for index in 0..self.found.line_end_count {
            let at = self.found.line_ends[index] as usize;
            self.newlines += u64::from(self.bytes[at] == b'\n');
            taken = self.end_record(taken, at, hand_out)?;
        }
        self.found.line_end_count = 0;
        let found = &mut self.found;
        found
            .delimiters
            .copy_within(taken..found.delimiter_count, 0);
        found.delimiter_count -= taken;
        // As many delimiters as fields: the open record is too wide, whatever follows.
        if found.delimiter_count >= self.width {
            return Err(NotPlain);
        }
        Ok(())
    }

    /// Ends the record that runs to the end of the block without a line end, if there is
    /// one, and hands out the last batch.
    #[inline(always)]
    fn end_the_last(
        &mut self,
        hand_out: &mut impl FnMut(&mut [Span], usize),
    ) -> Result<(), NotPlain> {
        if self.record_start < self.bytes.len() || self.found.delimiter_count > 0 {
            self.end_record(0, self.bytes.len(), hand_out)?;
        }
        if self.in_batch > 0 {
            hand_out(self.cells, self.in_batch);
        }
        Ok(())
    }

    /// Ends the open record at the line end `at`, its delimiters being the found ones from
    /// `taken` on; returns where the next record's start. An empty line is no record.
    /// Refuses a record of the wrong width or over the size limit, as the masks' way does.
    #[inline(always)]
    fn end_record(
        &mut self,
        taken: usize,
        at: usize,
        hand_out: &mut impl FnMut(&mut [Span], usize),
    ) -> Result<usize, NotPlain> {
        let inner = self.width - 1;
        let found = &self.found.delimiters[..self.found.delimiter_count];
        let record_start = std::mem::replace(&mut self.record_start, at + 1);
        // Exactly `inner` delimiters before `at`: the found ones are in order, and all of a
        // window's are found before its records are ended.
        let delimiters = found.get(taken..taken + inner).filter(|delimiters| {
            delimiters.last().is_none_or(|&last| (last as usize) < at)
                && found
                    .get(taken + inner)
                    .is_none_or(|&next| next as usize > at)
        });
        let delimiters = match delimiters {
            // A line with no delimiter and no text is empty, not a record of one field.
            _ if at == record_start => return Ok(taken),
            Some(delimiters) if at - record_start <= self.max_record_bytes => delimiters,
            _ => return Err(NotPlain),
        };
        let row = self.in_batch;
        let mut start = record_start as u32;
        for (column, &end) in self.cells.chunks_exact_mut(self.per_batch).zip(delimiters) {
            column[row] = (start, end);
            start = end + 1;
        }
        self.cells[inner * self.per_batch + row] = (start, at as u32);
        self.count += 1;
        self.in_batch += 1;
        if self.in_batch == self.per_batch {
            hand_out(self.cells, self.per_batch);
            self.in_batch = 0;
        }
        Ok(taken + inner)
    }
}
