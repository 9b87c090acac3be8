//! The bootstrap's random numbers: a seeded generator and an exact binomial sampler whose
//! outputs are the same on every platform.
//!
//! A gate that passes on one machine and fails on another is worse than no gate, so nothing
//! here calls the platform's maths library: the generator is integer-only (xoshiro256**,
//! seeded through SplitMix64), uniform integers use Lemire's exactly unbiased method, and the
//! binomial sampler uses IEEE-754 basic operations (correctly rounded, hence identical
//! everywhere) plus a natural logarithm written here with those operations only.

/// SplitMix64 (Steele, Lea & Flood 2014), used to expand a 64-bit seed into xoshiro state, as
/// its authors recommend: consecutive outputs are well mixed even for seeds like 0, 1, 2.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    /// Weyl-sequence counter.
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `state`.
    pub(crate) fn new(state: u64) -> Self {
        SplitMix64 { state }
    }

    /// Next 64-bit output.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman & Vigna 2018): small, fast, and defined purely by 64-bit
/// integer operations, so its stream is identical everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256StarStar {
    /// Generator state; never all zero.
    s: [u64; 4],
}

impl Xoshiro256StarStar {
    /// Generator for stream `stream` of `seed`.
    ///
    /// The state is four SplitMix64 outputs started from
    /// `seed ^ splitmix64_first_output(stream)`, so streams of one seed start from unrelated
    /// states and the state can never be all zero (SplitMix64 outputs are a bijection of
    /// distinct counters).
    pub(crate) fn for_stream(seed: u64, stream: u64) -> Self {
        let key = SplitMix64::new(stream).next_u64();
        let mut sm = SplitMix64::new(seed ^ key);
        Xoshiro256StarStar {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    /// Next 64-bit output.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform integer in `0..bound` (`bound > 0`) by Lemire's (2019) multiply-and-reject
    /// method, which is exactly unbiased and, unlike a float-based draw, involves no rounding
    /// that could differ by platform.
    #[inline]
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let mut product = u128::from(self.next_u64()) * u128::from(bound);
        if (product as u64) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (product >> 64) as u64
    }

    /// Two independent uniform integers in `0..bound` (`0 < bound`), Lemire's method on each
    /// 32-bit half of one output, so a draw costs half an output. A half that must be
    /// rejected is replaced by [`Self::below32`] draws.
    #[inline]
    pub(crate) fn below32_pair(&mut self, bound: u32) -> (u32, u32) {
        let x = self.next_u64();
        let low = u64::from(x as u32) * u64::from(bound);
        let high = (x >> 32) * u64::from(bound);
        if (low as u32) < bound || (high as u32) < bound {
            let threshold = bound.wrapping_neg() % bound;
            let first = if (low as u32) < threshold {
                self.below32(bound)
            } else {
                (low >> 32) as u32
            };
            let second = if (high as u32) < threshold {
                self.below32(bound)
            } else {
                (high >> 32) as u32
            };
            return (first, second);
        }
        ((low >> 32) as u32, (high >> 32) as u32)
    }

    /// One uniform integer in `0..bound` (`0 < bound`), Lemire's method on 32 bits.
    pub(crate) fn below32(&mut self, bound: u32) -> u32 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = (self.next_u64() >> 32) * u64::from(bound);
            if (product as u32) >= threshold {
                return (product >> 32) as u32;
            }
        }
    }

    /// Uniform in `[0, 1)` with 53 random bits (exact: a multiple of 2^-53).
    #[inline]
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `ln 2` split into a high part with trailing zero bits (so `k · LN2_HI` is exact for any
/// exponent `k`) and the rest (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
/// The low part of `ln 2`.
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);

/// Natural logarithm from IEEE basic operations only, so that every platform gets the same
/// bits (a platform's `ln` may differ in the last place, and a sampler's accept/reject
/// decision must not). Accurate to about 2 ulp; `-inf` at 0, NaN below 0 and for NaN.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // Subnormals are scaled into the normal range first.
    let (x, shift) = if x < f64::MIN_POSITIVE {
        (x * (1u64 << 54) as f64, -54)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023 + shift;
    let mut mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if mantissa > std::f64::consts::SQRT_2 {
        mantissa *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2·atanh(s) with s = (m − 1)/(m + 1), |s| ≤ 0.172: the series to s^23 is below
    // half an ulp of the result.
    let s = (mantissa - 1.0) / (mantissa + 1.0);
    let s2 = s * s;
    let mut series = 1.0 / 23.0;
    for odd in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        series = 1.0 / odd + s2 * series;
    }
    let k = exponent as f64;
    let ln_m = 2.0 * s + 2.0 * s * s2 * series;
    k * LN2_HI + (ln_m + k * LN2_LO)
}

/// `base^exponent` by repeated squaring: basic operations only, so identical everywhere.
fn powu(base: f64, mut exponent: u64) -> f64 {
    let (mut result, mut square) = (1.0, base);
    while exponent > 0 {
        if exponent & 1 == 1 {
            result *= square;
        }
        square *= square;
        exponent >>= 1;
    }
    result
}

/// Below this mean, [`binomial`] inverts the distribution function (NumPy's threshold);
/// above it, BTPE.
const INVERSION_MAX_MEAN: f64 = 30.0;

/// A draw from Binomial(`n`, `p`): exact sampling algorithms (inversion for small means,
/// Kachitvichyanukul & Schmeiser's BTPE otherwise), exact up to the rounding of `p` and of
/// the probabilities they compute. `p` outside `(0, 1)` gives 0 or `n`.
pub(crate) fn binomial(rng: &mut Xoshiro256StarStar, n: u64, p: f64) -> u64 {
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    // Both algorithms want p ≤ 1/2; the count of failures is then the draw's complement.
    let (r, flipped) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
    let draw = if n as f64 * r < INVERSION_MAX_MEAN {
        binomial_inversion(rng, n, r)
    } else {
        binomial_btpe(rng, n, r)
    };
    // Both algorithms stay within 0..=n; the clamp keeps that true whatever the rounding.
    let draw = draw.min(n);
    if flipped {
        n - draw
    } else {
        draw
    }
}

/// Binomial by sequential search of the distribution function from 0 (`n·p` below
/// [`INVERSION_MAX_MEAN`], `p ≤ 1/2`), as NumPy's `random_binomial_inversion`: a search that
/// runs past `mean + 10 sd` restarts, which only trims rounding error from the far tail.
fn binomial_inversion(rng: &mut Xoshiro256StarStar, n: u64, p: f64) -> u64 {
    let q = 1.0 - p;
    let q_n = powu(q, n);
    let mean = n as f64 * p;
    let bound = (mean + 10.0 * (mean * q + 1.0).sqrt()).min(n as f64) as u64;
    let mut x = 0u64;
    let mut px = q_n;
    let mut u = rng.uniform();
    while u > px {
        x += 1;
        if x > bound {
            x = 0;
            px = q_n;
            u = rng.uniform();
        } else {
            u -= px;
            px = ((n - x + 1) as f64 * p * px) / (x as f64 * q);
        }
    }
    x
}

/// Stirling's series correction `ln(k!) − [(k + ½)·ln(k + 1) − (k + 1) + ½·ln(2π)]`
/// evaluated at `a = k + 1`, as BTPE's final test uses it.
fn stirling_correction(a: f64) -> f64 {
    let a2 = a * a;
    (13860.0 - (462.0 - (132.0 - (99.0 - 140.0 / a2) / a2) / a2) / a2) / a / 166_320.0
}

/// BTPE (Kachitvichyanukul & Schmeiser 1988, "Binomial random variate generation"), for
/// `n·p ≥` [`INVERSION_MAX_MEAN`] and `p ≤ 1/2`: a triangle, two parallelograms and two
/// exponential tails majorise the distribution; candidates are accepted by squeezes or, at
/// last, by comparing with `ln f(y)` from Stirling's series. The final test has the
/// corrected constant 13860 and signs of GSL and `rand_distr` (NumPy's copy keeps the
/// paper's misprints).
fn binomial_btpe(rng: &mut Xoshiro256StarStar, n: u64, p: f64) -> u64 {
    let nf = n as f64;
    let q = 1.0 - p;
    let npq = nf * p * q;
    let f_m = nf * p + p;
    let m = f_m.floor();
    let p1 = (2.195 * npq.sqrt() - 4.6 * q).floor() + 0.5;
    let x_m = m + 0.5;
    let x_l = x_m - p1;
    let x_r = x_m + p1;
    let c = 0.134 + 20.5 / (15.3 + m);
    let a = (f_m - x_l) / (f_m - x_l * p);
    let lambda_l = a * (1.0 + 0.5 * a);
    let a = (x_r - f_m) / (x_r * q);
    let lambda_r = a * (1.0 + 0.5 * a);
    let p2 = p1 * (1.0 + 2.0 * c);
    let p3 = p2 + c / lambda_l;
    let p4 = p3 + c / lambda_r;
    loop {
        let u = rng.uniform() * p4;
        let mut v = rng.uniform();
        let y: f64;
        if u <= p1 {
            // The triangle: accepted at once.
            return (x_m - p1 * v + u).floor() as u64;
        } else if u <= p2 {
            let x = x_l + (u - p1) / c;
            v = v * c + 1.0 - (x_m - x).abs() / p1;
            if v > 1.0 {
                continue;
            }
            y = x.floor();
        } else if u <= p3 {
            y = (x_l + ln(v) / lambda_l).floor();
            if y < 0.0 || v == 0.0 {
                continue;
            }
            v *= (u - p2) * lambda_l;
        } else {
            y = (x_r - ln(v) / lambda_r).floor();
            if y > nf || v == 0.0 {
                continue;
            }
            v *= (u - p3) * lambda_r;
        }
        if accepts(v, y, m, nf, p, npq, x_m) {
            return y as u64;
        }
    }
}

/// BTPE's step 5: whether `v` lies under `f(y) / f(m)`, evaluated by the recurrence near the
/// mode, else by squeezes on `ln f(y)` and finally Stirling's series.
fn accepts(v: f64, y: f64, m: f64, n: f64, p: f64, npq: f64, x_m: f64) -> bool {
    let q = 1.0 - p;
    let k = (y - m).abs();
    if k <= 20.0 || k >= npq / 2.0 - 1.0 {
        let s = p / q;
        let a = s * (n + 1.0);
        let mut f = 1.0;
        if m < y {
            let mut i = m + 1.0;
            while i <= y {
                f *= a / i - s;
                i += 1.0;
            }
        } else if m > y {
            let mut i = y + 1.0;
            while i <= m {
                f /= a / i - s;
                i += 1.0;
            }
        }
        return v <= f;
    }
    let rho = (k / npq) * ((k * (k / 3.0 + 0.625) + 1.0 / 6.0) / npq + 0.5);
    let t = -k * k / (2.0 * npq);
    let alpha = ln(v);
    if alpha < t - rho {
        return true;
    }
    if alpha > t + rho {
        return false;
    }
    let x1 = y + 1.0;
    let f1 = m + 1.0;
    let z = n + 1.0 - m;
    let w = n - y + 1.0;
    let bound = x_m * ln(f1 / x1)
        + (n - m + 0.5) * ln(z / w)
        + (y - m) * ln(w * p / (x1 * q))
        + stirling_correction(f1)
        + stirling_correction(z)
        - stirling_correction(x1)
        - stirling_correction(w);
    alpha <= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values: the generator is part of every bootstrap result's definition, so any
    /// change to it must be deliberate.
    #[test]
    fn generators_match_reference_vectors() {
        // Published SplitMix64 outputs for seed 1234567.
        let mut sm = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| sm.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
        // Reference xoshiro256** outputs for state [1, 2, 3, 4].
        let mut x = Xoshiro256StarStar { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..10).map(|_| x.next_u64()).collect();
        assert_eq!(
            got,
            [
                11520,
                0,
                1_509_978_240,
                1_215_971_899_390_074_240,
                1_216_172_134_540_287_360,
                607_988_272_756_665_600,
                16_172_922_978_634_559_625,
                8_476_171_486_693_032_832,
                10_595_114_339_597_558_777,
                2_904_607_092_377_533_576,
            ]
        );
    }

    /// The portable logarithm agrees with the platform's to 2 ulp over the whole range,
    /// subnormals included, and handles the special values.
    #[test]
    fn ln_matches_the_platform_to_two_ulp() {
        let mut rng = Xoshiro256StarStar::for_stream(3, 0);
        let mut values: Vec<f64> = (0..20_000)
            .map(|_| f64::from_bits(rng.below(0x7FEF_FFFF_FFFF_FFFF) + 1))
            .collect();
        values.extend([
            1.0,
            2.0,
            0.5,
            1e-300,
            5e-324,
            f64::MAX,
            1.0 + 1e-15,
            0.999_999,
        ]);
        values.extend((1..2000).map(|i| i as f64 / 1000.0));
        for x in values {
            let (got, want) = (ln(x), x.ln());
            let ulp = (want.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
            assert!(
                (got - want).abs() <= 2.0 * ulp,
                "ln({x:e}) = {got} vs {want}"
            );
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
    }

    /// Both halves of a pair draw are uniform, and a bound of 1 gives 0.
    #[test]
    fn pair_draws_are_uniform() {
        let mut rng = Xoshiro256StarStar::for_stream(5, 1);
        let bound = 7u32;
        let mut counts = [[0u64; 7]; 2];
        for _ in 0..70_000 {
            let (a, b) = rng.below32_pair(bound);
            counts[0][a as usize] += 1;
            counts[1][b as usize] += 1;
        }
        for half in counts {
            let chi2: f64 = half
                .iter()
                .map(|&c| (c as f64 - 10_000.0).powi(2) / 10_000.0)
                .sum();
            // 6 degrees of freedom: P(χ² > 30) ≈ 4e-5.
            assert!(chi2 < 30.0, "{half:?}");
        }
        assert_eq!(rng.below32_pair(1), (0, 0));
        assert!(rng.below32_pair(u32::MAX).0 < u32::MAX);
    }

    /// The binomial probabilities of `n`, `p` around the mean (relative values normalised
    /// over the window of ±12 standard deviations, outside of which less than 1e-30 lies).
    fn binomial_pmf(n: u64, p: f64) -> (u64, Vec<f64>) {
        let mean = n as f64 * p;
        let sd = (mean * (1.0 - p)).sqrt();
        let lo = (mean - 12.0 * sd - 2.0).max(0.0) as u64;
        let hi = ((mean + 12.0 * sd + 2.0) as u64).min(n);
        let mode = ((n as f64 + 1.0) * p).floor().min(n as f64) as u64;
        let mut pmf = vec![0.0; (hi - lo + 1) as usize];
        let at = |k: u64| (k - lo) as usize;
        pmf[at(mode)] = 1.0;
        let ratio = p / (1.0 - p);
        for k in mode + 1..=hi {
            pmf[at(k)] = pmf[at(k - 1)] * (n - k + 1) as f64 / k as f64 * ratio;
        }
        for k in (lo..mode).rev() {
            pmf[at(k)] = pmf[at(k + 1)] * (k + 1) as f64 / (n - k) as f64 / ratio;
        }
        let total: f64 = pmf.iter().sum();
        (lo, pmf.into_iter().map(|v| v / total).collect())
    }

    /// Pearson's χ² of `draws` against the exact distribution, with cells of expected count
    /// under 20 pooled; returns `(χ², degrees of freedom)`.
    fn chi_square(n: u64, p: f64, draws: &[u64]) -> (f64, usize) {
        let (lo, pmf) = binomial_pmf(n, p);
        let mut observed = vec![0u64; pmf.len()];
        for &d in draws {
            assert!(
                d >= lo && d - lo < pmf.len() as u64,
                "draw {d} outside the window"
            );
            observed[(d - lo) as usize] += 1;
        }
        let total = draws.len() as f64;
        let (mut chi2, mut cells) = (0.0, 0usize);
        let (mut pooled_obs, mut pooled_exp) = (0.0, 0.0);
        for (o, e) in observed.iter().zip(&pmf) {
            pooled_obs += *o as f64;
            pooled_exp += e * total;
            if pooled_exp >= 20.0 {
                chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
                cells += 1;
                pooled_obs = 0.0;
                pooled_exp = 0.0;
            }
        }
        if pooled_exp > 0.0 {
            chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
            cells += 1;
        }
        (chi2, cells.saturating_sub(1))
    }

    /// The sampler's draws follow the exact binomial distribution on both algorithms, both
    /// sides of p = 1/2, the squeeze and Stirling paths of BTPE included (χ² far below the
    /// 1e-6 critical value; seeded, so the test is deterministic).
    #[test]
    fn binomial_draws_follow_the_distribution() {
        let cases: [(u64, f64); 9] = [
            (5, 0.3),
            (40, 0.5),
            (1000, 0.02),
            (100, 0.5),
            (200, 0.2),
            (60, 0.9),
            (1_000_000, 0.3),
            (1_000_000, 1e-5),
            (3_000_000_000, 0.37),
        ];
        for (case, &(n, p)) in cases.iter().enumerate() {
            let mut rng = Xoshiro256StarStar::for_stream(11, case as u64);
            let draws: Vec<u64> = (0..200_000).map(|_| binomial(&mut rng, n, p)).collect();
            let (chi2, df) = chi_square(n, p, &draws);
            let critical = df as f64 + 5.0 * (2.0 * df as f64).sqrt() + 10.0;
            assert!(chi2 < critical, "n={n} p={p}: χ² {chi2:.1} on {df} df");
            let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            let se = sd / (draws.len() as f64).sqrt();
            assert!(
                (mean - n as f64 * p).abs() < 5.0 * se,
                "n={n} p={p}: mean {mean}"
            );
        }
    }

    /// Degenerate parameters give the only possible value.
    #[test]
    fn binomial_edge_cases() {
        let mut rng = Xoshiro256StarStar::for_stream(1, 2);
        assert_eq!(binomial(&mut rng, 0, 0.5), 0);
        assert_eq!(binomial(&mut rng, 10, 0.0), 0);
        assert_eq!(binomial(&mut rng, 10, 1.0), 10);
        assert_eq!(binomial(&mut rng, 10, f64::NAN), 0);
        assert_eq!(binomial(&mut rng, u64::MAX, 1.0), u64::MAX);
        for _ in 0..1000 {
            assert!(binomial(&mut rng, 3, 0.999) <= 3);
            assert!(binomial(&mut rng, 100, 0.5) <= 100);
        }
    }
}
