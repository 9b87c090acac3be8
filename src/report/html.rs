//! `report.html`: the whole report as one self-contained page for the workflow's artifacts.
//!
//! It shows everything `report.md` may have to leave out (every table whole) and the charts a
//! comment cannot hold: ROC and precision-recall curves and a reliability diagram for both
//! models (from `predictions.csv` and `champion_predictions.csv`), confusion-matrix heat maps,
//! predicted-versus-actual and residuals for regression, and the metric across promoted
//! versions (`history.json`). No scripts, fonts or styles are loaded from anywhere: the CSS is
//! inline and the charts are inline SVG ([`super::svg`]). Text is HTML-escaped by minijinja's
//! auto-escaping (the template's name ends in `.html`) and by [`escape`] inside the SVG.

use std::path::Path;

use crate::config::TaskKind;
use crate::evaluate::evaluation::Evaluation;
use crate::evaluate::predictions::Predictions;

use super::curves::{
    self, Scored, CALIBRATION_BINS, MAX_CURVE_PAIRS, MAX_CURVE_POINTS, MAX_SCATTER_POINTS,
};
use super::document::{ReportOptions, Views};
use super::history::History;
use super::run_dir::RunFiles;
use super::svg::{heat_map, Chart, Mark, Series, COLORS};

/// The page template.
const TEMPLATE: &str = include_str!("../../templates/report.html.j2");

/// Confusion matrices with more classes are not drawn (a million cells help nobody).
const MAX_HEAT_MAP_CLASSES: usize = 50;

/// Bins of the residual histogram.
const RESIDUAL_BINS: usize = 30;

/// Escapes text for HTML element content and quoted attributes, exactly as the template's
/// auto-escaping does.
pub fn escape(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}

/// One chart on the page.
#[derive(Debug)]
struct Figure {
    /// The `<svg>` element (built from escaped text only).
    svg: String,
    /// What the chart shows, under it.
    caption: String,
}

/// Renders `report.html`.
pub fn render(files: &RunFiles, options: &ReportOptions) -> anyhow::Result<String> {
    let views = Views::build(files, options);
    let (figures, chart_notes) = figures(files)?;
    let figures: Vec<minijinja::Value> = figures
        .into_iter()
        .map(|f| {
            minijinja::context! {
                svg => minijinja::Value::from_safe_string(f.svg),
                caption => f.caption,
            }
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let context = minijinja::context! {
        figures => figures,
        chart_notes => chart_notes,
        ..views.context(views.everything(), false)
    };
    Ok(env.get_template("report.html")?.render(context)?)
}

/// The charts the run's files allow, and a note for each one left out.
fn figures(files: &RunFiles) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    if let Some(e) = &files.evaluation {
        let candidate = read(files.predictions.as_deref())?;
        let champion = read(files.champion_predictions.as_deref())?;
        let sides: Vec<(&str, &Predictions)> = [("candidate", &candidate), ("champion", &champion)]
            .into_iter()
            .filter_map(|(name, p)| p.as_ref().map(|p| (name, p)))
            .collect();
        if sides.is_empty() {
            notes.push("No predictions.csv in the run directory: no curves.".to_string());
        }
        match e.task {
            TaskKind::Classification => {
                classification_figures(e, &sides, &mut figures, &mut notes);
            }
            TaskKind::Regression => regression_figures(&sides, &mut figures),
        }
        confusion_figures(e, &mut figures, &mut notes);
    }
    match &files.history {
        Some(history) => figures.extend(history_figure(history, files.evaluation.as_ref())),
        None => notes.push(
            "No history.json in the run directory: the metric across promoted versions is not drawn."
                .to_string(),
        ),
    }
    Ok((figures, notes))
}

/// Reads a predictions file when there is one.
fn read(path: Option<&Path>) -> anyhow::Result<Option<Predictions>> {
    path.map(Predictions::read).transpose()
}

/// ROC, precision-recall and reliability charts for both models.
fn classification_figures(
    e: &Evaluation,
    sides: &[(&str, &Predictions)],
    figures: &mut Vec<Figure>,
    notes: &mut Vec<String>,
) {
    let averaging = match e.classes.as_slice() {
        [_, positive] => format!("positive class `{positive}`"),
        _ => {
            "micro-averaged: every (row, class) score against whether the row is that class, pooled"
                .to_string()
        }
    };
    let scored: Vec<(&str, Scored)> = sides
        .iter()
        .filter_map(|(name, p)| Scored::from_predictions(p, &e.classes).map(|s| (*name, s)))
        .collect();
    let step = scored.iter().map(|(_, s)| s.row_step).max().unwrap_or(1);
    let sampling = if step > 1 {
        format!(" (every {step}th row: rows × classes exceed {MAX_CURVE_PAIRS})")
    } else {
        String::new()
    };
    if scored.is_empty() && !sides.is_empty() {
        notes.push("The predictions have no score columns for every class: no ROC, precision-recall or reliability charts.".into());
        return;
    }
    let curve = |title: &str,
                 x: &str,
                 y: &str,
                 diagonal: bool,
                 pick: fn(&Scored) -> Option<Vec<curves::Point>>| {
        let mut chart = Chart::unit(title, x, y);
        chart.diagonal = diagonal;
        chart.series = scored
            .iter()
            .zip(COLORS)
            .filter_map(|((name, s), color)| {
                pick(s).map(|points| Series {
                    name: (*name).to_string(),
                    color,
                    mark: Mark::Line(curves::downsample(&points, MAX_CURVE_POINTS)),
                })
            })
            .collect();
        chart
    };
    for (chart, what) in [
        (
            curve(
                "ROC curve",
                "false positive rate",
                "true positive rate",
                true,
                Scored::roc,
            ),
            "ROC",
        ),
        (
            curve(
                "Precision-recall curve",
                "recall",
                "precision",
                false,
                Scored::precision_recall,
            ),
            "Precision-recall",
        ),
    ] {
        if !chart.series.is_empty() {
            figures.push(Figure {
                svg: chart.render(),
                caption: format!(
                    "{what}, {averaging}{sampling}; at most {MAX_CURVE_POINTS} points per curve."
                ),
            });
        }
    }
    let mut reliability = Chart::unit(
        "Reliability diagram",
        "mean predicted probability",
        "observed frequency",
    );
    reliability.diagonal = true;
    for ((name, p), color) in sides.iter().zip(COLORS) {
        let bins = curves::calibration(
            curves::calibration_pairs(p, &e.classes).into_iter(),
            CALIBRATION_BINS,
        );
        let points: Vec<curves::Point> = bins.iter().map(|b| (b.confidence, b.observed)).collect();
        if points.is_empty() {
            continue;
        }
        reliability.series.push(Series {
            name: (*name).to_string(),
            color,
            mark: Mark::Line(points.clone()),
        });
        reliability.series.push(Series {
            name: String::new(),
            color,
            mark: Mark::Dots(points),
        });
    }
    if !reliability.series.is_empty() {
        let what = if e.classes.len() == 2 {
            "the positive class's probability against the label"
        } else {
            "the top class's probability against whether it is right (as the ECE)"
        };
        figures.push(Figure {
            svg: reliability.render(),
            caption: format!("Calibration in {CALIBRATION_BINS} equal-width bins: {what}."),
        });
    }
}

/// Predicted against actual, and the residuals, for both models.
fn regression_figures(sides: &[(&str, &Predictions)], figures: &mut Vec<Figure>) {
    let pairs: Vec<(&str, Vec<curves::Point>)> = sides
        .iter()
        .map(|(name, p)| (*name, curves::regression_pairs(p)))
        .filter(|(_, pairs)| !pairs.is_empty())
        .collect();
    if pairs.is_empty() {
        return;
    }
    let mut scatter = Chart::unit("Predicted against actual", "actual", "predicted");
    scatter.series = pairs
        .iter()
        .zip(COLORS)
        .map(|((name, points), color)| Series {
            name: (*name).to_string(),
            color,
            mark: Mark::Dots(curves::sample(points, MAX_SCATTER_POINTS)),
        })
        .collect();
    let mut scatter = scatter.fit_to_data();
    // One range for both axes, so the diagonal is "predicted = actual".
    let range = (scatter.x.0.min(scatter.y.0), scatter.x.1.max(scatter.y.1));
    (scatter.x, scatter.y, scatter.diagonal) = (range, range, true);
    figures.push(Figure {
        svg: scatter.render(),
        caption: format!("An evenly spaced sample of at most {MAX_SCATTER_POINTS} rows per model; the diagonal is a perfect prediction."),
    });
    let mut residuals = Chart::unit("Residuals", "predicted − actual", "rows");
    residuals.series = pairs
        .iter()
        .zip(COLORS)
        .map(|((name, points), color)| {
            let values: Vec<f64> = points.iter().map(|(y, f)| f - y).collect();
            Series {
                name: (*name).to_string(),
                color,
                mark: Mark::Bars(
                    curves::histogram(&values, RESIDUAL_BINS)
                        .into_iter()
                        .map(|(lo, hi, c)| (lo, hi, c as f64))
                        .collect(),
                ),
            }
        })
        .collect();
    let mut residuals = residuals.fit_to_data();
    residuals.y.0 = 0.0;
    figures.push(Figure {
        svg: residuals.render(),
        caption: format!("Residuals in {RESIDUAL_BINS} bins per model."),
    });
}

/// Heat maps of both confusion matrices.
fn confusion_figures(e: &Evaluation, figures: &mut Vec<Figure>, notes: &mut Vec<String>) {
    if e.classes.len() > MAX_HEAT_MAP_CLASSES {
        notes.push(format!(
            "{} classes: the confusion matrices are in evaluation.json, too many to draw.",
            e.classes.len()
        ));
        return;
    }
    for (name, matrix) in [
        ("candidate", &e.confusion_matrix),
        ("champion", &e.champion_confusion_matrix),
    ] {
        if let Some(matrix) = matrix {
            figures.push(Figure {
                svg: heat_map(&format!("Confusion matrix, {name}"), &e.classes, matrix),
                caption: "Rows: true class; columns: predicted; shade: share of the true class."
                    .into(),
            });
        }
    }
}

/// The history's metric per promoted version, and this run's candidate after them.
fn history_figure(history: &History, evaluation: Option<&Evaluation>) -> Option<Figure> {
    let metric = history
        .metric
        .clone()
        .or_else(|| evaluation.map(|e| e.primary.clone()))?;
    let series = history.series(&metric);
    let current = evaluation.and_then(|e| {
        e.metrics
            .iter()
            .find(|m| m.metric == metric)
            .map(|m| m.candidate)
    });
    if series.is_empty() && current.is_none() {
        return None;
    }
    let points: Vec<curves::Point> = series
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (i as f64, *v))
        .collect();
    let mut ticks: Vec<(f64, String)> = series
        .iter()
        .enumerate()
        .map(|(i, (version, _))| (i as f64, (*version).to_string()))
        .collect();
    let mut chart = Chart::unit(
        &format!("{metric} across promoted versions of {}", history.name),
        "version",
        &metric,
    );
    chart.series.push(Series {
        name: "promoted".into(),
        color: COLORS[1],
        mark: Mark::Line(points.clone()),
    });
    chart.series.push(Series {
        name: String::new(),
        color: COLORS[1],
        mark: Mark::Dots(points),
    });
    if let Some(value) = current {
        let x = series.len() as f64;
        ticks.push((x, "this run".into()));
        chart.series.push(Series {
            name: "this run's candidate".into(),
            color: COLORS[0],
            mark: Mark::Dots(vec![(x, value)]),
        });
    }
    // Thin out labels so they do not overlap.
    let every = ticks.len().div_ceil(8).max(1);
    let last = ticks.len().saturating_sub(1);
    let ticks = ticks
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i == last)
        .map(|(_, t)| t)
        .collect();
    let mut chart = chart.fit_to_data();
    chart.x_ticks = Some(ticks);
    Some(Figure {
        svg: chart.render(),
        caption: format!(
            "{} promoted version(s) of {}, oldest first, from history.json.",
            series.len(),
            history.name
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        let escaped = escape("<a href='x'>\"&\"</a>");
        assert!(!escaped.contains(['<', '>', '"', '\'']), "{escaped}");
        assert!(escaped.contains("&amp;"));
    }
}
