//! The plot: a grouped bar chart of workq and its peers per scenario, each bar the
//! system's result relative to the best peer (1 = best peer, higher is better
//! whichever way the metric goes), on a log scale. SVG only (plotters with its SVG
//! backend and no font files: the text is left to the viewer).

use crate::report::{Report, Row};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Colours of the systems, workq first.
const PALETTE: [(&str, RGBColor); 7] = [
    ("workq", RGBColor(214, 39, 40)),
    ("tokio", RGBColor(31, 119, 180)),
    ("tokio-dq", RGBColor(158, 202, 225)),
    ("rayon", RGBColor(255, 127, 14)),
    ("threadpool", RGBColor(44, 160, 44)),
    ("sched-tp", RGBColor(148, 103, 189)),
    ("crossbeam", RGBColor(127, 127, 127)),
];

/// One group of bars: a plotted row.
struct Group<'a> {
    scenario: &'static str,
    label: &'static str,
    /// (system, score) for each system with a value.
    bars: Vec<(&'a str, f64)>,
}

fn groups(report: &Report) -> Vec<Group<'_>> {
    let mut out = Vec::new();
    for s in &report.sections {
        for row in &s.rows {
            let Some(label) = row.headline else { continue };
            let bars = bars(row, &s.systems);
            if !bars.is_empty() {
                out.push(Group {
                    scenario: s.scenario.name(),
                    label,
                    bars,
                });
            }
        }
    }
    out
}

fn bars<'a>(row: &Row, systems: &[&'a str]) -> Vec<(&'a str, f64)> {
    systems
        .iter()
        .zip(&row.values)
        .filter_map(|(sys, v)| Some((*sys, row.score((*v)?)?)))
        .collect()
}

/// Writes the plot of `report` to `path` as SVG.
///
/// # Errors
/// A message when nothing can be plotted or the file cannot be written.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), String> {
    let groups = groups(report);
    if groups.is_empty() {
        return Err("nothing to plot (no row with a value for workq and a peer)".to_string());
    }
    let scores = groups.iter().flat_map(|g| g.bars.iter().map(|b| b.1));
    let lo = scores.clone().fold(1.0f64, f64::min) / 1.6;
    let hi = scores.fold(1.0f64, f64::max) * 1.6;
    let (lo, hi) = (lo.max(1e-3), hi.min(1e4));
    let width = (130 * groups.len() as u32 + LEGEND).clamp(900, 1900);
    let root = SVGBackend::new(path, (width, 640)).into_drawing_area();
    draw(&root, &groups, lo, hi, report).map_err(|e| format!("plot: {e}"))?;
    root.present()
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// Width of the legend strip on the right, in pixels.
const LEGEND: u32 = 130;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn text_style(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(h, v))
}

fn draw(
    root: &Area<'_>,
    groups: &[Group<'_>],
    lo: f64,
    hi: f64,
    report: &Report,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(w - LEGEND);
    let n = groups.len() as f64;
    let title = format!(
        "workq vs peers: result / best peer's (1 = best peer, higher is better; log scale){}",
        if report.quick { " [--quick]" } else { "" }
    );
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .margin_bottom(64)
        .x_label_area_size(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("relative to the best peer")
        .y_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}x")
            } else {
                format!("{v:.2}x")
            }
        })
        .draw()?;
    // The best peer's level.
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (n, 1.0)],
        BLACK.stroke_width(1),
    )))?;
    let mut shown = Vec::new();
    for (name, color) in PALETTE {
        let rects: Vec<Rectangle<(f64, f64)>> = groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let k = g.bars.len() as f64;
                let j = g.bars.iter().position(|b| b.0 == name)?;
                let w = 0.84 / k;
                let x0 = i as f64 + 0.08 + w * j as f64;
                Some(Rectangle::new(
                    [(x0, lo), (x0 + w * 0.92, g.bars[j].1)],
                    color.filled(),
                ))
            })
            .collect();
        if !rects.is_empty() {
            chart.draw_series(rects)?;
            shown.push((name, color));
        }
    }
    let label = text_style(12, HPos::Center, VPos::Top);
    for (i, g) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo));
        plot.draw(&Text::new(g.scenario, (x, y + 6), label.clone()))?;
        plot.draw(&Text::new(g.label, (x, y + 22), label.clone()))?;
    }
    let m = &report.machine;
    let footer = format!(
        "{}: {} CPUs ({}), {}, {} build",
        report.command, m.nproc, m.cpu_model, m.date, m.build
    );
    let small = text_style(11, HPos::Left, VPos::Bottom);
    plot.draw(&Text::new(footer, (12, h as i32 - 8), small))?;
    let entry = text_style(13, HPos::Left, VPos::Center);
    for (k, (name, color)) in shown.into_iter().enumerate() {
        let y = 60 + 24 * k as i32;
        legend.draw(&Rectangle::new([(8, y - 6), (20, y + 6)], color.filled()))?;
        legend.draw(&Text::new(name, (28, y), entry.clone()))?;
    }
    Ok(())
}
