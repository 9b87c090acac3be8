//! Drift: how far the current data's distributions moved from a reference, column by column.
//!
//! Both sides are [`Profile`]s, so a reference can be a stored `profile.json` as well as raw
//! data. Defaults follow Evidently's, which most of our users already know: for a reference
//! column of up to `small_sample` values a statistical test (two-sample KS for numbers,
//! chi-square for labels, drift when p < 0.05); above that a distance (Wasserstein normed by the reference's standard
//! deviation, Jensen-Shannon for labels, drift at >= 0.1), because on large samples every
//! difference is "significant" and the question becomes whether it is big. Integer columns with
//! at most five distinct values are treated as labels, as Evidently does. The dataset drifts
//! when the share of drifted columns reaches `share` (0.5).

use serde::{Deserialize, Serialize};

use crate::config::{CategoricalMethod, DriftConfig, NumericMethod, Severity};
use crate::data::sketch::FrequentItems;
use crate::data::types::ColumnType;
use crate::stats;

use super::profile::{ColumnProfile, NumericProfile, Profile};

/// Integer columns with at most this many distinct values are compared as labels.
const LABEL_LIKE_INTS: usize = 5;

/// The method that judged a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMethod {
    /// Two-sample Kolmogorov-Smirnov; the statistic is D, drift when p < threshold.
    Ks,
    /// Wasserstein distance / reference standard deviation; drift when >= threshold.
    Wasserstein,
    /// Population stability index over reference deciles; drift when >= threshold.
    Psi,
    /// Pearson chi-square test of homogeneity; drift when p < threshold.
    ChiSquare,
    /// Jensen-Shannon distance (natural log); drift when >= threshold.
    JensenShannon,
    /// Largest difference in category share; drift when >= threshold.
    Linf,
}

impl DriftMethod {
    /// The name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            DriftMethod::Ks => "KS test",
            DriftMethod::Wasserstein => "Wasserstein (normed)",
            DriftMethod::Psi => "PSI",
            DriftMethod::ChiSquare => "chi-square test",
            DriftMethod::JensenShannon => "Jensen-Shannon",
            DriftMethod::Linf => "L-infinity",
        }
    }

    /// Whether the decision is on a p-value (else on a distance).
    pub fn is_test(self) -> bool {
        matches!(self, DriftMethod::Ks | DriftMethod::ChiSquare)
    }
}

/// One column's drift result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// The column.
    pub column: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// The method used.
    pub method: DriftMethod,
    /// The test statistic or distance.
    pub statistic: f64,
    /// The p-value, for tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The threshold applied (to the p-value for tests, to the statistic otherwise).
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
    /// Why the method differs from the configured one, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A column left out of the drift check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The column.
    pub column: String,
    /// Why.
    pub reason: String,
}

/// The drift section of `validation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// What the data was compared with.
    pub reference: ReferenceInfo,
    /// Columns compared, in data order.
    pub columns: Vec<ColumnDrift>,
    /// Columns not compared.
    pub skipped: Vec<Skipped>,
    /// Drifted columns.
    pub drifted: usize,
    /// `drifted` / compared columns.
    pub drift_share: f64,
    /// The dataset drifts at this share.
    pub share_threshold: f64,
    /// Whether the dataset drifted.
    pub dataset_drift: bool,
    /// What dataset drift does to the gate.
    pub severity: Severity,
}

/// The reference's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceInfo {
    /// As given: `git:main (abc1234)`, a path, or a profile path.
    pub label: String,
    /// Its rows.
    pub rows: u64,
    /// Its data fingerprint.
    pub fingerprint: String,
}

/// Compares `current` with `reference` column by column.
pub fn compare(
    reference: &Profile,
    current: &Profile,
    config: &DriftConfig,
    id_column: Option<&str>,
    label: &str,
) -> DriftReport {
    let mut columns = Vec::new();
    let mut skipped = Vec::new();
    for cur in &current.columns {
        let name = cur.name.as_str();
        let wanted = config
            .columns
            .as_ref()
            .is_none_or(|c| c.iter().any(|n| n == name));
        if !wanted || config.exclude.iter().any(|n| n == name) {
            continue;
        }
        let skip = |reason: &str| Skipped {
            column: name.to_string(),
            reason: reason.to_string(),
        };
        if Some(name) == id_column {
            skipped.push(skip("id column"));
            continue;
        }
        let Some(reference_column) = reference.column(name) else {
            skipped.push(skip("not in the reference"));
            continue;
        };
        match compare_column(reference_column, cur, config) {
            Ok(result) => columns.push(result),
            Err(reason) => skipped.push(skip(&reason)),
        }
    }
    let drifted = columns.iter().filter(|c| c.drifted).count();
    let drift_share = if columns.is_empty() {
        0.0
    } else {
        drifted as f64 / columns.len() as f64
    };
    DriftReport {
        reference: ReferenceInfo {
            label: label.to_string(),
            rows: reference.rows,
            fingerprint: reference.source.fingerprint.clone(),
        },
        dataset_drift: !columns.is_empty() && drift_share >= config.share,
        columns,
        skipped,
        drifted,
        drift_share,
        share_threshold: config.share,
        severity: config.severity,
    }
}

/// Compares one column, or says why it cannot be compared.
fn compare_column(
    reference: &ColumnProfile,
    current: &ColumnProfile,
    config: &DriftConfig,
) -> Result<ColumnDrift, String> {
    if reference.ty != current.ty {
        return Err(format!(
            "type changed from {} to {}",
            reference.ty.name(),
            current.ty.name()
        ));
    }
    if reference.count == 0 || current.count == 0 {
        return Err("no values on one side".into());
    }
    let label_like_int = current.ty == ColumnType::Int
        && [reference, current].iter().all(|p| {
            p.frequencies
                .as_ref()
                .is_some_and(|f| f.is_exact() && f.items().len() <= LABEL_LIKE_INTS)
        });
    if current.ty.is_numeric() && !label_like_int {
        match (&reference.numeric, &current.numeric) {
            (Some(r), Some(c)) => Ok(numeric_drift(
                &current.name,
                current.ty,
                r,
                c,
                reference.count,
                config,
            )),
            _ => Err("no numeric summary".into()),
        }
    } else {
        match (&reference.frequencies, &current.frequencies) {
            (Some(r), Some(c)) => {
                categorical_drift(&current.name, current.ty, r, c, reference.count, config)
            }
            _ => Err("free text with too many distinct values".into()),
        }
    }
}

/// Numeric drift by the configured (or automatic) method.
fn numeric_drift(
    name: &str,
    ty: ColumnType,
    r: &NumericProfile,
    c: &NumericProfile,
    reference_values: u64,
    config: &DriftConfig,
) -> ColumnDrift {
    let exact = r.sketch.exact_values().zip(c.sketch.exact_values());
    let t = &config.thresholds;
    let not_exact =
        || Some("KS needs exact samples; the data is larger than the profile keeps exactly".into());
    let small = reference_values <= config.small_sample;
    let (method, note) = match config.numeric_method {
        NumericMethod::Auto if small && exact.is_some() => (DriftMethod::Ks, None),
        // A `small_sample` above what the sketch keeps exactly.
        NumericMethod::Auto if small => (DriftMethod::Wasserstein, not_exact()),
        NumericMethod::Auto | NumericMethod::Wasserstein => (DriftMethod::Wasserstein, None),
        NumericMethod::Ks if exact.is_some() => (DriftMethod::Ks, None),
        NumericMethod::Ks => (DriftMethod::Wasserstein, not_exact()),
        NumericMethod::Psi => (DriftMethod::Psi, None),
    };
    let mut result = ColumnDrift {
        column: name.to_string(),
        ty,
        method,
        statistic: 0.0,
        p_value: None,
        threshold: 0.0,
        drifted: false,
        note,
    };
    match method {
        DriftMethod::Ks => {
            let (a, b) = exact.unwrap_or_default();
            let test = stats::ks_two_sample(&a, &b);
            result.statistic = test.map_or(0.0, |t| t.statistic);
            result.p_value = test.map(|t| t.p_value);
            result.threshold = t.ks_p_value;
            result.drifted = test.is_some_and(|t| t.p_value < config.thresholds.ks_p_value);
        }
        DriftMethod::Psi => {
            result.statistic = psi_from_sketches(r, c);
            result.threshold = t.psi;
            result.drifted = result.statistic >= t.psi;
        }
        _ => {
            let (rv, rw) = finite_items(r);
            let (cv, cw) = finite_items(c);
            let distance = stats::wasserstein_distance(&rv, &rw, &cv, &cw).unwrap_or(0.0);
            // Evidently's floor keeps a constant reference from dividing by zero.
            result.statistic = distance / r.std.max(0.001);
            result.threshold = t.wasserstein;
            result.drifted = result.statistic >= t.wasserstein;
        }
    }
    result
}

/// The sketch's finite values and weights: an infinity would make every distance infinite, and
/// infinities are rare enough in real columns to be left out of the comparison.
fn finite_items(p: &NumericProfile) -> (Vec<f64>, Vec<f64>) {
    p.sketch
        .weighted_items()
        .into_iter()
        .filter(|(v, _)| v.is_finite())
        .map(|(v, w)| (v, w as f64))
        .unzip()
}

/// PSI over bins cut at the reference's deciles.
fn psi_from_sketches(r: &NumericProfile, c: &NumericProfile) -> f64 {
    let mut edges: Vec<f64> = (1..10)
        .filter_map(|i| r.sketch.quantile(f64::from(i) / 10.0))
        .collect();
    edges.dedup();
    let fractions = |p: &NumericProfile| {
        let mut out = Vec::with_capacity(edges.len() + 1);
        let mut previous = 0.0;
        for &edge in &edges {
            let rank = p.sketch.rank(edge);
            out.push((rank - previous).max(0.0));
            previous = rank;
        }
        out.push((1.0 - previous).max(0.0));
        out
    };
    stats::population_stability_index(&fractions(r), &fractions(c))
}

/// Label drift by the configured (or automatic) method.
fn categorical_drift(
    name: &str,
    ty: ColumnType,
    r: &FrequentItems,
    c: &FrequentItems,
    reference_values: u64,
    config: &DriftConfig,
) -> Result<ColumnDrift, String> {
    let (ref_counts, cur_counts) = aligned_counts(r, c);
    let t = &config.thresholds;
    let method = match config.categorical_method {
        CategoricalMethod::Auto if reference_values <= config.small_sample => {
            DriftMethod::ChiSquare
        }
        CategoricalMethod::Auto | CategoricalMethod::JensenShannon => DriftMethod::JensenShannon,
        CategoricalMethod::ChiSquare => DriftMethod::ChiSquare,
        CategoricalMethod::Linf => DriftMethod::Linf,
    };
    let shares = |counts: &[u64]| -> Vec<f64> {
        let total: u64 = counts.iter().sum();
        counts
            .iter()
            .map(|&n| n as f64 / total.max(1) as f64)
            .collect()
    };
    let (statistic, p_value, threshold, drifted) = match method {
        DriftMethod::ChiSquare => match stats::chi_square_homogeneity(&ref_counts, &cur_counts) {
            Some(test) => (
                test.statistic,
                Some(test.p_value),
                t.chi_square_p_value,
                test.p_value < t.chi_square_p_value,
            ),
            // One category on both sides: nothing can have moved.
            None => (0.0, Some(1.0), t.chi_square_p_value, false),
        },
        DriftMethod::Linf => {
            let d = stats::linf_distance(&shares(&ref_counts), &shares(&cur_counts)).unwrap_or(0.0);
            (d, None, t.linf, d >= t.linf)
        }
        _ => {
            let d = stats::jensen_shannon_distance(&shares(&ref_counts), &shares(&cur_counts))
                .unwrap_or(0.0);
            (d, None, t.jensen_shannon, d >= t.jensen_shannon)
        }
    };
    Ok(ColumnDrift {
        column: name.to_string(),
        ty,
        method,
        statistic,
        p_value,
        threshold,
        drifted,
        note: None,
    })
}

/// Counts of the union of both sides' categories, in a fixed order, with an "other" bucket for
/// whatever a capped table no longer itemises.
fn aligned_counts(r: &FrequentItems, c: &FrequentItems) -> (Vec<u64>, Vec<u64>) {
    let mut keys: Vec<String> = r
        .items()
        .into_iter()
        .chain(c.items())
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys.dedup();
    let mut ref_counts: Vec<u64> = keys.iter().map(|k| r.count_of(k)).collect();
    let mut cur_counts: Vec<u64> = keys.iter().map(|k| c.count_of(k)).collect();
    let ref_other = r.total().saturating_sub(ref_counts.iter().sum());
    let cur_other = c.total().saturating_sub(cur_counts.iter().sum());
    if ref_other + cur_other > 0 {
        ref_counts.push(ref_other);
        cur_counts.push(cur_other);
    }
    (ref_counts, cur_counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sketch::QuantileSketch;
    use crate::validate::profile::SourceInfo;

    /// A float column of `values`.
    fn numeric(name: &str, values: &[f64]) -> ColumnProfile {
        typed(ColumnType::Float, name, values)
    }

    /// A column of type `ty` of `values`, with a frequency table when they are ints.
    fn typed(ty: ColumnType, name: &str, values: &[f64]) -> ColumnProfile {
        let mut sketch = QuantileSketch::new();
        sketch.extend(values);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let mut frequencies = FrequentItems::new();
        values.iter().for_each(|v| frequencies.add(&v.to_string()));
        ColumnProfile {
            name: name.into(),
            ty,
            count: values.len() as u64,
            nulls: 0,
            invalid: 0,
            numeric: Some(NumericProfile {
                min: values.iter().copied().fold(f64::INFINITY, f64::min),
                max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                mean,
                std: var.sqrt(),
                sketch,
            }),
            frequencies: (ty == ColumnType::Int).then_some(frequencies),
            lengths: None,
        }
    }

    /// A categorical column with these counts.
    fn labels(name: &str, counts: &[(&str, u64)]) -> ColumnProfile {
        let mut items = FrequentItems::new();
        counts.iter().for_each(|(v, n)| items.add_n(v, *n));
        ColumnProfile {
            name: name.into(),
            ty: ColumnType::Categorical,
            count: counts.iter().map(|(_, n)| n).sum(),
            nulls: 0,
            invalid: 0,
            numeric: None,
            frequencies: Some(items),
            lengths: Some((1, 1)),
        }
    }

    /// A profile of `rows` rows and these columns.
    fn profile(rows: u64, columns: Vec<ColumnProfile>) -> Profile {
        Profile {
            schema_version: 1,
            tool_version: "test".into(),
            source: SourceInfo {
                file: "t.csv".into(),
                bytes: 0,
                fingerprint: "f".into(),
            },
            rows,
            columns,
        }
    }

    /// `n` values evenly spread over [`from`, `from + 1000`).
    fn spread(n: usize, from: f64) -> Vec<f64> {
        (0..n)
            .map(|i| from + 1000.0 * (i as f64 + 0.5) / n as f64)
            .collect()
    }

    /// One column compared under `config`, the reference counting `rows` rows.
    fn judge(
        reference: ColumnProfile,
        current: ColumnProfile,
        rows: u64,
        config: &DriftConfig,
    ) -> ColumnDrift {
        let report = compare(
            &profile(rows, vec![reference]),
            &profile(rows, vec![current]),
            config,
            None,
            "ref",
        );
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        report.columns[0].clone()
    }

    /// `n` values against the same spread moved up by `by`.
    fn shifted(n: usize, by: f64, config: &DriftConfig) -> ColumnDrift {
        let (reference, current) = (spread(n, 0.0), spread(n, by));
        judge(
            numeric("x", &reference),
            numeric("x", &current),
            n as u64,
            config,
        )
    }

    #[test]
    fn auto_tests_small_references_and_measures_large_ones() {
        let config = DriftConfig::default();
        let small = shifted(500, 100.5, &config);
        assert_eq!(small.method, DriftMethod::Ks);
        assert!((small.statistic - 0.1).abs() < 0.005, "{small:?}");
        assert!(small.p_value.unwrap() < 0.05 && small.drifted, "{small:?}");
        assert_eq!(small.threshold, 0.05);
        // The same spread, with more values in the reference than `small_sample`.
        let large = shifted(1001, 100.5, &config);
        assert_eq!(large.method, DriftMethod::Wasserstein);
        assert_eq!(large.p_value, None);
        assert_eq!(large.note, None);
        // Shifted by 100.5, normed by the reference's standard deviation (about 289).
        let std = 1000.0 / 12f64.sqrt();
        assert!((large.statistic - 100.5 / std).abs() < 0.01, "{large:?}");
        assert!(large.drifted && large.threshold == 0.1);
        let near = shifted(1001, 20.0, &config);
        assert!(near.statistic < 0.1 && !near.drifted, "{near:?}");

        let a = labels("c", &[("a", 300), ("b", 200)]);
        let b = labels("c", &[("a", 200), ("b", 300)]);
        let small = judge(a.clone(), b.clone(), 500, &config);
        assert_eq!(small.method, DriftMethod::ChiSquare);
        assert!(small.drifted && small.p_value.unwrap() < 1e-6, "{small:?}");
        let a = labels("c", &[("a", 3000), ("b", 2000)]);
        let b = labels("c", &[("a", 2000), ("b", 3000)]);
        let large = judge(a, b, 5000, &config);
        assert_eq!(large.method, DriftMethod::JensenShannon);
        assert!(large.drifted && large.statistic >= 0.1, "{large:?}");
    }

    #[test]
    fn psi_and_linf_when_configured() {
        let config = DriftConfig {
            numeric_method: NumericMethod::Psi,
            categorical_method: CategoricalMethod::Linf,
            ..DriftConfig::default()
        };
        let reference = numeric("x", &spread(1000, 0.0));
        let same = judge(
            reference.clone(),
            numeric("x", &spread(1000, 0.0)),
            1000,
            &config,
        );
        assert_eq!(same.method, DriftMethod::Psi);
        assert!(same.statistic.abs() < 1e-9 && !same.drifted, "{same:?}");
        // Half the mass moved past the reference's top decile.
        let moved = judge(reference, numeric("x", &spread(1000, 500.0)), 1000, &config);
        assert!(moved.statistic >= 0.1 && moved.drifted, "{moved:?}");
        assert_eq!(moved.threshold, 0.1);

        let reference = labels("c", &[("a", 50), ("b", 50)]);
        let far = judge(
            reference.clone(),
            labels("c", &[("a", 70), ("b", 30)]),
            100,
            &config,
        );
        assert_eq!(far.method, DriftMethod::Linf);
        assert!(
            (far.statistic - 0.2).abs() < 1e-12 && far.drifted,
            "{far:?}"
        );
        let near = judge(
            reference,
            labels("c", &[("a", 55), ("b", 45)]),
            100,
            &config,
        );
        assert!(
            (near.statistic - 0.05).abs() < 1e-12 && !near.drifted,
            "{near:?}"
        );
    }

    #[test]
    fn ks_without_exact_samples_falls_back_with_a_note() {
        let many = spread(5000, 0.0);
        let ks = DriftConfig {
            numeric_method: NumericMethod::Ks,
            ..DriftConfig::default()
        };
        let result = judge(numeric("x", &many), numeric("x", &many), 5000, &ks);
        assert_eq!(result.method, DriftMethod::Wasserstein);
        assert!(result.note.unwrap().contains("exact"));
        let auto = DriftConfig {
            small_sample: 10_000,
            ..DriftConfig::default()
        };
        let result = judge(numeric("x", &many), numeric("x", &many), 5000, &auto);
        assert_eq!(result.method, DriftMethod::Wasserstein);
        assert!(
            result.note.is_some(),
            "a silent switch hides why KS was not used"
        );
    }

    #[test]
    fn few_valued_ints_are_compared_as_labels() {
        let ints = |ones: usize| {
            let mut values = vec![0.0; 500 - ones];
            values.extend(std::iter::repeat_n(1.0, ones));
            typed(ColumnType::Int, "flag", &values)
        };
        let result = judge(ints(100), ints(250), 500, &DriftConfig::default());
        assert_eq!(result.method, DriftMethod::ChiSquare);
        assert_eq!(result.ty, ColumnType::Int);
        assert!(result.drifted);
    }

    #[test]
    fn the_dataset_drifts_at_the_share_and_skips_are_named() {
        let reference = profile(
            500,
            vec![
                numeric("id", &spread(500, 0.0)),
                numeric("a", &spread(500, 0.0)),
                numeric("b", &spread(500, 0.0)),
                labels("c", &[("x", 250), ("y", 250)]),
                numeric("typed", &spread(500, 0.0)),
            ],
        );
        let current = profile(
            500,
            vec![
                numeric("id", &spread(500, 5000.0)),
                numeric("a", &spread(500, 300.0)),
                numeric("b", &spread(500, 0.0)),
                labels("c", &[("x", 400), ("y", 100)]),
                labels("typed", &[("x", 500)]),
                numeric("new", &spread(500, 0.0)),
            ],
        );
        let mut config = DriftConfig::default();
        let report = compare(&reference, &current, &config, Some("id"), "ref");
        let names: Vec<&str> = report.columns.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(report.drifted, 2);
        assert!((report.drift_share - 2.0 / 3.0).abs() < 1e-12);
        assert!(report.dataset_drift, "2 of 3 reaches the default 0.5");
        let skipped: Vec<(&str, &str)> = report
            .skipped
            .iter()
            .map(|s| (s.column.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("id", "id column"),
                ("typed", "type changed from float to categorical"),
                ("new", "not in the reference")
            ]
        );
        config.share = 0.7;
        assert!(!compare(&reference, &current, &config, Some("id"), "ref").dataset_drift);
        config.exclude = vec!["a".into()];
        let report = compare(&reference, &current, &config, Some("id"), "ref");
        assert_eq!((report.columns.len(), report.drifted), (2, 1));
    }
}
