//! Two-sample Kolmogorov-Smirnov test and the Kolmogorov-Smirnov
//! distributions behind its p-value.
//!
//! Drift gates compare p-values against fixed thresholds, so a p-value that
//! differs from the one a data scientist gets from SciPy in a notebook is a
//! bug report waiting to happen. This module therefore ports SciPy's
//! `ks_2samp(method='auto')` decision logic and numerics rather than using a
//! textbook approximation:
//!
//! * exact lattice-path probabilities (Hodges; Viehmann's stable recursion)
//!   when the larger sample has at most 10 000 values;
//! * otherwise the finite-n two-sided one-sample distribution `kstwo` at
//!   `n = round(n1·n2 / (n1 + n2))`, evaluated with Simard & L'Ecuyer's
//!   branch selection (Durbin matrix, Pomeranz recursion, Pelz-Good
//!   expansion, Smirnov's one-sided sum).
//!
//! The algorithms follow SciPy 1.17 (`scipy/stats/_stats_py.py`,
//! `_stats_pythran.py`, `_ksstats.py` and xsf's `kolmogorov.h`, all
//! BSD-licensed); only the Smirnov sum differs in arithmetic (Loader's
//! saddle-point binomial in `f64` instead of double-double), which moves
//! results by ~1e-13 relative.

use super::special::dbinom;
use super::TestResult;
use std::f64::consts::PI;

/// SciPy's cut-over: exact p-values are attempted while the larger sample has
/// at most this many observations.
const MAX_EXACT_N: usize = 10_000;

/// Rescaling quantum for the matrix and recursion methods, `2^128`, chosen
/// like SciPy's so intermediate values stay inside the `f64` exponent range.
const EP128: f64 = f64::from_bits(0x47F0_0000_0000_0000);

/// Reciprocal of [`EP128`].
const EM128: f64 = f64::from_bits(0x37F0_0000_0000_0000);

/// Exponent (base 2) that [`EP128`] represents.
const E128: i32 = 128;

/// Two-sided two-sample Kolmogorov-Smirnov test.
///
/// Matches `scipy.stats.ks_2samp(a, b, method='auto')` after removing NaN from
/// both inputs (SciPy's `nan_policy='omit'`): the statistic is the largest
/// absolute gap between the two empirical CDFs and the p-value is exact when
/// `max(n1, n2) <= 10000` (with the statistic snapped to the lattice `h /
/// lcm(n1, n2)` exactly as SciPy reports it) and asymptotic otherwise.
/// Infinite values are ordinary (extreme) observations.
///
/// Returns `None` when either sample is empty after dropping NaN.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> Option<TestResult> {
    let a = sorted_without_nan(a);
    let b = sorted_without_nan(b);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let n1 = a.len();
    let n2 = b.len();
    let mut d = ecdf_max_gap(&a, &b);

    let mut p_value = None;
    if n1.max(n2) <= MAX_EXACT_N {
        let (snapped, prob) = exact_two_sided(n1 as u64, n2 as u64, d);
        // SciPy reports the snapped statistic even when it falls back.
        d = snapped;
        p_value = prob;
    }
    let p_value = match p_value {
        Some(p) => p,
        None => {
            let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
            let en = (m * n / (m + n)).round_ties_even();
            kstwo_sf(en as u64, d)
        }
    };
    Some(TestResult {
        statistic: d,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// Copy of `values` without NaN, sorted ascending.
fn sorted_without_nan(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    out.sort_by(f64::total_cmp);
    out
}

/// Largest absolute difference between the empirical CDFs of two sorted,
/// non-empty, NaN-free samples.
///
/// The CDFs are evaluated at every pooled observation with the same
/// `count / n` divisions SciPy uses, so ties and the final statistic agree
/// bit-for-bit with `ks_2samp`.
fn ecdf_max_gap(a: &[f64], b: &[f64]) -> f64 {
    let n1 = a.len() as f64;
    let n2 = b.len() as f64;
    let (mut i, mut j) = (0_usize, 0_usize);
    let mut max_diff = f64::NEG_INFINITY;
    let mut min_diff = f64::INFINITY;
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while a.get(i).is_some_and(|&x| x <= v) {
            i += 1;
        }
        while b.get(j).is_some_and(|&y| y <= v) {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    if min_s > max_diff {
        min_s
    } else {
        max_diff
    }
}

/// Greatest common divisor, used to put the statistic on the lattice of
/// attainable values `h / lcm(n1, n2)`.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_attempt_exact_2kssamp` for the two-sided alternative.
///
/// Returns the statistic snapped to `h / lcm` and the exact p-value, or
/// `None` for the p-value when the lattice computation fails numerically (so
/// the caller falls back to the asymptotic distribution, as SciPy does).
fn exact_two_sided(n1: u64, n2: u64, d: f64) -> (f64, Option<f64>) {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let snapped = h as f64 / lcm as f64;
    if h == 0 {
        return (snapped, Some(1.0));
    }
    let prob = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside_method(n1, n2, g, h)
    };
    if (0.0..=1.0).contains(&prob) {
        (snapped, Some(prob))
    } else {
        (snapped, None)
    }
}

/// Probability that a random lattice path for `n1 = n2 = n` leaves the band
/// `|x - y| < h` (SciPy's `_compute_prob_outside_square`).
///
/// The alternating binomial sum is evaluated Horner-style on ratios to
/// `C(2n, n)` because the raw sum cancels catastrophically.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let n = n as i64;
    let h = h as i64;
    let mut p = 0.0_f64;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0_f64;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Floor division for a positive divisor, as Python's `floor(a / b)`.
fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Ceiling division for a positive divisor, as Python's `ceil(a / b)`.
fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

/// Probability that a random lattice path from `(0,0)` to `(m,n)` does *not*
/// stay strictly inside `|x/m - y/n| < h/lcm(m,n)` (SciPy's
/// `_compute_outer_prob_inside_method`).
///
/// Uses Viehmann's recursion, which carries `1 - p` directly in a sliding
/// window of one column; this is what keeps tiny p-values accurate.
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let mut minj = 0_i64;
    let mut maxj = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1).max(1) as usize;
    let mut a = vec![1.0_f64; len_a];
    for slot in a.iter_mut().take(maxj.max(0) as usize) {
        *slot = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let src = (jj + minj - lastminj) as usize;
            // Entries past the previous window are implicit ones (paths that
            // already left the band), which is what SciPy's array holds there.
            let prev = a.get(src).copied().unwrap_or(1.0);
            val = (prev * fi + val * j as f64) / (fi + j as f64);
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = curlen as usize;
            let end = (curlen + (lastlen - curlen)) as usize;
            for slot in a.iter_mut().take(end).skip(start) {
                *slot = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1).max(0) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Survival function of the limiting Kolmogorov distribution,
/// `P(sqrt(n)·D_n > x)` as `n → ∞`; matches `scipy.special.kolmogorov(x)`
/// (and `scipy.stats.kstwobign.sf`).
///
/// Returns `NaN` for `NaN`, 1 for `x <= 0` and values in `[0, 1]` otherwise.
/// mlgate's two-sample test uses the finite-n [`kstwo_sf`] like SciPy; this is
/// exposed for callers that only have a scaled statistic.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    // Below this the series underflows: the CDF is exactly 0 in f64.
    if x <= PI / (746.0_f64 * 8.0).sqrt() {
        return 1.0;
    }
    let sf = if x <= 0.82 {
        // Jacobi-theta form, which converges fast for small x.
        let w = (2.0 * PI).sqrt() / x;
        let logu8 = -PI * PI / (x * x);
        let u = (logu8 / 8.0).exp();
        let cdf = if u == 0.0 {
            (logu8 / 8.0 + w.ln()).exp()
        } else {
            let u8 = logu8.exp();
            let mut p = 1.0 + u8.powi(3);
            p = 1.0 + u8 * u8 * p;
            p = 1.0 + u8 * p;
            w * u * p
        };
        1.0 - cdf
    } else {
        // Alternating series 2(v - v^4 + v^9 - ...), four terms suffice here.
        let v = (-2.0 * x * x).exp();
        let vsq = v * v;
        let v3 = v.powi(3);
        let mut p = 1.0 - v3 * v3 * v;
        p = 1.0 - v3 * vsq * p;
        p = 1.0 - v3 * p;
        2.0 * v * p
    };
    sf.clamp(0.0, 1.0)
}

/// Survival function of the two-sided one-sample Kolmogorov-Smirnov
/// statistic `D_n` for a sample of size `n`, `P(D_n > d)`; matches
/// `scipy.stats.kstwo.sf(d, n)`.
///
/// Returns `NaN` for `n = 0` or `d = NaN`, 1 for `d <= 0` and 0 for `d >= 1`.
/// Branches follow Simard & L'Ecuyer (2011) as implemented in SciPy, so the
/// value is exact (up to rounding) except where SciPy itself uses the
/// Pelz-Good or Smirnov approximations.
pub fn kstwo_sf(n: u64, d: f64) -> f64 {
    if n == 0 || d.is_nan() {
        return f64::NAN;
    }
    if d >= 1.0 {
        return 0.0;
    }
    if d <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * d;
    if t <= 1.0 {
        // Ruben-Gambino closed form for 1/2n <= d <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            let mut prod = 1.0;
            for i in 1..=n {
                prod *= i as f64 * (1.0 / nf) * (2.0 * t - 1.0);
            }
            prod
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        // Ruben-Gambino closed form for d >= 1 - 1/n.
        return (2.0 * (1.0 - d).powf(nf)).clamp(0.0, 1.0);
    }
    if d >= 0.5 {
        // Above 1/2 the one-sided events are disjoint: exactly 2·smirnov.
        return (2.0 * smirnov_sf(n, d)).clamp(0.0, 1.0);
    }
    let nxsquared = t * d;
    if n <= 140 {
        if nxsquared <= 0.754_693 {
            return (1.0 - kolmogn_durbin_matrix(n, d)).clamp(0.0, 1.0);
        }
        if nxsquared <= 4.0 {
            return (1.0 - kolmogn_pomeranz(n, d)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, d)).clamp(0.0, 1.0);
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return (2.0 * smirnov_sf(n, d)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * d.powf(1.5) <= 1.4 {
        kolmogn_durbin_matrix(n, d)
    } else {
        kolmogn_pelz_good(n, d)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// `ln(n! / n^n)` via Stirling's series with `n ln n` removed up front, so
/// the Ruben-Gambino branch does not cancel for large `n`.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    /// Stirling coefficients `B_2j / (2j (2j-1))`, highest order first.
    const COEFFS: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let z = rn / n;
    let poly = COEFFS.iter().fold(0.0, |acc, c| acc * z + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

/// Plain square matrix product for the small (`m <= ~120`) Durbin matrices.
fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..m {
                out[i * m + j] += aik * b[k * m + j];
            }
        }
    }
    out
}

/// `P(D_n <= d)` by Durbin's matrix method in the Marsaglia-Tsang-Wang
/// formulation (SciPy's `_kolmogn_DMTW`), clipped to `[0, 1]`.
///
/// Cost is O(m³ log n) with `m = 2⌈nd⌉ - 1`, which is why SciPy (and this
/// port) only selects it when `nd` is small.
fn kolmogn_durbin_matrix(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;

    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for (offset, row) in (i - 1..m).enumerate() {
            hm[row * m + i] = w[offset];
        }
    }
    for row in 0..m {
        hm[row * m] = v[row];
    }
    for col in 0..m {
        hm[(m - 1) * m + col] = v[m - 1 - col];
    }

    let mut hpwr = vec![0.0; m * m];
    for i in 0..m {
        hpwr[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut hexpnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hpwr = matmul(&hpwr, &hm, m);
            expnt = expnt.saturating_add(hexpnt);
        }
        hm = matmul(&hm, &hm, m);
        hexpnt = hexpnt.saturating_mul(2);
        if hm[(k - 1) * m + (k - 1)].abs() > EP128 {
            for x in hm.iter_mut() {
                *x /= EP128;
            }
            hexpnt = hexpnt.saturating_add(E128);
        }
        nn /= 2;
    }

    let mut p = hpwr[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= EP128;
            expnt = expnt.saturating_sub(E128);
        }
    }
    ldexp(p, expnt).clamp(0.0, 1.0)
}

/// `x · 2^e` without overflow in the intermediate power, split into steps so
/// exponents beyond the `f64` range still round correctly to 0 or infinity.
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// Row interval `[j1, j2]` of non-zero entries in Pomeranz's recursion
/// (SciPy's `_pomeranz_compute_j1j2`).
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let ip1div2 = (i + 1) / 2;
        let ip1mod2 = (i + 1) % 2;
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `P(D_n <= d)` by Pomeranz's recursion (SciPy's `_kolmogn_Pomeranz`),
/// clipped to `[0, 1]`; used for small `n` and moderate `n d²`.
fn kolmogn_pomeranz(n: u64, x: f64) -> f64 {
    let ni = n as i64;
    let nf = n as f64;
    let t = nf * x;
    // Only called with n·x > 1, but stay well-defined for any input.
    let ll = (t.floor() as i64).max(0);
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0; npwrs];
    let mut twogpower = vec![1.0; npwrs];
    let mut onem2gpower = vec![1.0; npwrs];
    let (g_over_n, two_g_over_n, one_minus_two_g_over_n) =
        (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        let mf = m as f64;
        gpower[m] = gpower[m - 1] * g_over_n / mf;
        twogpower[m] = twogpower[m - 1] * two_g_over_n / mf;
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / mf;
    }

    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0_i64, 0_i64);
    let mut expnt: i32 = 0;
    let (mut j1, _) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|x| *x = 0.0);
        let j2;
        (j1, j2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        let pwrs = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let start = (k1 - v0s).max(0) as usize;
            let end = ((k1 - v0s + ln2).max(0) as usize).min(npwrs);
            let lhs = v0.get(start..end).unwrap_or(&[]);
            let rhs = &pwrs[..(ln2 as usize).min(npwrs)];
            let conv = convolve(lhs, rhs);
            let conv_start = (j1 - k1).max(0) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            for (slot, value) in v1
                .iter_mut()
                .zip(conv.iter().skip(conv_start))
                .take(conv_len)
            {
                *slot = *value;
            }
            let vmax = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < vmax && vmax < EM128 {
                v1.iter_mut().for_each(|x| *x *= EP128);
                expnt -= E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1.get((ni - v1s).max(0) as usize).copied().unwrap_or(0.0);
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += E128;
        }
        ans *= m as f64;
    }
    ldexp(ans, expnt).clamp(0.0, 1.0)
}

/// Full discrete convolution, as `numpy.convolve(a, b)`.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Pelz-Good asymptotic expansion of `P(D_n <= x)` (SciPy's
/// `_kolmogn_PelzGood`); SciPy uses it for large `n` and small `n x²`, and
/// so do we, because switching to an "exact" method here would disagree
/// with the reference.
fn kolmogn_pelz_good(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (zsquared, zthree, zfour, zsix) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / zsquared;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;

    let k1a = -zsquared;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * zsix + 2.0 * zfour;
    let k2b = (2.0 * zfour - 5.0 * zsquared) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * zsquared) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * zsquared) / 64.0;
    let k3c = pi4 * (-60.0 * zsquared + 212.0 * zfour) / 16.0;
    let k3b = pi2 * (135.0 * zfour - 96.0 * zsix) / 4.0;
    let k3a = -30.0 * zsix - 90.0 * z.powi(8);

    let mut k = [0.0_f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (msq, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * kk as f64);
        let coeffs = [
            1.0,
            k1a + k1b * msq,
            k2a + k2b * msq + k2c * m4,
            k3a + k3b * msq + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in k.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let denominators = [z, 6.0 * zfour, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, den) in k.iter_mut().zip(denominators) {
        *acc = *acc * q * sqrt2pi / den;
    }

    let q2 = (-pi2 / 2.0 / zsquared).exp();
    let sqrt3z = 3.0_f64.sqrt() * z;
    let mut k2extra = 0.0;
    let mut k3extra = 0.0;
    for kk in (1..=maxk).rev() {
        let ks = kk as f64;
        let ksq = ks * ks;
        let qp = q2.powf(ksq);
        let kspi = PI * ks;
        k2extra += ksq * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * zthree);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * zsix);
    let mut total = 0.0;
    for (i, acc) in k.iter().enumerate() {
        total += acc / nf.powf(i as f64 / 2.0);
    }
    total
}

/// `floor(n·x)` and its fractional part computed exactly (via a fused
/// multiply-add error term), as xsf's `modNX` does with double-double.
fn mod_nx(n: u64, x: f64) -> (u64, f64) {
    let nf = n as f64;
    let p = nf * x;
    let err = nf.mul_add(x, -p);
    let mut fl = p.floor();
    let mut alpha = (p - fl) + err;
    if alpha < 0.0 {
        fl -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        fl += 1.0;
        alpha = 0.0;
    }
    (fl.max(0.0) as u64, alpha)
}

/// Survival function of the one-sided Smirnov statistic, `P(D_n^+ > x)`;
/// matches `scipy.special.smirnov(n, x)`.
///
/// Uses the Birnbaum-Tingey sum, written as `Σ_v x/(x+v/n) · Binom(v; n,
/// x+v/n)` so each term is a binomial probability evaluated by Loader's
/// saddle-point method; this keeps ~1e-13 relative accuracy in `f64` where
/// xsf needs double-double. Returns `NaN` for `n = 0` or `x` outside `[0, 1]`.
pub(crate) fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nxfl, alpha) = mod_nx(n, x);
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        // x <= 1/n: closed form cdf = x (1+x)^(n-1).
        let cdf = x * ((nf - 1.0) * x.ln_1p()).exp();
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if -2.0 * nf * x * x < -745.133_219_101_941_2 {
        return 0.0;
    }
    if nxfl >= n - 1 {
        return (1.0 - x).powf(nf).clamp(0.0, 1.0);
    }
    if n > 1_000_000 {
        // SciPy's shortcut for huge n: p ≈ exp(-(6nx+1)² / 18n).
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        let sf = if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
        return sf.clamp(0.0, 1.0);
    }
    // Number of terms in the lower sum: v = 0 ..= floor(n(1-x)), excluding
    // the last one when n(1-x) is an integer (its term is zero).
    let mut last = n - nxfl - u64::from(alpha != 0.0);
    if alpha == 0.0 {
        last = last.saturating_sub(1);
    }
    let n_terms = last + 1;
    let vmid = n / 2;
    let mut sum = 0.0_f64;
    for v in 0..n_terms {
        let vf = v as f64;
        let p = vf / nf + x;
        let q = (n - v) as f64 / nf - x;
        let term = x / p * dbinom(vf, nf, p, q);
        if term.is_finite() {
            sum += term;
        }
        if v == 0 {
            continue;
        }
        if term != 0.0 {
            // Terms decay geometrically once past the peak, so stop when the
            // remaining ones cannot move the sum (SciPy's criterion).
            if 4.0 * (n_terms - v) as f64 * term.abs() < f64::EPSILON * sum && v != n_terms - 1 {
                break;
            }
        } else if v > vmid {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rescaling constants are exactly 2^±128.
    #[test]
    fn rescaling_constants() {
        assert_eq!(EP128, 2f64.powi(E128));
        assert_eq!(EM128, 2f64.powi(-E128));
    }

    /// Empty or all-NaN samples have no test; this must not panic.
    #[test]
    fn empty_inputs_give_none() {
        assert!(ks_two_sample(&[], &[1.0]).is_none());
        assert!(ks_two_sample(&[1.0], &[]).is_none());
        assert!(ks_two_sample(&[f64::NAN], &[1.0]).is_none());
    }

    /// Identical samples: statistic 0, p-value 1, on both code paths.
    #[test]
    fn identical_samples() {
        let a: Vec<f64> = (0..50).map(f64::from).collect();
        let r = ks_two_sample(&a, &a).expect("non-empty");
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
        let big: Vec<f64> = (0..12_000).map(|i| f64::from(i % 97)).collect();
        let r = ks_two_sample(&big, &big).expect("non-empty");
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
    }

    /// Infinite observations are ordinary extreme values.
    #[test]
    fn infinities_are_observations() {
        let a = [f64::NEG_INFINITY, 0.0, 1.0];
        let b = [2.0, 3.0, f64::INFINITY];
        let r = ks_two_sample(&a, &b).expect("non-empty");
        assert_eq!(r.statistic, 1.0);
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
    }

    /// Symmetry in argument order (SciPy's exact path is symmetric).
    #[test]
    fn symmetric_in_arguments() {
        let a = [0.1, 0.5, 0.9, 1.3, 2.2];
        let b = [0.4, 0.45, 1.9, 2.5, 2.6, 3.0, 3.3];
        let r1 = ks_two_sample(&a, &b).expect("non-empty");
        let r2 = ks_two_sample(&b, &a).expect("non-empty");
        assert_eq!(r1.statistic, r2.statistic);
        assert!((r1.p_value - r2.p_value).abs() < 1e-15);
    }

    /// Documented boundary values of the distribution functions.
    #[test]
    fn distribution_edges() {
        assert!(kstwo_sf(0, 0.5).is_nan());
        assert!(kstwo_sf(10, f64::NAN).is_nan());
        assert_eq!(kstwo_sf(10, 0.0), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        assert_eq!(kstwo_sf(10, -3.0), 1.0);
        assert!(kolmogorov_sf(f64::NAN).is_nan());
        assert_eq!(kolmogorov_sf(-1.0), 1.0);
        assert_eq!(kolmogorov_sf(f64::INFINITY), 0.0);
        assert!(smirnov_sf(0, 0.5).is_nan());
        assert!(smirnov_sf(5, 1.5).is_nan());
    }

    /// For n <= 140 the Durbin matrix and Pomeranz methods are both exact, so
    /// they must agree wherever both are defined.
    #[test]
    fn durbin_and_pomeranz_agree() {
        for (n, d) in [(20_u64, 0.15), (50, 0.12), (100, 0.08), (7, 0.3)] {
            let a = kolmogn_durbin_matrix(n, d);
            let b = kolmogn_pomeranz(n, d);
            assert!((a - b).abs() < 1e-12, "n={n} d={d}: {a} vs {b}");
        }
    }

    /// `smirnov_sf` must agree with the plain Birnbaum-Tingey sum for small n.
    #[test]
    fn smirnov_matches_direct_sum() {
        let n = 12_u64;
        let x = 0.27;
        let nf = n as f64;
        let mut direct = 0.0;
        let mut binom = 1.0;
        for v in 0..=((nf * (1.0 - x)).floor() as u64) {
            let vf = v as f64;
            direct += binom * x * (x + vf / nf).powf(vf - 1.0) * (1.0 - x - vf / nf).powf(nf - vf);
            binom = binom * (nf - vf) / (vf + 1.0);
        }
        assert!((smirnov_sf(n, x) - direct).abs() < 1e-14);
    }
}
