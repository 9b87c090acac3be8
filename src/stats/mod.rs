//! Drift statistics: hypothesis tests (two-sample Kolmogorov-Smirnov,
//! chi-square homogeneity) and distribution distances (Wasserstein, PSI,
//! Jensen-Shannon, L-infinity), with the special functions they need.
//!
//! mlgate gates promotions on these numbers, so they must be the numbers a
//! reviewer gets when re-checking a gate in SciPy. Everything here is pure
//! Rust (no numerical dependency) and is tested against SciPy-generated
//! reference values in `tests/fixtures/reference/drift_reference.json`,
//! produced by `gen_drift_reference.py` next to it.
//!
//! Conventions shared by every function in this module:
//! * NaN observations are treated as missing and dropped, never propagated;
//! * degenerate input (empty samples, zero totals, mismatched lengths) yields
//!   `None` or a documented sentinel, never a panic.

mod distance;
mod ks;
mod special;

#[cfg(test)]
mod reference_tests;

use serde::{Deserialize, Serialize};

pub use distance::{
    jensen_shannon_distance, linf_distance, population_stability_index, wasserstein_distance,
    PSI_EMPTY_BIN_FRACTION,
};
pub use ks::{kolmogorov_sf, ks_two_sample, kstwo_sf};
pub use special::{chi2_sf, ln_gamma, regularized_gamma_p, regularized_gamma_q};

/// Outcome of a two-sample hypothesis test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Test statistic (for Kolmogorov-Smirnov, the largest ECDF gap in `[0, 1]`).
    pub statistic: f64,
    /// Probability, under the null hypothesis of equal distributions, of a
    /// statistic at least this extreme; always in `[0, 1]`.
    pub p_value: f64,
}

/// Outcome of a Pearson chi-square test of homogeneity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareResult {
    /// Pearson's statistic `Σ (observed - expected)² / expected`.
    pub statistic: f64,
    /// Degrees of freedom, `categories - 1` after dropping empty categories.
    pub dof: u64,
    /// Upper-tail probability of `statistic` under χ²(`dof`), in `[0, 1]`.
    pub p_value: f64,
}

/// Pearson chi-square test that two categorical count vectors come from the
/// same distribution (homogeneity of the 2×k contingency table).
///
/// `reference[i]` and `current[i]` are counts of the same category. Categories
/// that are zero in both rows are dropped first (they carry no information
/// and would make an expected count zero); the result then matches
/// `scipy.stats.chi2_contingency([reference, current], correction=False)`.
/// No Yates correction is applied, even for two categories, because drift
/// checks compare large samples where it only adds bias.
///
/// Returns `None` when the slices differ in length, fewer than two
/// categories remain, or either row sums to zero.
pub fn chi_square_homogeneity(reference: &[u64], current: &[u64]) -> Option<ChiSquareResult> {
    if reference.len() != current.len() {
        return None;
    }
    let columns: Vec<(f64, f64)> = reference
        .iter()
        .zip(current)
        .filter(|(&r, &c)| r != 0 || c != 0)
        .map(|(&r, &c)| (r as f64, c as f64))
        .collect();
    if columns.len() < 2 {
        return None;
    }
    let row_r: f64 = columns.iter().map(|c| c.0).sum();
    let row_c: f64 = columns.iter().map(|c| c.1).sum();
    if row_r == 0.0 || row_c == 0.0 {
        return None;
    }
    let total = row_r + row_c;
    let mut statistic = 0.0;
    // SciPy sums the flattened table row by row; keep that order so the
    // statistic rounds the same way.
    for (row_total, pick) in [(row_r, 0_usize), (row_c, 1_usize)] {
        for &(r, c) in &columns {
            let observed = if pick == 0 { r } else { c };
            let expected = row_total * (r + c) / total;
            let diff = observed - expected;
            statistic += diff * diff / expected;
        }
    }
    let dof = columns.len() as u64 - 1;
    Some(ChiSquareResult {
        statistic,
        dof,
        p_value: chi2_sf(statistic, dof as f64).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Degenerate tables give `None` instead of a NaN statistic.
    #[test]
    fn chi_square_degenerate_tables() {
        assert!(chi_square_homogeneity(&[], &[]).is_none());
        assert!(chi_square_homogeneity(&[1, 2], &[1]).is_none());
        assert!(chi_square_homogeneity(&[0, 0], &[0, 0]).is_none());
        assert!(chi_square_homogeneity(&[5, 0], &[7, 0]).is_none());
        assert!(chi_square_homogeneity(&[0, 0, 0], &[1, 2, 3]).is_none());
    }

    /// Proportional rows have no evidence of drift.
    #[test]
    fn chi_square_proportional_rows() {
        let r = chi_square_homogeneity(&[10, 20, 30], &[20, 40, 60]).expect("valid");
        assert!(r.statistic.abs() < 1e-12);
        assert_eq!(r.dof, 2);
        assert!((r.p_value - 1.0).abs() < 1e-12);
    }

    /// Huge counts stay finite and give a vanishing p-value, not NaN.
    #[test]
    fn chi_square_huge_counts() {
        let r = chi_square_homogeneity(&[u64::MAX / 4, 1], &[1, u64::MAX / 4]).expect("valid");
        assert!(r.statistic.is_finite());
        assert_eq!(r.p_value, 0.0);
    }

    proptest::proptest! {
        /// No input — NaN, infinities, subnormals, empty slices, mismatched
        /// lengths — panics, and every probability stays in `[0, 1]`.
        #[test]
        fn no_input_panics(
            a in proptest::collection::vec(proptest::num::f64::ANY, 0..40),
            b in proptest::collection::vec(proptest::num::f64::ANY, 0..40),
            ra in proptest::collection::vec(0_u64..1_000_000, 0..12),
            rb in proptest::collection::vec(0_u64..1_000_000, 0..12),
            n in proptest::num::u64::ANY,
            x in proptest::num::f64::ANY,
            dof in proptest::num::f64::ANY,
        ) {
            if let Some(r) = ks_two_sample(&a, &b) {
                proptest::prop_assert!((0.0..=1.0).contains(&r.p_value));
                proptest::prop_assert!((0.0..=1.0).contains(&r.statistic));
            }
            if let Some(r) = chi_square_homogeneity(&ra, &rb) {
                proptest::prop_assert!((0.0..=1.0).contains(&r.p_value));
            }
            let _ = wasserstein_distance(&a, &b, &b, &a);
            let _ = wasserstein_distance(&a, &[], &b, &[]);
            let _ = population_stability_index(&a, &b);
            let _ = jensen_shannon_distance(&a, &b);
            let _ = linf_distance(&a, &b);
            let sf = kstwo_sf(n, x);
            proptest::prop_assert!(sf.is_nan() || (0.0..=1.0).contains(&sf));
            let sf = kolmogorov_sf(x);
            proptest::prop_assert!(sf.is_nan() || (0.0..=1.0).contains(&sf));
            let sf = chi2_sf(x, dof);
            proptest::prop_assert!(sf.is_nan() || (0.0..=1.0).contains(&sf));
            let _ = regularized_gamma_p(dof, x);
            let _ = regularized_gamma_q(dof, x);
            let _ = ln_gamma(x);
        }

        /// The KS p-value is 1 when the ECDFs coincide and the statistic is
        /// symmetric in argument order.
        #[test]
        fn ks_symmetric(
            a in proptest::collection::vec(-1e6_f64..1e6, 1..60),
            b in proptest::collection::vec(-1e6_f64..1e6, 1..60),
        ) {
            let ab = ks_two_sample(&a, &b).expect("non-empty");
            let ba = ks_two_sample(&b, &a).expect("non-empty");
            proptest::prop_assert_eq!(ab.statistic, ba.statistic);
            proptest::prop_assert!((ab.p_value - ba.p_value).abs() < 1e-12);
            let same = ks_two_sample(&a, &a).expect("non-empty");
            proptest::prop_assert_eq!(same.p_value, 1.0);
        }
    }

    /// Results serialise as plain JSON objects for profile reports.
    #[test]
    fn results_serialise() {
        let t = TestResult {
            statistic: 0.25,
            p_value: 0.5,
        };
        let json = serde_json::to_string(&t).expect("serialisable");
        assert_eq!(json, r#"{"statistic":0.25,"p_value":0.5}"#);
        let back: TestResult = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, t);
    }
}
