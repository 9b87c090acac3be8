//! Drift: how far the current data's distributions moved from a reference, column by column.
//!
//! Both sides are [`Profile`]s, so a reference can be a stored `profile.json` as well as raw
//! data. Defaults follow Evidently's, which most of our users already know: for references up to
//! `small_sample` rows a statistical test (two-sample KS for numbers, chi-square for labels, drift
//! when p < 0.05); above that a distance (Wasserstein normed by the reference's standard
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
    reference_rows: u64,
    config: &DriftConfig,
) -> ColumnDrift {
    let exact = r.sketch.exact_values().zip(c.sketch.exact_values());
    let t = &config.thresholds;
    let (method, note) = match config.numeric_method {
        NumericMethod::Auto if reference_rows <= config.small_sample && exact.is_some() => {
            (DriftMethod::Ks, None)
        }
        NumericMethod::Auto | NumericMethod::Wasserstein => (DriftMethod::Wasserstein, None),
        NumericMethod::Ks if exact.is_some() => (DriftMethod::Ks, None),
        NumericMethod::Ks => (
            DriftMethod::Wasserstein,
            Some(
                "KS needs exact samples; the data is larger than the profile keeps exactly"
                    .to_string(),
            ),
        ),
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
    reference_rows: u64,
    config: &DriftConfig,
) -> Result<ColumnDrift, String> {
    let (ref_counts, cur_counts) = aligned_counts(r, c);
    let t = &config.thresholds;
    let method = match config.categorical_method {
        CategoricalMethod::Auto if reference_rows <= config.small_sample => DriftMethod::ChiSquare,
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
