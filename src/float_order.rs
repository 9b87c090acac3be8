//! Floats as integers that sort in `f64::total_cmp` order.
//!
//! Sorting millions of floats (sketch levels, scores for ranking metrics) by these keys uses
//! plain integer comparisons, several times faster than a `total_cmp` closure, and values
//! equal under `total_cmp` have equal keys, so the order is the same.
//!
//! Also the running extremes of a stream, as one compare each.

/// The key of `value`: negative values have every bit flipped, the others only the sign bit.
pub fn key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The value whose key is `key`.
pub fn from_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// The running minimum `current` after `value`: `value` only when it is smaller, so a tie
/// (`0.0` and `-0.0`) keeps the first and NaN is passed over. `current` must not be NaN.
///
/// One `minsd`, where `f64::min` adds a NaN fix-up: the extremes of every number of a file
/// were a few percent of a validation pass.
#[inline(always)]
pub fn keep_min(current: f64, value: f64) -> f64 {
    if value < current {
        value
    } else {
        current
    }
}

/// The running maximum, as [`keep_min`] keeps the minimum.
#[inline(always)]
pub fn keep_max(current: f64, value: f64) -> f64 {
    if value > current {
        value
    } else {
        current
    }
}

/// Lanes of [`finite_extremes_with`]: values at positions that differ by a multiple of this
/// share one.
pub const LANES: usize = 4;

/// The extremes of `values` as [`keep_min`] and [`keep_max`] fold them from the first, or
/// `None` when `values` is empty or holds a value that is not finite.
///
/// Four lanes, each folding every fourth value, so the compares of one value wait on no
/// other's. Lanes can only disagree with one fold on which of equal values comes first, and
/// equal finite values are the same value unless they are zeros of both signs: an extreme
/// that is zero is folded again in order.
pub fn finite_extremes(values: &[f64]) -> Option<(f64, f64)> {
    finite_extremes_with(values, |_, _| {})
}

/// [`finite_extremes`], handing every value to `each` in order in the same loop, with its
/// lane (its position modulo [`LANES`]): a caller with its own pass over the values (the
/// moments' sums) saves loading them again and the loop around it. `each` sees every value,
/// finite or not, before the answer says which.
#[inline(always)]
pub fn finite_extremes_with(
    values: &[f64],
    mut each: impl FnMut(usize, f64),
) -> Option<(f64, f64)> {
    let first = *values.first()?;
    let (mut min, mut max) = ([first; LANES], [first; LANES]);
    // `value - value` is zero for a finite value and NaN for an infinity or NaN, and a sum
    // that meets a NaN stays NaN: the test runs in the vector registers beside the compares.
    // A test per value (`is_finite`, or `abs() < inf`) was compiled to integer compares, one
    // lane at a time, two thirds of this loop's instructions.
    let mut spoilt = [0.0; LANES];
    let quads = values.chunks_exact(LANES);
    let tail = quads.remainder();
    for quad in quads {
        for lane in 0..LANES {
            let value = quad[lane];
            min[lane] = keep_min(min[lane], value);
            max[lane] = keep_max(max[lane], value);
            spoilt[lane] += spoil(value);
            each(lane, value);
        }
    }
    let mut lo = min.into_iter().fold(first, keep_min);
    let mut hi = max.into_iter().fold(first, keep_max);
    let mut spoilt = spoilt.into_iter().sum::<f64>();
    for (lane, &value) in tail.iter().enumerate() {
        lo = keep_min(lo, value);
        hi = keep_max(hi, value);
        spoilt += spoil(value);
        each(lane, value);
    }
    if spoilt != 0.0 {
        return None;
    }
    if lo == 0.0 || hi == 0.0 {
        return Some(values.iter().fold((first, first), |(lo, hi), &v| {
            (keep_min(lo, v), keep_max(hi, v))
        }));
    }
    Some((lo, hi))
}

/// Zero for a finite value, NaN for an infinity or NaN.
#[inline(always)]
#[expect(
    clippy::eq_op,
    reason = "`x - x` is NaN unless `x` is finite, which is what is asked"
)]
fn spoil(value: f64) -> f64 {
    value - value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_keep_the_first_of_equals_and_pass_over_nan() {
        let values = [3.0, -0.0, 0.0, f64::NAN, -2.5, f64::INFINITY, -2.5, 0.0];
        let (min, max) = values[1..]
            .iter()
            .fold((values[0], values[0]), |(lo, hi), &v| {
                (keep_min(lo, v), keep_max(hi, v))
            });
        assert_eq!((min, max), (-2.5, f64::INFINITY));
        let zeros = [0.0, -0.0, 0.0];
        let first = |values: &[f64]| values.iter().fold(values[0], |lo, &v| keep_min(lo, v));
        assert!(first(&zeros).is_sign_positive());
        assert!(first(&[-0.0, 0.0]).is_sign_negative());
    }

    #[test]
    fn finite_extremes_are_the_folds_and_refuse_what_is_not_finite() {
        let fold = |values: &[f64]| {
            values.iter().fold((values[0], values[0]), |(lo, hi), &v| {
                (keep_min(lo, v), keep_max(hi, v))
            })
        };
        let bits = |(lo, hi): (f64, f64)| (lo.to_bits(), hi.to_bits());
        let mut state = 7_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 40) as f64 / 1e3 - 8_000.0
        };
        for len in [1, 2, 3, 4, 5, 8, 9, 31, 257] {
            let mut values: Vec<f64> = (0..len).map(|_| next()).collect();
            let expected = bits(fold(&values));
            assert_eq!(finite_extremes(&values).map(bits), Some(expected), "{len}");
            // Zeros of both signs as the extremes, in lanes that would see them out of order.
            values.iter_mut().for_each(|v| *v = v.abs());
            values[len - 1] = 0.0;
            values[(len - 1) / 2] = -0.0;
            assert_eq!(
                finite_extremes(&values).map(bits),
                Some(bits(fold(&values)))
            );
            values.iter_mut().for_each(|v| *v = -v.abs());
            assert_eq!(
                finite_extremes(&values).map(bits),
                Some(bits(fold(&values)))
            );
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut with_bad = values.clone();
                with_bad[len / 3] = bad;
                assert_eq!(finite_extremes(&with_bad), None, "{len} {bad}");
            }
        }
        // A later lane's zero comes first in the file: the lanes alone would pick the other.
        for zeros in [[0.0, -0.0], [-0.0, 0.0]] {
            let values = [1.0, zeros[0], 2.0, 3.0, zeros[1], 5.0, 6.0, 7.0];
            let (min, _) = finite_extremes(&values).unwrap();
            assert_eq!(min.to_bits(), zeros[0].to_bits(), "{values:?}");
            let negated = values.map(|v| -v);
            let (_, max) = finite_extremes(&negated).unwrap();
            assert_eq!(max.to_bits(), (-zeros[0]).to_bits(), "{negated:?}");
        }
        assert_eq!(finite_extremes(&[]), None);
    }

    /// Keys order values exactly as `total_cmp` does and give them back unchanged: signed
    /// zeros, infinities, subnormals and NaNs of either sign included.
    #[test]
    fn keys_sort_as_total_cmp_and_round_trip() {
        let mut values = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN_POSITIVE / 2.0,
            -f64::MIN_POSITIVE / 2.0,
            f64::MAX,
            f64::MIN,
            1.5,
            -1.5,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f64::from_bits(state));
            values.push((state % 1000) as f64 - 500.0);
        }
        for &v in &values {
            assert_eq!(from_key(key(v)).to_bits(), v.to_bits());
        }
        let mut by_key = values.clone();
        by_key.sort_unstable_by_key(|&v| key(v));
        values.sort_by(f64::total_cmp);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&by_key), bits(&values));
    }
}
