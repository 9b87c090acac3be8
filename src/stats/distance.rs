//! Distribution distances used as drift scores: Wasserstein-1 between
//! weighted samples, and PSI, Jensen-Shannon and L-infinity between binned
//! (categorical or histogram) distributions.
//!
//! These are the scores other drift tools report (SciPy, Evidently, TFDV), so
//! each one reproduces that tool's exact convention — normalisation, zero-bin
//! handling, logarithm base — and documents it, because a "PSI of 0.2" only
//! means something if it is the same PSI everyone else computes.

/// Fraction that replaces an empty bin before taking logarithms in PSI.
///
/// Evidently's `psi_stat_test` substitutes 0.0001 for zero fractions in both
/// distributions; we use the same constant so mlgate's PSI values and
/// thresholds are interchangeable with Evidently's.
pub const PSI_EMPTY_BIN_FRACTION: f64 = 0.0001;

/// Wasserstein-1 (earth mover's) distance between two weighted empirical
/// distributions on the real line; matches
/// `scipy.stats.wasserstein_distance(u_values, v_values, u_weights, v_weights)`.
///
/// An empty weight slice means "all weights equal" (SciPy's `None`);
/// otherwise it must have the same length as its values. Values need not be
/// sorted. Pairs whose value is NaN are dropped before anything else, which
/// is mlgate's missing-value convention.
///
/// Returns `None` when either distribution is empty (after dropping NaN),
/// when a non-empty weight slice has a different length from its values,
/// contains a negative or non-finite weight or sums to zero, or when a value
/// is infinite (the distance would be infinite or undefined).
pub fn wasserstein_distance(
    u_values: &[f64],
    u_weights: &[f64],
    v_values: &[f64],
    v_weights: &[f64],
) -> Option<f64> {
    let u = weighted_sorted(u_values, u_weights)?;
    let v = weighted_sorted(v_values, v_weights)?;
    let u_total = u.last().map(|&(_, c)| c)?;
    let v_total = v.last().map(|&(_, c)| c)?;

    let mut all: Vec<f64> = u.iter().chain(v.iter()).map(|&(x, _)| x).collect();
    all.sort_by(f64::total_cmp);

    // Integrate |F_u - F_v| over the gaps between consecutive pooled values;
    // the CDFs are right-continuous step functions, evaluated (like SciPy's
    // searchsorted(..., 'right')) at the left end of each gap.
    let (mut iu, mut iv) = (0_usize, 0_usize);
    let mut cum_u = 0.0;
    let mut cum_v = 0.0;
    let mut distance = 0.0;
    for pair in all.windows(2) {
        let (left, right) = (pair[0], pair[1]);
        while let Some(&(x, c)) = u.get(iu) {
            if x > left {
                break;
            }
            cum_u = c;
            iu += 1;
        }
        while let Some(&(x, c)) = v.get(iv) {
            if x > left {
                break;
            }
            cum_v = c;
            iv += 1;
        }
        distance += (cum_u / u_total - cum_v / v_total).abs() * (right - left);
    }
    Some(distance)
}

/// Validated `(value, cumulative weight)` pairs sorted by value, or `None` if
/// the distribution is unusable (see [`wasserstein_distance`]).
///
/// Cumulative weights follow SciPy's `cumsum` order (by sorted value) so the
/// CDF levels round identically.
fn weighted_sorted(values: &[f64], weights: &[f64]) -> Option<Vec<(f64, f64)>> {
    if !weights.is_empty() && weights.len() != values.len() {
        return None;
    }
    let mut pairs: Vec<(f64, f64)> = if weights.is_empty() {
        values.iter().map(|&x| (x, 1.0)).collect()
    } else {
        values
            .iter()
            .copied()
            .zip(weights.iter().copied())
            .collect()
    };
    pairs.retain(|&(x, _)| !x.is_nan());
    if pairs.is_empty() {
        return None;
    }
    if pairs
        .iter()
        .any(|&(x, w)| x.is_infinite() || !w.is_finite() || w < 0.0)
    {
        return None;
    }
    // Stable sort keeps equal values in input order, matching SciPy's
    // argsort closely enough that ties cannot change the integral.
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut running = 0.0;
    for pair in pairs.iter_mut() {
        running += pair.1;
        pair.1 = running;
    }
    if !(running > 0.0 && running.is_finite()) {
        return None;
    }
    Some(pairs)
}

/// Population stability index between two binned distributions given as
/// fractions per bin (each should sum to 1; they are *not* re-normalised,
/// matching Evidently, which feeds it histogram fractions).
///
/// `PSI = Σ (r_i - c_i) · ln(r_i / c_i)`, where any fraction equal to 0 is first
/// replaced by [`PSI_EMPTY_BIN_FRACTION`]. Returns 0 for two empty slices and
/// `NaN` when the lengths differ or any fraction is negative, NaN or
/// infinite.
pub fn population_stability_index(reference: &[f64], current: &[f64]) -> f64 {
    if reference.len() != current.len() {
        return f64::NAN;
    }
    let invalid = |x: &f64| !x.is_finite() || *x < 0.0;
    if reference.iter().any(invalid) || current.iter().any(invalid) {
        return f64::NAN;
    }
    let fix = |x: f64| if x == 0.0 { PSI_EMPTY_BIN_FRACTION } else { x };
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let (r, c) = (fix(r), fix(c));
            (r - c) * (r / c).ln()
        })
        .sum()
}

/// Normalises a non-negative weight vector to sum 1, or `None` if it is
/// empty, has a negative or non-finite entry, or sums to zero.
fn normalised(weights: &[f64]) -> Option<Vec<f64>> {
    if weights.is_empty() || weights.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return None;
    }
    let total: f64 = weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    Some(weights.iter().map(|x| x / total).collect())
}

/// SciPy's `rel_entr(x, y) = x ln(x / y)` with its conventions for zeros.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else if y == 0.0 {
        f64::INFINITY
    } else {
        x * (x / y).ln()
    }
}

/// Jensen-Shannon *distance* (the square root of the divergence, natural
/// log) between two discrete distributions; matches
/// `scipy.spatial.distance.jensenshannon(p, q)`.
///
/// Inputs are weights over the same categories and are normalised to sum 1
/// first, so raw counts are fine. The result lies in `[0, sqrt(ln 2)]`.
/// Returns `None` when the lengths differ, either input is empty, has a
/// negative or non-finite entry, or sums to zero.
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> Option<f64> {
    if p.len() != q.len() {
        return None;
    }
    let p = normalised(p)?;
    let q = normalised(q)?;
    let mut left = 0.0;
    let mut right = 0.0;
    for (&pi, &qi) in p.iter().zip(&q) {
        let m = (pi + qi) / 2.0;
        left += rel_entr(pi, m);
        right += rel_entr(qi, m);
    }
    // Rounding can push the divergence a hair below zero for identical
    // inputs; clamp so the square root is 0 rather than NaN.
    Some(((left + right) / 2.0).max(0.0).sqrt())
}

/// L-infinity distance between two discrete distributions: the largest
/// absolute difference between their normalised category frequencies, the
/// drift score TFDV uses for categorical features.
///
/// Inputs are weights over the same categories (counts are fine; both are
/// normalised to sum 1). The result lies in `[0, 1]`. Returns `None` under the
/// same conditions as [`jensen_shannon_distance`].
pub fn linf_distance(p: &[f64], q: &[f64]) -> Option<f64> {
    if p.len() != q.len() {
        return None;
    }
    let p = normalised(p)?;
    let q = normalised(q)?;
    Some(
        p.iter()
            .zip(&q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Invalid weights and empty inputs give `None`, never a panic.
    #[test]
    fn wasserstein_rejects_invalid_input() {
        assert!(wasserstein_distance(&[], &[], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[1.0], &[1.0, 2.0], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[1.0], &[-1.0], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[1.0], &[0.0], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[1.0], &[f64::NAN], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[f64::INFINITY], &[], &[1.0], &[]).is_none());
        assert!(wasserstein_distance(&[f64::NAN], &[], &[1.0], &[]).is_none());
    }

    /// NaN values are dropped together with their weights.
    #[test]
    fn wasserstein_drops_nan_pairs() {
        let with_nan = wasserstein_distance(&[0.0, f64::NAN, 1.0], &[1.0, 5.0, 1.0], &[3.0], &[]);
        let without = wasserstein_distance(&[0.0, 1.0], &[1.0, 1.0], &[3.0], &[]);
        assert_eq!(with_nan, without);
        assert_eq!(without, Some(2.5));
    }

    /// Single points: the distance is the gap between them.
    #[test]
    fn wasserstein_point_masses() {
        assert_eq!(wasserstein_distance(&[1.0], &[], &[4.5], &[]), Some(3.5));
        assert_eq!(wasserstein_distance(&[2.0], &[], &[2.0], &[]), Some(0.0));
    }

    /// PSI edge cases are the documented values.
    #[test]
    fn psi_edges() {
        assert_eq!(population_stability_index(&[], &[]), 0.0);
        assert!(population_stability_index(&[0.5], &[0.5, 0.5]).is_nan());
        assert!(population_stability_index(&[f64::NAN], &[1.0]).is_nan());
        assert!(population_stability_index(&[-0.1], &[1.0]).is_nan());
        assert_eq!(population_stability_index(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        // One empty bin on each side: both use the 0.0001 replacement.
        let expected = (0.0001_f64 - 1.0) * (0.0001_f64 / 1.0).ln() * 2.0;
        let got = population_stability_index(&[0.0, 1.0], &[1.0, 0.0]);
        assert!((got - expected).abs() < 1e-12);
    }

    /// JS and L-infinity reject unusable input and bound their range.
    #[test]
    fn js_and_linf_edges() {
        assert!(jensen_shannon_distance(&[], &[]).is_none());
        assert!(jensen_shannon_distance(&[1.0], &[1.0, 0.0]).is_none());
        assert!(jensen_shannon_distance(&[0.0, 0.0], &[1.0, 0.0]).is_none());
        assert!(jensen_shannon_distance(&[f64::NAN, 1.0], &[1.0, 0.0]).is_none());
        assert!(linf_distance(&[1.0, -1.0], &[1.0, 0.0]).is_none());
        let js = jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]).expect("valid");
        assert!((js - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
        assert_eq!(jensen_shannon_distance(&[2.0, 2.0], &[5.0, 5.0]), Some(0.0));
        assert_eq!(linf_distance(&[1.0, 0.0], &[0.0, 1.0]), Some(1.0));
    }
}
