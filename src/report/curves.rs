//! The numbers behind the HTML charts: ROC and precision-recall curves, reliability bins,
//! histograms and scatter samples, all bounded in size whatever the evaluation set's.
//!
//! A curve over a million rows has up to a million steps; drawn as SVG that is tens of
//! megabytes for a picture whose pixels cannot show the difference. Curves are therefore
//! downsampled to at most [`MAX_CURVE_POINTS`] points spread evenly along the curve's length,
//! keeping both ends, and scatter plots take an evenly spaced sample of rows.

use crate::evaluate::predictions::Predictions;

/// The most points one drawn curve keeps.
pub const MAX_CURVE_POINTS: usize = 200;

/// The most points a scatter plot draws.
pub const MAX_SCATTER_POINTS: usize = 1_000;

/// The most `(score, outcome)` pairs a curve is computed from: micro-averaging many classes
/// over many rows multiplies the two, so beyond this the rows are sampled evenly.
pub const MAX_CURVE_PAIRS: usize = 10_000_000;

/// Bins of the reliability diagram (the ECE's ten).
pub const CALIBRATION_BINS: usize = 10;

/// `(x, y)`.
pub type Point = (f64, f64);

/// Scores against outcomes, the input of every binary curve, sorted once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// `(positives, negatives)` per distinct score, highest score first.
    runs: Vec<(u64, u64)>,
    /// Every how many rows were used: 1 unless rows × classes exceeded [`MAX_CURVE_PAIRS`].
    pub row_step: usize,
}

impl Scored {
    /// The positive class's score against the label (binary), or every class's score against
    /// "the label is that class" (multiclass, micro-averaged). `None` without score columns
    /// for every class.
    pub fn from_predictions(p: &Predictions, classes: &[String]) -> Option<Scored> {
        Scored::sampled(p, classes, MAX_CURVE_PAIRS)
    }

    /// [`Scored::from_predictions`] from at most about `max_pairs` pairs.
    fn sampled(p: &Predictions, classes: &[String], max_pairs: usize) -> Option<Scored> {
        let column = |class: &String| p.score_classes.iter().position(|c| c == class);
        let k = p.score_classes.len();
        let wanted: Vec<(usize, &String)> = match classes {
            [_, positive] => vec![(column(positive)?, positive)],
            _ => classes
                .iter()
                .map(|c| column(c).map(|i| (i, c)))
                .collect::<Option<_>>()?,
        };
        let row_step = (p.ids.len() * wanted.len())
            .div_ceil(max_pairs.max(1))
            .max(1);
        let pairs: Vec<(f64, bool)> = (0..p.ids.len())
            .step_by(row_step)
            .flat_map(|row| {
                wanted
                    .iter()
                    .map(move |&(i, class)| (p.scores[row * k + i], &p.labels[row] == class))
            })
            .collect();
        Some(Scored {
            row_step,
            ..Scored::new(pairs)
        })
    }

    /// `(score, is_positive)` pairs, one per row (per row and class when micro-averaged).
    pub fn new(mut pairs: Vec<(f64, bool)>) -> Scored {
        pairs.retain(|(s, _)| s.is_finite());
        pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut runs: Vec<(f64, u64, u64)> = Vec::new();
        for (score, positive) in pairs {
            match runs.last_mut() {
                Some(last) if last.0 == score => {
                    last.1 += u64::from(positive);
                    last.2 += u64::from(!positive);
                }
                _ => runs.push((score, u64::from(positive), u64::from(!positive))),
            }
        }
        Scored {
            runs: runs.into_iter().map(|(_, p, n)| (p, n)).collect(),
            row_step: 1,
        }
    }

    /// Rows (row-class pairs) scored.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|(p, n)| p + n).sum()
    }

    /// Whether nothing was scored.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The ROC curve, `(false positive rate, true positive rate)` from `(0, 0)` to `(1, 1)`,
    /// one point per distinct threshold. `None` without both outcomes.
    pub fn roc(&self) -> Option<Vec<Point>> {
        let (positives, negatives) = self.totals()?;
        let mut out = vec![(0.0, 0.0)];
        let (mut tp, mut fp) = (0u64, 0u64);
        for &(p, n) in &self.runs {
            tp += p;
            fp += n;
            out.push((fp as f64 / negatives as f64, tp as f64 / positives as f64));
        }
        Some(out)
    }

    /// The precision-recall curve, `(recall, precision)`, starting at recall 0 with the first
    /// threshold's precision, one point per distinct threshold. `None` without both outcomes.
    pub fn precision_recall(&self) -> Option<Vec<Point>> {
        let (positives, _) = self.totals()?;
        let mut out = Vec::new();
        let (mut tp, mut fp) = (0u64, 0u64);
        for &(p, n) in &self.runs {
            tp += p;
            fp += n;
            let precision = tp as f64 / (tp + fp) as f64;
            if out.is_empty() {
                out.push((0.0, precision));
            }
            out.push((tp as f64 / positives as f64, precision));
        }
        Some(out)
    }

    /// Positives and negatives, when there are both.
    fn totals(&self) -> Option<(u64, u64)> {
        let positives: u64 = self.runs.iter().map(|(p, _)| p).sum();
        let negatives: u64 = self.runs.iter().map(|(_, n)| n).sum();
        (positives > 0 && negatives > 0).then_some((positives, negatives))
    }
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationBin {
    /// Mean predicted probability (confidence) in the bin.
    pub confidence: f64,
    /// Observed frequency of the outcome (accuracy) in the bin.
    pub observed: f64,
    /// Rows in the bin.
    pub rows: u64,
}

/// Reliability bins of `(probability, outcome)` pairs: equal-width bins over `[0, 1]`, empty
/// ones left out. Binary: the positive class's probability against the label; multiclass:
/// the top class's probability against "the top class is right", as the ECE uses.
pub fn calibration(pairs: impl Iterator<Item = (f64, bool)>, bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0.0f64, 0u64, 0u64); bins];
    for (p, outcome) in pairs.filter(|(p, _)| (0.0..=1.0).contains(p)) {
        let bin = reliability_bin(p, bins);
        sums[bin].0 += p;
        sums[bin].1 += u64::from(outcome);
        sums[bin].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(sum, hits, rows)| CalibrationBin {
            confidence: sum / rows as f64,
            observed: hits as f64 / rows as f64,
            rows,
        })
        .collect()
}

/// The bin of probability `p`: bin `b` covers `(b / bins, (b + 1) / bins]` and bin 0 also
/// takes 0, decided by comparing with the edges (as the ECE does) so that `0.3` is in bin 2
/// of 10 however `0.3 * 10` rounds.
fn reliability_bin(p: f64, bins: usize) -> usize {
    let edge = |b: usize| b as f64 / bins as f64;
    let mut bin = ((p * bins as f64).ceil() as usize)
        .saturating_sub(1)
        .min(bins - 1);
    if bin > 0 && p <= edge(bin) {
        bin -= 1;
    } else if bin + 1 < bins && p > edge(bin + 1) {
        bin += 1;
    }
    bin
}

/// The calibration pairs of a predictions file (see [`calibration`]).
pub fn calibration_pairs(p: &Predictions, classes: &[String]) -> Vec<(f64, bool)> {
    let k = p.score_classes.len();
    if k == 0 {
        return Vec::new();
    }
    if let [_, positive] = classes {
        if let Some(i) = p.score_classes.iter().position(|c| c == positive) {
            return (0..p.ids.len())
                .map(|row| (p.scores[row * k + i], &p.labels[row] == positive))
                .collect();
        }
    }
    (0..p.ids.len())
        .map(|row| {
            let scores = &p.scores[row * k..(row + 1) * k];
            let (top, confidence) =
                scores
                    .iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (i, &s)| {
                        if s > best.1 {
                            (i, s)
                        } else {
                            best
                        }
                    });
            (confidence, p.score_classes[top] == p.labels[row])
        })
        .collect()
}

/// At most `max` points of `points`, spread evenly along the curve's length (the sum of
/// `|dx| + |dy|`), always keeping the first and the last.
pub fn downsample(points: &[Point], max: usize) -> Vec<Point> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = |a: Point, b: Point| (b.0 - a.0).abs() + (b.1 - a.1).abs();
    let total: f64 = points.windows(2).map(|w| step(w[0], w[1])).sum();
    let spacing = total / (max - 1) as f64;
    let mut out = vec![points[0]];
    let mut walked = 0.0;
    let mut next = spacing;
    for w in points.windows(2) {
        walked += step(w[0], w[1]);
        if walked >= next && out.len() < max - 1 {
            out.push(w[1]);
            while next <= walked {
                next += spacing;
            }
        }
    }
    out.push(points[points.len() - 1]);
    out
}

/// Every `n / max`-th item (all of them when there are at most `max`): a deterministic,
/// evenly spread sample.
pub fn sample<T: Copy>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max || max == 0 {
        return items.to_vec();
    }
    (0..max).map(|i| items[i * items.len() / max]).collect()
}

/// A histogram: `(low, high, count)` per bin over the values' range; empty without finite
/// values.
pub fn histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, u64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (Some(lo), Some(hi)) = (
        finite.iter().copied().reduce(f64::min),
        finite.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for v in finite {
        let bin = (((v - lo) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (lo + i as f64 * width, lo + (i + 1) as f64 * width, c))
        .collect()
}

/// `(actual, predicted)` of a regression predictions file; rows that do not parse are left
/// out.
pub fn regression_pairs(p: &Predictions) -> Vec<Point> {
    p.labels
        .iter()
        .zip(&p.predicted)
        .filter_map(|(y, f)| Some((y.trim().parse().ok()?, f.trim().parse().ok()?)))
        .filter(|(y, f): &Point| y.is_finite() && f.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn scored(pairs: &[(f64, bool)]) -> Scored {
        Scored::new(pairs.to_vec())
    }

    #[test]
    fn roc_steps_per_distinct_threshold_and_its_area_matches() {
        // scikit-learn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let s = scored(&[(0.1, false), (0.4, false), (0.35, true), (0.8, true)]);
        let roc = s.roc().unwrap();
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        let area: f64 = roc
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert_relative_eq!(area, 0.75);
        assert!(scored(&[(0.5, true)]).roc().is_none());
    }

    #[test]
    fn ties_make_one_step() {
        let s = scored(&[(0.5, true), (0.5, false), (0.2, false)]);
        assert_eq!(s.roc().unwrap(), vec![(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]);
        assert_eq!(
            s.precision_recall().unwrap(),
            vec![(0.0, 0.5), (1.0, 0.5), (1.0, 1.0 / 3.0)]
        );
    }

    #[test]
    fn downsampling_bounds_the_points_and_keeps_the_ends() {
        let points: Vec<Point> = (0..=100_000)
            .map(|i| {
                let x = i as f64 / 100_000.0;
                (x, x.sqrt())
            })
            .collect();
        let small = downsample(&points, MAX_CURVE_POINTS);
        assert!(small.len() <= MAX_CURVE_POINTS && small.len() > MAX_CURVE_POINTS / 2);
        assert_eq!(small.first(), points.first());
        assert_eq!(small.last(), points.last());
        assert!(small.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(downsample(&points[..5], 200), points[..5].to_vec());
    }

    #[test]
    fn calibration_bins_follow_the_ece_edges() {
        let bins = calibration(
            [
                (0.05, false),
                (0.1, true),
                (0.95, true),
                (0.9, false),
                (2.0, true),
            ]
            .into_iter(),
            10,
        );
        assert_eq!(bins.len(), 3);
        assert_relative_eq!(bins[0].confidence, 0.075);
        assert_eq!(bins[0].rows, 2);
        assert_eq!((bins[1].rows, bins[1].observed), (1, 0.0));
        assert_eq!((bins[2].rows, bins[2].observed), (1, 1.0));
    }

    #[test]
    fn edges_are_compared_not_rounded() {
        assert_eq!(reliability_bin(0.3, 10), 2);
        assert_eq!(reliability_bin(0.0, 10), 0);
        assert_eq!(reliability_bin(1.0, 10), 9);
        assert_eq!(reliability_bin(0.31, 10), 3);
    }

    #[test]
    fn histograms_and_samples_are_bounded() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let h = histogram(&values, 10);
        assert_eq!(h.len(), 10);
        assert_eq!(h.iter().map(|b| b.2).sum::<u64>(), 1000);
        assert_eq!(histogram(&[f64::NAN], 10), vec![]);
        assert_eq!(histogram(&[3.0, 3.0], 2)[0].2, 2);
        let s = sample(&values, 7);
        assert_eq!(s.len(), 7);
        assert_eq!(s[0], 0.0);
    }

    #[test]
    fn multiclass_scores_are_micro_averaged() {
        let p = Predictions {
            source: "p".into(),
            ids: vec!["1".into(), "2".into()],
            labels: vec!["a".into(), "c".into()],
            predicted: vec!["a".into(), "b".into()],
            score_classes: vec!["a".into(), "b".into(), "c".into()],
            scores: vec![0.7, 0.2, 0.1, 0.1, 0.6, 0.3],
        };
        let classes = ["a".to_string(), "b".into(), "c".into()];
        let s = Scored::from_predictions(&p, &classes).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s.totals(), Some((2, 4)));
        assert_eq!(
            calibration_pairs(&p, &classes),
            vec![(0.7, true), (0.6, false)]
        );
        // Rows × classes over the cap: every other row.
        let sampled = Scored::sampled(&p, &classes, 4).unwrap();
        assert_eq!((sampled.row_step, sampled.len()), (2, 3));
    }
}
