//! Charts for the reports page, drawn on the server as SVG with plotters
//! (no script, so the strict CSP holds). Every chart has a text title for
//! screen readers; the page shows the same figures in tables.

use std::sync::Once;

use plotters::prelude::*;

/// plotters measures text with a real font: a Latin-1 subset of Lato (OFL,
/// static/fonts/LICENSE-Lato.txt) is built in, so no system fonts are needed.
/// Browsers draw the text with their own sans-serif.
static FONT: &[u8] = include_bytes!("../../../static/fonts/lato-subset.ttf");
static REGISTER: Once = Once::new();

fn font_ready() {
    REGISTER.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("chart font could not be loaded; charts will be empty");
        }
    });
}

const W: u32 = 640;
const H: u32 = 260;

/// Colours with enough contrast on white, distinguishable without red/green.
pub const BLUE_: RGBColor = RGBColor(11, 92, 173);
pub const ORANGE_: RGBColor = RGBColor(214, 110, 0);
pub const TEAL_: RGBColor = RGBColor(0, 128, 128);
pub const PURPLE_: RGBColor = RGBColor(118, 66, 138);
pub const GREY_: RGBColor = RGBColor(110, 110, 110);

/// How the y axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// Values are fractions in [0, 1], shown as percentages.
    Percent,
    /// CSAT average 1–5.
    Rating,
}

/// One line: a name for the legend, a colour, and a value per x label
/// (`None`: no data there, the line breaks).
pub struct Line<'a> {
    pub name: &'a str,
    pub color: RGBColor,
    pub values: Vec<Option<f64>>,
}

/// One layer of a stacked bar chart.
pub struct Stack<'a> {
    pub name: &'a str,
    pub color: RGBColor,
    pub values: Vec<u64>,
}

/// Adds the accessible name plotters leaves out.
fn accessible(svg: String, title: &str) -> String {
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    match svg.find("<svg ") {
        Some(i) => {
            let head_end = svg[i..].find('>').map(|j| i + j + 1).unwrap_or(svg.len());
            format!(
                "{}<svg role=\"img\" aria-label=\"{escaped}\" {}<title>{escaped}</title>{}",
                &svg[..i],
                &svg[i + 5..head_end],
                &svg[head_end..]
            )
        }
        None => svg,
    }
}

/// Every n-th label, so at most ~12 show on the x axis.
fn label_step(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

fn y_label(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Count => format!("{v:.0}"),
        Unit::Percent => format!("{:.0}%", v * 100.0),
        Unit::Rating => format!("{v:.1}"),
    }
}

/// Lines over labelled x positions (days or weeks).
pub fn lines(title: &str, x: &[String], series: &[Line<'_>], unit: Unit) -> String {
    font_ready();
    let mut svg = String::new();
    let top = match unit {
        Unit::Percent => 1.0,
        Unit::Rating => 5.0,
        Unit::Count => {
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten())
                .fold(0.0f64, |a, &b| a.max(b))
                .max(1.0)
                * 1.1
        }
    };
    let bottom = if unit == Unit::Rating { 1.0 } else { 0.0 };
    let n = x.len().max(1);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0..n, bottom..top)?;
        let step = label_step(n);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|i| {
                if i % step == 0 {
                    x.get(*i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| y_label(unit, *v))
            .draw()?;
        for s in series {
            let color = s.color;
            // Each run of values without gaps is its own line.
            let mut run: Vec<(usize, f64)> = Vec::new();
            let mut runs: Vec<Vec<(usize, f64)>> = Vec::new();
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => run.push((i, *v)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            let mut first = true;
            for r in runs {
                let points = r.clone();
                let drawn = chart.draw_series(LineSeries::new(r, color.stroke_width(2)))?;
                if first {
                    drawn.label(s.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                    first = false;
                }
                chart.draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 2, color.filled())),
                )?;
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(GREY_)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(chart = title, error = %e, "chart not drawn");
    }
    accessible(svg, title)
}

/// Stacked bars (e.g. backlog by age bucket per day).
pub fn stacked_bars(title: &str, x: &[String], stacks: &[Stack<'_>]) -> String {
    font_ready();
    let mut svg = String::new();
    let n = x.len().max(1);
    let totals: Vec<u64> = (0..n)
        .map(|i| {
            stacks
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let top = (totals.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1).ceil() as u64;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top)?;
        let step = label_step(n);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i % step == 0 => {
                    x.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .draw()?;
        let mut base = vec![0u64; n];
        for s in stacks {
            let color = s.color;
            let bars: Vec<Rectangle<(SegmentValue<usize>, u64)>> = (0..n)
                .filter_map(|i| {
                    let v = s.values.get(i).copied().unwrap_or(0);
                    if v == 0 {
                        return None;
                    }
                    let (lo, hi) = (base[i], base[i] + v);
                    base[i] = hi;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), lo),
                            (SegmentValue::Exact(i + 1), hi),
                        ],
                        color.filled(),
                    );
                    r.set_margin(0, 0, 1, 1);
                    Some(r)
                })
                .collect();
            chart
                .draw_series(bars)?
                .label(s.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GREY_)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(chart = title, error = %e, "chart not drawn");
    }
    accessible(svg, title)
}

/// Bars with a label each (e.g. how many first responses took < 1 h, 1–4 h, …).
pub fn bars(title: &str, labels: &[String], values: &[u64]) -> String {
    let stack = Stack {
        name: title,
        color: BLUE_,
        values: values.to_vec(),
    };
    font_ready();
    let mut svg = String::new();
    let n = labels.len().max(1);
    let top = (values.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1).ceil() as u64;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(stack.color.filled())
                .margin(6)
                .data(stack.values.iter().enumerate().map(|(i, v)| (i, *v))),
        )?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(chart = title, error = %e, "chart not drawn");
    }
    accessible(svg, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("01-{d:02}")).collect()
    }

    #[test]
    fn charts_are_svg_with_an_accessible_name_and_no_script_or_style() {
        let x = days(30);
        let svgs = [
            lines(
                "Created & resolved per day",
                &x,
                &[
                    Line {
                        name: "Created",
                        color: BLUE_,
                        values: (0..30).map(|i| Some(i as f64)).collect(),
                    },
                    Line {
                        name: "Resolved",
                        color: ORANGE_,
                        values: (0..30).map(|i| (i % 7 != 0).then_some(3.0)).collect(),
                    },
                ],
                Unit::Count,
            ),
            lines(
                "SLA",
                &days(5),
                &[Line {
                    name: "met",
                    color: TEAL_,
                    values: vec![Some(0.5), None, Some(1.0), Some(0.9), None],
                }],
                Unit::Percent,
            ),
            stacked_bars(
                "Backlog",
                &x,
                &[
                    Stack {
                        name: "< 1 day",
                        color: BLUE_,
                        values: vec![3; 30],
                    },
                    Stack {
                        name: "> 7 days",
                        color: PURPLE_,
                        values: (0..30).collect(),
                    },
                ],
            ),
            bars("First response", &["< 1 h".into(), "1-4 h".into()], &[5, 0]),
            // No data at all still draws axes, never panics.
            lines("Empty", &[], &[], Unit::Rating),
            stacked_bars("Empty", &[], &[]),
        ];
        for s in &svgs {
            assert!(
                s.starts_with("<svg role=\"img\" aria-label=\""),
                "{}",
                &s[..80.min(s.len())]
            );
            assert!(s.contains("<title>"));
            assert!(s.contains("<text"), "text is drawn (the font loaded)");
            assert!(s.trim_end().ends_with("</svg>"));
            assert!(!s.contains("<script") && !s.contains("style="), "CSP-safe");
        }
        assert!(svgs[0].contains("Created &amp; resolved per day"));
        assert!(svgs[0].contains("<polyline") || svgs[0].contains("<path"));
        assert!(svgs[1].contains("100%"));
    }
}
