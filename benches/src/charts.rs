//! The results page's charts, drawn with plotters as SVG (no fonts needed: the SVG backend writes
//! text as text).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{ENGINES, ScaleResults};
use crate::suite::BenchResult;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 480;

fn colour(mode: &str) -> RGBColor {
    match mode {
        "protected" => RGBColor(31, 119, 180),
        "unprotected" => RGBColor(140, 190, 230),
        "wire" => RGBColor(44, 160, 44),
        "duckdb" => RGBColor(255, 127, 14),
        _ => RGBColor(148, 103, 189),
    }
}

/// Draws every chart into `dir`; returns (title, file name) per chart, in page order.
pub fn draw_all(scales: &[ScaleResults], dir: &Path) -> BenchResult<Vec<(String, String)>> {
    let mut charts = Vec::new();
    let title = "Geometric mean of the suite per engine and scale (ms, log scale)".to_string();
    geomeans(scales, &dir.join("geomean.svg"), &title)?;
    charts.push((title, "geomean.svg".to_string()));
    for scale in scales.iter().rev() {
        let file = format!("queries-scale-{}.svg", scale.scale);
        let title = format!("Every saved query at scale {}, sorted by Zicht's time (ms, log scale)", scale.scale);
        per_query(scale, &dir.join(&file), &title)?;
        charts.push((title, file));
    }
    if scales.iter().any(|s| !s.zicht.concurrency.is_empty()) {
        let title = "Throughput over the wire by number of clients, relative to one client".to_string();
        concurrency(scales, &dir.join("concurrency.svg"), &title)?;
        charts.push((title, "concurrency.svg".to_string()));
    }
    Ok(charts)
}

/// Grouped bars: one group per scale, one bar per engine.
fn geomeans(scales: &[ScaleResults], path: &Path, title: &str) -> BenchResult<()> {
    let mut bars = Vec::new();
    for (group, scale) in scales.iter().enumerate() {
        for (slot, (mode, _)) in ENGINES.iter().enumerate() {
            if let Some((ms, _)) = scale.completed_geomean(mode) {
                bars.push((group, slot, *mode, ms));
            }
        }
    }
    let (low, high) = log_bounds(bars.iter().map(|b| b.3));
    let root = canvas(path)?;
    let mut chart = layout(&root, title).build_cartesian_2d(0f64..scales.len() as f64, (low..high).log_scale())?;
    chart.configure_mesh().disable_x_mesh().disable_x_axis().y_desc("ms").draw()?;
    let width = 0.8 / ENGINES.len() as f64;
    for (mode, label) in ENGINES {
        let mine: Vec<_> = bars.iter().filter(|b| b.2 == mode).collect();
        if mine.is_empty() {
            continue;
        }
        let fill = colour(mode).filled();
        chart
            .draw_series(mine.iter().map(|&&(group, slot, _, ms)| {
                let left = group as f64 + 0.1 + slot as f64 * width;
                Rectangle::new([(left, low), (left + width * 0.9, ms)], fill)
            }))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill));
    }
    chart.draw_series(scales.iter().enumerate().map(|(group, scale)| {
        Text::new(format!("scale {}", scale.scale), (group as f64 + 0.45, low), ("sans-serif", 14))
    }))?;
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// One point series per engine over the queries, sorted by Zicht's protected time.
fn per_query(scale: &ScaleResults, path: &Path, title: &str) -> BenchResult<()> {
    let mut queries = scale.query_ids();
    queries.sort_by(|a, b| {
        let time = |q: &str| scale.median(q, "protected").unwrap_or(f64::INFINITY);
        time(a).total_cmp(&time(b))
    });
    let modes = scale.modes();
    let points = |mode: &str| -> Vec<(f64, f64)> {
        queries.iter().enumerate().filter_map(|(i, q)| scale.median(q, mode).map(|ms| (i as f64, ms))).collect()
    };
    let (low, high) = log_bounds(modes.iter().flat_map(|(mode, _)| points(mode)).map(|p| p.1));
    let root = canvas(path)?;
    let x_range = -0.5f64..queries.len() as f64 - 0.5;
    let mut chart = layout(&root, title).build_cartesian_2d(x_range, (low..high).log_scale())?;
    chart.configure_mesh().disable_x_mesh().x_desc("saved query (sorted by Zicht's time)").y_desc("ms").draw()?;
    for (mode, label) in modes {
        let style = colour(mode).filled();
        chart
            .draw_series(points(mode).into_iter().map(|p| Circle::new(p, 4, style)))?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, style));
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Throughput relative to one client against the number of clients, one line per scale (absolute
/// figures differ by orders of magnitude between scales; the table on the page has them).
fn concurrency(scales: &[ScaleResults], path: &Path, title: &str) -> BenchResult<()> {
    let lines: Vec<(f64, Vec<(f64, f64)>)> = scales
        .iter()
        .filter_map(|scale| {
            let levels = &scale.zicht.concurrency;
            let single = levels.iter().find(|t| t.clients == 1)?.queries_per_second;
            let points = levels.iter().map(|t| (t.clients as f64, t.queries_per_second / single)).collect();
            Some((scale.scale, points))
        })
        .collect();
    let max_clients = lines.iter().flat_map(|(_, p)| p).map(|p| p.0).fold(1.0, f64::max);
    let max_relative = lines.iter().flat_map(|(_, p)| p).map(|p| p.1).fold(1.0, f64::max);
    let root = canvas(path)?;
    let x_range = (1f64..max_clients * 1.2).log_scale();
    let mut chart = layout(&root, title).build_cartesian_2d(x_range, 0f64..max_relative * 1.2)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("concurrent clients")
        .y_desc("throughput relative to 1 client")
        .draw()?;
    let palette = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];
    for (index, (scale, points)) in lines.into_iter().enumerate() {
        let style = palette[index % palette.len()].stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(format!("scale {scale}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], style));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, style.filled())))?;
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// A white SVG canvas for one chart.
fn canvas(path: &Path) -> BenchResult<DrawingArea<SVGBackend<'_>, Shift>> {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// The page's chart layout: caption, margins and room for the axis labels.
fn layout<'a, 'b>(root: &'a DrawingArea<SVGBackend<'b>, Shift>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(40).y_label_area_size(70);
    builder
}

fn legend<'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> BenchResult<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Bounds of a log axis around the values, a little beyond the nearest powers of ten.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = values.filter(|v| *v > 0.0).fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !min.is_finite() {
        return (0.1, 10.0);
    }
    (10f64.powf(min.log10().floor()), 10f64.powf(max.log10().ceil()).max(min * 10.0))
}
