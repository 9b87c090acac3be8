//! Inline SVG charts drawn by hand: line and scatter charts, bars and a heat map.
//!
//! `report.html` must open from an artifact with no network, so it cannot load a charting
//! library; the few chart kinds it needs are small enough to draw directly. Every piece of
//! text goes through [`super::html::escape`], and coordinates are written with one decimal
//! so the output is byte-identical across runs.

use std::fmt::Write;

use super::html::escape;

/// Plot width in SVG units.
const WIDTH: f64 = 360.0;
/// Plot height.
const HEIGHT: f64 = 300.0;
/// Margin left of the plot area (tick labels).
const LEFT: f64 = 58.0;
/// Margin under the plot area.
const BOTTOM: f64 = 40.0;
/// Margin above.
const TOP: f64 = 28.0;
/// Margin right.
const RIGHT: f64 = 12.0;

/// Series colours: candidate, champion, then others (colour-blind safe, Okabe-Ito).
pub const COLORS: [&str; 4] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"];

/// What a series draws.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A polyline through the points.
    Line(Vec<(f64, f64)>),
    /// A dot per point.
    Dots(Vec<(f64, f64)>),
    /// Bars `(x0, x1, height)`.
    Bars(Vec<(f64, f64, f64)>),
}

/// One named series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// Its colour.
    pub color: &'static str,
    /// What to draw.
    pub mark: Mark,
}

/// A chart with two numeric axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// X range.
    pub x: (f64, f64),
    /// Y range.
    pub y: (f64, f64),
    /// Tick labels on the x axis at given positions, instead of numbers.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// A dashed `y = x` line (ROC chance, perfect calibration).
    pub diagonal: bool,
    /// The series, drawn in order.
    pub series: Vec<Series>,
}

impl Chart {
    /// An empty chart over the unit square.
    pub fn unit(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            x_ticks: None,
            diagonal: false,
            series: Vec::new(),
        }
    }

    /// The range of every point of every series, a little padded, for both axes.
    pub fn fit_to_data(mut self) -> Chart {
        let points = self.series.iter().flat_map(|s| match &s.mark {
            Mark::Line(p) | Mark::Dots(p) => p.clone(),
            Mark::Bars(b) => b
                .iter()
                .flat_map(|&(x0, x1, h)| [(x0, 0.0), (x1, h)])
                .collect(),
        });
        let (mut x, mut y) = (
            (f64::INFINITY, f64::NEG_INFINITY),
            (f64::INFINITY, f64::NEG_INFINITY),
        );
        for (px, py) in points.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            x = (x.0.min(px), x.1.max(px));
            y = (y.0.min(py), y.1.max(py));
        }
        self.x = padded(x);
        self.y = padded(y);
        self
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
            escape(&self.title)
        );
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="16" class="title">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        self.axes(&mut out);
        if self.diagonal {
            let (x0, y0) = self.to_px(self.x.0, self.x.0);
            let (x1, y1) = self.to_px(self.x.1, self.x.1);
            let _ = write!(
                out,
                r#"<line x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y1:.1}" class="diagonal"/>"#
            );
        }
        for series in &self.series {
            self.draw(&mut out, series);
        }
        self.legend(&mut out);
        out.push_str("</svg>");
        out
    }

    /// Data to SVG coordinates, clamped to the plot area.
    fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = ((x - self.x.0) / (self.x.1 - self.x.0)).clamp(0.0, 1.0);
        let fy = ((y - self.y.0) / (self.y.1 - self.y.0)).clamp(0.0, 1.0);
        (
            LEFT + fx * (WIDTH - LEFT - RIGHT),
            HEIGHT - BOTTOM - fy * (HEIGHT - TOP - BOTTOM),
        )
    }

    /// Frame, ticks and axis labels.
    fn axes(&self, out: &mut String) {
        let (left, bottom) = self.to_px(self.x.0, self.y.0);
        let (right, top) = self.to_px(self.x.1, self.y.1);
        let _ = write!(
            out,
            r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" class="frame"/>"#,
            right - left,
            bottom - top
        );
        let x_ticks = self.x_ticks.clone().unwrap_or_else(|| ticks(self.x));
        for (value, label) in x_ticks {
            let (px, _) = self.to_px(value, self.y.0);
            let _ = write!(
                out,
                r#"<text x="{px:.1}" y="{:.1}" class="tick">{}</text>"#,
                bottom + 14.0,
                escape(&label)
            );
        }
        for (value, label) in ticks(self.y) {
            let (_, py) = self.to_px(self.x.0, value);
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="tick end">{}</text>"#,
                left - 4.0,
                py + 4.0,
                escape(&label)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
            (left + right) / 2.0,
            HEIGHT - 6.0,
            escape(&self.x_label)
        );
        let _ = write!(
            out,
            r#"<text x="10" y="{:.1}" class="label" transform="rotate(-90 10 {:.1})">{}</text>"#,
            (top + bottom) / 2.0,
            (top + bottom) / 2.0,
            escape(&self.y_label)
        );
    }

    /// One series.
    fn draw(&self, out: &mut String, series: &Series) {
        let color = series.color;
        match &series.mark {
            Mark::Line(points) => {
                let path: Vec<String> = points
                    .iter()
                    .map(|&(x, y)| {
                        let (px, py) = self.to_px(x, y);
                        format!("{px:.1},{py:.1}")
                    })
                    .collect();
                let _ = write!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    path.join(" ")
                );
            }
            Mark::Dots(points) => {
                for &(x, y) in points {
                    let (px, py) = self.to_px(x, y);
                    let _ = write!(
                        out,
                        r#"<circle cx="{px:.1}" cy="{py:.1}" r="2.5" fill="{color}" fill-opacity="0.6"/>"#
                    );
                }
            }
            Mark::Bars(bars) => {
                for &(x0, x1, h) in bars {
                    let (left, base) = self.to_px(x0, self.y.0.max(0.0));
                    let (right, top) = self.to_px(x1, h);
                    let _ = write!(
                        out,
                        r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.7"/>"#,
                        (right - left).max(0.5),
                        (base - top).max(0.0)
                    );
                }
            }
        }
    }

    /// Names and colours in the plot's bottom right corner (where ROC, precision-recall and
    /// reliability curves rarely go), on a light box; unnamed series are left out.
    fn legend(&self, out: &mut String) {
        let named: Vec<&Series> = self.series.iter().filter(|s| !s.name.is_empty()).collect();
        if named.is_empty() {
            return;
        }
        let longest = named
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        let width = 26.0 + 6.2 * longest as f64;
        let height = 6.0 + 14.0 * named.len() as f64;
        let right = WIDTH - RIGHT - 4.0;
        let bottom = HEIGHT - BOTTOM - 4.0;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{width:.1}" height="{height:.1}" class="legend-box"/>"#,
            right - width,
            bottom - height
        );
        for (i, series) in named.iter().enumerate() {
            let y = bottom - height + 16.0 + 14.0 * i as f64;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}" class="legend">{}</text>"#,
                right - width + 6.0,
                y - 9.0,
                series.color,
                right - width + 20.0,
                escape(&series.name)
            );
        }
    }
}

/// A range padded by 5% (or by 1 when empty), `(0, 1)` without data.
fn padded((lo, hi): (f64, f64)) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    (lo - pad, hi + pad)
}

/// Five evenly spaced tick labels.
fn ticks((lo, hi): (f64, f64)) -> Vec<(f64, String)> {
    (0..=4)
        .map(|i| {
            let v = lo + (hi - lo) * f64::from(i) / 4.0;
            (v, super::number((v * 1e6).round() / 1e6))
        })
        .collect()
}

/// A confusion matrix as a heat map: rows true classes, columns predicted, darker for more
/// rows as a share of the true class.
pub fn heat_map(title: &str, classes: &[String], matrix: &[Vec<u64>]) -> String {
    let n = classes.len().max(1) as f64;
    let cell = (240.0 / n).max(4.0);
    let left = 100.0;
    let top = 40.0;
    let size = cell * n;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {:.1} {:.1}" role="img" aria-label="{}">"#,
        left + size + 12.0,
        top + size + 40.0,
        escape(title)
    );
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="16" class="title">{}</text>"#,
        (left + size) / 2.0,
        escape(title)
    );
    let show_labels = cell >= 12.0;
    for (i, row) in matrix.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let y = top + cell * i as f64;
        if show_labels {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="tick end">{}</text>"#,
                left - 4.0,
                y + cell / 2.0 + 4.0,
                escape(&super::markdown::cap(&classes[i], 14))
            );
        }
        for (j, &count) in row.iter().enumerate() {
            let share = if total > 0 {
                count as f64 / total as f64
            } else {
                0.0
            };
            let x = left + cell * j as f64;
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="#0072B2" fill-opacity="{:.3}" stroke="#fff"><title>{} → {}: {count}</title></rect>"##,
                0.05 + 0.95 * share,
                escape(&classes[i]),
                escape(classes.get(j).map_or("", String::as_str))
            );
            if show_labels && cell >= 24.0 {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" class="cell{}">{count}</text>"#,
                    x + cell / 2.0,
                    y + cell / 2.0 + 4.0,
                    if share > 0.5 { " light" } else { "" }
                );
            }
        }
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="label">predicted</text></svg>"#,
        left + size / 2.0,
        top + size + 24.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_elements_close() {
        let mut chart = Chart::unit("<b>roc</b>", "x & y", "\"y\"");
        chart.series.push(Series {
            name: "<script>alert(1)</script>".into(),
            color: COLORS[0],
            mark: Mark::Line(vec![(0.0, 0.0), (1.0, 1.0)]),
        });
        let svg = chart.render();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let map = heat_map("m", &["<a>".into(), "b".into()], &[vec![1, 0], vec![2, 3]]);
        assert!(!map.contains("<a>"));
        assert_eq!(map.matches("<rect").count(), 4);
    }

    #[test]
    fn points_outside_the_range_are_clamped_to_the_plot() {
        let chart = Chart::unit("t", "x", "y");
        assert_eq!(chart.to_px(-5.0, 9.0), chart.to_px(0.0, 1.0));
    }
}
