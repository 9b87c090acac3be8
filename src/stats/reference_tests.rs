//! Agreement tests against SciPy reference values.
//!
//! The fixture `tests/fixtures/reference/drift_reference.json` is written by
//! `gen_drift_reference.py` (same folder) with SciPy 1.17; it embeds the
//! sample data, so these tests need neither Python nor numpy's RNG. A test
//! failing here means mlgate would report a different number than SciPy for
//! the same data, which is exactly what the module promises not to do.

use super::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Location of the SciPy reference fixture, resolved at compile time so the
/// tests work from any working directory.
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/reference/drift_reference.json"
);

/// Absolute tolerance for values of ordinary size.
const ABS_TOL: f64 = 1e-9;

/// Relative tolerance, which is what matters for tiny p-values (an absolute
/// 1e-9 would accept any value below 1e-9).
const REL_TOL: f64 = 1e-9;

/// Whole fixture file.
#[derive(Deserialize)]
struct Fixture {
    /// Large samples referenced by name from KS cases to keep the file small.
    shared_samples: BTreeMap<String, Vec<Option<f64>>>,
    /// `scipy.stats.ks_2samp(method='auto')` cases.
    ks_2samp: Vec<KsCase>,
    /// `scipy.stats.kstwo.sf(d, n)` values.
    kstwo_sf: Vec<KstwoCase>,
    /// `scipy.special.kolmogorov(x)` values.
    kolmogorov_sf: Vec<KolmogorovCase>,
    /// `scipy.stats.chi2.sf(x, dof)` values.
    chi2_sf: Vec<Chi2Case>,
    /// `scipy.special.gammainc/gammaincc` values.
    regularized_gamma: Vec<GammaCase>,
    /// `scipy.stats.chi2_contingency(correction=False)` cases.
    chi2_contingency: Vec<ContingencyCase>,
    /// `scipy.stats.wasserstein_distance` cases.
    wasserstein: Vec<WassersteinCase>,
    /// PSI (Evidently formula), Jensen-Shannon (SciPy) and L-infinity cases.
    distributions: Vec<DistributionCase>,
}

/// One two-sample KS case; NaN is stored as JSON null.
#[derive(Deserialize)]
struct KsCase {
    /// Case label for failure messages.
    name: String,
    /// First sample, unless it comes from `shared_samples`.
    #[serde(default)]
    a: Option<Vec<Option<f64>>>,
    /// Name of the shared sample providing the first sample.
    #[serde(default)]
    a_shared: Option<String>,
    /// How many leading values of the shared sample to use.
    #[serde(default)]
    a_take: Option<usize>,
    /// Second sample.
    b: Vec<Option<f64>>,
    /// SciPy's statistic.
    statistic: f64,
    /// SciPy's p-value.
    p_value: f64,
}

/// One `kstwo.sf` value.
#[derive(Deserialize)]
struct KstwoCase {
    /// Sample size.
    n: u64,
    /// Statistic.
    d: f64,
    /// SciPy's survival function value.
    sf: f64,
}

/// One `kolmogorov` value.
#[derive(Deserialize)]
struct KolmogorovCase {
    /// Scaled statistic.
    x: f64,
    /// SciPy's survival function value.
    sf: f64,
}

/// One `chi2.sf` value.
#[derive(Deserialize)]
struct Chi2Case {
    /// Quantile.
    x: f64,
    /// Degrees of freedom.
    dof: f64,
    /// SciPy's survival function value.
    sf: f64,
}

/// One pair of regularized incomplete gamma values.
#[derive(Deserialize)]
struct GammaCase {
    /// Shape parameter.
    a: f64,
    /// Argument.
    x: f64,
    /// `gammainc(a, x)`.
    p: f64,
    /// `gammaincc(a, x)`.
    q: f64,
}

/// One contingency table (before dropping all-zero columns).
#[derive(Deserialize)]
struct ContingencyCase {
    /// Case label for failure messages.
    name: String,
    /// First row.
    reference: Vec<u64>,
    /// Second row.
    current: Vec<u64>,
    /// SciPy's statistic.
    statistic: f64,
    /// SciPy's degrees of freedom.
    dof: u64,
    /// SciPy's p-value.
    p_value: f64,
}

/// One Wasserstein case; `None` weights mean SciPy's default equal weights.
#[derive(Deserialize)]
struct WassersteinCase {
    /// Case label for failure messages.
    name: String,
    /// First distribution's values.
    u_values: Vec<f64>,
    /// First distribution's weights.
    u_weights: Option<Vec<f64>>,
    /// Second distribution's values.
    v_values: Vec<f64>,
    /// Second distribution's weights.
    v_weights: Option<Vec<f64>>,
    /// SciPy's distance.
    distance: f64,
}

/// One pair of binned distributions with every distance computed on it.
#[derive(Deserialize)]
struct DistributionCase {
    /// Case label for failure messages.
    name: String,
    /// First distribution (raw weights).
    p: Vec<f64>,
    /// Second distribution (raw weights).
    q: Vec<f64>,
    /// Evidently-style PSI on the normalised fractions.
    psi: f64,
    /// `scipy.spatial.distance.jensenshannon(p, q)`.
    js: f64,
    /// Max absolute difference of the normalised distributions.
    linf: f64,
}

/// Loads and parses the fixture; a missing or malformed fixture fails the
/// test with the underlying error.
fn fixture() -> Fixture {
    let text = std::fs::read_to_string(FIXTURE).expect("reference fixture is readable");
    serde_json::from_str(&text).expect("reference fixture parses")
}

/// JSON null stands for NaN in the fixture.
fn with_nan(values: &[Option<f64>]) -> Vec<f64> {
    values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

/// True when `actual` is within `abs_tol` of `expected`, or within `rel_tol`
/// relative to it; exact equality (including both infinite) always passes.
fn close(actual: f64, expected: f64, abs_tol: f64, rel_tol: f64) -> bool {
    if actual == expected {
        return true;
    }
    let diff = (actual - expected).abs();
    diff <= abs_tol || diff <= rel_tol * expected.abs()
}

/// p-values: absolute 1e-9 above 1e-3, relative 1e-9 below, so small
/// p-values are checked to nine significant digits too.
fn p_close(actual: f64, expected: f64) -> bool {
    if expected < 1e-3 {
        close(actual, expected, 0.0, REL_TOL)
    } else {
        close(actual, expected, ABS_TOL, 0.0)
    }
}

/// `ks_two_sample` reproduces `ks_2samp` on every exact and asymptotic case,
/// including ties, NaN filtering and the n = 10000 cut-over.
#[test]
fn ks_two_sample_matches_scipy() {
    let fx = fixture();
    for case in &fx.ks_2samp {
        let a = match (&case.a, &case.a_shared) {
            (Some(a), _) => with_nan(a),
            (None, Some(name)) => {
                let shared = fx.shared_samples.get(name).expect("shared sample exists");
                let take = case.a_take.unwrap_or(shared.len());
                with_nan(&shared[..take])
            }
            (None, None) => panic!("case {} has no first sample", case.name),
        };
        let b = with_nan(&case.b);
        let got = ks_two_sample(&a, &b).expect("non-empty samples");
        assert!(
            close(got.statistic, case.statistic, 1e-15, 0.0),
            "{}: statistic {} vs {}",
            case.name,
            got.statistic,
            case.statistic
        );
        assert!(
            p_close(got.p_value, case.p_value),
            "{}: p-value {:e} vs {:e}",
            case.name,
            got.p_value,
            case.p_value
        );
    }
}

/// Every branch of the finite-n distribution (Durbin, Pomeranz, Pelz-Good,
/// Smirnov, Ruben-Gambino) agrees with `kstwo.sf`.
#[test]
fn kstwo_sf_matches_scipy() {
    for case in &fixture().kstwo_sf {
        let got = kstwo_sf(case.n, case.d);
        assert!(
            p_close(got, case.sf),
            "n={} d={}: {:e} vs {:e}",
            case.n,
            case.d,
            got,
            case.sf
        );
    }
}

/// The limiting distribution agrees with `scipy.special.kolmogorov`.
#[test]
fn kolmogorov_sf_matches_scipy() {
    for case in &fixture().kolmogorov_sf {
        let got = kolmogorov_sf(case.x);
        assert!(
            p_close(got, case.sf),
            "x={}: {:e} vs {:e}",
            case.x,
            got,
            case.sf
        );
    }
}

/// `chi2_sf` is relative-accurate to 1e-12 over small and large dof and far
/// into the tail (down to 1e-194).
#[test]
fn chi2_sf_matches_scipy() {
    for case in &fixture().chi2_sf {
        let got = chi2_sf(case.x, case.dof);
        assert!(
            close(got, case.sf, 0.0, 1e-12),
            "x={} dof={}: {:e} vs {:e}",
            case.x,
            case.dof,
            got,
            case.sf
        );
    }
}

/// Both regularized incomplete gamma functions agree with SciPy to 1e-12
/// relative.
#[test]
fn regularized_gamma_matches_scipy() {
    for case in &fixture().regularized_gamma {
        let p = regularized_gamma_p(case.a, case.x);
        let q = regularized_gamma_q(case.a, case.x);
        assert!(
            close(p, case.p, 0.0, 1e-12),
            "P({}, {}): {:e} vs {:e}",
            case.a,
            case.x,
            p,
            case.p
        );
        assert!(
            close(q, case.q, 0.0, 1e-12),
            "Q({}, {}): {:e} vs {:e}",
            case.a,
            case.x,
            q,
            case.q
        );
    }
}

/// `chi_square_homogeneity` matches `chi2_contingency(correction=False)`,
/// including the dropped all-zero category.
#[test]
fn chi_square_homogeneity_matches_scipy() {
    for case in &fixture().chi2_contingency {
        let got = chi_square_homogeneity(&case.reference, &case.current).expect("valid table");
        assert_eq!(got.dof, case.dof, "{}: dof", case.name);
        assert!(
            close(got.statistic, case.statistic, 0.0, 1e-12),
            "{}: statistic {} vs {}",
            case.name,
            got.statistic,
            case.statistic
        );
        assert!(
            p_close(got.p_value, case.p_value),
            "{}: p-value {:e} vs {:e}",
            case.name,
            got.p_value,
            case.p_value
        );
    }
}

/// Weighted and unweighted Wasserstein distances match SciPy.
#[test]
fn wasserstein_matches_scipy() {
    for case in &fixture().wasserstein {
        let uw = case.u_weights.clone().unwrap_or_default();
        let vw = case.v_weights.clone().unwrap_or_default();
        let got = wasserstein_distance(&case.u_values, &uw, &case.v_values, &vw)
            .expect("valid distributions");
        assert!(
            close(got, case.distance, ABS_TOL, 0.0),
            "{}: {} vs {}",
            case.name,
            got,
            case.distance
        );
    }
}

/// PSI (Evidently's convention), Jensen-Shannon (SciPy) and L-infinity agree
/// with the reference on normalised histograms, zero bins and disjoint
/// supports.
#[test]
fn distribution_distances_match_reference() {
    for case in &fixture().distributions {
        let p_total: f64 = case.p.iter().sum();
        let q_total: f64 = case.q.iter().sum();
        let pn: Vec<f64> = case.p.iter().map(|x| x / p_total).collect();
        let qn: Vec<f64> = case.q.iter().map(|x| x / q_total).collect();
        let psi = population_stability_index(&pn, &qn);
        assert!(
            close(psi, case.psi, ABS_TOL, 0.0),
            "{}: psi {} vs {}",
            case.name,
            psi,
            case.psi
        );
        let js = jensen_shannon_distance(&case.p, &case.q).expect("valid");
        assert!(
            close(js, case.js, ABS_TOL, 0.0),
            "{}: js {} vs {}",
            case.name,
            js,
            case.js
        );
        let linf = linf_distance(&case.p, &case.q).expect("valid");
        assert!(
            close(linf, case.linf, ABS_TOL, 0.0),
            "{}: linf {} vs {}",
            case.name,
            linf,
            case.linf
        );
    }
}
