//! The gate: rules from `mlgate.yml` judged against metric values and paired comparisons.
//!
//! Each rule gets its own verdict and the gate takes the worst. An absolute bound
//! (`f1 >= 0.86`) passes or fails on the candidate's value. A regression margin against the
//! champion is a non-inferiority test on the paired confidence interval of the improvement
//! (the delta turned so that positive is better, whatever the metric's direction):
//!
//! - **pass** when the whole interval lies above `-margin` (non-inferior, or better);
//! - **fail** when the whole interval lies below `-margin` (a significant regression beyond
//!   the margin);
//! - **inconclusive** otherwise: the interval straddles `-margin`, i.e. it is too wide for
//!   the sample to decide, and the report gives the minimum detectable effect.
//!
//! A relative margin is a share of the champion's value; a champion of exactly 0 makes it 0,
//! so any significant regression fails (documented rather than dividing by zero).

use serde::{Deserialize, Serialize};

use super::metrics::Metric;

/// Pass, fail, or not yet known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The rule holds.
    Pass,
    /// The data cannot decide yet.
    Inconclusive,
    /// The rule is broken.
    Fail,
}

/// What an inconclusive comparison does to the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInconclusive {
    /// Treat as a pass.
    Pass,
    /// Pass, with a warning in the report.
    #[default]
    Warn,
    /// Treat as a failure.
    Fail,
}

/// How much worse than the champion the candidate may be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Margin {
    /// In the metric's own units.
    Absolute(f64),
    /// As a share of the champion's value.
    Relative(f64),
}

impl Margin {
    /// The margin in the metric's units for a given champion value.
    pub fn allowed(self, champion: f64) -> f64 {
        match self {
            Margin::Absolute(m) => m.abs(),
            Margin::Relative(share) => (share * champion).abs(),
        }
    }
}

/// A candidate-versus-champion comparison of one metric on the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The champion's value.
    pub champion: f64,
    /// The candidate's value.
    pub candidate: f64,
    /// Lower bound of the paired interval of `candidate - champion`.
    pub ci_low: f64,
    /// Upper bound of that interval.
    pub ci_high: f64,
    /// Minimum detectable effect at the current sample size, when known.
    pub mde: Option<f64>,
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The metric.
    pub metric: String,
    /// The rule as written, e.g. `f1 >= 0.86` or `f1 regression <= 0.01`.
    pub rule: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A sentence that says by how much.
    pub message: String,
}

/// Judges an absolute bound on the candidate's value.
pub fn judge_bound(
    metric: Metric,
    min: Option<f64>,
    max: Option<f64>,
    candidate: f64,
) -> RuleResult {
    let name = metric.name();
    let (rule, broken) = match (min, max) {
        (Some(lo), Some(hi)) => (
            format!("{lo} <= {name} <= {hi}"),
            candidate < lo || candidate > hi,
        ),
        (Some(lo), None) => (format!("{name} >= {lo}"), candidate < lo),
        (None, Some(hi)) => (format!("{name} <= {hi}"), candidate > hi),
        (None, None) => (format!("{name} (no bound)"), false),
    };
    let verdict = if !candidate.is_finite() || broken {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let message = match (verdict, min, max) {
        (Verdict::Pass, _, _) => format!("{name} = {candidate:.4}, within {rule}"),
        (_, Some(lo), _) if candidate < lo => {
            format!(
                "{name} = {candidate:.4} is {:.4} below the minimum {lo}",
                lo - candidate
            )
        }
        (_, _, Some(hi)) if candidate > hi => {
            format!(
                "{name} = {candidate:.4} is {:.4} above the maximum {hi}",
                candidate - hi
            )
        }
        _ => format!("{name} is not a finite number"),
    };
    RuleResult {
        metric: name.to_string(),
        rule,
        verdict,
        message,
    }
}

/// Judges a regression margin against the champion (see the module docs).
pub fn judge_regression(metric: Metric, margin: Margin, c: &Comparison) -> RuleResult {
    let name = metric.name();
    let allowed = margin.allowed(c.champion);
    // Turn the interval so that positive means "better" for this metric.
    let (low, high, improvement) = if metric.higher_is_better() {
        (c.ci_low, c.ci_high, c.candidate - c.champion)
    } else {
        (-c.ci_high, -c.ci_low, c.champion - c.candidate)
    };
    let rule = match margin {
        Margin::Absolute(m) => format!("{name} regression <= {m}"),
        Margin::Relative(share) => {
            format!("{name} regression <= {}% of the champion", share * 100.0)
        }
    };
    let finite = [low, high, improvement].iter().all(|v| v.is_finite());
    let verdict = if !finite {
        Verdict::Inconclusive
    } else if low > -allowed {
        Verdict::Pass
    } else if high < -allowed {
        Verdict::Fail
    } else {
        Verdict::Inconclusive
    };
    let change = if improvement >= 0.0 {
        "better"
    } else {
        "worse"
    };
    let interval = format!("interval of the improvement [{low:+.4}, {high:+.4}]");
    let message = match verdict {
        Verdict::Pass => format!(
            "{name} {:.4} vs champion {:.4}: {:.4} {change}; {interval} is above -{allowed:.4}",
            c.candidate, c.champion, improvement.abs()
        ),
        Verdict::Fail => format!(
            "{name} {:.4} vs champion {:.4}: {:.4} worse, beyond the allowed {allowed:.4}; {interval}",
            c.candidate, c.champion, improvement.abs()
        ),
        Verdict::Inconclusive => {
            let mde = c.mde.map_or(String::new(), |m| format!("; the smallest effect this eval set can detect is {m:.4}"));
            format!(
                "{name} {:.4} vs champion {:.4}: {interval} straddles -{allowed:.4}{mde}",
                c.candidate, c.champion
            )
        }
    };
    RuleResult {
        metric: name.to_string(),
        rule,
        verdict,
        message,
    }
}

/// Judges a regression margin on point values alone, for a champion known only by recorded
/// metrics (no paired interval exists): pass when the candidate is within the margin, fail
/// otherwise, and say so in the message.
pub fn judge_regression_point(
    metric: Metric,
    margin: Margin,
    champion: f64,
    candidate: f64,
) -> RuleResult {
    let name = metric.name();
    let allowed = margin.allowed(champion);
    let improvement = if metric.higher_is_better() {
        candidate - champion
    } else {
        champion - candidate
    };
    let verdict = if !improvement.is_finite() || improvement < -allowed {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let direction = if improvement >= 0.0 {
        "better"
    } else {
        "worse"
    };
    let rule = match margin {
        Margin::Absolute(m) => format!("{name} regression <= {m} (point values)"),
        Margin::Relative(share) => format!(
            "{name} regression <= {}% of the champion (point values)",
            share * 100.0
        ),
    };
    let message = format!(
        "{name} {candidate:.4} vs the champion's recorded {champion:.4}: {:.4} {direction}, allowed {allowed:.4}; point values only, the champion was not re-scored on this evaluation set",
        improvement.abs()
    );
    RuleResult {
        metric: name.to_string(),
        rule,
        verdict,
        message,
    }
}

/// The gate's overall verdict: the worst rule, with inconclusive resolved by the policy.
pub fn overall(results: &[RuleResult], policy: OnInconclusive) -> Verdict {
    let worst = results
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    resolve(worst, policy)
}

/// What a verdict means for the gate once the inconclusive policy is applied.
pub fn resolve(verdict: Verdict, policy: OnInconclusive) -> Verdict {
    match (verdict, policy) {
        (Verdict::Inconclusive, OnInconclusive::Fail) => Verdict::Fail,
        (Verdict::Inconclusive, OnInconclusive::Pass) => Verdict::Pass,
        (verdict, _) => verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A comparison with an interval.
    fn cmp(champion: f64, candidate: f64, low: f64, high: f64) -> Comparison {
        Comparison {
            champion,
            candidate,
            ci_low: low,
            ci_high: high,
            mde: Some(0.05),
        }
    }

    #[test]
    fn bounds_pass_and_fail_with_distance() {
        assert_eq!(
            judge_bound(Metric::F1, Some(0.86), None, 0.9).verdict,
            Verdict::Pass
        );
        let r = judge_bound(Metric::F1, Some(0.86), None, 0.8);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.message.contains("0.0600 below the minimum 0.86"),
            "{}",
            r.message
        );
        assert_eq!(
            judge_bound(Metric::LogLoss, None, Some(0.5), f64::NAN).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn higher_is_better_regressions() {
        let margin = Margin::Absolute(0.01);
        // Clearly better, equal within margin, clearly worse, too wide to tell.
        assert_eq!(
            judge_regression(Metric::F1, margin, &cmp(0.80, 0.85, 0.03, 0.07)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge_regression(Metric::F1, margin, &cmp(0.80, 0.80, -0.005, 0.005)).verdict,
            Verdict::Pass
        );
        let worse = judge_regression(Metric::F1, margin, &cmp(0.80, 0.74, -0.08, -0.04));
        assert_eq!(worse.verdict, Verdict::Fail);
        assert!(
            worse
                .message
                .contains("0.0600 worse, beyond the allowed 0.0100"),
            "{}",
            worse.message
        );
        let wide = judge_regression(Metric::F1, margin, &cmp(0.80, 0.79, -0.09, 0.07));
        assert_eq!(wide.verdict, Verdict::Inconclusive);
        assert!(
            wide.message.contains("can detect is 0.0500"),
            "{}",
            wide.message
        );
    }

    #[test]
    fn lower_is_better_metrics_are_turned() {
        let margin = Margin::Absolute(0.01);
        // Log loss went up by 0.05 (worse): the delta interval is positive.
        let r = judge_regression(Metric::LogLoss, margin, &cmp(0.30, 0.35, 0.03, 0.07));
        assert_eq!(r.verdict, Verdict::Fail);
        let r = judge_regression(Metric::LogLoss, margin, &cmp(0.30, 0.25, -0.07, -0.03));
        assert_eq!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn relative_margins_and_a_zero_champion() {
        assert!((Margin::Relative(0.05).allowed(0.8) - 0.04).abs() < 1e-12);
        let r = judge_regression(Metric::Mae, Margin::Relative(0.1), &cmp(0.0, 0.2, 0.1, 0.3));
        assert_eq!(r.verdict, Verdict::Fail);
        let r = judge_regression(Metric::Mae, Margin::Relative(0.1), &cmp(0.0, 0.0, 0.0, 0.0));
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn overall_takes_the_worst_and_applies_the_policy() {
        let r = |verdict| RuleResult {
            metric: "f1".into(),
            rule: String::new(),
            verdict,
            message: String::new(),
        };
        let mixed = [r(Verdict::Pass), r(Verdict::Inconclusive)];
        assert_eq!(overall(&mixed, OnInconclusive::Warn), Verdict::Inconclusive);
        assert_eq!(overall(&mixed, OnInconclusive::Fail), Verdict::Fail);
        assert_eq!(overall(&mixed, OnInconclusive::Pass), Verdict::Pass);
        assert_eq!(
            overall(
                &[r(Verdict::Fail), r(Verdict::Inconclusive)],
                OnInconclusive::Pass
            ),
            Verdict::Fail
        );
        assert_eq!(overall(&[], OnInconclusive::Warn), Verdict::Pass);
    }
}
