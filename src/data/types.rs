//! Column types and the parsing of text cells into them.
//!
//! CSV cells arrive as text and are parsed here by the declared (or candidate) type; Parquet
//! cells arrive typed. Both meet as [`Cell`], so checks and profiles never care about the format.
//! Dates and datetimes are parsed by hand (ISO 8601 only) because a general date library would
//! cost more to build than the two formats we accept are worth.

use serde::{Deserialize, Serialize};

/// The logical type of a column, as written in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 64-bit signed integers.
    Int,
    /// 64-bit floats (integers are accepted too).
    Float,
    /// `true` / `false`.
    Bool,
    /// A string with a small, closed set of values.
    Categorical,
    /// Free text.
    String,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM]` (a space may replace the `T`).
    Datetime,
}

impl ColumnType {
    /// Whether values are numbers on a line (profiled with a quantile sketch, drift by KS or
    /// Wasserstein).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ColumnType::Int | ColumnType::Float | ColumnType::Date | ColumnType::Datetime
        )
    }

    /// The schema name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Categorical => "categorical",
            ColumnType::String => "string",
            ColumnType::Date => "date",
            ColumnType::Datetime => "datetime",
        }
    }
}

/// One cell, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Missing.
    Null,
    /// Text that still has to be parsed (CSV) or a string column (Parquet).
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Datetime(i64),
}

/// A cell converted to the column's declared type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A point on the number line: ints, floats, dates (days), datetimes (seconds).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A string or categorical value.
    Text(&'a str),
}

/// Converts a cell to `ty`; `Err(())` when the cell does not hold a value of that type.
#[allow(clippy::result_unit_err)]
pub fn convert(cell: Cell<'_>, ty: ColumnType) -> Result<Option<Value<'_>>, ()> {
    let value = match (cell, ty) {
        (Cell::Null, _) => return Ok(None),
        (Cell::Text(text), ColumnType::Int) => Value::Number(parse_int(text).ok_or(())? as f64),
        (Cell::Text(text), ColumnType::Float) => Value::Number(parse_float(text).ok_or(())?),
        (Cell::Text(text), ColumnType::Bool) => Value::Bool(parse_bool(text).ok_or(())?),
        (Cell::Text(text), ColumnType::Date) => Value::Number(parse_date(text).ok_or(())? as f64),
        (Cell::Text(text), ColumnType::Datetime) => {
            Value::Number(parse_datetime(text).ok_or(())? as f64 / 1e6)
        }
        (Cell::Text(text), ColumnType::String | ColumnType::Categorical) => Value::Text(text),
        (Cell::Int(v), ColumnType::Int | ColumnType::Float) => Value::Number(v as f64),
        (Cell::Float(v), ColumnType::Float) => Value::Number(v),
        (Cell::Float(v), ColumnType::Int) if v.fract() == 0.0 && v.is_finite() => Value::Number(v),
        (Cell::Bool(v), ColumnType::Bool) => Value::Bool(v),
        (Cell::Date(d), ColumnType::Date) => Value::Number(f64::from(d)),
        (Cell::Datetime(us), ColumnType::Datetime) => Value::Number(us as f64 / 1e6),
        (Cell::Date(d), ColumnType::Datetime) => Value::Number(f64::from(d) * 86_400.0),
        _ => return Err(()),
    };
    Ok(Some(value))
}

/// The type a typed (Parquet) cell carries, if any.
pub fn native_type(cell: Cell<'_>) -> Option<ColumnType> {
    match cell {
        Cell::Null | Cell::Text(_) => None,
        Cell::Int(_) => Some(ColumnType::Int),
        Cell::Float(_) => Some(ColumnType::Float),
        Cell::Bool(_) => Some(ColumnType::Bool),
        Cell::Date(_) => Some(ColumnType::Date),
        Cell::Datetime(_) => Some(ColumnType::Datetime),
    }
}

/// Parses a decimal integer with an optional sign.
#[inline(always)]
pub fn parse_int(text: &str) -> Option<i64> {
    parse_int_bytes(text.as_bytes())
}

/// [`parse_int`] of a field's bytes.
#[inline(always)]
pub fn parse_int_bytes(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 {
        // Nineteen digits may overflow: the standard parser decides.
        return (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
            .then(|| parse_long_int(bytes))
            .flatten();
    }
    if (4..=8).contains(&digits.len()) {
        let value = word_digits(read_word(digits), digits.len())? as i64;
        return Some(if negative { -value } else { value });
    }
    let mut value = 0i64;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(c - b'0');
    }
    Some(if negative { -value } else { value })
}

/// [`parse_int`] of a long run of digits, by the standard parser, which knows where `i64` ends.
#[cold]
#[inline(never)]
fn parse_long_int(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Parses a float; NaN text is not a float here (it is a null token by default).
#[inline(always)]
pub fn parse_float(text: &str) -> Option<f64> {
    parse_float_bytes(text.as_bytes())
}

/// [`parse_float`] of a field's bytes.
#[inline(always)]
pub fn parse_float_bytes(bytes: &[u8]) -> Option<f64> {
    let first = *bytes.first()?;
    // Rust's parser accepts "inf" and "nan"; only accept text that starts like a number or
    // an explicit infinity, so words never pass as floats.
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    // A short decimal is never NaN: only the standard parser's answer needs the test, and
    // testing the fast path's result made every cell wait for its division.
    match parse_short_decimal(bytes) {
        Some(value) => Some(value),
        None => parse_long_decimal(bytes).filter(|value| !value.is_nan()),
    }
}

/// Any number Rust's `f64` parser reads, short decimals on a faster path with the same bits.
#[inline(always)]
pub fn parse_decimal(text: &str) -> Option<f64> {
    match parse_short_decimal(text.as_bytes()) {
        Some(value) => Some(value),
        None => parse_long_decimal(text.as_bytes()),
    }
}

/// [`parse_decimal`] of what the fast path refuses, kept out of the column loops.
#[cold]
#[inline(never)]
fn parse_long_decimal(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of a plain decimal of at most 15 digits (`-12.50`, `.5`, `3.`), or `None` for
/// anything else (exponents, longer numbers, stray characters), which the standard parser
/// then reads.
///
/// Most numbers in data files are such decimals, and reading them here is several times
/// faster. The digits form an integer below 2^53 and the divisor a power of ten at most 1e15,
/// both exact, and IEEE division rounds correctly, so the value is the correctly rounded one
/// the standard parser gives (Clinger's fast path).
#[inline(always)]
fn parse_short_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, body) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, decimals) = match body.len() {
        4..=8 => word_decimal(body)?,
        _ => looped_decimal(body)?,
    };
    // Through `i64`, one instruction where `u64` takes several; below 2^53 both are exact.
    let magnitude = mantissa as i64 as f64 / EXACT_POWERS_OF_TEN[decimals];
    Some(if negative { -magnitude } else { magnitude })
}

/// The digits of a plain decimal without its sign (`12.50`, `.5`, `3.`) as an integer, and
/// how many of them follow the point; `None` for anything else or for more than 15 digits.
#[inline(always)]
fn looped_decimal(body: &[u8]) -> Option<(u64, usize)> {
    // Sixteen bytes hold at most sixteen digits, which fit a `u64` unchecked; more than
    // fifteen is refused below.
    if body.len() > 16 {
        return None;
    }
    // The digits before the point, then those after it: one test per byte, not three.
    let (mantissa, whole_digits) = leading_digits(body, 0);
    let (mantissa, decimals) = match body.get(whole_digits) {
        None => (mantissa, 0),
        Some(b'.') => {
            let fraction = &body[whole_digits + 1..];
            let (mantissa, decimals) = leading_digits(fraction, mantissa);
            if decimals < fraction.len() {
                return None;
            }
            (mantissa, decimals)
        }
        Some(_) => return None,
    };
    let digits = whole_digits + decimals;
    if digits == 0 || digits > 15 {
        return None;
    }
    Some((mantissa, decimals))
}

/// A byte repeated in every byte of a word.
pub(crate) const fn every_byte(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// [`looped_decimal`] of four to eight bytes (most numbers in data files), read as one word:
/// the point found and taken out by bit tricks, then [`word_digits`], where the loop took a
/// test, a branch and a multiply per byte.
#[inline(always)]
fn word_decimal(body: &[u8]) -> Option<(u64, usize)> {
    let len = body.len();
    let word = read_word(body);
    let in_text = u64::MAX >> (64 - 8 * len);
    // Points become zero bytes (bytes past the text do not); the lowest zero byte flagged is
    // a true one, and the first point.
    let pointless = (word ^ every_byte(b'.')) | !in_text;
    let zeros = pointless.wrapping_sub(every_byte(1)) & !pointless & every_byte(0x80);
    if zeros == 0 {
        return Some((word_digits(word, len)?, 0));
    }
    let point = zeros.trailing_zeros() as usize / 8;
    let before = (1u64 << (8 * point)) - 1;
    let joined = (word & before) | ((word >> 8) & !before);
    Some((word_digits(joined, len - 1)?, len - 1 - point))
}

/// Four to eight bytes as a word, in order from its lowest byte, zeros above: two overlapping
/// reads.
#[inline(always)]
fn read_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!((4..=8).contains(&len));
    let read = |at: usize| {
        let mut four = [0u8; 4];
        four.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(four))
    };
    read(0) | read(len - 4) << (8 * (len - 4))
}

/// The number written by the `digits` (three to eight) lowest bytes of `word` (zeros above),
/// if all are ASCII digits: every byte checked at once, and the digits combined in three
/// multiplies (Lemire's eight-digit parse).
#[inline(always)]
fn word_digits(word: u64, digits: usize) -> Option<u64> {
    debug_assert!((3..=8).contains(&digits));
    // Bytes past the digits read as '0'.
    let padded = word | (every_byte(b'0') & !(u64::MAX >> (64 - 8 * digits)));
    // The digits at the top of the word, most significant in the lowest byte, zeros below.
    let values = digit_values(padded)? << (8 * (8 - digits));
    let pairs = digit_pairs_in(values);
    let mask = 0x0000_00ff_0000_00ff;
    let value = ((pairs & mask).wrapping_mul(100 + (1_000_000 << 32)))
        .wrapping_add(((pairs >> 16) & mask).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(value)
}

/// The value of each byte of `word`, if every one is an ASCII digit, all checked at once: none
/// has its top bit, none passes '9' (adding 0x46 sets it), none is below '0' (subtracting sets
/// it).
#[inline(always)]
fn digit_values(word: u64) -> Option<u64> {
    let stray = word | word.wrapping_add(every_byte(0x46)) | word.wrapping_sub(every_byte(b'0'));
    (stray & every_byte(0x80) == 0).then(|| word - every_byte(b'0'))
}

/// Byte k of digit values becomes ten times digit k plus digit k + 1: at most 99, so no byte
/// carries.
#[inline(always)]
fn digit_pairs_in(values: u64) -> u64 {
    values.wrapping_mul(10).wrapping_add(values >> 8)
}

/// Appends the ASCII digits at the start of `bytes` (at most sixteen) to `mantissa`; returns
/// the new mantissa and how many digits there were.
#[inline(always)]
fn leading_digits(bytes: &[u8], mut mantissa: u64) -> (u64, usize) {
    let mut count = 0;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        mantissa = mantissa * 10 + u64::from(digit);
        count += 1;
    }
    (mantissa, count)
}

/// Parses `true`/`false` in any case.
#[inline(always)]
pub fn parse_bool(text: &str) -> Option<bool> {
    // Lower case, as most files write them, in two compares; any other case out of line.
    match text.as_bytes() {
        b"true" => Some(true),
        b"false" => Some(false),
        _ => parse_bool_any_case(text),
    }
}

/// [`parse_bool`] of text not in lower case.
#[inline(never)]
fn parse_bool_any_case(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses `YYYY-MM-DD` into days since the Unix epoch.
#[inline(always)]
pub fn parse_date(text: &str) -> Option<i32> {
    parse_date_field(text.as_bytes())
}

/// [`parse_date`] of a field's bytes.
#[inline(always)]
pub fn parse_date_field(bytes: &[u8]) -> Option<i32> {
    parse_date_bytes(bytes.try_into().ok()?)
}

/// [`parse_date`] of exactly ten bytes.
#[inline(always)]
fn parse_date_bytes(bytes: &[u8; 10]) -> Option<i32> {
    let [c0, c1, rest @ ..] = *bytes;
    let century = fixed_digits([c0, c1])?;
    let [years, month, day] = digit_pairs(rest, b'-')?;
    days_from_civil((century * 100 + years) as i32, month, day)
}

/// The three numbers of `AA?BB?CC` (each two ASCII digits, `?` the separator: a date's
/// `YY-MM-DD`, a clock's `HH:MM:SS`), read as one word: both separators tested in one compare,
/// every digit checked at once, and each pair combined by one multiply, where a byte at a time
/// took a test and a multiply per digit.
#[inline(always)]
fn digit_pairs(bytes: [u8; 8], separator: u8) -> Option<[u32; 3]> {
    const SEPARATORS: u64 = 0xff << 16 | 0xff << 40;
    let word = u64::from_le_bytes(bytes);
    if (word ^ every_byte(separator)) & SEPARATORS != 0 {
        return None;
    }
    let digits = (word & !SEPARATORS) | (every_byte(b'0') & SEPARATORS);
    let pairs = digit_pairs_in(digit_values(digits)?);
    let pair = |at: u32| ((pairs >> (8 * at)) & 0xff) as u32;
    Some([pair(0), pair(3), pair(6)])
}

/// Parses an ISO 8601 datetime into microseconds since the Unix epoch (UTC).
#[inline(always)]
pub fn parse_datetime(text: &str) -> Option<i64> {
    parse_datetime_bytes(text.as_bytes())
}

/// [`parse_datetime`] of a field's bytes.
#[inline(always)]
pub fn parse_datetime_bytes(b: &[u8]) -> Option<i64> {
    let (date, [sep, h0, h1, colon, n0, n1], mut rest) = split_datetime(b)?;
    if !matches!(sep, b'T' | b' ') {
        return None;
    }
    let days = i64::from(parse_date_bytes(date)?);
    let (hour, minute, second, with_seconds);
    match b
        .get(11..19)
        .and_then(|clock| <[u8; 8]>::try_from(clock).ok())
    {
        // `HH:MM:SS`, as most datetimes have it, as one word.
        Some(clock) if clock[5] == b':' => {
            [hour, minute, second] = digit_pairs(clock, b':')?;
            (rest, with_seconds) = (&b[19..], true);
        }
        _ => {
            if colon != b':' {
                return None;
            }
            hour = fixed_digits([h0, h1])?;
            minute = fixed_digits([n0, n1])?;
            (second, with_seconds) = match rest {
                [b':', s1, s2, tail @ ..] => {
                    rest = tail;
                    (fixed_digits([*s1, *s2])?, true)
                }
                _ => (0, false),
            };
        }
    }
    let mut micros = 0;
    // A fraction of a second follows seconds only.
    if with_seconds {
        if let [b'.', tail @ ..] = rest {
            let frac_len = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return None;
            }
            let kept = &tail[..frac_len.min(6)];
            micros = digits(kept)? * 10u32.pow(6 - kept.len() as u32);
            rest = &tail[frac_len..];
        }
    }
    let offset_seconds: i64 = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let minutes = i64::from(fixed_digits([*h1, *h2])? * 60 + fixed_digits([*m1, *m2])?);
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(seconds * 1_000_000 + i64::from(micros))
}

/// A datetime's first ten bytes (the date), the next six (`THH:MM`), and the rest.
#[inline(always)]
fn split_datetime(bytes: &[u8]) -> Option<(&[u8; 10], [u8; 6], &[u8])> {
    let (date, rest) = bytes.split_first_chunk::<10>()?;
    let (clock, rest) = rest.split_first_chunk::<6>()?;
    Some((date, *clock, rest))
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_datetime(seconds: f64) -> String {
    let whole = seconds.floor() as i64;
    let days = whole.div_euclid(86_400);
    let rem = whole.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads exactly `N` ASCII digits as a number: every byte tested, one branch for all.
#[inline(always)]
fn fixed_digits<const N: usize>(bytes: [u8; N]) -> Option<u32> {
    let mut value = 0u32;
    let mut stray = false;
    for byte in bytes {
        let digit = u32::from(byte.wrapping_sub(b'0'));
        stray |= digit > 9;
        // At most 255 per byte: four bytes stay far below `u32::MAX`.
        value = value.wrapping_mul(10).wrapping_add(digit);
    }
    (!stray).then_some(value)
}

/// Reads ASCII digits as a number.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date, or `None` for an impossible date such
/// as February 30.
#[inline(always)]
fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i32> {
    // Every month has 28 days: only later days need the month's length.
    if !(1..=12).contains(&month) || day == 0 || (day > 28 && day > days_in_month(year, month)) {
        return None;
    }
    let first_of_month = usize::try_from(year - TABLE_FIRST_YEAR)
        .ok()
        .and_then(|years| MONTH_STARTS.get(years * 12 + month as usize - 1));
    Some(match first_of_month {
        Some(&first) => first + day as i32 - 1,
        None => days_outside_table(year, month, day),
    })
}

/// [`days_from_civil_unchecked`] for a year outside [`MONTH_STARTS`], out of the column loops.
#[cold]
#[inline(never)]
fn days_outside_table(year: i32, month: u32, day: u32) -> i32 {
    days_from_civil_unchecked(year, month, day)
}

/// The first year of [`MONTH_STARTS`].
pub(crate) const TABLE_FIRST_YEAR: i32 = 1900;

/// Years in [`MONTH_STARTS`]: 1900 to 2155.
const TABLE_YEARS: usize = 256;

/// [`days_from_civil`] of the first of every month from 1900 to 2155, so that most dates in
/// data cost one lookup instead of the arithmetic (a few percent of a pass over two date
/// columns).
pub(crate) static MONTH_STARTS: [i32; TABLE_YEARS * 12] = month_starts();

/// Builds [`MONTH_STARTS`] at compile time.
const fn month_starts() -> [i32; TABLE_YEARS * 12] {
    let mut table = [0; TABLE_YEARS * 12];
    let mut at = 0;
    while at < table.len() {
        let year = TABLE_FIRST_YEAR + (at / 12) as i32;
        table[at] = days_from_civil_unchecked(year, (at % 12) as u32 + 1, 1);
        at += 1;
    }
    table
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (Howard Hinnant's algorithm).
const fn days_from_civil_unchecked(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in a month of a proleptic Gregorian year.
///
/// A table and plain `&`/`|` instead of a `match`: months in data are in no order, and a branch
/// per month kind was mispredicted often enough to make date parsing a few percent of a pass.
fn days_in_month(year: i32, month: u32) -> u32 {
    const DAYS: [u8; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (year % 4 == 0) & (year % 100 != 0) | (year % 400 == 0);
    u32::from(DAYS[month as usize]) + u32::from((month == 2) & leap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_arithmetic_agree_on_every_day() {
        for year in 1_890..2_170 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(
                        days_from_civil(year, month, day),
                        Some(days_from_civil_unchecked(year, month, day)),
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2155, 12, 31), Some(67_934));
        assert_eq!(days_from_civil(2156, 1, 1), Some(67_935));
    }

    #[test]
    fn days_in_month_follows_the_gregorian_rules() {
        for year in -1_000..3_000 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            for month in 1..=12 {
                let expected = match month {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(days_in_month(year, month), expected, "{year}-{month}");
            }
        }
    }

    /// What `parse_int` must answer: the standard parser's integer, for digits after at most
    /// one sign.
    fn standard_int(text: &str) -> Option<i64> {
        let digits_only = text.trim_start_matches(['+', '-']);
        text.parse::<i64>()
            .ok()
            .filter(|_| !digits_only.is_empty() && digits_only.bytes().all(|c| c.is_ascii_digit()))
    }

    proptest::proptest! {
        /// The short-decimal path gives the standard parser's value bit for bit wherever it
        /// answers, and every text both read alike: signs, points, long mantissas, exponents.
        #[test]
        fn numbers_parse_as_the_standard_parser_reads_them(
            text in "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?(e-?[0-9]{1,2})?"
        ) {
            let standard = text.parse::<f64>().ok().filter(|v| !v.is_nan());
            if let Some(fast) = parse_short_decimal(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast.to_bits()), standard.map(f64::to_bits));
            }
            proptest::prop_assert_eq!(
                parse_float(&text).map(f64::to_bits),
                standard.map(f64::to_bits)
            );
            proptest::prop_assert_eq!(parse_int(&text), standard_int(&text));
        }
    }

    #[test]
    fn clocks_read_as_words_or_bytes_alike() {
        // Around where the clock is read as one word (`HH:MM:SS` at bytes 11 to 18) or byte by
        // byte: without seconds, with a fraction where seconds are missing, cut inside, with
        // strays in every place of the word.
        let mut texts: Vec<String> = [
            "2021-08-03T12:29",
            "2021-08-03 12:29",
            "2021-08-03T12:29.5",
            "2021-08-03T12:29.50Z",
            "2021-08-03T12:29+05:00",
            "2021-08-03T12:29:0",
            "2021-08-03T12:29:0Z",
            "2021-08-03T12:29:09",
            "2021-08-03T12:29:09.5",
            "2021-08-03T12:29:09.123456789Z",
            "2021-08-03T23:59:60Z",
            "2021-08-03T24:00:00",
            "2021-08-03T12:60:00",
            "2021-08-03T12:29:61",
        ]
        .map(String::from)
        .to_vec();
        for at in 11..19 {
            for stray in ["/", ":", ";", "-", ".", "a", " ", "\u{e9}"] {
                let mut text = String::from("2021-08-03T12:29:09Z");
                text.replace_range(at..at + 1, stray);
                texts.push(text);
            }
        }
        for text in &texts {
            assert_eq!(parse_datetime(text), reference_datetime(text), "{text}");
        }
        assert_eq!(parse_datetime("2021-08-03T12:29.5"), None);
        assert!(parse_datetime("2021-08-03 12:29").is_some());
    }

    #[test]
    fn words_of_four_to_eight_bytes_read_as_the_loop_reads_them() {
        // Every text of four to seven bytes from digits, the point and the bytes around them,
        // and eight-byte ones with one stray among digits and points.
        let alphabet = b"09./:\x00\xae\xb0";
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=7 {
            texts = texts
                .iter()
                .flat_map(|text| {
                    alphabet
                        .iter()
                        .map(move |&b| [text.as_slice(), &[b]].concat())
                })
                .collect();
            if len >= 4 {
                for text in &texts {
                    assert_eq!(word_decimal(text), looped_decimal(text), "{text:?}");
                }
            }
        }
        for base in [
            &b"12345678"[..],
            b"1234.678",
            b"0.000001",
            b"9999999.",
            b".9999999",
        ] {
            for at in 0..8 {
                for &stray in alphabet.iter().chain(b"a-+e 5") {
                    let mut text = base.to_vec();
                    text[at] = stray;
                    assert_eq!(word_decimal(&text), looped_decimal(&text), "{text:?}");
                }
            }
        }
        assert_eq!(word_decimal(b"26182.76"), Some((2_618_276, 2)));
        assert_eq!(word_decimal(b"99999999"), Some((99_999_999, 0)));
    }

    proptest::proptest! {
        /// Bytes next to the digits in ASCII (`/`, `:`) and other strays are refused as the
        /// standard parser refuses them.
        #[test]
        fn near_digits_are_not_digits(text in "[0-9./:+ a-]{0,18}") {
            let standard = text.parse::<f64>().ok().filter(|v| !v.is_nan());
            proptest::prop_assert_eq!(parse_float(&text).map(f64::to_bits), standard.map(f64::to_bits));
            proptest::prop_assert_eq!(parse_int(&text), standard_int(&text));
        }
    }

    #[test]
    fn integers_at_the_edges_of_i64() {
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(
            parse_int("+999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("1_000"), None);
    }

    #[test]
    fn bools_in_any_case() {
        for (text, expected) in [
            ("true", Some(true)),
            ("false", Some(false)),
            ("TRUE", Some(true)),
            ("False", Some(false)),
            ("tRuE", Some(true)),
            ("yes", None),
            ("true ", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(text), expected, "{text:?}");
        }
    }

    #[test]
    fn ints_and_floats() {
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("4.0"), None);
        assert_eq!(parse_int("+"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("nan"), None);
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(
            parse_date("2024-02-29")
                .map(i64::from)
                .map(format_date)
                .as_deref(),
            Some("2024-02-29")
        );
        for days in [-700_000, -1, 0, 59, 19_000, 2_000_000] {
            let text = format_date(days);
            assert_eq!(parse_date(&text).map(i64::from), Some(days), "{text}");
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_datetime("1970-01-01 00:00"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:00.5"), Some(500_000));
        assert_eq!(parse_datetime("1970-01-01T00:00:00.1234567"), Some(123_456));
        assert_eq!(parse_datetime("1970-01-01T25:00:00"), None);
        assert_eq!(parse_datetime("1970-01-01T00:00:00."), None);
        assert_eq!(format_datetime(86_400.0 + 3_661.0), "1970-01-02T01:01:01Z");
    }

    /// Dates and datetimes as the straightforward reading of the formats gives them: each
    /// field's digits read one by one, offsets applied to the fields' sum.
    fn reference_datetime(text: &str) -> Option<i64> {
        let b = text.as_bytes();
        let field = |range: std::ops::Range<usize>| digits(b.get(range)?);
        let date = |b: &[u8]| -> Option<i64> {
            if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
                return None;
            }
            let (y, m, d) = (field(0..4)?, field(5..7)?, field(8..10)?);
            days_from_civil(y as i32, m, d).map(i64::from)
        };
        if b.len() == 10 {
            return date(b).map(|days| days * 86_400_000_000);
        }
        if b.len() < 16 || !matches!(b[10], b'T' | b' ') || b[13] != b':' {
            return None;
        }
        let (days, hour, minute) = (date(b)?, field(11..13)?, field(14..16)?);
        let (mut second, mut micros, mut at) = (0, 0, 16);
        if b.get(16) == Some(&b':') {
            second = field(17..19)?;
            at = 19;
            if b.get(19) == Some(&b'.') {
                let end = (20..b.len())
                    .find(|&i| !b[i].is_ascii_digit())
                    .unwrap_or(b.len());
                let kept = (end - 20).min(6);
                if end == 20 {
                    return None;
                }
                micros = field(20..20 + kept)? * 10u32.pow(6 - kept as u32);
                at = end;
            }
        }
        let offset = match &b[at..] {
            [] | [b'Z'] => 0,
            [sign, ..] if b.len() == at + 6 && b[at + 3] == b':' => {
                let sign = match sign {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                sign * i64::from(field(at + 1..at + 3)?) * 3_600
                    + sign * i64::from(field(at + 4..at + 6)?) * 60
            }
            _ => return None,
        };
        let valid_clock = hour <= 23 && minute <= 59 && second <= 60;
        let seconds = ((days * 24 + i64::from(hour)) * 60 + i64::from(minute)) * 60
            + i64::from(second)
            - offset;
        valid_clock.then(|| seconds * 1_000_000 + i64::from(micros))
    }

    proptest::proptest! {
        /// Near-misses of the formats: a well-formed date or datetime with one byte replaced
        /// (by a digit, a separator, or a byte beside the digits in ASCII) and cut short.
        #[test]
        fn near_misses_read_as_the_formats_say(
            days in -1_000i64..30_000,
            clock in 0u32..86_400,
            shape in 0usize..5,
            at in 0usize..32,
            byte in proptest::sample::select(&b"0159-/:T .Z+a"[..]),
            cut in 0usize..40,
        ) {
            let date = format_date(days);
            let (h, m, s) = (clock / 3600, clock / 60 % 60, clock % 60);
            let mut text = match shape {
                0 => date,
                1 => format!("{date} {h:02}:{m:02}"),
                2 => format!("{date}T{h:02}:{m:02}:{s:02}Z"),
                3 => format!("{date}T{h:02}:{m:02}:{s:02}.{clock:07}"),
                _ => format!("{date}T{h:02}:{m:02}:{s:02}-{h:02}:{m:02}"),
            }
            .into_bytes();
            let at = at % text.len();
            text[at] = byte;
            text.truncate(cut.max(at + 1));
            let text = String::from_utf8(text).unwrap();
            let date = parse_date(&text).map(|days| i64::from(days) * 86_400_000_000);
            let expected = reference_datetime(&text);
            if text.len() == 10 {
                proptest::prop_assert_eq!(date, expected);
            } else {
                proptest::prop_assert_eq!(parse_datetime(&text), expected);
            }
        }

        /// Well-formed dates and datetimes of any day from 1600 to 2400.
        #[test]
        fn valid_datetimes_read_as_the_formats_say(
            days in -135_000i64..156_000,
            clock in 0u32..86_400,
            micros in 0u32..1_000_000,
            zone in -840i64..840,
        ) {
            let date = format_date(days);
            proptest::prop_assert_eq!(parse_date(&date).map(i64::from), Some(days));
            let (h, m, s) = (clock / 3600, clock / 60 % 60, clock % 60);
            let sign = if zone < 0 { '-' } else { '+' };
            let (zh, zm) = (zone.abs() / 60, zone.abs() % 60);
            let text = format!("{date}T{h:02}:{m:02}:{s:02}.{micros:06}{sign}{zh:02}:{zm:02}");
            proptest::prop_assert_eq!(parse_datetime(&text), reference_datetime(&text));
            proptest::prop_assert!(parse_datetime(&text).is_some());
        }
    }

    #[test]
    fn conversion_by_declared_type() {
        assert_eq!(
            convert(Cell::Text("3"), ColumnType::Float),
            Ok(Some(Value::Number(3.0)))
        );
        assert_eq!(convert(Cell::Text("x"), ColumnType::Int), Err(()));
        assert_eq!(convert(Cell::Null, ColumnType::Int), Ok(None));
        assert_eq!(convert(Cell::Float(2.5), ColumnType::Int), Err(()));
        assert_eq!(convert(Cell::Int(2), ColumnType::Categorical), Err(()));
    }

    proptest::proptest! {
        /// No text makes a parser panic.
        #[test]
        fn parsers_never_panic(text in "\\PC{0,40}") {
            let _ = (parse_int(&text), parse_float(&text), parse_bool(&text));
            let _ = (parse_date(&text), parse_datetime(&text));
        }
    }
}
