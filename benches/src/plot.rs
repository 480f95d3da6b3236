//! Charts of the retry-storm simulations, as SVG and PNG.
//!
//! Text is measured and rasterised with the font in `assets/DejaVuSans.ttf`,
//! compiled into the binary, so the charts come out the same on a machine
//! without fonts.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use retry_runtime::Jitter;

use crate::storm::{ContentionOutcome, JITTERS, Outage, OutageOutcome, RetryConfig};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(110, 110, 110);

/// Makes the embedded font the one every chart's text uses.
pub fn register_font() -> Result<(), Box<dyn Error>> {
    plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
        .map_err(|_| "the embedded DejaVu Sans font does not parse".into())
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws `<dir>/<name>.svg` and `<dir>/<name>.png` with `draw`.
macro_rules! svg_and_png {
    ($dir:expr, $name:expr, $size:expr, $draw:expr) => {{
        let svg = $dir.join(format!("{}.svg", $name));
        let area = SVGBackend::new(&svg, $size).into_drawing_area();
        $draw(&area)?;
        area.present()?;
        drop(area);
        let png = $dir.join(format!("{}.png", $name));
        let area = BitMapBackend::new(&png, $size).into_drawing_area();
        $draw(&area)?;
        area.present()?;
        drop(area);
        Ok::<_, Box<dyn Error>>([svg, png])
    }};
}

/// Bar charts of the contention runs: calls and completion time per jitter
/// mode, one bar per client count. Returns the files written.
pub fn contention(
    dir: &Path,
    outcomes: &[ContentionOutcome],
) -> Result<[std::path::PathBuf; 2], Box<dyn Error>> {
    svg_and_png!(dir, "storm-contention", (1400, 620), |area| {
        draw_contention(area, outcomes)
    })
}

/// The line chart of the outage runs: calls per second over time for each
/// configuration, with the outage shaded. Returns the files written.
pub fn outage(
    dir: &Path,
    model: &Outage,
    outcomes: &[OutageOutcome],
) -> Result<[std::path::PathBuf; 2], Box<dyn Error>> {
    svg_and_png!(dir, "storm-outage", (1200, 640), |area| {
        draw_outage(area, model, outcomes)
    })
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

fn jitter_name(x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 1e-6 || index < 0.0 {
        return String::new();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small, non-negative
    JITTERS
        .get(index as usize)
        .map_or_else(String::new, ToString::to_string)
}

/// Where jitter mode `jitter`'s bar for the `slot`-th client count goes.
fn bar_span(jitter: Jitter, slot: usize, slots: usize) -> (f64, f64) {
    const GROUP: f64 = 0.76;
    let index = JITTERS.iter().position(|j| *j == jitter).unwrap_or(0);
    #[allow(clippy::cast_precision_loss)] // single digits
    let (index, slot, slots) = (index as f64, slot as f64, slots as f64);
    let width = GROUP / slots;
    let left = index - GROUP / 2.0 + slot * width;
    (left + 0.04 * width, left + 0.96 * width)
}

#[allow(clippy::cast_precision_loss)] // call counts far below 2^52
fn draw_contention<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    outcomes: &[ContentionOutcome],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let body = root.titled(
        "Contention: N clients each commit one write to one row (optimistic concurrency)",
        font(26),
    )?;
    let (left, right) = body.split_horizontally(body.dim_in_pixel().0 / 2);
    let ratio = |clients: u32| {
        let calls = |jitter| {
            outcomes
                .iter()
                .find(|o| o.clients == clients && o.jitter == jitter)
                .map_or(f64::NAN, |o| o.calls as f64)
        };
        calls(Jitter::Full) / calls(Jitter::None)
    };

    // Work on a linear axis, so that "full jitter needs a fraction of the
    // calls" reads directly off the bar heights.
    let top = outcomes.iter().map(|o| o.calls).max().unwrap_or(1) as f64 * 1.12;
    let mut chart = ChartBuilder::on(&left)
        .caption("Work: total calls (lower is better)", font(20))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..3.5f64, 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(5)
        .x_label_formatter(&|x| jitter_name(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("jitter")
        .y_desc("calls")
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()?;
    let bars = Bars {
        floor: 0.0,
        value: |o: &ContentionOutcome| o.calls as f64,
        text: |calls: f64| format!("{calls:.0}"),
        legend: |clients| {
            format!(
                "N = {clients} (full / none = {:.1} %)",
                100.0 * ratio(clients)
            )
        },
    };
    bars.draw(&mut chart, outcomes)?;

    // Completion times span two orders of magnitude (lockstep clients
    // finish one per round), so they get a logarithmic axis.
    let slowest = outcomes
        .iter()
        .map(|o| o.completion.as_secs_f64())
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&right)
        .caption("Time to completion: last client's commit", font(20))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..3.5f64, (0.5f64..slowest * 2.5).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(5)
        .x_label_formatter(&|x| jitter_name(*x))
        .y_label_formatter(&|y| format!("{y} s"))
        .x_desc("jitter")
        .y_desc("virtual time (log scale)")
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()?;
    let bars = Bars {
        floor: 0.5,
        value: |o: &ContentionOutcome| o.completion.as_secs_f64(),
        text: |secs: f64| format!("{secs:.1} s"),
        legend: |clients| format!("N = {clients}"),
    };
    bars.draw(&mut chart, outcomes)
}

/// One bar per jitter mode and client count, labelled with its value.
struct Bars<V, T, L> {
    /// Where bars start: the bottom of the axis.
    floor: f64,
    value: V,
    text: T,
    legend: L,
}

impl<V, T, L> Bars<V, T, L>
where
    V: Fn(&ContentionOutcome) -> f64,
    T: Fn(f64) -> String,
    L: Fn(u32) -> String,
{
    fn draw<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
        outcomes: &[ContentionOutcome],
    ) -> DrawResult<DB> {
        let mut sizes: Vec<u32> = outcomes.iter().map(|o| o.clients).collect();
        sizes.dedup();
        let colours = [BLUE, ORANGE, GREEN, RED];
        for (slot, (&clients, colour)) in sizes.iter().zip(colours).enumerate() {
            let bars = outcomes.iter().filter(|o| o.clients == clients);
            chart
                .draw_series(bars.clone().map(|o| {
                    let (x0, x1) = bar_span(o.jitter, slot, sizes.len());
                    Rectangle::new([(x0, self.floor), (x1, (self.value)(o))], colour.filled())
                }))?
                .label((self.legend)(clients))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
                });
            chart.draw_series(bars.map(|o| {
                let (x0, x1) = bar_span(o.jitter, slot, sizes.len());
                let value = (self.value)(o);
                Text::new(
                    (self.text)(value),
                    (f64::midpoint(x0, x1), value),
                    font(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
    }
}

#[allow(clippy::cast_precision_loss)] // per-second counts
fn draw_outage<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    model: &Outage,
    outcomes: &[OutageOutcome],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let seconds = outcomes
        .iter()
        .map(|o| o.calls_per_second.len())
        .max()
        .unwrap_or(1) as f64;
    let peak = outcomes
        .iter()
        .flat_map(|o| o.calls_per_second.iter().copied())
        .max()
        .unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Outage: load on the service ({} clients × 1 request/s, every call fails {}–{} s)",
                model.clients, model.outage_start, model.outage_end
            ),
            font(22),
        )
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..seconds, 0f64..peak * 1.3)?;
    chart
        .configure_mesh()
        .x_labels(17)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("time (s, virtual)")
        .y_desc("calls received per second")
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()?;

    let shade = RED.mix(0.12);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                (f64::from(model.outage_start), 0.0),
                (f64::from(model.outage_end), peak * 1.3),
            ],
            shade.filled(),
        )))?
        .label(format!(
            "outage ({}–{} s)",
            model.outage_start, model.outage_end
        ))
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], shade.filled()));

    draw_load(&mut chart, outcomes)?;
    if let Some(first) = outcomes.first() {
        let style = GREY.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                steps(&first.offered_per_second),
                3,
                3,
                style,
            ))?
            .label("offered load")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        let offered = first
            .offered_per_second
            .get(model.outage_start as usize)
            .copied()
            .unwrap_or_default() as f64;
        chart.draw_series(std::iter::once(Text::new(
            "no retry and the budgeted retries stay at the offered load",
            (f64::from(model.outage_start) + 0.6, offered + peak * 0.03),
            font(15).pos(Pos::new(HPos::Left, VPos::Bottom)),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(font(15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A step per second: each count covers the whole second it was made in.
#[allow(clippy::cast_precision_loss)] // per-second counts
fn steps(counts: &[u64]) -> Vec<(f64, f64)> {
    let mut points = Vec::with_capacity(2 * counts.len());
    for (second, &count) in (0u32..).zip(counts) {
        points.push((f64::from(second), count as f64));
        points.push((f64::from(second + 1), count as f64));
    }
    points
}

/// The calls per second of each configuration.
fn draw_load<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    outcomes: &[OutageOutcome],
) -> DrawResult<DB> {
    for outcome in outcomes {
        let label = format!(
            "{} ({:.2}x during the outage)",
            outcome.config,
            outcome.during().amplification()
        );
        let points = steps(&outcome.calls_per_second);
        // Outside the outage all three lines coincide at the offered
        // load; dashes and widths keep each one visible.
        match outcome.config {
            RetryConfig::NoRetry => {
                let style = BLUE.stroke_width(5);
                chart
                    .draw_series(LineSeries::new(points, style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
            }
            RetryConfig::ThreeAttempts => {
                let style = RED.stroke_width(2);
                chart
                    .draw_series(LineSeries::new(points, style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
            }
            RetryConfig::ThreeAttemptsBudget => {
                let style = GREEN.stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new(points, 8, 5, style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
            }
        }
    }
    Ok(())
}
