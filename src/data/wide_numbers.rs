//! Short numbers of a column read eight fields at a time, with AVX-512 where the CPU has it.
//!
//! Parsing was the largest part of a numeric column's cost: a float field took about 87
//! instructions of SWAR bit tricks one field at a time. The same tricks run here on eight
//! fields at once, one field in each 64-bit lane. Only the fields the scalar parsers read on
//! their fast paths are taken: an optional sign and at most eight bytes of digits with at most
//! one point (none for an integer), and dates and datetimes in their plainest ISO 8601 forms.
//! Everything else (a null, a long number, an exponent, a time zone, a typo) is left untaken
//! for the scalar parser, and a taken field's value has the bits the scalar parser gives it
//! (tested on every shape of field), so a profile never depends on which CPU computed it.
//!
//! `MLGATE_NO_AVX512` (set to anything) turns the wide path off, to compare the two.

use std::sync::OnceLock;

use super::chunk::Span;
use super::types;

/// Fields read at once.
pub const LANES: usize = 8;

/// What a column's fields must hold to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// An integer: no point, and `-0` reads as zero.
    Int,
    /// A decimal, as `types::parse_float` reads it.
    Float,
    /// A date `YYYY-MM-DD` from 1900 to 2154, as days since 1970-01-01.
    Date,
    /// A datetime `YYYY-MM-DDTHH:MM:SS` (or with a space for the `T`), in UTC or with a `Z`,
    /// from 1900 to 2154, as seconds since 1970-01-01.
    Datetime,
}

impl NumberKind {
    /// Every kind.
    pub const ALL: [NumberKind; 4] = [
        NumberKind::Int,
        NumberKind::Float,
        NumberKind::Date,
        NumberKind::Datetime,
    ];

    /// The value the scalar parser reads from `bytes` for a column of this kind: the value
    /// the wide path must give any field it takes.
    pub fn read_scalar(self, bytes: &[u8]) -> Option<f64> {
        match self {
            NumberKind::Int => types::parse_int_bytes(bytes).map(|v| v as f64),
            NumberKind::Float => types::parse_float_bytes(bytes),
            NumberKind::Date => types::parse_date_field(bytes).map(f64::from),
            NumberKind::Datetime => types::parse_datetime_bytes(bytes).map(|us| us as f64 / 1e6),
        }
    }
}

/// Whether this CPU runs the wide path, and it is not turned off.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| std::env::var_os("MLGATE_NO_AVX512").is_none() && cpu_has_avx512())
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512cd")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx512() -> bool {
    false
}

/// The numbers of a chunk's column read eight fields at a time, kept for the column loop.
#[derive(Debug, Clone, Default)]
pub struct WideNumbers {
    /// A value per field, meaningful where `taken` says so.
    values: Vec<f64>,
    /// Per group of eight fields, a bit per field read.
    taken: Vec<u8>,
}

impl WideNumbers {
    /// Reads the fields at `spans` of `text` as numbers of `kind`. Returns `false`, having
    /// read nothing, when the wide path is not [`available`].
    pub fn read(&mut self, text: &[u8], spans: &[Span], kind: NumberKind) -> bool {
        if !available() {
            return false;
        }
        let groups = spans.len().div_ceil(LANES);
        self.values.resize(groups * LANES, 0.0);
        self.taken.resize(groups, 0);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available` checked that the CPU has every feature the function enables.
        unsafe {
            avx512::read_groups(text, spans, kind, &mut self.values, &mut self.taken);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (text, kind);
        true
    }

    /// The number of field `index` of the last read, when it was taken.
    #[inline]
    pub fn get(&self, index: usize) -> Option<f64> {
        let taken = self.taken.get(index / LANES)? & (1 << (index % LANES)) != 0;
        taken.then(|| self.values[index])
    }

    /// The numbers of group `group` (fields `8 * group` on) of the last read, when all eight
    /// were taken.
    #[inline]
    pub fn group(&self, group: usize) -> Option<&[f64; LANES]> {
        // An array, not a slice: copying it is then eight moves, not a call to `memcpy`.
        (self.taken.get(group) == Some(&u8::MAX)).then(|| {
            let values = &self.values[group * LANES..(group + 1) * LANES];
            values.try_into().expect("a group of lanes")
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{types, NumberKind, Span, LANES};
    use crate::data::types::{MONTH_STARTS, TABLE_FIRST_YEAR};

    /// A byte repeated in every byte of a lane.
    const fn every_byte(byte: u8) -> i64 {
        types::every_byte(byte) as i64
    }

    /// Powers of ten that are exact in an `f64`, as many as eight digits can place a point.
    const POWERS_OF_TEN: [f64; LANES] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

    /// [`WideNumbers::read`](super::WideNumbers::read) on a CPU with AVX-512 (F, BW, DQ, CD);
    /// `values` and `taken` hold every group of `spans`, the last one padded.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512cd")]
    pub(super) fn read_groups(
        text: &[u8],
        spans: &[Span],
        kind: NumberKind,
        values: &mut [f64],
        taken: &mut [u8],
    ) {
        let groups = spans.chunks(LANES);
        let outputs = values.chunks_exact_mut(LANES).zip(taken.iter_mut());
        for (group, (values, taken)) in groups.zip(outputs) {
            let fields = Fields::load(text, group);
            let (numbers, read) = match kind {
                NumberKind::Int => read_decimals(fields.words(0), fields.lengths, true),
                NumberKind::Float => read_decimals(fields.words(0), fields.lengths, false),
                NumberKind::Date => read_dates(&fields, false),
                NumberKind::Datetime => read_dates(&fields, true),
            };
            let values: &mut [f64; LANES] = values.try_into().expect("a group of lanes");
            // SAFETY: `values` is eight `f64`s, which is what the store writes.
            unsafe { _mm512_storeu_pd(values.as_mut_ptr(), numbers) };
            *taken = read;
        }
    }

    /// A group of up to eight fields (missing ones read as empty), a lane each.
    struct Fields<'a> {
        /// The text the fields are in.
        text: &'a [u8],
        /// The group's spans, padded to eight.
        spans: [Span; LANES],
        /// Where each field starts.
        starts: __m512i,
        /// Each field's length (a wrapped, huge one for a span that ends before it starts).
        lengths: __m512i,
    }

    impl<'a> Fields<'a> {
        /// The fields at `group` (up to eight spans) of `text`.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn load(text: &'a [u8], group: &[Span]) -> Fields<'a> {
            let spans: [Span; LANES] = match group.try_into() {
                Ok(whole) => whole,
                // The last group of a chunk; a copy of unknown length costs a call to `memcpy`,
                // so the whole groups take the branch above.
                Err(_) => {
                    let mut padded = [(0, 0); LANES];
                    padded[..group.len()].copy_from_slice(group);
                    padded
                }
            };
            // SAFETY: eight spans are 64 bytes, each a start then an end (asserted below),
            // which is what the load reads.
            let lanes = unsafe { _mm512_loadu_si512(spans.as_ptr().cast()) };
            let starts = _mm512_and_si512(lanes, _mm512_set1_epi64(0xffff_ffff));
            let lengths = _mm512_sub_epi64(_mm512_srli_epi64(lanes, 32), starts);
            Fields {
                text,
                spans,
                starts,
                lengths,
            }
        }

        /// Eight bytes of each field from byte `at` on (the bytes after a field are the
        /// text's, or zeros past its end).
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn words(&self, at: usize) -> __m512i {
            let text = self.text;
            let last_safe = text.len().checked_sub(at + 8).map(|last| last as i64);
            let gather = last_safe.is_some_and(|last| {
                _mm512_cmpgt_epu64_mask(self.starts, _mm512_set1_epi64(last)) == 0
            });
            if gather {
                // SAFETY: every lane reads eight bytes from `at` past its start, and no start
                // is less than `at + 8` bytes before the end of `text`.
                unsafe { _mm512_i64gather_epi64::<1>(self.starts, text.as_ptr().add(at).cast()) }
            } else {
                // The end of a block: each lane copies what `text` has of its eight bytes.
                let mut words = [0u64; LANES];
                for (word, &(start, _)) in words.iter_mut().zip(&self.spans) {
                    let from = (start as usize + at).min(text.len());
                    let bytes = &text[from..text.len().min(from + 8)];
                    let mut eight = [0u8; 8];
                    eight[..bytes.len()].copy_from_slice(bytes);
                    *word = u64::from_le_bytes(eight);
                }
                // SAFETY: eight `u64`s, as the load reads.
                unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
            }
        }
    }

    // Spans are read as 64-bit lanes, the start in the low half: a tuple's layout is not
    // promised, so it is checked here.
    const _: () = assert!(
        std::mem::size_of::<Span>() == 8
            && std::mem::offset_of!(Span, 0) == 0
            && std::mem::offset_of!(Span, 1) == 4
    );

    /// The numbers of up to eight fields, one a lane, each given as its first eight bytes and
    /// its length, and the mask of lanes whose field is a short number of the kind.
    ///
    /// Each step is `types::parse_short_decimal`'s (or `parse_int_bytes`'s) on a lane: the
    /// sign taken off, bytes past the field cleared, the point found and taken out, every
    /// digit checked at once, the digits combined, and the integer divided by the power of
    /// ten that places the point (exact operands, so a correctly rounded quotient).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512cd")]
    fn read_decimals(words: __m512i, lengths: __m512i, int: bool) -> (__m512d, u8) {
        let one = _mm512_set1_epi64(1);
        let first = _mm512_and_si512(words, _mm512_set1_epi64(0xff));
        let negative = _mm512_cmpeq_epi64_mask(first, _mm512_set1_epi64(i64::from(b'-')));
        let positive = _mm512_cmpeq_epi64_mask(first, _mm512_set1_epi64(i64::from(b'+')));
        let signed = negative | positive;
        let body = _mm512_mask_srli_epi64(words, signed, words, 8);
        let body_len = _mm512_mask_sub_epi64(lengths, signed, lengths, one);
        // A field of one to eight bytes, its body of one to eight (an empty body wraps).
        let fits = _mm512_cmple_epu64_mask(lengths, _mm512_set1_epi64(8))
            & _mm512_cmple_epu64_mask(_mm512_sub_epi64(body_len, one), _mm512_set1_epi64(7));
        // Bytes past the body cleared: a shift of 64 (a body of eight) gives zero.
        let in_body = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_slli_epi64(body_len, 3)), one);
        let body = _mm512_and_si512(body, in_body);
        // The points, as 0xff bytes; the lowest one's bit position, or all ones for none
        // (a count of 64 leading zeros). A second point is left among the digits, where the
        // digit check refuses it.
        let points = _mm512_movm_epi8(_mm512_cmpeq_epi8_mask(body, _mm512_set1_epi8(b'.' as i8)));
        let lowest = _mm512_and_si512(points, _mm512_sub_epi64(_mm512_setzero_si512(), points));
        let point_bit = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(lowest));
        let has_point = _mm512_test_epi64_mask(points, points);
        // The point taken out: the bytes above it move down one.
        let before = _mm512_sub_epi64(_mm512_sllv_epi64(one, point_bit), one);
        let joined = _mm512_or_si512(
            _mm512_and_si512(body, before),
            _mm512_andnot_si512(before, _mm512_srli_epi64(body, 8)),
        );
        let digits = _mm512_mask_sub_epi64(body_len, has_point, body_len, one);
        let decimals = _mm512_maskz_sub_epi64(
            has_point,
            _mm512_sub_epi64(body_len, one),
            _mm512_srli_epi64(point_bit, 3),
        );
        // Every digit checked at once, bytes past the digits reading as '0'.
        let in_digits = _mm512_sub_epi64(_mm512_sllv_epi64(one, _mm512_slli_epi64(digits, 3)), one);
        let zeros = _mm512_set1_epi64(every_byte(b'0'));
        let padded = _mm512_or_si512(joined, _mm512_andnot_si512(in_digits, zeros));
        let all_digits = all_digits(padded);
        let some_digit = _mm512_test_epi64_mask(digits, digits);
        // The digits at the top of the lane, most significant in its lowest byte: pairs, then
        // fours, then the eight digits.
        let values = _mm512_sub_epi64(padded, zeros);
        let shift = _mm512_slli_epi64(_mm512_sub_epi64(_mm512_set1_epi64(8), digits), 3);
        let values = _mm512_sllv_epi64(values, shift);
        let pairs = _mm512_maddubs_epi16(values, _mm512_set1_epi16(0x010a));
        let fours = _mm512_madd_epi16(pairs, _mm512_set1_epi32(0x0001_0064));
        let mantissa = _mm512_add_epi64(
            _mm512_mul_epu32(fours, _mm512_set1_epi64(10_000)),
            _mm512_srli_epi64(fours, 32),
        );
        let magnitude = _mm512_cvtepi64_pd(mantissa);
        // An integer has no point to place, and a division is the dearest step.
        let magnitude = if int {
            magnitude
        } else {
            // SAFETY: eight `f64`s, as the load reads.
            let powers = unsafe { _mm512_loadu_pd(POWERS_OF_TEN.as_ptr()) };
            _mm512_div_pd(magnitude, _mm512_permutexvar_pd(decimals, powers))
        };
        // An integer's `-0` is zero; a decimal's keeps its sign.
        let negated = if int {
            _mm512_mask_test_epi64_mask(negative, mantissa, mantissa)
        } else {
            negative
        };
        let bits = _mm512_castpd_si512(magnitude);
        let sign = _mm512_set1_epi64(i64::MIN);
        let numbers = _mm512_castsi512_pd(_mm512_mask_xor_epi64(bits, negated, bits, sign));
        let shape = if int { !has_point } else { u8::MAX };
        (numbers, fits & shape & all_digits & some_digit)
    }

    /// Lanes whose every byte is an ASCII digit, all checked at once as `types::digit_values`
    /// checks a word: none has its top bit, none passes '9' (adding 0x46 sets it), none is
    /// below '0' (subtracting sets it).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn all_digits(word: __m512i) -> u8 {
        let stray = _mm512_or_si512(
            word,
            _mm512_or_si512(
                _mm512_add_epi64(word, _mm512_set1_epi64(every_byte(0x46))),
                _mm512_sub_epi64(word, _mm512_set1_epi64(every_byte(b'0'))),
            ),
        );
        _mm512_testn_epi64_mask(stray, _mm512_set1_epi64(every_byte(0x80)))
    }

    /// A shuffle that packs, within each lane, the bytes at `positions` (up to eight) into
    /// its lowest bytes, zeros above.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn packing(positions: &[u8]) -> __m512i {
        let mut low = [0x80u8; 8];
        let mut high = [0x80u8; 8];
        for (at, &position) in positions.iter().enumerate() {
            low[at] = position;
            // The odd lanes are the upper halves of the shuffle's 128-bit blocks.
            high[at] = position + 8;
        }
        let (low, high) = (i64::from_le_bytes(low), i64::from_le_bytes(high));
        _mm512_set_epi64(high, low, high, low, high, low, high, low)
    }

    /// The digits at `positions` of each lane's word, as two-digit numbers in 16-bit words
    /// (the first two digits in the lowest), and the lanes where all of them are digits.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn digit_pairs(word: __m512i, positions: &[u8]) -> (__m512i, u8) {
        let packed = _mm512_shuffle_epi8(word, packing(positions));
        // The bytes past the digits read as '0'.
        let past = u64::MAX
            .checked_shl(8 * positions.len() as u32)
            .unwrap_or(0);
        let zeros = _mm512_set1_epi64(every_byte(b'0'));
        let padded = _mm512_or_si512(
            packed,
            _mm512_and_si512(zeros, _mm512_set1_epi64(past as i64)),
        );
        let all_digits = all_digits(padded);
        let values = _mm512_sub_epi64(padded, zeros);
        let pairs = _mm512_maddubs_epi16(values, _mm512_set1_epi16(0x010a));
        (pairs, all_digits)
    }

    /// The 16-bit word `at` (0 to 3) of each lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn word16(lanes: __m512i, at: u32) -> __m512i {
        let shifted = _mm512_srlv_epi64(lanes, _mm512_set1_epi64(16 * i64::from(at)));
        _mm512_and_si512(shifted, _mm512_set1_epi64(0xffff))
    }

    /// Lanes whose byte `at` is `byte`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn byte_is(word: __m512i, at: u32, byte: u8) -> u8 {
        let shifted = _mm512_srlv_epi64(word, _mm512_set1_epi64(8 * i64::from(at)));
        let found = _mm512_and_si512(shifted, _mm512_set1_epi64(0xff));
        _mm512_cmpeq_epi64_mask(found, _mm512_set1_epi64(i64::from(byte)))
    }

    /// Dates (`datetime` false) or datetimes of a group, as `types::parse_date` and
    /// `types::parse_datetime` read them (days, or seconds, since 1970-01-01), and the mask
    /// of lanes in the plain forms this path reads.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512cd")]
    fn read_dates(fields: &Fields<'_>, datetime: bool) -> (__m512d, u8) {
        let set = _mm512_set1_epi64;
        // `YYYY-MM-`: the year and month as two 32-bit numbers.
        let head = fields.words(0);
        let mut ok = byte_is(head, 4, b'-') & byte_is(head, 7, b'-');
        let (pairs, digits) = digit_pairs(head, &[0, 1, 2, 3, 5, 6]);
        ok &= digits;
        let year_month = _mm512_madd_epi16(pairs, _mm512_set1_epi64(0x0000_0001_0001_0064));
        let year = _mm512_and_si512(year_month, set(0xffff_ffff));
        let month = _mm512_srli_epi64(year_month, 32);
        // `DD` (then `THH:MM` for a datetime).
        let middle = fields.words(8);
        let day_positions: &[u8] = if datetime {
            &[0, 1, 3, 4, 6, 7]
        } else {
            &[0, 1]
        };
        let (clock, digits) = digit_pairs(middle, day_positions);
        ok &= digits;
        let day = word16(clock, 0);
        // The month's first day and the next month's, from the table the scalar parser uses.
        let in_table = _mm512_cmpge_epi64_mask(year, set(i64::from(TABLE_FIRST_YEAR)))
            & _mm512_cmplt_epi64_mask(year, set(i64::from(TABLE_FIRST_YEAR) + 255))
            & _mm512_cmpge_epi64_mask(month, set(1))
            & _mm512_cmple_epi64_mask(month, set(12));
        ok &= in_table;
        let years = _mm512_sub_epi64(year, set(i64::from(TABLE_FIRST_YEAR)));
        let index = _mm512_add_epi64(
            _mm512_mullo_epi64(years, set(12)),
            _mm512_sub_epi64(month, set(1)),
        );
        // SAFETY: only lanes in the table read, each its month's start and the next one's,
        // and the last year is left out so the next month is in the table too.
        let starts = unsafe {
            _mm512_mask_i64gather_epi64::<4>(
                _mm512_setzero_si512(),
                ok,
                index,
                MONTH_STARTS.as_ptr().cast(),
            )
        };
        let first = _mm512_srai_epi64(_mm512_slli_epi64(starts, 32), 32);
        let month_days = _mm512_sub_epi64(_mm512_srai_epi64(starts, 32), first);
        ok &= _mm512_cmpge_epi64_mask(day, set(1)) & _mm512_cmple_epi64_mask(day, month_days);
        let days = _mm512_add_epi64(first, _mm512_sub_epi64(day, set(1)));
        if !datetime {
            ok &= _mm512_cmpeq_epi64_mask(fields.lengths, set(10));
            return (_mm512_cvtepi64_pd(days), ok);
        }
        // `THH:MM` then `:SS`, and a `Z` or nothing.
        let tail = fields.words(16);
        let separator = byte_is(middle, 2, b'T') | byte_is(middle, 2, b' ');
        ok &= separator & byte_is(middle, 5, b':') & byte_is(tail, 0, b':');
        let (seconds_pair, digits) = digit_pairs(tail, &[1, 2]);
        ok &= digits;
        let (hour, minute, second) = (word16(clock, 1), word16(clock, 2), word16(seconds_pair, 0));
        ok &= _mm512_cmple_epi64_mask(hour, set(23))
            & _mm512_cmple_epi64_mask(minute, set(59))
            & _mm512_cmple_epi64_mask(second, set(60));
        let plain = _mm512_cmpeq_epi64_mask(fields.lengths, set(19));
        let zulu = _mm512_cmpeq_epi64_mask(fields.lengths, set(20)) & byte_is(tail, 3, b'Z');
        ok &= plain | zulu;
        let of_day = _mm512_add_epi64(
            _mm512_add_epi64(
                _mm512_mul_epu32(hour, set(3600)),
                _mm512_mul_epu32(minute, set(60)),
            ),
            second,
        );
        let seconds = _mm512_add_epi64(_mm512_mul_epi32(days, set(86_400)), of_day);
        // A whole number of seconds: the scalar parser's microseconds divided by a million
        // give it back exactly.
        (_mm512_cvtepi64_pd(seconds), ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fields of `texts` laid out comma-separated, with their spans.
    fn laid_out(texts: &[String]) -> (Vec<u8>, Vec<Span>) {
        let mut text = Vec::new();
        let mut spans = Vec::new();
        for field in texts {
            let start = text.len() as u32;
            text.extend_from_slice(field.as_bytes());
            spans.push((start, text.len() as u32));
            text.push(b',');
        }
        (text, spans)
    }

    /// Checks every taken field against the scalar parser for each of `kinds`, and returns
    /// how many were taken.
    fn agree_with_scalar_as(texts: &[String], trailing: bool, kinds: &[NumberKind]) -> usize {
        let (mut text, spans) = laid_out(texts);
        if !trailing {
            // The last field ends the text, so its lanes take the careful load.
            text.pop();
        }
        let mut taken_count = 0;
        for &kind in kinds {
            let mut wide = WideNumbers::default();
            if !wide.read(&text, &spans, kind) {
                return 0;
            }
            for (i, field) in texts.iter().enumerate() {
                if let Some(value) = wide.get(i) {
                    taken_count += 1;
                    let scalar = kind
                        .read_scalar(field.as_bytes())
                        .unwrap_or_else(|| panic!("{field:?} taken as {kind:?}"));
                    assert_eq!(
                        value.to_bits(),
                        scalar.to_bits(),
                        "{field:?} as {kind:?}: {value} against {scalar}"
                    );
                }
            }
        }
        taken_count
    }

    /// [`agree_with_scalar_as`] ints and decimals.
    fn agree_with_scalar(texts: &[String], trailing: bool) -> usize {
        agree_with_scalar_as(texts, trailing, &[NumberKind::Int, NumberKind::Float])
    }

    /// [`agree_with_scalar_as`] dates and datetimes.
    fn dates_agree_with_scalar(texts: &[String], trailing: bool) -> usize {
        agree_with_scalar_as(texts, trailing, &[NumberKind::Date, NumberKind::Datetime])
    }

    #[test]
    fn takes_short_numbers_with_the_scalar_parsers_bits() {
        let fields = [
            "0",
            "-0",
            "+0",
            "7",
            "-7",
            "+7",
            "12",
            "123",
            "1234",
            "12345678",
            "-1234567",
            "+1234567",
            "1.5",
            "-2.5008",
            "0.4884",
            "26182.76",
            "-2775.24",
            ".5",
            "5.",
            "-.5",
            "-5.",
            "1234567.",
            ".1234567",
            "0.000001",
            "99999999",
            "9999999.",
            "-0.0",
            "0.0",
            "00000001",
            "1.2.3",
            ".",
            "-",
            "+",
            "",
            "1e5",
            "1,5",
            "--5",
            "+-5",
            "1 2",
            "12345678.9",
            "-12345678",
            "123456789",
            "nan",
            "inf",
            "-inf",
            "1_000",
            "٣",
            "0x10",
            " 5",
            "5 ",
        ];
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        for trailing in [true, false] {
            let taken = agree_with_scalar(&fields, trailing);
            if available() {
                // Fourteen integers, taken as integers and as decimals, and fifteen decimals.
                assert_eq!(taken, 43, "{taken} taken");
            }
        }
    }

    #[test]
    fn fields_left_untaken_are_what_the_scalar_path_must_read() {
        if !available() {
            return;
        }
        let fields: Vec<String> = ["1e5", "123456789", "", "NA", "1.5", "-12345678", "1.2.3"]
            .iter()
            .map(|f| f.to_string())
            .collect();
        let (text, spans) = laid_out(&fields);
        let mut wide = WideNumbers::default();
        assert!(wide.read(&text, &spans, NumberKind::Float));
        let taken: Vec<_> = (0..fields.len()).map(|i| wide.get(i)).collect();
        let none = None;
        assert_eq!(taken, [none, none, none, none, Some(1.5), none, none]);
        assert_eq!(wide.group(0), None);
        assert!(wide.read(&text, &spans, NumberKind::Int));
        assert!((0..fields.len()).all(|i| wide.get(i).is_none()));
    }

    #[test]
    fn takes_plain_dates_and_datetimes_with_the_scalar_parsers_values() {
        let fields = [
            "2024-02-29",
            "2023-02-29",
            "2023-02-28",
            "1970-01-01",
            "1900-01-01",
            "2154-12-31",
            "2155-01-01",
            "1899-12-31",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-04-31",
            "2024-4-30",
            "2024/04/30",
            "2024-04-30x",
            "24-04-30",
            "2024-02-29T23:59:60",
            "2021-08-03T12:29:09",
            "2021-08-03 12:29:09",
            "2021-08-03T12:29:09Z",
            "2021-08-03T24:00:00",
            "2021-08-03T12:60:00",
            "2021-08-03T12:29:61",
            "2021-08-03T12:29",
            "2021-08-03T12:29:09.5",
            "2021-08-03T12:29:09+02:00",
            "2021-08-03t12:29:09",
            "2021-08-03T12-29-09",
            "1969-12-31T23:59:59",
            "1900-01-01T00:00:00Z",
            "2154-12-31T23:59:59",
            "",
        ];
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        for trailing in [true, false] {
            let taken = dates_agree_with_scalar(&fields, trailing);
            if available() {
                // Five dates (to 2154) and seven datetimes.
                assert_eq!(taken, 12, "{taken} taken");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn taken_fields_read_as_the_scalar_parsers_read_them(
            fields in proptest::collection::vec("[-+.0-9eE ,x]{0,10}", 0..40),
            trailing in any::<bool>(),
        ) {
            // Commas inside a field would split it: they stand for any byte after the field.
            let fields: Vec<String> = fields.iter().map(|f| f.replace(',', "")).collect();
            agree_with_scalar(&fields, trailing);
        }

        #[test]
        fn decimals_near_digits_read_as_the_scalar_parser_reads_them(
            sign in "[-+]?",
            whole in "[0-9]{0,8}",
            fraction in proptest::option::of("[0-9]{0,8}"),
        ) {
            let field = match fraction {
                Some(fraction) => format!("{sign}{whole}.{fraction}"),
                None => format!("{sign}{whole}"),
            };
            agree_with_scalar(&[field.clone(), field.clone() + "1", field], false);
        }

        #[test]
        fn dates_near_valid_ones_read_as_the_scalar_parsers_read_them(
            date in "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            clock in "[T t:]?[0-9]{2}[:-]?[0-9]{2}:[0-9]{2}[Z.+]?",
            mangled in "[0-9T: Z-]{8,21}",
        ) {
            let datetime = format!("{date}{clock}");
            let fields = [date, datetime, mangled];
            dates_agree_with_scalar(&fields, false);
        }

        #[test]
        fn valid_dates_read_as_the_scalar_parsers_read_them(
            year in 1890i32..2170,
            month in 1u32..=12,
            day in 1u32..=31,
            clock in (0u32..25, 0u32..61, 0u32..62),
        ) {
            let date = format!("{year:04}-{month:02}-{day:02}");
            let (hour, minute, second) = clock;
            let datetime = format!("{date}T{hour:02}:{minute:02}:{second:02}");
            let fields = [date, datetime.clone(), datetime + "Z"];
            dates_agree_with_scalar(&fields, true);
        }
    }
}
